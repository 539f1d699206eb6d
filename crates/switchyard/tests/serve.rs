//! `switchyard serve` end to end: proxying to a backend, `/metrics`, the access log.

use std::time::Duration;

use crate::util::{http_client, poll, serve_config, Dir, Serve};
use serde_json::Value;
use switchyard_lab::loggen::ACCESS_FIELDS;
use switchyard_lab::Backend;

#[tokio::test]
async fn proxies_to_the_backend_and_records_metrics_and_access_log() {
    let dir = Dir::new();
    let backend = Backend::start("inventory-1").await.unwrap();
    let access_log = dir.path().join("access.log");
    let config = dir.write(
        "switchyard.toml",
        &serve_config(
            access_log.to_str().unwrap(),
            "",
            &[("inventory-1", backend.addr)],
        ),
    );
    let serve = Serve::start(&dir, &config).await;
    let web = serve.listener("web");
    serve.check(
        web.ip().is_loopback() && web.port() != 0,
        "the listener should report the real port it bound",
    );
    serve.check(
        serve.admin.ip().is_loopback() && serve.admin.port() != 0 && serve.admin != web,
        "the admin API should report its own real port",
    );
    let client = http_client();

    // Through the proxy to the backend.
    let resp = client
        .get(format!("http://{web}/hello?x=1"))
        .header("x-request-id", "serve-test-1")
        .send()
        .await
        .unwrap();
    serve.check(resp.status() == 200, "GET / should be answered 200");
    serve.check(
        resp.headers()
            .get("x-backend")
            .and_then(|v| v.to_str().ok())
            == Some("inventory-1"),
        "the response should come from the backend",
    );
    serve.check(
        resp.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            == Some("serve-test-1"),
        "the client's request id should come back",
    );
    let body = resp.text().await.unwrap();
    serve.check(
        body == "inventory-1\n",
        &format!("body should be the backend's, got {body:?}"),
    );
    serve.check(
        backend.control.requests() == 1,
        "the backend should have seen one request",
    );

    // A second request, so counters are visibly counting.
    let resp = client
        .get(format!("http://{web}/again"))
        .send()
        .await
        .unwrap();
    serve.check(
        resp.status() == 200,
        "the second GET should be answered 200",
    );
    resp.text().await.unwrap();

    // /metrics on the admin address.
    let resp = client
        .get(format!("http://{}/metrics", serve.admin))
        .send()
        .await
        .unwrap();
    serve.check(resp.status() == 200, "/metrics should be answered 200");
    let metrics = resp.text().await.unwrap();
    let counter =
        "switchyard_requests_total{pool=\"inventory\",server=\"inventory-1\",code=\"200\"} 2";
    serve.check(
        metrics.lines().any(|l| l == counter),
        &format!("/metrics should hold the line {counter:?}; it was:\n{metrics}"),
    );
    serve.check(
        metrics.contains("# TYPE switchyard_request_duration_seconds histogram"),
        &format!("/metrics should hold the request duration histogram; it was:\n{metrics}"),
    );

    // One access-log line per request, written by a background thread: poll for it.
    let lines = poll(Duration::from_secs(5), || async {
        let text = std::fs::read_to_string(&access_log).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        (lines.len() >= 2).then_some(lines)
    })
    .await;
    let Some(lines) = lines else {
        let text = std::fs::read_to_string(&access_log).unwrap_or_default();
        panic!(
            "{}",
            serve.report(&format!(
                "the access log should get two lines within 5s; it holds:\n{text}"
            ))
        );
    };
    serve.check(
        lines.len() == 2,
        &format!("the access log should hold exactly two lines: {lines:#?}"),
    );
    let records: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for (record, line) in records.iter().zip(&lines) {
        for field in ACCESS_FIELDS {
            serve.check(
                record.get(field).is_some(),
                &format!("access-log line lacks {field:?}: {line}"),
            );
        }
    }
    let first = &records[0];
    let line = &lines[0];
    let expect = |cond: bool, what: &str| serve.check(cond, &format!("{what}: {line}"));
    expect(
        first["request_id"] == "serve-test-1",
        "request_id is the client's",
    );
    expect(first["method"] == "GET", "method");
    expect(first["path"] == "/hello", "path (without the query)");
    expect(first["host"] == "127.0.0.1", "host (without the port)");
    expect(first["status"] == 200, "status");
    expect(first["pool"] == "inventory", "pool");
    expect(first["server"] == "inventory-1", "server");
    expect(first["upstream_status"] == 200, "upstream_status");
    expect(
        first["bytes_sent"] == "inventory-1\n".len(),
        "bytes_sent is the body length",
    );
    expect(first["error"].is_null(), "error is null on success");
    expect(
        first["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
        "duration_ms is a non-negative number",
    );
    expect(
        first["client"]
            .as_str()
            .and_then(|c| c.parse::<std::net::SocketAddr>().ok())
            .is_some_and(|c| c.ip().is_loopback()),
        "client is the caller's loopback address",
    );
    expect(
        first["ts"]
            .as_str()
            .is_some_and(|ts| ts.len() == "2024-01-01T00:00:00.000Z".len() && ts.ends_with('Z')),
        "ts is RFC 3339 UTC with milliseconds",
    );
    serve.check(
        records[1]["path"] == "/again" && records[1]["request_id"] != "serve-test-1",
        &format!(
            "the second line is the second request, with its own id: {}",
            lines[1]
        ),
    );
}

#[tokio::test]
async fn answers_a_located_error_when_no_server_is_reachable() {
    let dir = Dir::new();
    // A port that was free a moment ago and is closed now: connecting to it is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = dir.write(
        "switchyard.toml",
        &serve_config("off", "", &[("inventory-1", closed)]),
    );
    let serve = Serve::start(&dir, &config).await;
    let web = serve.listener("web");
    let resp = http_client()
        .get(format!("http://{web}/"))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    serve.check(
        status == 502 && body["error"] == "connect_refused" && body["server"] == "inventory-1",
        &format!(
            "a refused connect to the only server should give 502 naming it, got {status}: {body}"
        ),
    );
    serve.check(
        body["status"] == status.as_u16()
            && body["service"] == "inventory"
            && body["request"] == "GET /"
            && body["reason"].as_str().is_some_and(|r| {
                r.contains(&closed.to_string()) && r.contains("connection refused")
            }),
        &format!("the error body should name the status, the pool, the request and why: {body}"),
    );
}
