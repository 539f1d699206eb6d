//! `switchyard triage` and `switchyard logs` end to end, over generated logs of the seed's two
//! incidents (several hosts, Switchyard's access log, a change file).

use std::time::Duration;

use crate::util::*;
use serde_json::Value;
use switchyard_lab::loggen::{generate, Generated, LogGenOptions, Scenario};

fn logs(dir: &Dir, scenario: Scenario, vague: bool) -> Generated {
    let options = LogGenOptions {
        scenario,
        duration: Duration::from_secs(30 * 60),
        onset_after: Duration::from_secs(20 * 60),
        vague_errors: vague,
        ..LogGenOptions::default()
    };
    generate(&dir.path().join("logs"), &options).unwrap()
}

fn triage_json(dir: &Dir, g: &Generated) -> Value {
    let logs = dir.path().join("logs").display().to_string();
    let changes = g.change_file.display().to_string();
    let o = run_ok(&mut dir.command(["triage", &logs, "--changes", &changes, "--format", "json"]));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn onset_near(report: &Value, g: &Generated) {
    let onset = chrono::DateTime::parse_from_rfc3339(report["onset"].as_str().expect("an onset"))
        .unwrap()
        .with_timezone(&chrono::Utc);
    let off = (onset - g.onset).num_seconds().abs();
    assert!(
        off <= 60,
        "onset {onset} is {off}s from the real one {}",
        g.onset
    );
}

#[test]
fn bad_pool_member_is_found_with_its_change() {
    let dir = Dir::new();
    let g = logs(&dir, Scenario::BadPoolMember, false);
    let r = triage_json(&dir, &g);
    onset_near(&r, &g);
    let top = &r["concentration"][0];
    assert_eq!(
        (top["dimension"].as_str(), top["key"].as_str()),
        (Some("server"), Some("inventory-4")),
        "{r:#}"
    );
    assert!(top["share_of_errors"].as_f64().unwrap() > 0.9, "{top}");
    let suspect = &r["suspect_changes"][0];
    assert!(
        suspect["summary"].as_str().unwrap().contains("inventory-4"),
        "{suspect}"
    );
    assert!(suspect["score"].as_f64().unwrap() >= 0.5, "{suspect}");
    let template = &r["templates"][0];
    assert_eq!(template["new"], true, "{template}");
    assert!(
        r["incident_error_rate"].as_f64().unwrap()
            > r["baseline_error_rate"].as_f64().unwrap() * 5.0
    );
    for field in [
        "onset",
        "baseline_error_rate",
        "incident_error_rate",
        "concentration",
        "templates",
        "suspect_changes",
        "suggestions",
        "skipped_lines",
    ] {
        assert!(r.get(field).is_some(), "missing {field}");
    }
    let suggestions: Vec<&str> = r["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        suggestions
            .iter()
            .any(|s| s.contains("servers remove inventory-4 --pool inventory")),
        "{suggestions:?}"
    );
}

#[test]
fn leaking_front_end_is_named_and_no_change_is_blamed() {
    let dir = Dir::new();
    let g = logs(&dir, Scenario::LeakingFrontend, false);
    let r = triage_json(&dir, &g);
    onset_near(&r, &g);
    let top = &r["concentration"][0];
    assert_eq!(top["key"], "frontend-02", "{r:#}");
    let high: Vec<&Value> = r["suspect_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["score"].as_f64().unwrap() >= 0.5)
        .collect();
    assert!(high.is_empty(), "no change should rank high: {high:?}");
    let template = &r["templates"][0];
    assert_eq!(template["new"], true);
    assert!(
        template["template"]
            .as_str()
            .unwrap()
            .contains("database connection timeout"),
        "{template}"
    );
    assert!(
        template["example"]
            .as_str()
            .unwrap()
            .contains("Connection pool:"),
        "{template}"
    );
    assert_eq!(template["hosts"], serde_json::json!(["frontend-02"]));
}

#[test]
fn vague_errors_still_point_at_the_bad_member() {
    let dir = Dir::new();
    let g = logs(&dir, Scenario::BadPoolMember, true);
    let r = triage_json(&dir, &g);
    onset_near(&r, &g);
    assert_eq!(r["concentration"][0]["key"], "inventory-4");
    let template = r["templates"][0]["template"].as_str().unwrap();
    assert!(
        template.contains("invalid response from server"),
        "{template}"
    );
}

#[test]
fn text_markdown_and_html_reports() {
    let dir = Dir::new();
    let g = logs(&dir, Scenario::BadPoolMember, false);
    let logs = dir.path().join("logs").display().to_string();
    let changes = g.change_file.display().to_string();
    let o = run_ok(&mut dir.command(["triage", &logs, "--changes", &changes]));
    let text = stdout(&o);
    assert!(text.starts_with("Onset: errors began at "), "{text}");
    assert!(
        text.contains("of errors on server inventory-4 (pool inventory)"),
        "{text}"
    );
    assert!(
        text.contains("Suggestions (check before running)"),
        "{text}"
    );
    assert!(!text.contains("\x1b["), "no colour in a pipe");
    let report = |format: &str, out: &str| {
        let args = [
            "triage",
            &logs,
            "--changes",
            &changes,
            "--format",
            format,
            "--out",
            out,
        ];
        run_ok(&mut dir.command(args));
        std::fs::read_to_string(dir.path().join(out)).unwrap()
    };
    let md = report("markdown", "report.md");
    assert!(
        md.starts_with("# Incident report") && md.contains("## Where the errors are"),
        "{md}"
    );
    let html = report("html", "report.html");
    assert!(
        html.contains("<svg") && html.contains("onset "),
        "the chart marks the onset"
    );
    assert!(html.contains("inventory-4"));
}

#[test]
fn logs_errors_trace_and_templates() {
    let dir = Dir::new();
    logs(&dir, Scenario::LeakingFrontend, false);
    let logs = dir.path().join("logs").display().to_string();
    let o = run_ok(&mut dir.command(["logs", "errors", &logs, "--by", "server"]));
    let first = stdout(&o).lines().nth(1).unwrap().to_string();
    assert!(first.ends_with("frontend-02"), "{}", stdout(&o));
    let o = run_ok(&mut dir.command(["logs", "errors", &logs, "--by", "host", "--output", "json"]));
    let rows: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let front: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["key"].as_str())
        .filter(|k| k.starts_with("frontend"))
        .collect();
    assert_eq!(front[0], "frontend-02", "{rows}");

    // Follow one request of a failing front end across every service.
    let app = std::fs::read_to_string(dir.path().join("logs/frontend-02/app.log")).unwrap();
    let id = app
        .lines()
        .find_map(|l| l.split("request id ").nth(1))
        .map(|rest| {
            rest.trim_end_matches(')')
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches(')')
                .to_string()
        });
    if let Some(id) = id {
        let o = run_ok(&mut dir.command(["logs", "trace", &id, &logs, "--output", "json"]));
        let hops: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let hops = hops.as_array().unwrap();
        assert!(!hops.is_empty());
        let times: Vec<&str> = hops.iter().map(|h| h["ts"].as_str().unwrap()).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "in time order");
    }

    dir.write(
        "messages.txt",
        "connected to 10.0.0.1 in 12ms\nconnected to 10.0.0.2 in 7ms\ndisk full on /var\n",
    );
    let o = run_ok(&mut dir.command([
        "logs",
        "templates",
        "messages.txt",
        "--message-only",
        "--assign",
    ]));
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["template_id"], lines[1]["template_id"]);
    assert_ne!(lines[0]["template_id"], lines[2]["template_id"]);
    assert_eq!(lines[2]["line"], 3);
}

#[test]
fn onset_and_concentration_carry_their_evidence() {
    let dir = Dir::new();
    let g = logs(&dir, Scenario::BadPoolMember, false);
    let r = triage_json(&dir, &g);
    let first = &r["onset_evidence"][0];
    assert_eq!(first["series"], r["onset_series"], "{r:#}");
    let (observed, expected) = (
        first["observed"].as_u64().unwrap(),
        first["expected"].as_f64().unwrap(),
    );
    assert!(observed as f64 > 10.0 * expected, "{first}");
    assert!(first["p_value"].as_f64().unwrap() < 1e-4, "{first}");
    let summary = r["onset_summary"].as_str().unwrap();
    assert!(summary.contains("errors began 10:2"), "{summary}");
    assert!(summary.contains("expected"), "{summary}");
    let top = &r["concentration"][0];
    assert_eq!(top["significant"], true, "{top}");
    assert!(top["p_value"].as_f64().unwrap() < 1e-4, "{top}");
    let evidence = top["evidence"].as_str().unwrap();
    assert!(
        evidence.contains("requests failed") && evidence.contains("the rest of pool inventory"),
        "{evidence}"
    );
}

#[test]
fn a_change_file_in_the_walked_directory_is_read_as_changes() {
    let dir = Dir::new();
    let g = logs(&dir, Scenario::BadPoolMember, false);
    let logs = dir.path().join("logs").display().to_string();
    let o = run_ok(&mut dir.command(["triage", &logs, "--format", "json"]));
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(r["changes_given"].as_u64().unwrap() > 0, "{r:#}");
    let suspect = r["suspect_changes"][0]["summary"].as_str().unwrap();
    assert!(suspect.contains("inventory-4"), "{suspect}");
    // Given twice (walked and named), each change counts once.
    let changes = g.change_file.display().to_string();
    let o = run_ok(&mut dir.command(["triage", &logs, "--changes", &changes, "--format", "json"]));
    let twice: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(twice["changes_given"], r["changes_given"]);
}

#[test]
fn html_without_changes_says_how_to_give_them() {
    let dir = Dir::new();
    logs(&dir, Scenario::LeakingFrontend, false);
    std::fs::remove_file(dir.path().join("logs/changes.jsonl")).unwrap();
    let logs = dir.path().join("logs").display().to_string();
    run_ok(&mut dir.command(["triage", &logs, "--format", "html", "--out", "r.html"]));
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    let section = html.split("Changes before the onset").nth(1).unwrap();
    for flag in ["--changes", "--state", "--admin"] {
        assert!(section.contains(flag), "{flag} in {section}");
    }
    assert!(!section.starts_with("</h2><table>"), "no empty table");
}

#[test]
fn trace_shows_the_access_log_hop() {
    let dir = Dir::new();
    logs(&dir, Scenario::BadPoolMember, false);
    let access = std::fs::read_to_string(dir.path().join("logs/lb/access.log")).unwrap();
    let hop: Value = access
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["server"] == "inventory-4")
        .unwrap();
    let id = hop["request_id"].as_str().unwrap();
    let logs = dir.path().join("logs").display().to_string();
    let o = run_ok(&mut dir.command(["logs", "trace", id, &logs]));
    let text = stdout(&o);
    let line = text
        .lines()
        .find(|l| l.contains("server inventory-4"))
        .unwrap_or_else(|| panic!("{text}"));
    let path = hop["path"].as_str().unwrap();
    assert!(
        line.contains(&format!(
            "GET {path} -> pool inventory, server inventory-4: upstream 404 in "
        )),
        "{line}"
    );
    assert!(line.contains("ms"), "{line}");
}
