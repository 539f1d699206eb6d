//! Validation rules that keep a config from exposing or crashing Switchyard: the admin API
//! stays on loopback unless it has TLS or the operator accepts cleartext, health-check paths are
//! URI paths, and event retention has a sane default.

use std::time::Duration;

use switchyard_config::{Config, DEFAULT_EVENT_RETENTION};

fn config(admin: &str, health_path: &str) -> String {
    format!(
        concat!(
            "\n[admin]\n{admin}\n\n",
            web_listener!(),
            "\n[[routes]]\npool = \"inventory\"\n\n[pools.inventory]\nhealth = {{ path = {path} }}\n",
            server!("inventory", "inventory-1", "127.0.0.1:9101"),
        ),
        admin = admin,
        path = toml::Value::String(health_path.into())
    )
}

fn errors_of(source: &str) -> String {
    Config::parse(source, "lb.toml")
        .expect_err("config should be refused")
        .to_string()
}

#[test]
fn a_non_loopback_admin_bind_needs_tls_or_an_explicit_opt_in() {
    for bind in ["0.0.0.0:9901", "10.1.2.3:9901", "[::]:9901"] {
        let err = errors_of(&config(&format!("bind = {bind:?}"), "/health"));
        assert!(
            err.starts_with("lb.toml:3:8: admin.bind ")
                && err.contains("is not a loopback address")
                && err.contains("add [admin.tls] with cert and key")
                && err.contains("admin.allow_insecure_remote = true"),
            "{err}"
        );
    }
    let opted = config(
        "bind = \"0.0.0.0:9901\"\nallow_insecure_remote = true",
        "/health",
    );
    let c = Config::parse(&opted, "lb.toml").unwrap();
    assert!(c.admin.allow_insecure_remote && c.admin.exposed_in_cleartext());
    let tls = config(
        "bind = \"0.0.0.0:9901\"\ntls = { cert = \"a.pem\", key = \"k.pem\" }",
        "/health",
    );
    let c = Config::parse(&tls, "lb.toml").unwrap();
    assert!(c.admin.tls.is_some() && !c.admin.exposed_in_cleartext());
    for loopback in ["127.0.0.1:0", "[::1]:9901", "127.8.9.10:1"] {
        let c = Config::parse(&config(&format!("bind = {loopback:?}"), "/h"), "lb.toml").unwrap();
        assert!(!c.admin.exposed_in_cleartext());
    }
    // Both settings survive the canonical TOML round trip.
    for source in [opted, tls] {
        let c = Config::parse(&source, "lb.toml").unwrap();
        assert_eq!(Config::parse(&c.to_toml(), "canonical").unwrap(), c);
    }
}

#[test]
fn admin_tls_needs_both_files() {
    let err = errors_of(&config("tls = { cert = \"a.pem\" }", "/health"));
    assert_eq!(
        err, "lb.toml:3:7: admin tls has no key: give a PEM file path",
        "{err}"
    );
}

#[test]
fn a_health_path_must_be_a_uri_path_and_query() {
    for bad in ["/health check", "/a\tb", "/h\u{7f}", "/x\ny", "/q?a b"] {
        let err = errors_of(&config("", bad));
        assert!(
            err.contains("health.path") && err.contains("is not a valid URI path and query"),
            "{bad:?}: {err}"
        );
    }
    for good in ["/health", "/health%20check", "/h?full=1&x=%2F", "/"] {
        let c =
            Config::parse(&config("", good), "lb.toml").unwrap_or_else(|e| panic!("{good:?}: {e}"));
        assert_eq!(c.pools["inventory"].health.as_ref().unwrap().path, good);
    }
}

#[test]
fn event_retention_has_a_default_and_is_checked() {
    let c = Config::parse(&config("", "/h"), "lb.toml").unwrap();
    assert_eq!(c.admin.event_retention, DEFAULT_EVENT_RETENTION);
    assert_eq!(DEFAULT_EVENT_RETENTION, Duration::from_secs(30 * 86400));
    let c = Config::parse(&config("event_retention = \"2d\"", "/h"), "lb.toml").unwrap();
    assert_eq!(c.admin.event_retention, Duration::from_secs(2 * 86400));
    let err = errors_of(&config("event_retention = \"soon\"", "/h"));
    assert!(
        err.starts_with("lb.toml:3:19: admin.event_retention: "),
        "{err}"
    );
}
