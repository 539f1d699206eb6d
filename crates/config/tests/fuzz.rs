//! Property tests: the loader and validator never panic, whatever bytes they get, and every
//! config they accept prints as canonical TOML that parses back to the same config.
//!
//! 2,000 cases per property in a normal run; `cargo test -p switchyard-config --test integration fuzz --
//! --ignored` runs 100,000.

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use switchyard_config::Config;

const GOOD: &str = r#"[admin]
bind = "127.0.0.1:9901"
access_log = "off"
event_retention = "7d"

[runtime]
workers = 2
shutdown_timeout = "10s"

[[listeners]]
name = "web"
bind = "127.0.0.1:8080"
max_header_bytes = 65536

[[routes]]
host = "shop.example"
path_prefix = "/api"
pool = "inventory"

[pools.inventory]
balance = "least_conn"
max_connections = 100
slow_start = "30s"
timeouts = { connect = "1s", request = "10s" }
health = { path = "/health", interval = "2s", timeout = "1s", expect_status = [200, "300-399"], expect_body = "ok" }
outlier = { consecutive_failures = 5, window = "30s" }

[[pools.inventory.servers]]
name = "inventory-1"
address = "127.0.0.1:9101"
weight = 3

[guard]
bake = "2m"
max_error_rate = 0.05

[notify]
webhook = "http://127.0.0.1:9/hook"
"#;

/// Arbitrary text, TOML-shaped fragments, and the good config with one line replaced.
fn sources() -> impl Strategy<Value = String> {
    let lines: Vec<String> = GOOD.lines().map(str::to_string).collect();
    let n = lines.len();
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(any::<u8>(), 0..512)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "(\\[{1,2}[a-z_.]{0,20}\\]{1,2}\n|[a-z_]{1,16} = (\"[^\"\\\\]{0,30}\"|-?[0-9]{1,12}|[0-9.e+-]{1,8}|true|\\[[0-9, \"a-z-]{0,20}\\]|\\{ [a-z]{1,8} = \"[^\"]{0,10}\" \\})\n){0,30}",
        (0..n, "[^\n]{0,60}").prop_map(move |(i, text)| {
            let mut l = lines.clone();
            l[i] = text;
            l.join("\n")
        }),
        (0..n, 0..n).prop_map({
            let lines: Vec<String> = GOOD.lines().map(str::to_string).collect();
            move |(i, j)| {
                let mut l = lines.clone();
                l.swap(i, j);
                l.join("\n")
            }
        }),
    ]
}

fn run(cases: u32) {
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let accepted = std::cell::Cell::new(0u32);
    runner
        .run(&sources(), |source| {
            if let Ok(config) = Config::parse(&source, "fuzz.toml") {
                accepted.set(accepted.get() + 1);
                let text = config.to_toml();
                let again = Config::parse(&text, "canonical")
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
                prop_assert_eq!(again, config);
            }
            Ok(())
        })
        .unwrap();
    eprintln!("{cases} cases, {} accepted configs", accepted.get());
    assert!(accepted.get() > 0, "some generated configs are valid");
}

#[test]
fn loader_and_validator_never_panic_and_round_trip() {
    run(2_000);
}

#[test]
#[ignore = "100,000 cases: run with --ignored"]
fn loader_and_validator_never_panic_and_round_trip_100k() {
    run(100_000);
}
