//! The semantic diff between two configs, checked by the exact lines an operator reads.

use switchyard_config::{diff, text_diff, Change, ChangeKind, Config, ServerState};

const BASE: &str = concat!(
    r#"
[admin]
bind = "127.0.0.1:9901"

"#,
    shop_front!(),
    r#"
[pools.inventory]
balance = "round_robin"
max_connections = 100
timeouts = { request = "10s" }
"#,
    server!("inventory", "inventory-1", "127.0.0.1:9101"),
    server!("inventory", "inventory-2", "127.0.0.1:9102"),
    server!("inventory", "inventory-3", "127.0.0.1:9103"),
    "\n[pools.frontend]\n",
    server!("frontend", "frontend-01", "127.0.0.1:9201"),
);

const BILLING: &str = concat!(
    "\n[pools.billing]\n",
    server!("billing", "billing-1", "127.0.0.1:9301"),
    server!("billing", "billing-2", "127.0.0.1:9302"),
);

fn parse(source: &str) -> Config {
    Config::parse(source, "lb.toml").unwrap_or_else(|e| panic!("{e}\nin:\n{source}"))
}

/// `source` with the single occurrence of `from` replaced by `to`.
fn edit(source: &str, from: &str, to: &str) -> String {
    assert_eq!(
        source.matches(from).count(),
        1,
        "{from:?} should occur once in:\n{source}"
    );
    source.replace(from, to)
}

/// The changes from `old` to `new`, as the lines an operator reads.
fn lines(old: &str, new: &str) -> Vec<String> {
    diff(&parse(old), &parse(new))
        .iter()
        .map(Change::to_string)
        .collect()
}

/// The one change from `old` to `new`.
fn only_change(old: &str, new: &str) -> Change {
    let changes = diff(&parse(old), &parse(new));
    assert_eq!(changes.len(), 1, "expected one change, got {changes:#?}");
    changes.into_iter().next().unwrap()
}

fn add_inventory_4(extra: &str) -> String {
    let server = format!(
        "address = \"127.0.0.1:9103\"\n\n[[pools.inventory.servers]]\nname = \"inventory-4\"\naddress = \"192.168.1.45:8080\"\n{extra}"
    );
    edit(BASE, "address = \"127.0.0.1:9103\"\n", &server)
}

#[test]
fn identical_configs_have_no_changes() {
    assert_eq!(diff(&parse(BASE), &parse(BASE)), Vec::<Change>::new());
    assert_eq!(text_diff(&parse(BASE), &parse(BASE), "v4", "v5"), "");
}

#[test]
fn defaults_written_out_are_no_change() {
    let explicit = edit(
        BASE,
        "address = \"127.0.0.1:9101\"\n",
        "address = \"127.0.0.1:9101\"\nweight = 1\n",
    );
    let explicit = edit(
        &explicit,
        "[pools.frontend]\n",
        "[pools.frontend]\nretries = 1\n",
    );
    assert!(lines(BASE, &explicit).is_empty());
}

#[test]
fn added_server_names_pool_server_and_address() {
    let change = only_change(BASE, &add_inventory_4(""));
    assert_eq!(
        change.to_string(),
        "pool inventory: + server inventory-4 192.168.1.45:8080"
    );
    assert_eq!(change.scope, "pool inventory");
    assert_eq!(change.change, "+ server inventory-4 192.168.1.45:8080");
    assert_eq!(change.pool.as_deref(), Some("inventory"));
    assert_eq!(change.server.as_deref(), Some("inventory-4"));
    assert_eq!(change.kind, ChangeKind::ServerAdded);
}

#[test]
fn added_server_mentions_weight_only_when_not_1() {
    assert_eq!(
        lines(BASE, &add_inventory_4("weight = 3\n")),
        ["pool inventory: + server inventory-4 192.168.1.45:8080 weight 3"]
    );
    assert_eq!(
        lines(BASE, &add_inventory_4("weight = 1\n")),
        ["pool inventory: + server inventory-4 192.168.1.45:8080"]
    );
}

#[test]
fn removed_server() {
    let new = edit(
        BASE,
        "[[pools.inventory.servers]]\nname = \"inventory-2\"\naddress = \"127.0.0.1:9102\"\n",
        "",
    );
    let change = only_change(BASE, &new);
    assert_eq!(
        change.to_string(),
        "pool inventory: - server inventory-2 127.0.0.1:9102"
    );
    assert_eq!(change.pool.as_deref(), Some("inventory"));
    assert_eq!(change.server.as_deref(), Some("inventory-2"));
    assert_eq!(change.kind, ChangeKind::ServerRemoved);
}

#[test]
fn changed_server_settings() {
    let new = edit(
        BASE,
        "address = \"127.0.0.1:9101\"\n",
        "address = \"127.0.0.1:9201\"\nweight = 3\nmax_connections = 7\n",
    );
    let changes = diff(&parse(BASE), &parse(&new));
    let text: Vec<String> = changes.iter().map(Change::to_string).collect();
    assert_eq!(
        text,
        [
            "pool inventory: server inventory-1: address 127.0.0.1:9101 -> 127.0.0.1:9201",
            "pool inventory: server inventory-1: max_connections (unset) -> 7",
            "pool inventory: server inventory-1: weight 1 -> 3",
        ]
    );
    let paths: Vec<&ChangeKind> = changes.iter().map(|c| &c.kind).collect();
    let setting = |path: &str| ChangeKind::Setting { path: path.into() };
    assert_eq!(
        paths,
        [
            &setting("address"),
            &setting("max_connections"),
            &setting("weight")
        ]
    );
    for change in &changes {
        assert_eq!(change.pool.as_deref(), Some("inventory"));
        assert_eq!(change.server.as_deref(), Some("inventory-1"));
    }
    assert_eq!(
        lines(&new, BASE)[1],
        "pool inventory: server inventory-1: max_connections 7 -> (unset)"
    );
}

#[test]
fn renamed_server_is_removed_and_added() {
    let new = edit(BASE, "\"inventory-3\"", "\"inventory-3b\"");
    assert_eq!(
        lines(BASE, &new),
        [
            "pool inventory: + server inventory-3b 127.0.0.1:9103",
            "pool inventory: - server inventory-3 127.0.0.1:9103",
        ]
    );
}

#[test]
fn pool_settings() {
    let new = edit(
        BASE,
        "balance = \"round_robin\"\nmax_connections = 100\ntimeouts = { request = \"10s\" }\n",
        "balance = \"least_conn\"\nmax_connections = 50\ntimeouts = { request = \"2s\" }\n",
    );
    let changes = diff(&parse(BASE), &parse(&new));
    let text: Vec<String> = changes.iter().map(Change::to_string).collect();
    assert_eq!(
        text,
        [
            "pool inventory: balance round_robin -> least_conn",
            "pool inventory: max_connections 100 -> 50",
            "pool inventory: timeouts.request 10s -> 2s",
        ]
    );
    for change in &changes {
        assert_eq!(change.pool.as_deref(), Some("inventory"));
        assert_eq!(change.server, None);
    }
    assert_eq!(
        changes[2].kind,
        ChangeKind::Setting {
            path: "timeouts.request".into()
        }
    );
}

#[test]
fn timeout_change() {
    let new = edit(BASE, "request = \"10s\"", "request = \"2s\"");
    assert_eq!(
        only_change(BASE, &new).to_string(),
        "pool inventory: timeouts.request 10s -> 2s"
    );
}

#[test]
fn added_and_removed_pools() {
    let with_billing = format!("{BASE}{BILLING}");
    let added = only_change(BASE, &with_billing);
    assert_eq!(
        added.to_string(),
        "pools: + pool billing (2 servers: billing-1 127.0.0.1:9301, billing-2 127.0.0.1:9302)"
    );
    assert_eq!(added.pool.as_deref(), Some("billing"));
    assert_eq!(added.server, None);
    assert_eq!(added.kind, ChangeKind::PoolAdded);

    let removed = only_change(&with_billing, BASE);
    assert_eq!(removed.to_string(), "pools: - pool billing");
    assert_eq!(removed.pool.as_deref(), Some("billing"));
    assert_eq!(removed.server, None);
    assert_eq!(removed.kind, ChangeKind::PoolRemoved);
}

#[test]
fn route_changes_by_position() {
    let new = edit(
        BASE,
        "path_prefix = \"/api/inventory\"",
        "path_prefix = \"/api/stock\"",
    );
    let new = edit(&new, "pool = \"frontend\"", "pool = \"inventory\"");
    let changes = diff(&parse(BASE), &parse(&new));
    let text: Vec<String> = changes.iter().map(Change::to_string).collect();
    assert_eq!(
        text,
        [
            "route 1: path_prefix /api/inventory -> /api/stock",
            "route 2: pool frontend -> inventory",
        ]
    );
    assert_eq!(changes[1].pool.as_deref(), Some("inventory"));
    assert_eq!(changes[1].server, None);
}

#[test]
fn added_and_removed_routes() {
    let more = edit(
        BASE,
        "[[routes]]\npool = \"frontend\"\n",
        "[[routes]]\npool = \"frontend\"\n\n[[routes]]\nhost = \"admin.example\"\npool = \"inventory\"\n",
    );
    let added = only_change(BASE, &more);
    assert_eq!(
        added.to_string(),
        "routes: + route 3: host=admin.example -> pool inventory"
    );
    assert_eq!(added.pool.as_deref(), Some("inventory"));

    let fewer = edit(BASE, "[[routes]]\npool = \"frontend\"\n", "");
    let removed = only_change(BASE, &fewer);
    assert_eq!(
        removed.to_string(),
        "routes: - route 2: any request -> pool frontend"
    );
    assert_eq!(removed.pool.as_deref(), Some("frontend"));

    // Inserting a route in front shifts the ones after it.
    let first = edit(
        BASE,
        "[[routes]]\nhost = \"shop.example\"",
        "[[routes]]\npath_prefix = \"/health\"\npool = \"frontend\"\n\n[[routes]]\nhost = \"shop.example\"",
    );
    assert_eq!(
        lines(BASE, &first),
        [
            "route 1: host shop.example -> (unset)",
            "route 1: path_prefix /api/inventory -> /health",
            "route 1: pool inventory -> frontend",
            "route 2: host (unset) -> shop.example",
            "route 2: path_prefix (unset) -> /api/inventory",
            "route 2: pool frontend -> inventory",
            "routes: + route 3: any request -> pool frontend",
        ]
    );
}

#[test]
fn routes_name_their_listener_when_there_are_several() {
    let two = edit(
        BASE,
        "[[routes]]\npool = \"frontend\"\n",
        "[[routes]]\nlistener = \"web\"\npool = \"frontend\"\n",
    );
    let two = edit(
        &two,
        "host = \"shop.example\"",
        "listener = \"web\"\nhost = \"shop.example\"",
    );
    let two = edit(
        &two,
        "bind = \"127.0.0.1:8080\"\n",
        "bind = \"127.0.0.1:8080\"\n\n[[listeners]]\nname = \"api\"\nbind = \"127.0.0.1:8443\"\n\n[[routes]]\nlistener = \"api\"\npath_prefix = \"/v1\"\npool = \"inventory\"\n",
    );
    assert_eq!(
        lines(BASE, &two),
        [
            "listeners: + listener api 127.0.0.1:8443",
            "route 1: host shop.example -> (unset)",
            "route 1: listener web -> api",
            "route 1: path_prefix /api/inventory -> /v1",
            "route 2: host (unset) -> shop.example",
            "route 2: path_prefix (unset) -> /api/inventory",
            "route 2: pool frontend -> inventory",
            "routes: + route 3: listener=web -> pool frontend",
        ]
    );
    assert_eq!(
        lines(&two, BASE)[0],
        "listeners: - listener api 127.0.0.1:8443"
    );
}

#[test]
fn listener_changes() {
    let new = edit(
        BASE,
        "bind = \"127.0.0.1:8080\"\n",
        "bind = \"127.0.0.1:8081\"\nmax_header_bytes = 16384\n",
    );
    let changes = diff(&parse(BASE), &parse(&new));
    let text: Vec<String> = changes.iter().map(Change::to_string).collect();
    assert_eq!(
        text,
        [
            "listener web: bind 127.0.0.1:8080 -> 127.0.0.1:8081",
            "listener web: max_header_bytes 65536 -> 16384",
        ]
    );
    assert!(changes
        .iter()
        .all(|c| c.pool.is_none() && c.server.is_none()));

    let tls = edit(
        BASE,
        "bind = \"127.0.0.1:8080\"\n",
        "bind = \"127.0.0.1:8080\"\ntls = { cert = \"cert.pem\", key = \"key.pem\" }\n",
    );
    assert_eq!(
        lines(BASE, &tls),
        [
            "listener web: tls.cert (unset) -> cert.pem",
            "listener web: tls.key (unset) -> key.pem",
        ]
    );
}

#[test]
fn admin_and_runtime_changes() {
    let new = edit(
        BASE,
        "bind = \"127.0.0.1:9901\"\n",
        "bind = \"127.0.0.1:9902\"\naccess_log = \"off\"\n\n[runtime]\nworkers = 4\nshutdown_timeout = \"1m\"\n",
    );
    let changes = diff(&parse(BASE), &parse(&new));
    let text: Vec<String> = changes.iter().map(Change::to_string).collect();
    assert_eq!(
        text,
        [
            "admin: access_log stdout -> off",
            "admin: bind 127.0.0.1:9901 -> 127.0.0.1:9902",
            "runtime: shutdown_timeout 30s -> 1m",
            "runtime: workers (unset) -> 4",
        ]
    );
    assert!(changes
        .iter()
        .all(|c| c.pool.is_none() && c.server.is_none()));
}

#[test]
fn order_is_admin_runtime_listeners_routes_pools() {
    let new = format!("{BASE}{BILLING}");
    let new = edit(&new, "\"127.0.0.1:9201\"", "\"127.0.0.1:9202\"");
    let new = edit(&new, "request = \"10s\"", "request = \"2s\"");
    let new = edit(
        &new,
        "[[pools.inventory.servers]]\nname = \"inventory-1\"\naddress = \"127.0.0.1:9101\"\n",
        "",
    );
    let new = edit(
        &new,
        "name = \"inventory-3\"\naddress = \"127.0.0.1:9103\"\n",
        "name = \"inventory-3\"\naddress = \"127.0.0.1:9103\"\nweight = 2\n\n[[pools.inventory.servers]]\nname = \"inventory-0\"\naddress = \"127.0.0.1:9100\"\n",
    );
    let new = edit(&new, "pool = \"frontend\"", "pool = \"billing\"");
    let new = edit(&new, "\"127.0.0.1:8080\"", "\"127.0.0.1:8081\"");
    let new = edit(
        &new,
        "bind = \"127.0.0.1:9901\"\n",
        "bind = \"127.0.0.1:9901\"\naccess_log = \"off\"\n\n[runtime]\nworkers = 2\n",
    );
    let changes = diff(&parse(BASE), &parse(&new));
    let text: Vec<String> = changes.iter().map(Change::to_string).collect();
    assert_eq!(
        text,
        [
            "admin: access_log stdout -> off",
            "runtime: workers (unset) -> 2",
            "listener web: bind 127.0.0.1:8080 -> 127.0.0.1:8081",
            "route 2: pool frontend -> billing",
            "pools: + pool billing (2 servers: billing-1 127.0.0.1:9301, billing-2 127.0.0.1:9302)",
            "pool frontend: server frontend-01: address 127.0.0.1:9201 -> 127.0.0.1:9202",
            "pool inventory: timeouts.request 10s -> 2s",
            "pool inventory: server inventory-3: weight 1 -> 2",
            "pool inventory: + server inventory-0 127.0.0.1:9100",
            "pool inventory: - server inventory-1 127.0.0.1:9101",
        ]
    );
    let touched: Vec<(Option<&str>, Option<&str>)> = changes
        .iter()
        .map(|c| (c.pool.as_deref(), c.server.as_deref()))
        .collect();
    assert_eq!(
        touched,
        [
            (None, None),
            (None, None),
            (None, None),
            (Some("billing"), None),
            (Some("billing"), None),
            (Some("frontend"), Some("frontend-01")),
            (Some("inventory"), None),
            (Some("inventory"), Some("inventory-3")),
            (Some("inventory"), Some("inventory-0")),
            (Some("inventory"), Some("inventory-1")),
        ]
    );
}

#[test]
fn text_diff_shows_changed_lines_under_labelled_headers() {
    let new = add_inventory_4("");
    let new = edit(&new, "request = \"10s\"", "request = \"2s\"");
    let text = text_diff(&parse(BASE), &parse(&new), "version 4", "version 5");
    assert!(
        text.starts_with("--- version 4\n+++ version 5\n@@ "),
        "{text}"
    );
    for line in [
        "-request = \"10s\"\n",
        "+request = \"2s\"\n",
        "+[[pools.inventory.servers]]\n",
        "+name = \"inventory-4\"\n",
        "+address = \"192.168.1.45:8080\"\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    assert!(
        !text.contains("-address"),
        "no address was removed:\n{text}"
    );
    // Three lines of context: the inventory-1 server block is far from either change.
    assert!(!text.contains("inventory-1"), "{text}");
}

#[test]
fn a_server_taken_out_and_put_back_is_a_state_change() {
    let removed = edit(
        BASE,
        "name = \"inventory-2\"\naddress = \"127.0.0.1:9102\"\n",
        "name = \"inventory-2\"\naddress = \"127.0.0.1:9102\"\nstate = \"removed\"\n",
    );
    let out = only_change(BASE, &removed);
    assert_eq!(
        out.to_string(),
        "pool inventory: server inventory-2: state active -> removed"
    );
    assert_eq!(
        out.kind,
        ChangeKind::StateChanged {
            from: ServerState::Active,
            to: ServerState::Removed
        }
    );
    let back = only_change(&removed, BASE);
    assert_eq!(
        back.kind,
        ChangeKind::StateChanged {
            from: ServerState::Removed,
            to: ServerState::Active
        }
    );
}
