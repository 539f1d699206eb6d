//! OpenTelemetry logs into `switchyard triage` and `switchyard logs`: the shop's generated logs
//! rewritten as the Collector's file exporter writes them (OTLP/JSON lines) and as flat OTel
//! JSON lines, alone and mixed with plain and access logs, give the same onset and the same
//! concentration as the plain logs; `logs trace` follows a W3C trace id across formats.

use std::path::Path;
use std::time::Duration;

use crate::util::*;
use serde_json::{json, Value};
use switchyard_lab::loggen::{generate, Generated, LogGenOptions, Scenario};

/// How an application log is rewritten.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    Plain,
    Otlp,
    Flat,
}

/// One plain record: `YYYY-MM-DD HH:MM:SS LEVEL: message` and its indented detail lines.
struct Plain {
    ts: chrono::DateTime<chrono::Utc>,
    level: String,
    message: String,
    details: Vec<String>,
}

fn read_plain(path: &Path) -> Vec<Plain> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: Vec<Plain> = Vec::new();
    for line in text.lines() {
        if line.starts_with(' ') {
            if let Some(last) = out.last_mut() {
                last.details.push(line.trim().to_string());
            }
            continue;
        }
        let (stamp, rest) = line.split_at(19);
        let (level, message) = rest.trim_start().split_once(": ").unwrap();
        let ts = chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .and_utc();
        out.push(Plain {
            ts,
            level: level.to_string(),
            message: message.to_string(),
            details: Vec::new(),
        });
    }
    out
}

fn severity_number(level: &str) -> u8 {
    match level {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" | "WARNING" => 13,
        "ERROR" => 17,
        "FATAL" => 21,
        other => panic!("level {other}"),
    }
}

/// The service a host of the shop belongs to: `frontend-02` -> `frontend`.
fn service_of(host: &str) -> &str {
    host.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
}

/// Rewrites `HOST/app.log` as `HOST/app.jsonl` in `shape`, removing the plain file.
fn rewrite(host_dir: &Path, shape: Shape) {
    if shape == Shape::Plain {
        return;
    }
    let host = host_dir.file_name().unwrap().to_str().unwrap().to_string();
    let service = service_of(&host).to_string();
    let records = read_plain(&host_dir.join("app.log"));
    let mut out = String::new();
    match shape {
        Shape::Otlp => {
            // The file exporter writes one export request per batch; 50 records a line.
            for batch in records.chunks(50) {
                let logs: Vec<Value> = batch
                    .iter()
                    .map(|r| {
                        let nanos = r.ts.timestamp_nanos_opt().unwrap().to_string();
                        let mut body = r.message.clone();
                        for d in &r.details {
                            body.push('\n');
                            body.push_str(d);
                        }
                        json!({
                            "timeUnixNano": nanos,
                            "observedTimeUnixNano": nanos,
                            "severityNumber": severity_number(&r.level),
                            "severityText": r.level,
                            "body": {"stringValue": body},
                            "attributes": [{"key": "code.namespace", "value": {"stringValue": "shop"}}],
                            "traceId": "",
                            "spanId": ""
                        })
                    })
                    .collect();
                let line = json!({"resourceLogs": [{
                    "resource": {"attributes": [
                        {"key": "service.name", "value": {"stringValue": service}},
                        {"key": "host.name", "value": {"stringValue": host}}
                    ]},
                    "scopeLogs": [{"scope": {"name": "shop"}, "logRecords": logs}]
                }]});
                out.push_str(&line.to_string());
                out.push('\n');
            }
        }
        Shape::Flat => {
            for r in &records {
                let line = json!({
                    "timestamp": r.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "severity_text": r.level,
                    "severity_number": severity_number(&r.level),
                    "body": r.message,
                    "trace_id": "",
                    "span_id": "",
                    "service.name": service,
                    "host.name": host
                });
                out.push_str(&line.to_string());
                out.push('\n');
            }
        }
        Shape::Plain => unreachable!(),
    }
    std::fs::write(host_dir.join("app.jsonl"), out).unwrap();
    std::fs::remove_file(host_dir.join("app.log")).unwrap();
}

fn logs(dir: &Path) -> Generated {
    let options = LogGenOptions {
        scenario: Scenario::LeakingFrontend,
        duration: Duration::from_secs(30 * 60),
        onset_after: Duration::from_secs(20 * 60),
        ..LogGenOptions::default()
    };
    generate(dir, &options).unwrap()
}

/// The generated logs under `name`, each host's app log in the shape `shape_of` gives it.
fn variant(dir: &Dir, name: &str, shape_of: impl Fn(&str) -> Shape) -> (String, Generated) {
    let root = dir.path().join(name);
    let g = logs(&root);
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.join("app.log").exists() {
            let host = path.file_name().unwrap().to_str().unwrap().to_string();
            rewrite(&path, shape_of(&host));
        }
    }
    (root.display().to_string(), g)
}

fn triage(dir: &Dir, root: &str, g: &Generated) -> Value {
    let changes = g.change_file.display().to_string();
    let o = run_ok(&mut dir.command(["triage", root, "--changes", &changes, "--format", "json"]));
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// What must not change with the log format: the onset and where errors concentrate.
fn findings(r: &Value) -> (String, String, String, f64) {
    let top = &r["concentration"][0];
    (
        r["onset"].as_str().expect("an onset").to_string(),
        top["dimension"].as_str().unwrap().to_string(),
        top["key"].as_str().unwrap().to_string(),
        (top["share_of_errors"].as_f64().unwrap() * 100.0).round(),
    )
}

#[test]
fn triage_finds_the_same_onset_and_concentration_in_otel_logs() {
    let dir = Dir::new();
    let (plain_root, g) = variant(&dir, "plain", |_| Shape::Plain);
    let plain = findings(&triage(&dir, &plain_root, &g));
    assert_eq!(plain.2, "frontend-02", "{plain:?}");

    let (otlp_root, g) = variant(&dir, "otlp", |_| Shape::Otlp);
    assert!(Path::new(&otlp_root).join("frontend-02/app.jsonl").exists());
    let otlp = triage(&dir, &otlp_root, &g);
    assert_eq!(findings(&otlp), plain, "OTLP/JSON lines:\n{otlp:#}");
    let quoted = otlp["templates"][0]["example"].as_str().unwrap_or_default();
    assert!(quoted.contains("database connection timeout"), "{otlp:#}");

    let (flat_root, g) = variant(&dir, "flat", |_| Shape::Flat);
    let flat = triage(&dir, &flat_root, &g);
    assert_eq!(findings(&flat), plain, "flat OTel JSON lines:\n{flat:#}");

    // Mixed: front ends in OTLP, auth and inventory flat, billing plain, the access log as is.
    let (mixed_root, g) = variant(&dir, "mixed", |host| match service_of(host) {
        "frontend" => Shape::Otlp,
        "auth" | "inventory" => Shape::Flat,
        _ => Shape::Plain,
    });
    assert!(Path::new(&mixed_root).join("billing-1/app.log").exists());
    assert!(Path::new(&mixed_root).join("lb/access.log").exists());
    let mixed = triage(&dir, &mixed_root, &g);
    assert_eq!(findings(&mixed), plain, "mixed formats:\n{mixed:#}");
    assert_eq!(
        mixed["skipped_lines"], 0,
        "nothing skipped in the mixed directory"
    );
}

#[test]
fn logs_trace_joins_access_application_and_otel_records_of_one_trace() {
    let dir = Dir::new();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    for sub in ["lb", "frontend-01", "cart-2", "collector"] {
        std::fs::create_dir_all(dir.path().join("logs").join(sub)).unwrap();
    }
    // Switchyard's access log with tracing on names the trace and the request id.
    dir.write(
        "logs/lb/access.log",
        &format!(
            "{}\n{}\n",
            json!({"ts":"2025-11-13T10:23:15.100Z","request_id":"req-7","client":"10.0.0.9:5123","listener":"web","method":"GET","path":"/api/cart","host":"shop","protocol":"HTTP/1.1","status":502,"pool":"cart","server":"cart-2","server_address":"10.0.0.12:8080","upstream_status":null,"duration_ms":5.5,"bytes_sent":300,"attempts":2,"error":"connect_refused","trace_id":trace}),
            json!({"ts":"2025-11-13T10:23:16.000Z","request_id":"req-8","client":"10.0.0.9:5124","listener":"web","method":"GET","path":"/","host":"shop","protocol":"HTTP/1.1","status":200,"pool":"cart","server":"cart-1","server_address":"10.0.0.11:8080","upstream_status":200,"duration_ms":1.0,"bytes_sent":30,"attempts":1,"error":null,"trace_id":"0af7651916cd43dd8448eb211c80319c"}),
        ),
    );
    // The front end's plain log names only the request id.
    dir.write(
        "logs/frontend-01/app.log",
        "2025-11-13 10:23:15 INFO: [req-7] GET /api/cart started\n2025-11-13 10:23:15 ERROR: [req-7] cart service unavailable\n2025-11-13 10:23:16 INFO: [req-8] GET / ok\n",
    );
    // The cart service's OTel SDK writes flat JSON lines with the trace id only.
    dir.write(
        "logs/cart-2/app.jsonl",
        &format!(
            "{}\n{}\n",
            json!({"timestamp":"2025-11-13T10:23:15.050Z","severity_text":"ERROR","severity_number":17,"body":"connection pool exhausted","trace_id":trace,"span_id":"00f067aa0ba902b7","service.name":"cart","host.name":"cart-2"}),
            json!({"timestamp":"2025-11-13T10:23:17.000Z","severity_text":"INFO","severity_number":9,"body":"recovered","trace_id":"11111111111111111111111111111111","service.name":"cart","host.name":"cart-2"}),
        ),
    );
    // The Collector's file exporter: an OTLP/JSON line with the trace and the request id.
    dir.write(
        "logs/collector/logs.jsonl",
        &format!(
            "{}\n",
            json!({"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}},{"key":"host.name","value":{"stringValue":"checkout-1"}}]},"scopeLogs":[{"scope":{},"logRecords":[
                {"timeUnixNano":"1763029395080000000","severityNumber":13,"severityText":"WARN","body":{"stringValue":"cart call slow"},"traceId":trace,"spanId":"1111111111111111","attributes":[{"key":"request_id","value":{"stringValue":"req-7"}}]},
                {"timeUnixNano":"1763029399000000000","severityNumber":9,"body":{"stringValue":"unrelated"},"traceId":"22222222222222222222222222222222","spanId":"2222222222222222"}
            ]}]}]})
        ),
    );
    let o = run_ok(&mut dir.command(["logs", "trace", trace, "logs", "--output", "json"]));
    let hops: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let seen: Vec<(String, String)> = hops
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["service"].as_str().unwrap().to_string(),
                h["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("app", "[req-7] GET /api/cart started"),
            ("app", "[req-7] cart service unavailable"),
            ("cart", "connection pool exhausted"),
            ("checkout", "cart call slow"),
            ("access", "connect_refused"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string())),
        "{hops:#}"
    );
    let text = run_ok(&mut dir.command(["logs", "trace", trace, "logs"]));
    assert!(
        stdout(&text).contains("GET /api/cart -> pool cart, server cart-2"),
        "{}",
        stdout(&text)
    );

    let missing =
        run_fails(&mut dir.command(["logs", "trace", "33333333333333333333333333333333", "logs"]));
    assert!(
        stderr(&missing).contains("no record carries trace"),
        "{}",
        stderr(&missing)
    );
}
