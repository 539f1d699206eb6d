//! The operator's verbs against a running `switchyard serve`, in human and `--output json`
//! form: version, history, config show and diff, apply, rollback, servers list, add, remove and
//! restore, events. Each test runs serve in its own directory, so the verbs find the admin API
//! and its token through `switchyard-state` with no flags.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::util::{
    assert_fields, check, http_client, names, poll, run, run_ok, serve_config, versions, Dir, Site,
};
use serde_json::{json, Value};
use switchyard_lab::Backend;

/// `2026-11-25 11:30:02`: how the tables print an RFC 3339 time (UTC).
fn table_time(v: &Value) -> String {
    rfc3339(v).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn rfc3339(v: &Value) -> chrono::DateTime<chrono::Utc> {
    let text = v.as_str().unwrap_or_else(|| panic!("{v} should be a time"));
    let t = chrono::DateTime::parse_from_rfc3339(text);
    t.unwrap_or_else(|e| panic!("{text:?}: {e}")).to_utc()
}

/// Checks that `text` is an aligned table and returns, for each row, the cells of `columns`
/// (names two spaces apart, in header order; other columns may sit between them) joined by
/// ` | `. Columns are found in the header line, two or more spaces apart; every cell of every
/// row must start exactly at its column.
fn table(text: &str, columns: &str) -> Vec<String> {
    let mut lines = text.lines();
    let head = lines.next().expect("a header line");
    let (mut starts, mut names, mut from) = (Vec::new(), Vec::new(), 0);
    for name in head.split("  ").map(str::trim).filter(|n| !n.is_empty()) {
        let at = from + head[from..].find(name).unwrap();
        assert!(from == 0 || at >= from + 2, "{head:?}");
        starts.push(at);
        names.push(name);
        from = at + name.len();
    }
    let column = |c: &str| names.iter().position(|n| *n == c);
    let wanted: Vec<usize> = columns.split("  ").filter_map(column).collect();
    let in_order = wanted.windows(2).all(|w| w[0] < w[1]);
    let found = in_order && wanted.len() == columns.split("  ").count();
    assert!(found, "{columns:?} in {head:?}");
    starts.push(usize::MAX);
    let cell = |row: &str, i: usize| {
        let (start, bytes) = (starts[i], row.as_bytes());
        let aligned = bytes.get(start).is_some_and(|b| *b != b' ')
            && (start == 0 || bytes[start - 1] == b' ');
        assert!(aligned, "column {} of {row:?}", names[i]);
        row[start..starts[i + 1].min(row.len())].trim().to_string()
    };
    for row in lines.clone() {
        (0..names.len()).for_each(|i| drop(cell(row, i)));
    }
    let row = |row: &str| wanted.iter().map(|&i| cell(row, i)).collect::<Vec<_>>();
    lines.map(|r| row(r).join(" | ")).collect()
}

/// Fails unless `text` contains `needle`.
fn has(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} should be in:\n{text}");
}

/// The field names of a JSON object, sorted, space-separated.
fn keys(v: &Value) -> String {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    keys.join(" ")
}

/// Writes `add.toml` (the site's servers plus `spare` as `inventory-3`) and `timeout.toml`
/// (the same with a 10s shutdown timeout).
fn write_configs(site: &Site, spare: &Backend) {
    let mut servers = site.servers();
    servers.push(("inventory-3", spare.addr));
    site.dir
        .write("add.toml", &serve_config("off", "", &servers));
    let timeout = serve_config("off", "shutdown_timeout = \"10s\"", &servers);
    site.dir.write("timeout.toml", &timeout);
}

/// `[[pools.inventory.servers]]` as the canonical TOML writes it.
fn server_toml(name: &str, addr: impl std::fmt::Display) -> String {
    format!("[[pools.inventory.servers]]\nname = \"{name}\"\naddress = \"{addr}\"\nweight = 1\nstate = \"active\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn version_and_history_record_who_changed_what() {
    let site = Site::start(2, "alice").await;
    let spare = Backend::start("inventory-3").await.unwrap();

    let v1 = site.json("version");
    assert_eq!(
        keys(&v1),
        "author created_at digest kind message parent version"
    );
    let first = "initial config from switchyard.toml";
    let want = json!({"version": 1, "parent": null, "author": "alice", "kind": "apply"});
    assert_fields(&v1, want);
    assert_eq!(v1["message"], first);
    let age = chrono::Utc::now() - rfc3339(&v1["created_at"]);
    assert!(age.num_seconds().abs() < 60, "{v1}");
    let digest = v1["digest"].as_str().unwrap();
    let hex = digest.strip_prefix("sha256:").expect("a sha256: digest");
    let hex_ok = hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit());
    assert!(hex_ok, "{digest}");
    let at = table_time(&v1["created_at"]);
    let human = format!("v1 (apply) by alice at {at}: {first}\nparent -, digest {digest}\n");
    assert_eq!(site.ok("version"), human);

    // --author wins over SWITCHYARD_AUTHOR; SWITCHYARD_AUTHOR alone is used too.
    write_configs(&site, &spare);
    let mut cmd = site.cli("apply --config add.toml -m 'add inventory-3' --author bob");
    run_ok(cmd.env("SWITCHYARD_AUTHOR", "mallory"));
    let mut cmd = site.cli("apply --config timeout.toml -m 'shorter timeout'");
    run_ok(cmd.env("SWITCHYARD_AUTHOR", "carol"));
    let v3 = site.json("version");
    let want = json!({"version": 3, "parent": 2, "author": "carol", "kind": "apply"});
    assert_fields(&v3, want);
    assert!(site.ok("version").starts_with("v3 (apply) by carol at "));

    // History: newest first, in JSON and as an aligned table.
    let history = site.json("history");
    assert_eq!(versions(&history), [3, 2, 1]);
    let h = history.as_array().unwrap();
    assert_eq!((&h[0], &h[2]), (&v3, &v1), "as `version` shows them");
    let want = json!({"author": "bob", "parent": 1, "message": "add inventory-3"});
    assert_fields(&h[1], want);
    assert!(h.iter().all(|v| v.get("config").is_none()), "no configs");
    let t = |i: usize| table_time(&h[i]["created_at"]);
    let lines = [
        "VERSION  PARENT  CREATED (UTC)        AUTHOR  KIND   MESSAGE".to_string(),
        format!("v3       v2      {}  carol   apply  shorter timeout", t(0)),
        format!("v2       v1      {}  bob     apply  add inventory-3", t(1)),
        format!("v1       -       {}  alice   apply  {first}", t(2)),
    ];
    assert_eq!(site.ok("history"), lines.join("\n") + "\n");
    assert_eq!(site.ok("history --limit 2"), lines[..3].join("\n") + "\n");
    assert_eq!(versions(&site.json("history --limit 1")), [3]);

    // config show: the canonical TOML of the current version, or of --version N.
    let current = site.ok("config show");
    has(&current, &server_toml("inventory-1", site.backends[0].addr));
    has(&current, &server_toml("inventory-3", spare.addr));
    has(
        &current,
        "[runtime]\nworkers = 2\nshutdown_timeout = \"10s\"\n",
    );
    let old = site.ok("config show --version 1");
    has(&old, &server_toml("inventory-2", site.backends[1].addr));
    has(&old, "shutdown_timeout = \"30s\"");
    assert!(!old.contains("inventory-3"), "{old}");
    let want = json!({"version": 1, "digest": digest, "config": old});
    assert_fields(&site.json("config show --version 1"), want);
    assert_eq!(site.json("config show")["config"], current.as_str());
    site.refused("config show --version 9", "version v9 not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apply_reports_changes_and_refuses_invalid_configs() {
    let site = Site::start(2, "alice").await;
    let spare = Backend::start("inventory-3").await.unwrap();
    write_configs(&site, &spare);
    let added = format!("pool inventory: + server inventory-3 {}", spare.addr);

    let out = site.ok("apply --config add.toml -m 'add inventory-3'");
    assert_eq!(out, format!("applied as v2 (1 change)\n  {added}\n"));
    let again = site.ok("apply --config add.toml -m again");
    assert_eq!(again, "no change: v2 already has this config\n");
    assert_eq!(site.versions(), [2, 1]);
    let seen = site.hits(6).await;
    assert_eq!(names(&seen).len(), 3, "all three get requests: {seen:?}");

    let applied = site.json("apply --config timeout.toml -m 'faster stops'");
    let want = json!({"version": 3, "parent": 2, "kind": "apply"});
    assert_fields(&applied["version"], want);
    let timeout_change = json!({
        "scope": "runtime", "change": "shutdown_timeout 30s -> 10s",
        "pool": null, "server": null, "text": "runtime: shutdown_timeout 30s -> 10s",
    });
    let want = json!({"changed": true, "changes": [timeout_change]});
    assert_fields(&applied, want);
    let same = site.json("apply --config timeout.toml -m again");
    assert_fields(&same, json!({"changed": false, "changes": []}));
    assert_eq!(same["version"]["version"], 3);

    // An invalid file: every problem located in the file the operator named, nothing stored.
    let history = site.json("history");
    let good = std::fs::read_to_string(site.dir.path().join("timeout.toml")).unwrap();
    let bad = good
        .replace("pool = \"inventory\"", "pool = \"inventroy\"")
        .replace(&spare.addr.to_string(), "localhost:9102");
    site.dir.write("bad.toml", &bad);
    let at = |needle: &str| 1 + bad.lines().position(|l| l.contains(needle)).unwrap();
    let err = site.fails("apply --config bad.toml -m typo");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert_eq!(
        lines[0],
        "switchyard: the config is invalid (2 problems) (HTTP 400)"
    );
    let route = "routes[0] sends traffic to pool \"inventroy\", which is not defined; pools are: \"inventory\"";
    let route = format!("bad.toml:{}:8: {route}", at("inventroy"));
    assert_eq!(lines[1], route);
    let addr = "pool \"inventory\" server \"inventory-3\" address \"localhost:9102\" is not an IP:PORT address";
    let addr = format!("bad.toml:{}:11: {addr}", at("localhost"));
    assert!(lines[2].starts_with(&addr), "{err}");
    assert_eq!(site.json("history"), history, "nothing stored");
    site.refused("apply --config nope.toml -m x", "could not read nope.toml");

    // config diff: semantic by default, --text for the unified diff, JSON with both.
    let both = format!("runtime: shutdown_timeout 30s -> 10s\n{added}\n");
    assert_eq!(site.ok("config diff 1"), both);
    assert_eq!(site.ok("config diff 1 3"), both);
    assert_eq!(site.ok("config diff 1 2"), format!("{added}\n"));
    let same = "v2 and v2 have the same config\n";
    assert_eq!(site.ok("config diff 2 2"), same);
    let text = site.ok("config diff 1 2 --text");
    assert!(text.starts_with("--- v1\n+++ v2\n@@ "), "{text}");
    let server = server_toml("inventory-3", spare.addr);
    let plus: String = server.lines().map(|l| format!("+{l}\n")).collect();
    has(&text, &plus);
    for line in text.lines().skip(2) {
        let kind = line.chars().next();
        assert!(matches!(kind, Some(' ' | '+' | '@')), "{line:?}");
    }
    let text = site.ok("config diff 2 --text");
    assert!(text.starts_with("--- v2\n+++ v3\n"), "{text}");
    has(
        &text,
        "-shutdown_timeout = \"30s\"\n+shutdown_timeout = \"10s\"\n",
    );
    let server_change = json!({
        "scope": "pool inventory", "change": format!("+ server inventory-3 {}", spare.addr),
        "pool": "inventory", "server": "inventory-3", "text": added,
    });
    let text = site.ok("config diff 1 --text");
    let changes = json!([timeout_change, server_change]);
    let diff = json!({"from": 1, "to": 3, "changes": changes, "text": text});
    assert_eq!(site.json("config diff 1"), diff);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollback_makes_a_new_version_and_keeps_history() {
    let site = Site::start(2, "alice").await;
    let spare = Backend::start("inventory-3").await.unwrap();
    write_configs(&site, &spare);
    site.ok("apply --config add.toml -m add");
    site.ok("apply --config timeout.toml -m timeout");
    let before = site.json("history");

    let out = site.ok("rollback --to 1 -m 'undo both' --author dave");
    let removed = format!("pool inventory: - server inventory-3 {}", spare.addr);
    let expected = format!("rolled back to v1's config as v4 (2 changes)\n  runtime: shutdown_timeout 10s -> 30s\n  {removed}\n");
    assert_eq!(out, expected);
    assert_eq!(site.ok("config show"), site.ok("config show --version 1"));
    let history = site.json("history");
    assert_eq!(versions(&history), [4, 3, 2, 1]);
    let (after, before) = (history.as_array().unwrap(), before.as_array().unwrap());
    assert_eq!(after[1..], before[..], "history is never rewritten");
    let v4 = json!({"kind": "rollback", "author": "dave", "parent": 3, "message": "undo both"});
    assert_fields(&history[0], v4);
    assert_eq!(history[0]["digest"], history[3]["digest"], "v1's config");

    // The running config follows: the spare backend gets nothing more.
    let served = spare.control.requests();
    let seen = site.hits(6).await;
    assert_eq!(names(&seen), BTreeSet::from(["inventory-1", "inventory-2"]));
    assert_eq!(spare.control.requests(), served);

    let again = site.json("rollback --to 2 -m 'redo the add'");
    let want = json!({"version": 5, "kind": "rollback", "parent": 4});
    assert_fields(&again["version"], want);
    assert_eq!(again["changed"], true);
    let change = &again["changes"].as_array().unwrap()[..];
    let one_add = change.len() == 1 && change[0]["server"] == "inventory-3";
    assert!(one_add, "{again}");
    assert_eq!(site.ok("config show"), site.ok("config show --version 2"));
    let seen = site.hits(6).await;
    assert!(names(&seen).contains("inventory-3"), "{seen:?}");
    let same = site.ok("rollback --to 2 -m twice");
    assert_eq!(same, "no change: v5 already has this config\n");
    site.refused("rollback --to 99 -m x", "version v99 not found");
    assert_eq!(site.versions(), [5, 4, 3, 2, 1]);
    let events = site.json("events");
    let last = &events.as_array().unwrap().last().unwrap()["details"];
    assert_fields(
        last,
        json!({"version": 5, "kind": "rollback", "rollback_to": 2}),
    );
}

/// The `servers list` columns every row is checked in (the last, free-text column is checked
/// on the whole line).
const SERVER_COLUMNS: &str = "POOL  SERVER  ADDRESS  STATE  IN-FLIGHT  REQ/1M  ERR/1M";

/// The `servers list` row of `name`: its [`SERVER_COLUMNS`] cells, and the whole line.
fn server_row(site: &Site, name: &str) -> (String, String) {
    let text = site.ok("servers list");
    let rows = table(&text, SERVER_COLUMNS);
    let i = rows
        .iter()
        .position(|r| r.contains(&format!(" | {name} | ")));
    let i = i.expect("a row per server");
    (
        rows[i].clone(),
        text.lines().nth(i + 1).unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_list_add_remove_restore() {
    let site = Site::start(2, "alice").await;
    let spare = Backend::start("inventory-3").await.unwrap();
    let (one, two) = (&site.backends[0], &site.backends[1]);

    // Load shows up per server.
    site.hits(4).await;
    let counted = poll(Duration::from_secs(5), || async {
        let pools = site.json("servers list");
        let servers = pools[0]["servers"].as_array().unwrap().clone();
        servers
            .iter()
            .all(|s| s["requests_1m"] == 2)
            .then_some(pools)
    });
    let pools = counted
        .await
        .expect("requests_1m reaches 2 for each server");
    assert_eq!(pools.as_array().unwrap().len(), 1);
    assert_eq!(pools[0]["name"], "inventory");
    let expected = json!({
        "pool": "inventory", "name": "inventory-1", "address": one.addr.to_string(),
        "state": "active", "in_flight": 0, "limit": 1024, "requests_1m": 2, "errors_1m": 0,
        "error_rate_1m": 0.0, "last_error": null, "removed_by": null, "removed_at": null,
        "removed_reason": null, "removed_in": null,
    });
    assert_fields(&pools[0]["servers"][0], expected);
    let rows = table(&site.ok("servers list"), SERVER_COLUMNS);
    let row = |n, a| format!("inventory | inventory-{n} | {a} | active | 0/1024 | 2 | 0.0%");
    assert_eq!(rows, [row(1, one.addr), row(2, two.addr)]);
    let (_, line) = server_row(&site, "inventory-1");
    assert!(line.ends_with("  -"), "no error, no removal: {line:?}");
    let only = site.json("servers list --pool inventory");
    let servers = |p: &Value| p[0]["servers"].as_array().unwrap().len();
    assert_eq!((only.as_array().unwrap().len(), servers(&only)), (1, 2));
    let pools_are = "pool \"nope\" does not exist; pools are: \"inventory\"";
    site.refused("servers list --pool nope", pools_are);

    // Add: a new version, and requests reach the new server.
    let add = format!(
        "servers add {} --pool inventory --name inventory-3",
        spare.addr
    );
    let out = site.ok(&format!("{add} -m 'more capacity' --author dave"));
    let change = format!("pool inventory: + server inventory-3 {}", spare.addr);
    let want = format!("added inventory-3 to pool inventory as v2 (1 change)\n  {change}\n");
    assert_eq!(out, want);
    let want = json!({"kind": "server-add", "author": "dave", "message": "more capacity"});
    assert_fields(&site.json("version"), want);
    site.hits(3).await;
    assert_eq!(spare.control.requests(), 1, "round robin: one in three");
    let dup = site.fails(&format!("{add} -m twice"));
    // Each problem once, told plainly: an edited config has no file to point at.
    let name = "pool \"inventory\" has two servers named \"inventory-3\" (servers[2] and servers[3]); names must be unique in a pool";
    let address = format!(
        "pool \"inventory\" server \"inventory-3\" has address {0}, which server \"inventory-3\" already has; each address may appear once in a pool",
        spare.addr
    );
    assert_eq!(
        dup,
        format!("switchyard: the change would make an invalid config (2 problems) (HTTP 400)\n{name}\n{address}\n")
    );

    // Remove while a slow request is in flight on inventory-2: it finishes, then no more.
    let client = http_client();
    let slow: Vec<_> = (0..3)
        .map(|_| {
            let req = client.get(format!("http://{}/sleep/3000", site.web)).send();
            tokio::spawn(async move { req.await.unwrap().text().await.unwrap() })
        })
        .collect();
    let busy = poll(Duration::from_secs(5), || async {
        (two.control.in_flight() == 1).then_some(())
    });
    busy.await.expect("a slow request reaches inventory-2");
    let remove = "servers remove inventory-2 --pool inventory";
    let out = site.ok(&format!(
        "{remove} -m 'bad disk' --drain-timeout 20s --author carol"
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[0],
        "removed inventory-2 from pool inventory as v3 (1 change)"
    );
    assert_eq!(
        lines[1],
        "  pool inventory: server inventory-2: state active -> removed"
    );
    let secs = lines[2]
        .strip_prefix("drained in ")
        .and_then(|s| s.strip_suffix('s'));
    let secs: f64 = secs.and_then(|s| s.parse().ok()).expect("drained in N.Ns");
    assert!((0.3..20.0).contains(&secs), "{out}");
    assert_eq!(two.control.in_flight(), 0, "remove returns once drained");
    let mut answered = Vec::new();
    for task in slow {
        answered.push(task.await.unwrap());
    }
    let finished = answered.contains(&"inventory-2 slept 3000ms\n".into());
    assert!(finished, "the request in flight finished: {answered:?}");

    let removed = site.json("servers list")[0]["servers"][1].clone();
    let want = json!({"state": "removed", "in_flight": 0, "removed_by": "carol", "removed_in": 3});
    assert_fields(&removed, want);
    assert_eq!(removed["removed_reason"], "bad disk");
    let at = table_time(&removed["removed_at"]);
    let (row, line) = server_row(&site, "inventory-2");
    let n = &removed["requests_1m"];
    assert!(
        row.ends_with(&format!("| removed | 0/1024 | {n} | 0.0%")),
        "{row}"
    );
    let note = format!("  removed by carol at {at} in v3: bad disk");
    assert!(line.ends_with(&note), "{line:?}");
    let before = two.control.requests();
    let seen = site.hits(6).await;
    assert_eq!(names(&seen), BTreeSet::from(["inventory-1", "inventory-3"]));
    assert_eq!(two.control.requests(), before, "removed: no requests");

    // Refusals say why in one line, naming what exists; nothing is stored.
    let history = site.json("history");
    let already = "server \"inventory-2\" in pool \"inventory\" is already removed";
    site.refused(&format!("{remove} -m again"), already);
    let known = "has no server \"nope\"; its servers are: \"inventory-1\", \"inventory-2\", \"inventory-3\"";
    site.refused("servers remove nope --pool inventory -m x", known);
    let known = "pool \"nope\" does not exist; pools are: \"inventory\"";
    site.refused("servers remove inventory-1 --pool nope -m x", known);
    let active = "servers restore inventory-1 --pool inventory";
    site.refused(active, "is already active");
    assert_eq!(site.json("history"), history);

    // Restore: back in rotation.
    let out = site.ok("servers restore inventory-2 --pool inventory");
    let change = "pool inventory: server inventory-2: state removed -> active";
    let want = format!("restored inventory-2 in pool inventory as v4 (1 change)\n  {change}\n");
    assert_eq!(out, want);
    assert_eq!(site.json("version")["kind"], "server-restore");
    let restored = site.json("servers list")[0]["servers"][1].clone();
    let n = &restored["requests_1m"];
    let (row, line) = server_row(&site, "inventory-2");
    assert!(
        row.ends_with(&format!("| active | 0/1024 | {n} | 0.0%")),
        "{row}"
    );
    assert!(line.ends_with("  -"), "the removal note is gone: {line:?}");
    let want = json!({"state": "active", "removed_by": null, "removed_in": null});
    assert_fields(&restored, want);
    let seen = site.hits(6).await;
    assert_eq!(names(&seen).len(), 3, "inventory-2 is back: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_show_versions_and_drains() {
    let site = Site::start(2, "alice").await;
    let remove = "servers remove inventory-2 --pool inventory";
    site.ok(&format!(
        "{remove} -m 'bad disk' --drain-timeout 5s --author bob"
    ));
    site.ok("servers restore inventory-2 --pool inventory -m fixed --author erin");

    let events = site.json("events");
    let list = events.as_array().unwrap();
    let kinds: Vec<&str> = list.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["version", "version", "drain", "version"],
        "{events:#}"
    );
    for (i, e) in list.iter().enumerate() {
        assert_eq!(keys(e), "details id kind pool server ts", "{e}");
        rfc3339(&e["ts"]);
        let newer = i == 0 || e["id"].as_u64() > list[i - 1]["id"].as_u64();
        assert!(newer, "ids increase: {events:#}");
    }
    assert_fields(&list[0], json!({"pool": null, "server": null}));
    let v1 = json!({"version": 1, "kind": "apply", "author": "alice", "file": "switchyard.toml"});
    assert_fields(&list[0]["details"], v1);
    for e in &list[1..] {
        assert_fields(e, json!({"pool": "inventory", "server": "inventory-2"}));
    }
    let v2 = json!({"version": 2, "kind": "server-remove", "author": "bob", "message": "bad disk"});
    assert_fields(&list[1]["details"], v2);
    assert_fields(&list[2]["details"], json!({"drained": true, "cut": 0}));
    assert_fields(&list[3]["details"], json!({"version": 3, "author": "erin"}));

    let rows = table(
        &site.ok("events"),
        "TIME (UTC)  KIND  POOL  SERVER  DETAILS",
    );
    let t = |i: usize| table_time(&list[i]["ts"]);
    let on = "inventory | inventory-2";
    let first = "initial config from switchyard.toml";
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[0],
        format!("{} | version | - | - | v1 apply by alice: {first}", t(0))
    );
    assert_eq!(
        rows[1],
        format!(
            "{} | version | {on} | v2 server-remove by bob: bad disk",
            t(1)
        )
    );
    assert!(
        rows[2].starts_with(&format!("{} | drain | {on} | ", t(2))),
        "{rows:?}"
    );
    has(&rows[2], "drained");
    assert_eq!(
        rows[3],
        format!(
            "{} | version | {on} | v3 server-restore by erin: fixed",
            t(3)
        )
    );

    // --since: from a time on; in the future, nothing. --limit: the newest.
    let since = list[2]["ts"].as_str().unwrap();
    let later = site.json(&format!("events --since {since}"));
    let at_or_after = |e: &&Value| rfc3339(&e["ts"]) >= rfc3339(&list[2]["ts"]);
    let expected: Vec<&Value> = list.iter().filter(at_or_after).collect();
    assert!(expected.len() < list.len(), "v1 is older: {events:#}");
    assert_eq!(
        later.as_array().unwrap().iter().collect::<Vec<_>>(),
        expected
    );
    let future = "events --since 2999-01-01T00:00:00+00:00";
    assert_eq!(site.json(future), json!([]));
    assert_eq!(site.ok(future), "TIME (UTC)  KIND  POOL  SERVER  DETAILS\n");
    site.refused("events --since yesterday", "RFC 3339");
    let newest = site.json("events --limit 1");
    assert_eq!(newest.as_array().unwrap()[..], list[3..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verbs_without_serve_say_how_to_reach_the_admin_api() {
    let dir = Dir::new();
    dir.write("switchyard.toml", &serve_config("off", "", &[]));
    let verbs = [
        "version",
        "history",
        "config show",
        "config diff 1",
        "apply --config switchyard.toml -m x",
        "rollback --to 1 -m x",
        "servers list",
        "servers remove inventory-1 --pool inventory -m x",
        "events",
    ];
    let how = "switchyard: cannot find the admin API: pass --admin URL (or set SWITCHYARD_ADMIN), or run in the directory where `switchyard serve` keeps its state";
    for verb in verbs {
        let mut cmd = dir.cli(crate::util::argv(verb));
        let o = run(&mut cmd);
        let err = String::from_utf8_lossy(&o.stderr);
        let ok = o.status.code() == Some(1)
            && err.lines().count() == 1
            && err.starts_with(how)
            && err.contains("switchyard-state has no admin.url")
            && o.stdout.is_empty();
        check(ok, "one line saying how to reach the admin API", &cmd, &o);
    }

    // The state directory of a serve that has stopped: its address no longer answers.
    let mut site = Site::start(1, "alice").await;
    let admin = site.serve.admin;
    site.serve.signal("KILL");
    let exited = site.serve.wait_exit(Duration::from_secs(5)).await;
    assert!(exited.is_some(), "serve exits on SIGKILL");
    let how =
        format!("cannot reach the admin API at http://{admin}: is `switchyard serve` running?");
    site.refused("history", &how);
}
