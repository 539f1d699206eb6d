//! What the proxy does when things go wrong: retries, 502/503/504 with a full explanation,
//! malformed requests, and the access log and metrics that record it all.

use std::time::Duration;

use crate::support::*;
use switchyard_lab::loggen::ACCESS_FIELDS;
use switchyard_lab::Backend;

#[tokio::test]
async fn get_is_retried_on_another_server_after_connect_refused() {
    let live = Backend::start("live").await.unwrap();
    let dead = dead_addr();
    let p = start(&one_pool(
        "retries = 1",
        &[("dead", dead), ("live", live.addr)],
    ))
    .await;
    let c = client();
    for _ in 0..6 {
        let r = c.get(p.url("/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-backend"], "live");
    }
    assert_eq!(live.control.requests(), 6);
    assert!(p.metric("switchyard_upstream_errors_total{pool=\"pool\",server=\"dead\",reason=\"connect_refused\"}") >= 3.0);
    let retried = p
        .access_lines()
        .iter()
        .filter(|l| l["attempts"] == 2)
        .count();
    assert!(retried >= 3, "expected retried requests in the access log");
}

#[tokio::test]
async fn connect_refused_everywhere_gives_502_with_the_whole_story() {
    let (d1, d2) = (dead_addr(), dead_addr());
    let p = start(&one_pool(
        "retries = 1",
        &[("inventory-1", d1), ("inventory-2", d2)],
    ))
    .await;
    let r = client()
        .get(p.url("/api/items?id=7"))
        .header("x-request-id", "req-502")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["x-request-id"], "req-502");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "connect_refused");
    assert_eq!(body["service"], "pool");
    assert_eq!(body["request"], "GET /api/items");
    assert_eq!(body["request_id"], "req-502");
    assert_eq!(body["server"], "inventory-2");
    assert_eq!(body["server_address"], d2.to_string());
    assert_eq!(body["expected"], format!("a TCP connection to {d2}"));
    assert_eq!(body["received"], "connection refused");
    let reason = body["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("could not connect to inventory-2 ({d2}): connection refused (after 1 failed attempt: could not connect to inventory-1 ({d1}): connection refused)")),
        "{reason}"
    );
    let line = p.access_lines_when(1).await.pop().unwrap();
    assert_eq!(line["status"], 502);
    assert_eq!(line["error"], "connect_refused");
    assert_eq!(line["attempts"], 2);
}

#[tokio::test]
async fn post_is_retried_after_a_connect_failure() {
    // A refused connection sent nothing: a POST (with a body or without) goes to the next
    // server instead of failing.
    let live = Backend::start("live").await.unwrap();
    let dead = dead_addr();
    let p = start(&one_pool(
        "retries = 3",
        &[("dead", dead), ("live", live.addr)],
    ))
    .await;
    let c = client();
    for _ in 0..4 {
        let r = c.post(p.url("/echo")).body("order=1").send().await.unwrap();
        assert_eq!(r.status(), 200);
        let echo: serde_json::Value = r.json().await.unwrap();
        assert_eq!(echo["body_bytes"], 7, "{echo}");
    }
    let r = c.post(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(live.control.requests(), 5);
}

#[tokio::test]
async fn post_is_not_retried_once_sent() {
    // A server that reads the request and closes without answering may have acted on it.
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mute_addr = mute.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut s, _)) = mute.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
        }
    });
    let live = Backend::start("live").await.unwrap();
    let p = start(&one_pool(
        "retries = 3\nbalance = \"round_robin\"",
        &[("mute", mute_addr), ("live", live.addr)],
    ))
    .await;
    let c = client();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = c.post(p.url("/echo")).body("order=1").send().await.unwrap();
        statuses.push(r.status().as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 502, 502]);
    assert_eq!(live.control.requests(), 2);
}

#[tokio::test]
async fn slow_server_gives_504_naming_the_timeout() {
    let slow = Backend::start("slow").await.unwrap();
    let p = start(&one_pool(
        "timeouts = { connect = \"1s\", request = \"300ms\" }",
        &[("slow-1", slow.addr)],
    ))
    .await;
    let started = std::time::Instant::now();
    let r = client().get(p.url("/sleep/3000")).send().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(r.status(), 504);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "timeout");
    assert_eq!(body["server"], "slow-1");
    assert_eq!(body["expected"], "HTTP response headers within 300ms");
    assert_eq!(body["received"], "nothing after 300ms");
    assert_eq!(
        body["reason"],
        format!(
            "slow-1 ({}) sent no response headers within 300ms",
            slow.addr
        )
    );
}

/// A proxy in front of one server that takes one connection (`max_connections = 1`, then
/// `queue`), already busy with a 2-second request: the backend, the proxy, a client and the
/// busy request.
async fn one_busy_server(
    queue: &str,
) -> (
    Backend,
    TestProxy,
    reqwest::Client,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let b = Backend::start("inventory-1").await.unwrap();
    let settings = format!("max_connections = 1\n{queue}");
    let p = start(&one_pool(&settings, &[("inventory-1", b.addr)])).await;
    let c = client();
    let first = tokio::spawn(c.get(p.url("/sleep/2000")).send());
    eventually("the first request to reach the server", || {
        b.control.in_flight() == 1
    })
    .await;
    (b, p, c, first)
}

#[tokio::test]
async fn full_queue_gives_503_naming_the_limit() {
    let (_b, p, c, first) = one_busy_server("queue = 1\nqueue_timeout = \"10s\"").await;
    let queued = tokio::spawn(c.get(p.url("/sleep/10")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = c.get(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "queue_full");
    assert_eq!(
        body["reason"],
        "all servers are at their connection limit (inventory-1 1/1 in use) and the queue is full (1/1 waiting)"
    );
    assert_eq!(
        body["received"],
        "inventory-1 1/1 in use; queue full, 1/1 waiting"
    );
    // The queued request is served once the first one finishes.
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    assert_eq!(queued.await.unwrap().unwrap().status(), 200);
}

#[tokio::test]
async fn queue_timeout_gives_503() {
    let (_b, p, c, first) = one_busy_server("queue = 5\nqueue_timeout = \"200ms\"").await;
    let r = c.get(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "queue_timeout");
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.starts_with("waited 2"), "{reason}");
    assert!(
        reason.ends_with("all servers stayed at their connection limit (inventory-1 1/1 in use)"),
        "{reason}"
    );
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
}

#[tokio::test]
async fn malformed_requests_get_400_and_huge_headers_431() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&one_pool("", &[("b", b.addr)])).await;
    let garbage = raw_exchange(p.addr, b"GARBAGE\r\n\r\n").await;
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
    let bad_header = raw_exchange(p.addr, b"GET / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n").await;
    assert!(bad_header.starts_with("HTTP/1.1 400"), "{bad_header}");
    let no_host = raw_exchange(p.addr, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(no_host.starts_with("HTTP/1.1 400"), "{no_host}");
    assert!(no_host.contains("needs a Host header"), "{no_host}");
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let answer = raw_exchange(p.addr, huge.as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert_eq!(
        b.control.requests(),
        0,
        "nothing malformed reached the server"
    );
    // The proxy is still healthy.
    assert_eq!(client().get(p.url("/")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn access_log_line_has_every_field() {
    let b = Backend::start("inventory-1").await.unwrap();
    let p = start(&one_pool("", &[("inventory-1", b.addr)])).await;
    body_of(
        client()
            .get(p.url("/bytes/1000?x=1"))
            .header("host", "shop.example")
            .header("x-request-id", "log-me"),
    )
    .await;
    let mut lines = Vec::new();
    eventually("the access-log line", || {
        lines = p.access_lines();
        !lines.is_empty()
    })
    .await;
    let l = &lines[0];
    for field in ACCESS_FIELDS {
        assert!(l.get(field).is_some(), "missing {field} in {l}");
    }
    assert!(
        chrono::DateTime::parse_from_rfc3339(l["ts"].as_str().unwrap()).is_ok(),
        "{l}"
    );
    assert_eq!(
        l["ts"].as_str().unwrap().len(),
        "2025-11-13T10:23:15.123Z".len()
    );
    assert_eq!(l["request_id"], "log-me");
    assert!(l["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(l["method"], "GET");
    assert_eq!(l["path"], "/bytes/1000");
    assert_eq!(l["host"], "shop.example");
    assert_eq!(l["status"], 200);
    assert_eq!(l["upstream_status"], 200);
    assert_eq!(l["pool"], "pool");
    assert_eq!(l["server"], "inventory-1");
    assert_eq!(l["bytes_sent"], 1000);
    assert!(l["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(l["error"].is_null());
}

#[tokio::test]
async fn metrics_counters_move() {
    let b = Backend::start("inventory-1").await.unwrap();
    let p = start(&one_pool("max_connections = 7", &[("inventory-1", b.addr)])).await;
    let c = client();
    for _ in 0..3 {
        c.get(p.url("/")).send().await.unwrap();
    }
    c.get(p.url("/status/500")).send().await.unwrap();
    let ok = "switchyard_requests_total{pool=\"pool\",server=\"inventory-1\",code=\"200\"}";
    let err = "switchyard_requests_total{pool=\"pool\",server=\"inventory-1\",code=\"500\"}";
    assert_eq!(p.metric(ok), 3.0);
    assert_eq!(p.metric(err), 1.0);
    assert_eq!(
        p.metric("switchyard_request_duration_seconds_count{pool=\"pool\"}"),
        4.0
    );
    assert_eq!(
        p.metric("switchyard_upstream_connection_limit{pool=\"pool\",server=\"inventory-1\"}"),
        7.0
    );
    assert_eq!(
        p.metric("switchyard_upstream_active_connections{pool=\"pool\",server=\"inventory-1\"}"),
        0.0
    );
    let slow = tokio::spawn(c.get(p.url("/sleep/2000")).send());
    eventually("an active connection to show", || {
        p.metric("switchyard_upstream_active_connections{pool=\"pool\",server=\"inventory-1\"}")
            == 1.0
    })
    .await;
    slow.await.unwrap().unwrap();
    let gone = one_pool("retries = 0", &[("inventory-2", dead_addr())]);
    p.handle
        .apply(switchyard_config::Config::parse(&gone, "v2").unwrap())
        .unwrap();
    let r = c.get(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(
        p.metric("switchyard_upstream_errors_total{pool=\"pool\",server=\"inventory-2\",reason=\"connect_refused\"}"),
        1.0
    );
    assert_eq!(
        p.metric("switchyard_requests_total{pool=\"pool\",server=\"inventory-2\",code=\"502\"}"),
        1.0
    );
}
