//! `switchyard demo` end to end: both incidents replayed on a live lab behind a live
//! Switchyard, checked from its JSON summary, and nothing left behind.

use std::time::Duration;

use crate::util::*;
use serde_json::Value;

fn step<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {summary:#}"))
}

fn rate(step: &Value, key: &str) -> f64 {
    step[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {step}"))
}

/// Processes whose command line mentions a demo directory.
fn demo_processes() -> Vec<String> {
    let out = std::process::Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("switchyard-demo-") && !l.contains("ps -eo"))
        .map(str::to_string)
        .collect()
}

#[test]
fn demo_replays_both_incidents() {
    let dir = Dir::new();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut cmd = dir.command(["demo", "--output", "json"]);
    cmd.env("TMPDIR", &tmp);
    let o = run_with_timeout(&mut cmd, Duration::from_secs(170));
    check(o.status.success(), "the demo runs to the end", &cmd, &o);
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();

    let bad = step(&summary, "bad-deploy");
    let during = rate(bad, "error_rate_during");
    assert!(
        (0.10..=0.35).contains(&during),
        "bad pool member error rate {during}"
    );
    assert!(rate(bad, "error_rate_after") < 0.01, "{bad}");
    assert!(bad["bad_server_requests"].as_u64().unwrap() > 0);
    assert_eq!(bad["triage_top_concentration"], "server inventory-4");
    assert!(
        bad["triage_top_suspect"]
            .as_str()
            .unwrap()
            .contains("inventory-4"),
        "{bad}"
    );

    let checked = step(&summary, "bad-deploy-health-checked");
    assert_eq!(
        checked["bad_server_requests"], 0,
        "the health check kept inventory-4 out"
    );
    assert!(rate(checked, "error_rate_during") < 0.01, "{checked}");

    let leak = step(&summary, "connection-leak");
    assert!(rate(leak, "error_rate_during") > 0.05, "{leak}");
    assert!(rate(leak, "error_rate_after") < 0.01, "{leak}");
    let top = leak["triage_top_concentration"].as_str().unwrap();
    assert!(top.ends_with(" frontend-02"), "{leak}");
    assert!(
        leak["triage_top_suspect"].is_null(),
        "no change explains the leak: {leak}"
    );

    let guarded = step(&summary, "bad-deploy-guarded");
    assert!(
        guarded["recovered_in_s"].as_f64().is_some(),
        "the guard rolled the bad deploy back by itself: {guarded}"
    );
    assert!(rate(guarded, "error_rate_after") < 0.01, "{guarded}");

    let text = stderr(&o);
    assert!(
        text.contains("by the guard: auto-rollback of v"),
        "apply --watch reports the guard's rollback"
    );
    assert!(
        text.contains("NEW") && text.contains("database connection timeout"),
        "triage names the pool-exhaustion template"
    );
    assert!(
        text.contains("database connection timeout  [frontend-02;"),
        "only frontend-02 logs the pool exhaustion"
    );
    assert!(
        text.contains("$ switchyard servers remove frontend-02 --pool frontend"),
        "the operator's command is shown"
    );

    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        demo_processes(),
        Vec::<String>::new(),
        "no process is left behind"
    );
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "the demo removes its files: {left:?}");
}

#[test]
fn demo_rollout_stops_at_the_flaky_server_and_refuses_a_decommission() {
    let dir = Dir::new();
    let mut cmd = dir.command(["demo", "--scenario", "rollout", "--output", "json"]);
    let o = run_with_timeout(&mut cmd, Duration::from_secs(120));
    check(o.status.success(), "the demo runs to the end", &cmd, &o);
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();

    let rollout = step(&summary, "rollout");
    assert!(
        rollout["recovered_in_s"].as_f64().is_some(),
        "the rollout failed and took its servers out: {rollout}"
    );
    assert!(rate(rollout, "error_rate_during") < 0.02, "{rollout}");
    assert!(rate(rollout, "error_rate_after") < 0.01, "{rollout}");
    let flaky = rollout["bad_server_requests"].as_u64().unwrap();
    assert!(flaky > 0 && flaky < 200, "{rollout}");

    let decommission = step(&summary, "decommission");
    assert_eq!(decommission["refused"], true, "{decommission}");
    assert!(
        rate(decommission, "error_rate_during") < 0.01,
        "{decommission}"
    );

    let text = stderr(&o);
    assert!(
        text.contains("failed at step 3 of 3: inventory-7: error rate ")
            && text.contains("took inventory-5, inventory-6, inventory-7 out again as v5"),
        "the rollout names the server and what it undid"
    );
    assert!(
        text.contains("below its min_servers 2; nothing was changed"),
        "the refusal names the limit"
    );
}
