//! Every validation rule, checked by the position and wording of its error.

use std::time::Duration;

use switchyard_config::{AccessLog, Balance, Config, UpstreamProtocol};

const GOOD: &str = concat!(
    r#"
[admin]
bind = "127.0.0.1:9901"
access_log = "/var/log/switchyard/access.log"

[runtime]
workers = 2

"#,
    shop_front!(),
    r#"
[pools.inventory]
balance = "least_conn"
max_connections = 100
queue = 50
retries = 1
timeouts = { connect = "1s", request = "10s" }

[[pools.inventory.servers]]
name = "inventory-1"
address = "127.0.0.1:9101"
weight = 3
"#,
    server!("inventory", "inventory-2", "127.0.0.1:9102"),
    r#"
[pools.frontend]
protocol = "h2c"

[[pools.frontend.servers]]
name = "frontend-01"
address = "[::1]:9201"
max_connections = 7
"#,
);

/// The single error of `source`, as text.
fn error_of(source: &str) -> String {
    let errors = Config::parse(source, "lb.toml").expect_err("config should be refused");
    assert_eq!(
        errors.0.len(),
        1,
        "expected exactly one error, got:\n{errors}"
    );
    errors.to_string()
}

#[test]
fn good_config_parses_with_defaults() {
    let c = Config::parse(GOOD, "lb.toml").unwrap();
    assert_eq!(c.runtime.workers, Some(2));
    assert_eq!(
        c.admin.access_log,
        AccessLog::File("/var/log/switchyard/access.log".into())
    );
    assert_eq!(c.routes[0].listener, "web", "the only listener is implied");
    assert_eq!(c.routes[0].host.as_deref(), Some("shop.example"));
    let inv = &c.pools["inventory"];
    assert_eq!(inv.balance, Balance::LeastConn);
    assert_eq!(inv.timeouts.request, Duration::from_secs(10));
    assert_eq!(inv.timeouts.idle, switchyard_config::DEFAULT_IDLE_TIMEOUT);
    assert_eq!(inv.servers[0].weight, 3);
    assert_eq!(inv.servers[1].weight, 1);
    let fe = &c.pools["frontend"];
    assert_eq!(fe.protocol, UpstreamProtocol::H2c);
    assert_eq!(
        fe.max_connections,
        switchyard_config::DEFAULT_MAX_CONNECTIONS
    );
    assert_eq!(fe.servers[0].max_connections, Some(7));
}

#[test]
fn canonical_toml_round_trips() {
    let c = Config::parse(GOOD, "lb.toml").unwrap();
    let text = c.to_toml();
    let again = Config::parse(&text, "canonical.toml").unwrap();
    assert_eq!(c, again, "canonical form:\n{text}");
    assert_eq!(text, again.to_toml(), "canonical form is stable");
}

#[test]
fn unknown_pool_in_route() {
    let bad = GOOD.replace(
        "pool = \"frontend\"\n\n[pools.inventory]",
        "pool = \"frontdoor\"\n\n[pools.inventory]",
    );
    let e = error_of(&bad);
    assert!(e.starts_with("lb.toml:19:8: routes[1] sends traffic to pool \"frontdoor\", which is not defined; pools are: \"frontend\", \"inventory\""), "{e}");
}

#[test]
fn duplicate_server_name() {
    let bad = GOOD.replace("name = \"inventory-2\"", "name = \"inventory-1\"");
    let e = error_of(&bad);
    assert!(
        e.starts_with("lb.toml:34:8: pool \"inventory\" has two servers named \"inventory-1\""),
        "{e}"
    );
}

#[test]
fn duplicate_server_address() {
    let bad = GOOD.replace("127.0.0.1:9102", "127.0.0.1:9101");
    let e = error_of(&bad);
    assert!(e.starts_with("lb.toml:35:11: pool \"inventory\" server \"inventory-2\" has address 127.0.0.1:9101, which server \"inventory-1\" already has"), "{e}");
}

#[test]
fn bad_duration() {
    let bad = GOOD.replace("request = \"10s\"", "request = \"10 parsecs\"");
    let e = error_of(&bad);
    assert!(
        e.starts_with(
            "lb.toml:26:40: pool \"inventory\" timeouts.request: \"10 parsecs\" is not a duration"
        ),
        "{e}"
    );
    let bad = GOOD.replace("connect = \"1s\"", "connect = \"5\"");
    let e = error_of(&bad);
    assert!(
        e.contains("pool \"inventory\" timeouts.connect: \"5\" has no unit; write it like \"5s\""),
        "{e}"
    );
}

#[test]
fn unparsable_address() {
    let bad = GOOD.replace("127.0.0.1:9101", "inventory.local");
    let e = error_of(&bad);
    assert!(e.starts_with("lb.toml:30:11: pool \"inventory\" server \"inventory-1\" address \"inventory.local\" is not an IP:PORT address"), "{e}");
}

#[test]
fn empty_pool() {
    let src = "[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:8080\"\n\n[pools.empty]\nbalance = \"round_robin\"\n";
    let e = error_of(src);
    assert!(
        e.starts_with("lb.toml:5:1: pool \"empty\" has no servers: add at least one"),
        "{e}"
    );
}

#[test]
fn unknown_balance_and_protocol() {
    let bad = GOOD.replace("\"least_conn\"", "\"random\"");
    let e = error_of(&bad);
    assert!(e.starts_with("lb.toml:22:11: pool \"inventory\" balance \"random\" is not known; use one of \"round_robin\", \"least_conn\""), "{e}");
    let bad = GOOD.replace("\"h2c\"", "\"h3\"");
    assert!(error_of(&bad).contains("protocol \"h3\" is not known; use one of \"http1\", \"h2c\""));
}

#[test]
fn numbers_out_of_range() {
    let bad = GOOD.replace("weight = 3", "weight = 0");
    let e = error_of(&bad);
    assert!(
        e.starts_with(
            "lb.toml:31:10: pool \"inventory\" servers[0] weight is 0; allowed: 1 to 1000"
        ),
        "{e}"
    );
    let bad = GOOD.replace("queue = 50", "queue = -1");
    assert!(error_of(&bad).contains("pool \"inventory\" queue is -1; allowed: 0 to 1000000"));
    let bad = GOOD.replace("workers = 2", "workers = 0");
    assert!(error_of(&bad).contains("runtime.workers is 0; allowed: 1 to 1024"));
}

#[test]
fn unknown_key_is_located() {
    let bad = GOOD.replace("queue = 50", "queue = 50\nqueue_size = 50");
    let e = error_of(&bad);
    assert!(e.starts_with("lb.toml:25:1:"), "{e}");
    assert!(e.contains("unknown field `queue_size`"), "{e}");
}

#[test]
fn toml_syntax_error_is_located() {
    let e = error_of("[[listeners]]\nname = \"web\nbind = 1\n");
    assert!(e.starts_with("lb.toml:2:"), "{e}");
}

#[test]
fn route_to_unknown_listener_and_bad_prefix() {
    let bad = GOOD.replace(
        "path_prefix = \"/api/inventory\"",
        "path_prefix = \"api\"\nlistener = \"admin\"",
    );
    let errors = Config::parse(&bad, "lb.toml").unwrap_err();
    let text = errors.to_string();
    assert_eq!(errors.0.len(), 2, "{text}");
    assert!(
        text.contains("lb.toml:15:15: routes[0] path_prefix \"api\" must start with '/'"),
        "{text}"
    );
    assert!(text.contains("lb.toml:16:12: routes[0] names listener \"admin\", which does not exist; listeners are: \"web\""), "{text}");
}

#[test]
fn several_listeners_need_explicit_route_listener() {
    let bad = GOOD.replace(
        "[[routes]]\nhost",
        "[[listeners]]\nname = \"web2\"\nbind = \"127.0.0.1:8081\"\n\n[[routes]]\nhost",
    );
    let errors = Config::parse(&bad, "lb.toml").unwrap_err();
    assert_eq!(errors.0.len(), 2, "{errors}");
    assert!(errors.to_string().contains(
        "has no listener and there are several; add listener = one of \"web\", \"web2\""
    ));
}

#[test]
fn duplicate_listener_bind_and_missing_listener() {
    let bad = GOOD.replace("[[routes]]\nhost", "[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:8080\"\n\n[[routes]]\nlistener = \"web\"\nhost");
    let text = Config::parse(&bad, "lb.toml").unwrap_err().to_string();
    assert!(
        text.contains("listener name \"web\" is already used by listeners[0]"),
        "{text}"
    );
    assert!(
        text.contains("binds 127.0.0.1:8080, which listeners[0] already binds"),
        "{text}"
    );
    let e = error_of("[pools.a]\n[[pools.a.servers]]\nname = \"a\"\naddress = \"127.0.0.1:1\"\n");
    assert!(e.starts_with("lb.toml:1:1: no listener: add one"), "{e}");
}

#[test]
fn all_errors_are_reported_at_once_in_order() {
    let bad = GOOD
        .replace("127.0.0.1:9101", "nope")
        .replace("weight = 3", "weight = 5000")
        .replace("\"least_conn\"", "\"fastest\"");
    let errors = Config::parse(&bad, "lb.toml").unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![22, 30, 31]);
}
