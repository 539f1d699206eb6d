//! The admin API's guards, over raw HTTP and through the CLI: the token file is private, every
//! `/api/v1` route refuses a missing or wrong token without changing anything, `/metrics` stays
//! open, and `--if-version` (optimistic concurrency) lets exactly one of several racing changes
//! through.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use crate::util::{
    assert_fields, http_client, names, run, serve_config, stderr, stdout, versions, Dir, Site,
};
use serde_json::{json, Value};
use switchyard_lab::Backend;

/// One admin API request: `auth` is the whole `Authorization` header (none when `None`).
/// Returns the status and the JSON body.
async fn call(
    admin: String,
    method: &str,
    path: &str,
    auth: Option<String>,
    body: Value,
) -> (u16, Value) {
    let url = format!("http://{admin}/api/v1{path}");
    let mut req = match method {
        "GET" => http_client().get(url),
        _ => http_client().post(url).json(&body),
    };
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let resp = req.send().await.expect("the admin API answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {path}: {status} {text:?}: {e}"));
    (status, body)
}

/// [`call`] with the site's own token.
async fn authorized(site: &Site, method: &str, path: &str, body: Value) -> (u16, Value) {
    let auth = Some(format!("Bearer {}", site.token()));
    call(site.serve.admin.to_string(), method, path, auth, body).await
}

/// What an unauthorized request must not change: history, events, the running config and
/// every server's state.
fn snapshot(site: &Site) -> Value {
    let pools = site.json("servers list");
    let states: Vec<(Value, Value)> = pools[0]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].clone(), s["state"].clone()))
        .collect();
    json!({
        "history": site.json("history"),
        "events": site.json("events"),
        "config": site.ok("config show"),
        "servers": states,
    })
}

/// The site's servers plus `spare` as `inventory-3`, with `runtime` settings.
fn config_with(site: &Site, spare: &Backend, runtime: &str) -> String {
    let mut servers = site.servers();
    servers.push(("inventory-3", spare.addr));
    serve_config("off", runtime, &servers)
}

const CONFLICT: &str =
    "the current version is v2, not v1 as --if-version said; nothing was changed";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_api_route_needs_the_token_and_refusals_change_nothing() {
    let site = Site::start(2, "alice").await;
    let spare = Backend::start("inventory-3").await.unwrap();
    let token = site.token();

    let path = site.dir.path().join("switchyard-state/admin.token");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{} has mode {mode:o}", path.display());
    let hex = token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit());
    assert!(hex, "a 256-bit token, got {token:?}");

    // v2 takes inventory-2 out, so every POST below would change something if it got through.
    site.ok("servers remove inventory-2 --pool inventory -m maintenance --drain-timeout 1s");
    let before = snapshot(&site);
    let served = [
        site.backends[1].control.requests(),
        spare.control.requests(),
    ];
    let config = config_with(&site, &spare, "");
    let routes = [
        ("GET", "/version", json!(null)),
        ("GET", "/versions", json!(null)),
        ("GET", "/versions/1", json!(null)),
        ("GET", "/diff?from=1", json!(null)),
        ("GET", "/pools", json!(null)),
        ("GET", "/events", json!(null)),
        (
            "POST",
            "/pools/inventory/servers",
            json!({"name": "inventory-3", "address": spare.addr.to_string(), "message": "x"}),
        ),
        (
            "POST",
            "/pools/inventory/servers/inventory-1/remove",
            json!({"message": "x", "drain_timeout": "1s"}),
        ),
        (
            "POST",
            "/pools/inventory/servers/inventory-2/restore",
            json!({"message": "x"}),
        ),
        ("POST", "/rollback", json!({"to": 1, "message": "x"})),
        ("POST", "/apply", json!({"config": config, "message": "x"})),
    ];
    let flipped: String = token
        .chars()
        .map(|c| if c == 'a' { 'b' } else { 'a' })
        .collect();
    let mut last_wrong = token[..63].to_string();
    last_wrong.push(if token.ends_with('0') { '1' } else { '0' });
    let headers = [
        None,
        Some("Bearer wrong".to_string()),
        Some(format!("Bearer {flipped}")),
        Some(format!("Bearer {last_wrong}")),
        Some(format!("Bearer {}", &token[..63])),
        Some(format!("Bearer {token}0")),
        Some("Bearer ".to_string()),
        Some(token.clone()),
        Some(format!("Basic {token}")),
    ];
    let admin = site.serve.admin.to_string();
    for (method, path, body) in &routes {
        for auth in &headers {
            let (status, answer) =
                call(admin.clone(), method, path, auth.clone(), body.clone()).await;
            let what = format!("{method} {path} with authorization {auth:?}: {answer}");
            assert_eq!(status, 401, "{what}");
            assert_fields(&answer, json!({"status": 401, "error": "unauthorized"}));
            let reason = answer["reason"].as_str().unwrap_or_default();
            assert!(reason.contains("admin token"), "{what}");
        }
    }
    assert_eq!(snapshot(&site), before, "refused requests change nothing");
    let seen = site.hits(4).await;
    assert_eq!(names(&seen), BTreeSet::from(["inventory-1"]));
    let now = [
        site.backends[1].control.requests(),
        spare.control.requests(),
    ];
    assert_eq!(now, served, "removed and unknown servers get no requests");

    // /metrics stays open.
    let metrics = http_client()
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("switchyard_requests_total"), "{text}");

    // With the token, the same requests are answered, and every change goes through.
    for (i, (method, path, body)) in routes.into_iter().enumerate() {
        let (status, answer) = authorized(&site, method, path, body).await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
        if method == "POST" {
            let version = i as u64 - 3;
            assert_fields(&answer, json!({"changed": true}));
            assert_eq!(
                answer["version"]["version"], version,
                "{method} {path}: {answer}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_with_a_wrong_token_fails_in_one_line() {
    let site = Site::start(2, "alice").await;
    let spare = Backend::start("inventory-3").await.unwrap();
    site.dir.write("add.toml", &config_with(&site, &spare, ""));
    let history = site.json("history");
    let wrong = "missing or wrong admin token: send Authorization: Bearer <token> (the token is in STATE_DIR/admin.token) (HTTP 401)";
    site.refused("--token wrong history", wrong);
    site.refused("history --token wrong", wrong);
    site.refused("apply --config add.toml -m sneak --token wrong", wrong);
    site.refused(
        "servers remove inventory-1 --pool inventory -m x --token wrong",
        wrong,
    );
    let mut cmd = site.cli("rollback --to 1 -m x");
    let o = run(cmd.env("SWITCHYARD_TOKEN", "0".repeat(64)));
    let err = stderr(&o);
    assert!(
        o.status.code() == Some(1) && err.lines().count() == 1 && err.contains(wrong),
        "{err}"
    );
    assert_eq!(site.json("history"), history, "nothing changed");
    assert_eq!(names(&site.hits(2).await).len(), 2);

    // From anywhere, --admin and --token reach the API; --admin alone says where the token is.
    let elsewhere = Dir::new();
    let url = format!("http://{}", site.serve.admin);
    let o = run(&mut elsewhere.cli(["--admin", &url, "--token", &site.token(), "version"]));
    assert!(
        o.status.success() && stdout(&o).starts_with("v1 (apply) by alice"),
        "{o:?}"
    );
    let o = run(&mut elsewhere.cli(["--admin", &url, "version"]));
    let err = stderr(&o);
    let how = "switchyard: no admin token: pass --token TOKEN (or set SWITCHYARD_TOKEN); `switchyard serve` writes it to ./switchyard-state/admin.token\n";
    assert_eq!((o.status.code(), err.as_str()), (Some(1), how));
}

/// A site of two servers, and two changes written beside it: `add.toml` adds a third server
/// (the returned backend), `timeout.toml` also sets a shutdown timeout.
async fn site_with_two_changes() -> (Site, Backend) {
    let site = Site::start(2, "alice").await;
    let spare = Backend::start("inventory-3").await.unwrap();
    site.dir.write("add.toml", &config_with(&site, &spare, ""));
    site.dir.write(
        "timeout.toml",
        &config_with(&site, &spare, "shutdown_timeout = \"10s\""),
    );
    (site, spare)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_if_version_is_refused_and_changes_nothing() {
    let (site, _spare) = site_with_two_changes().await;
    site.ok("apply --config add.toml -m 'add inventory-3'");
    let before = snapshot(&site);

    let stale = [
        "apply --config timeout.toml -m x --if-version 1",
        "rollback --to 1 -m x --if-version 1",
        "servers remove inventory-1 --pool inventory -m x --if-version 1",
        "servers restore inventory-1 --pool inventory --if-version 1",
    ];
    for line in stale {
        site.refused(
            line,
            &format!("{CONFLICT}: look at `switchyard history` and retry (HTTP 409)"),
        );
    }
    let ahead = "apply --config timeout.toml -m x --if-version 7";
    site.refused(
        ahead,
        "the current version is v2, not v7 as --if-version said",
    );
    let add = "servers add 127.0.0.1:1 --pool inventory --name inventory-4 -m x --if-version 1";
    site.refused(add, CONFLICT);

    let timeout = std::fs::read_to_string(site.dir.path().join("timeout.toml")).unwrap();
    let raw = [
        ("/apply", json!({"config": timeout, "if_version": 1})),
        ("/rollback", json!({"to": 1, "if_version": 1})),
        (
            "/pools/inventory/servers/inventory-1/remove",
            json!({"if_version": 1}),
        ),
    ];
    for (path, body) in raw {
        let (status, answer) = authorized(&site, "POST", path, body).await;
        assert_eq!(status, 409, "{path}: {answer}");
        assert_fields(&answer, json!({"status": 409, "error": "version_conflict"}));
        assert!(
            answer["reason"].as_str().unwrap().starts_with(CONFLICT),
            "{answer}"
        );
    }
    assert_eq!(
        snapshot(&site),
        before,
        "refused changes leave everything as it was"
    );
    assert_eq!(
        names(&site.hits(3).await).len(),
        3,
        "inventory-1 still gets requests"
    );

    // With the current version, each goes through.
    for (command, answer) in [
        (
            "apply --config timeout.toml -m 'shorter timeout' --if-version 2",
            "applied as v3 (1 change)\n",
        ),
        (
            "rollback --to 1 -m 'back' --if-version 3",
            "rolled back to v1's config as v4 (2 changes)\n",
        ),
        (
            "servers remove inventory-1 --pool inventory -m x --if-version 4",
            "removed inventory-1 from pool inventory as v5 (1 change)\n",
        ),
    ] {
        let out = site.ok(command);
        assert!(out.starts_with(answer), "{command}: {out}");
    }
    assert_eq!(site.versions(), [5, 4, 3, 2, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_changes_with_the_same_if_version_let_exactly_one_through() {
    let (site, spare) = site_with_two_changes().await;

    // Two CLI applies at once, both saying --if-version 1.
    let lines = [
        "apply --config add.toml -m a --if-version 1",
        "apply --config timeout.toml -m b --if-version 1",
    ];
    let outputs: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = lines
            .iter()
            .map(|l| s.spawn(|| run(&mut site.cli(l))))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let won: Vec<usize> = (0..2).filter(|&i| outputs[i].status.success()).collect();
    assert_eq!(won.len(), 1, "exactly one wins: {outputs:?}");
    let (winner, loser) = (&outputs[won[0]], &outputs[1 - won[0]]);
    assert!(stdout(winner).starts_with("applied as v2 ("), "{winner:?}");
    let err = stderr(loser);
    assert!(
        loser.status.code() == Some(1) && err.lines().count() == 1 && err.contains(CONFLICT),
        "{loser:?}"
    );
    assert_eq!(site.versions(), [2, 1]);
    let message = if won[0] == 0 { "a" } else { "b" };
    assert_eq!(site.json("version")["message"], message);
    let current = site.ok("config show");
    let file = if won[0] == 0 {
        "add.toml"
    } else {
        "timeout.toml"
    };
    let applied = site.ok(&format!("apply --config {file} -m again"));
    assert_eq!(
        applied, "no change: v2 already has this config\n",
        "{current}"
    );

    // Eight raw applies at once with if_version 2: one 200, seven 409.
    let admin = site.serve.admin.to_string();
    let auth = Some(format!("Bearer {}", site.token()));
    let tasks: Vec<_> = (11..19)
        .map(|secs| {
            let config = config_with(&site, &spare, &format!("shutdown_timeout = \"{secs}s\""));
            let body = json!({"config": config, "message": format!("{secs}s"), "if_version": 2});
            tokio::spawn(call(admin.clone(), "POST", "/apply", auth.clone(), body))
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let ok: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(ok.len(), 1, "{answers:?}");
    assert_eq!(ok[0]["version"]["version"], 3);
    for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["error"], "version_conflict");
        assert!(
            body["reason"]
                .as_str()
                .unwrap()
                .contains("the current version is v3, not v2"),
            "{body}"
        );
    }
    assert_eq!(site.versions(), [3, 2, 1]);
    let message = ok[0]["version"]["message"].as_str().unwrap();
    let shown = site.ok("config show");
    assert!(
        shown.contains(&format!("shutdown_timeout = \"{message}\"")),
        "{shown}"
    );

    // Without --if-version, racing changes all go through, one after another.
    let tasks: Vec<_> = (21..27)
        .map(|secs| {
            let config = config_with(&site, &spare, &format!("shutdown_timeout = \"{secs}s\""));
            let body = json!({"config": config, "message": format!("{secs}s")});
            tokio::spawn(call(admin.clone(), "POST", "/apply", auth.clone(), body))
        })
        .collect();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let history = site.json("history");
    assert_eq!(versions(&history), [9, 8, 7, 6, 5, 4, 3, 2, 1]);
    for v in history.as_array().unwrap().iter().take(8) {
        assert_eq!(
            v["parent"].as_u64(),
            v["version"].as_u64().map(|n| n - 1),
            "{v}"
        );
    }
    let newest = history[0]["message"].as_str().unwrap();
    let shown = site.ok("config show");
    assert!(
        shown.contains(&format!("shutdown_timeout = \"{newest}\"")),
        "the newest version runs: {shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_need_the_token_and_errors_are_json() {
    let site = Site::start(1, "alice").await;
    let admin = site.serve.admin.to_string();
    let (status, body) = call(admin.clone(), "GET", "/nope", None, json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized")),
        "routes are not revealed"
    );
    let (status, body) = authorized(&site, "GET", "/nope", json!({})).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, body) = authorized(&site, "GET", "/apply", json!({})).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["error"], "method_not_allowed");
    // The scheme is case-insensitive (RFC 9110 11.1).
    let lower = Some(format!("bearer {}", site.token()));
    let (status, body) = call(admin, "GET", "/version", lower, json!({})).await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(1)));
}
