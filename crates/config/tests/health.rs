//! Health settings: the documented example parses, round-trips, and every mistake is located.

use std::time::Duration;

use switchyard_config::{Config, StatusRange, WhenAllUnhealthy};

const BASE: &str = concat!(
    web_listener!(),
    r#"
[[routes]]
pool = "inventory"

[pools.inventory]
when_all_unhealthy = "fail_open"
slow_start = "20s"

[pools.inventory.health]
path = "/health"
interval = "2s"
timeout = "1s"
expect_status = [200, "204-206"]
expect_header = { "Content-Type" = "application/json" }
expect_body = "\"status\":\"ok\""
rise = 2
fall = 3

[pools.inventory.outlier]
consecutive_failures = 5
failure_rate = 0.5
window = "10s"
min_requests = 20
failure_statuses = ["500-599", 404]
base_ejection = "30s"
max_ejected_percent = 50
"#,
    server!("inventory", "inventory-1", "127.0.0.1:9101"),
);

fn error_of(source: &str) -> String {
    let errors = Config::parse(source, "lb.toml").expect_err("config should be refused");
    assert_eq!(errors.0.len(), 1, "expected one error:\n{errors}");
    errors.to_string()
}

#[test]
fn documented_example_parses_and_round_trips() {
    let c = Config::parse(BASE, "lb.toml").unwrap();
    let p = &c.pools["inventory"];
    assert_eq!(p.when_all_unhealthy, WhenAllUnhealthy::FailOpen);
    assert_eq!(p.slow_start, Some(Duration::from_secs(20)));
    let h = p.health.as_ref().unwrap();
    assert_eq!(h.path, "/health");
    assert_eq!(
        h.expect_status,
        vec![
            StatusRange {
                low: 200,
                high: 200
            },
            StatusRange {
                low: 204,
                high: 206
            }
        ]
    );
    assert_eq!(h.expect_header["content-type"], "application/json");
    assert_eq!(h.expect_body.as_deref(), Some("\"status\":\"ok\""));
    let o = p.outlier.as_ref().unwrap();
    assert_eq!(
        o.failure_statuses[1],
        StatusRange {
            low: 404,
            high: 404
        }
    );
    assert_eq!(o.max_ejection, Duration::from_secs(300));
    let again = Config::parse(&c.to_toml(), "canonical").unwrap();
    assert_eq!(again, c, "{}", c.to_toml());
}

#[test]
fn defaults_without_health() {
    let src = BASE.split("when_all_unhealthy").next().unwrap().to_string()
        + "\n[[pools.inventory.servers]]\nname = \"i\"\naddress = \"127.0.0.1:1\"\n";
    let c = Config::parse(&src, "lb.toml").unwrap();
    let p = &c.pools["inventory"];
    assert!(p.health.is_none() && p.outlier.is_none() && p.slow_start.is_none());
    assert_eq!(p.when_all_unhealthy, WhenAllUnhealthy::Reject);
}

#[test]
fn mistakes_are_located() {
    let e = error_of(&BASE.replace("[200, \"204-206\"]", "[200, \"2xx\"]"));
    assert!(e.starts_with("lb.toml:16:23: pool \"inventory\" health.expect_status: \"2xx\" is not a status or range"), "{e}");
    let e = error_of(&BASE.replace("timeout = \"1s\"", "timeout = \"5s\""));
    assert!(
        e.starts_with(
            "lb.toml:15:11: pool \"inventory\" health.timeout 5s is longer than the interval 2s"
        ),
        "{e}"
    );
    let e = error_of(&BASE.replace("failure_rate = 0.5", "failure_rate = 50.0"));
    assert!(e.starts_with("lb.toml:24:16: pool \"inventory\" outlier.failure_rate is 50; allowed: more than 0, at most 1"), "{e}");
    let e = error_of(&BASE.replace("\"fail_open\"", "\"panic\""));
    assert!(
        e.contains(
            "when_all_unhealthy \"panic\" is not known; use one of \"reject\", \"fail_open\""
        ),
        "{e}"
    );
    let e = error_of(&BASE.replace("path = \"/health\"", "path = \"health\""));
    assert!(
        e.contains("health.path \"health\" must start with '/'"),
        "{e}"
    );
    let e = error_of(&BASE.replace("rise = 2", "rise = 0"));
    assert!(e.contains("health.rise is 0; allowed: 1 to 100"), "{e}");
    let e = error_of(&BASE.replace("window = \"10s\"", "window = \"2m\""));
    assert!(
        e.contains("outlier.window is 2m; allowed: at most 60s"),
        "{e}"
    );
    let e = error_of(&BASE.replace(
        "max_ejected_percent = 50",
        "max_ejected_percent = 50\nmax_ejection = \"5s\"",
    ));
    assert!(
        e.contains("outlier.max_ejection is shorter than base_ejection"),
        "{e}"
    );
    let e = error_of(&BASE.replace("fall = 3", "fall = 3\nunknown = 1"));
    assert!(e.contains("unknown field `unknown`"), "{e}");
}
