//! Spans out of the proxy over OTLP/HTTP, checked by a real collector stand-in that decodes the
//! protobuf with the `opentelemetry-proto` types: one server span per request, one client
//! span per attempt with the right parents, the explained reason on failures, sampling, and
//! that a collector that is down costs requests nothing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use switchyard_lab::Backend;

/// Spans received, each with its resource's `service.name`, and the headers of each export.
#[derive(Clone, Default)]
struct Received {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
    headers: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Received {
    fn spans(&self) -> Vec<Span> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }
}

async fn export(State(r): State<Received>, headers: HeaderMap, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
    r.headers.lock().unwrap().push(headers);
    for rs in request.resource_spans {
        let service = rs
            .resource
            .iter()
            .flat_map(|res| &res.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for span in ss.spans {
                r.spans.lock().unwrap().push((service.clone(), span));
            }
        }
    }
    ExportTraceServiceResponse::default().encode_to_vec()
}

/// A collector on a free loopback port.
async fn start_collector() -> (SocketAddr, Received) {
    let received = Received::default();
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(export))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, received)
}

fn tracing_toml(endpoint: &str, extra: &str) -> String {
    format!("\n[tracing]\notlp_endpoint = \"{endpoint}\"\n{extra}\n")
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn text(span: &Span, key: &str) -> String {
    match attr(span, key) {
        Some(Value::StringValue(s)) => s.clone(),
        other => panic!("attribute {key} is {other:?} on {span:?}"),
    }
}

fn int(span: &Span, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::IntValue(n)) => *n,
        other => panic!("attribute {key} is {other:?} on {span:?}"),
    }
}

/// A span as text, as the README shows one (`--nocapture` prints them).
fn describe(span: &Span) -> String {
    let kind = if span.kind == SpanKind::Server as i32 {
        "SERVER"
    } else {
        "CLIENT"
    };
    let mut out = format!(
        "{kind} span \"{}\" trace {} span {} parent {} ({:.3} ms)\n",
        span.name,
        hex(&span.trace_id),
        hex(&span.span_id),
        hex(&span.parent_span_id),
        (span.end_time_unix_nano - span.start_time_unix_nano) as f64 / 1e6
    );
    if let Some(status) = span.status.as_ref().filter(|s| s.code != 0) {
        out.push_str(&format!("  status: ERROR \"{}\"\n", status.message));
    }
    for kv in &span.attributes {
        let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => format!("{s:?}"),
            Some(Value::IntValue(n)) => n.to_string(),
            other => format!("{other:?}"),
        };
        out.push_str(&format!("  {} = {value}\n", kv.key));
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Waits up to 10 s for `n` spans of trace `trace` (hex).
async fn spans_of(r: &Received, trace: &str, n: usize) -> Vec<Span> {
    for _ in 0..1000 {
        let found: Vec<Span> = r
            .spans()
            .into_iter()
            .filter(|s| hex(&s.trace_id) == trace)
            .collect();
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} spans of trace {trace}: {:#?}", r.spans());
}

#[tokio::test]
async fn a_retried_request_gives_one_server_span_and_a_client_span_per_attempt() {
    let (collector, received) = start_collector().await;
    let live = Backend::start("live").await.unwrap();
    let dead = dead_addr();
    let mut toml = one_pool(
        "retries = 1\nbalance = \"round_robin\"",
        &[("dead", dead), ("live", live.addr)],
    );
    toml.push_str(&tracing_toml(
        &format!("http://{collector}"),
        "sample = 0.0\nservice_name = \"edge\"\nheaders = { authorization = \"Bearer t0k\" }",
    ));
    let p = start(&toml).await;
    p.handle.set_version(7);
    let c = client();
    // Round robin: one of two requests goes to the dead server first and is retried.
    let mut retried = None;
    for i in 0..4u32 {
        let trace = format!("4bf92f3577b34da6a3ce929d0e0e{i:04x}");
        let r = c
            .get(p.url("/echo?x=1"))
            .header("x-request-id", format!("req-{i}"))
            .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
            .header("tracestate", "vendor=abc")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let echo: serde_json::Value = r.json().await.unwrap();
        let lines = p.access_lines();
        let line = lines
            .iter()
            .find(|l| l["request_id"] == format!("req-{i}"))
            .unwrap();
        assert_eq!(
            line["trace_id"],
            trace.as_str(),
            "the access log names the trace"
        );
        if line["attempts"] == 2 {
            retried = Some((i, trace, echo));
        }
    }
    let (i, trace, echo) = retried.expect("a request was retried");
    let mut spans = spans_of(&received, &trace, 3).await;
    spans.sort_by_key(|s| s.start_time_unix_nano);
    for s in &spans {
        eprintln!("{}", describe(s));
    }
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let server: Vec<&Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Server as i32)
        .collect();
    assert_eq!(server.len(), 1, "one server span");
    let server = server[0];
    assert_eq!(
        hex(&server.parent_span_id),
        "00f067aa0ba902b7",
        "continues the caller's span"
    );
    assert_eq!(server.name, "GET");
    assert_eq!(text(server, "http.request.method"), "GET");
    assert_eq!(text(server, "url.path"), "/echo");
    assert_eq!(text(server, "url.scheme"), "http");
    assert_eq!(int(server, "http.response.status_code"), 200);
    assert_eq!(text(server, "switchyard.pool"), "pool");
    assert_eq!(text(server, "switchyard.server"), "live");
    assert_eq!(text(server, "switchyard.request_id"), format!("req-{i}"));
    assert_eq!(int(server, "switchyard.attempts"), 2);
    assert_eq!(int(server, "switchyard.version"), 7);
    assert_eq!(server.trace_state, "vendor=abc");

    let mut clients: Vec<&Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client as i32)
        .collect();
    clients.sort_by_key(|s| s.start_time_unix_nano);
    assert_eq!(clients.len(), 2, "one client span per attempt");
    for c in &clients {
        assert_eq!(
            c.parent_span_id, server.span_id,
            "client spans are children of the server span"
        );
        assert!(c.start_time_unix_nano >= server.start_time_unix_nano);
        assert!(c.end_time_unix_nano <= server.end_time_unix_nano);
        assert_eq!(text(c, "switchyard.pool"), "pool");
    }
    let (first, second) = (clients[0], clients[1]);
    assert_eq!(text(first, "switchyard.server"), "dead");
    assert_eq!(text(first, "server.address"), "127.0.0.1");
    assert_eq!(int(first, "server.port"), i64::from(dead.port()));
    assert_eq!(text(first, "error.type"), "connect_refused");
    let status = first.status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert!(status.message.contains("refused"), "{status:?}");
    assert_eq!(text(second, "switchyard.server"), "live");
    assert_eq!(int(second, "http.response.status_code"), 200);
    assert_eq!(int(second, "http.request.resend_count"), 1);
    // The server saw the trace with the id of the attempt that reached it.
    assert_eq!(
        echo["headers"]["traceparent"],
        format!("00-{trace}-{}-01", hex(&second.span_id))
    );
    assert_eq!(echo["headers"]["tracestate"], "vendor=abc");

    let with = received
        .spans
        .lock()
        .unwrap()
        .iter()
        .all(|(svc, _)| svc == "edge");
    assert!(with, "service.name comes from the config");
    let headers = received.headers.lock().unwrap();
    assert!(headers.iter().all(|h| h["authorization"] == "Bearer t0k"));
    assert_eq!(headers[0]["content-type"], "application/x-protobuf");
}

#[tokio::test]
async fn an_explained_502_carries_its_reason_whatever_the_sampling() {
    let (collector, received) = start_collector().await;
    let (d1, d2) = (dead_addr(), dead_addr());
    let mut toml = one_pool("retries = 1", &[("inventory-1", d1), ("inventory-2", d2)]);
    toml.push_str(&tracing_toml(&format!("http://{collector}"), "sample = 0"));
    let p = start(&toml).await;
    let r = client()
        .get(p.url("/api/items"))
        .header("x-request-id", "req-502")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let body: serde_json::Value = r.json().await.unwrap();
    let reason = body["reason"].as_str().unwrap().to_string();
    let trace = p.access_lines_when(1).await[0]["trace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let spans = spans_of(&received, &trace, 3).await;
    let server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .unwrap();
    eprintln!("{}", describe(server));
    assert!(
        server.parent_span_id.is_empty(),
        "a new trace has a root span"
    );
    assert_eq!(int(server, "http.response.status_code"), 502);
    assert_eq!(text(server, "error.type"), "connect_refused");
    assert_eq!(text(server, "switchyard.error.reason"), reason);
    assert_eq!(text(server, "switchyard.request_id"), "req-502");
    let status = server.status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, reason);
    assert!(reason.contains("after 1 failed attempt"), "{reason}");
    let failed: Vec<&Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client as i32)
        .collect();
    assert_eq!(failed.len(), 2);
    for c in failed {
        assert_eq!(text(c, "error.type"), "connect_refused");
        assert!(text(c, "switchyard.error.reason").contains("refused"));
    }
}

#[tokio::test]
async fn sampling_exports_by_ratio_and_parent_and_errors_always() {
    let (collector, received) = start_collector().await;
    let b = Backend::start("b").await.unwrap();
    let mut toml = one_pool("", &[("b", b.addr)]);
    toml.push_str(&tracing_toml(&format!("http://{collector}"), "sample = 0"));
    let p = start(&toml).await;
    let c = client();
    for _ in 0..20 {
        assert_eq!(c.get(p.url("/")).send().await.unwrap().status(), 200);
    }
    // A caller that sampled its trace is followed.
    let sampled = "0af7651916cd43dd8448eb211c80319c";
    c.get(p.url("/"))
        .header("traceparent", format!("00-{sampled}-b7ad6b7169203331-01"))
        .send()
        .await
        .unwrap();
    b.control.set_status(500);
    assert_eq!(c.get(p.url("/")).send().await.unwrap().status(), 500);
    let error_trace = p.access_lines_when(22).await[21]["trace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let TestProxy { proxy, .. } = p;
    // Shutting down exports whatever is queued.
    proxy.shutdown(Duration::from_secs(5)).await;
    let spans = received.spans();
    let traces: std::collections::BTreeSet<String> =
        spans.iter().map(|s| hex(&s.trace_id)).collect();
    assert_eq!(
        traces,
        [sampled.to_string(), error_trace.clone()]
            .into_iter()
            .collect(),
        "ratio 0 exports only the caller-sampled trace and the 500"
    );
    let error = spans
        .iter()
        .find(|s| hex(&s.trace_id) == error_trace && s.kind == SpanKind::Server as i32)
        .unwrap();
    assert_eq!(int(error, "http.response.status_code"), 500);

    // Ratio 1 exports every request; errors can be left out.
    let (collector, received) = start_collector().await;
    b.control.set_status(200);
    let mut toml = one_pool("", &[("b", b.addr)]);
    toml.push_str(&tracing_toml(
        &format!("http://{collector}/v1/traces"),
        "sample = 1.0\nalways_sample_errors = false",
    ));
    let p = start(&toml).await;
    for _ in 0..20 {
        assert_eq!(c.get(p.url("/")).send().await.unwrap().status(), 200);
    }
    let exported = p.handle.clone();
    let TestProxy {
        proxy, registry, ..
    } = p;
    proxy.shutdown(Duration::from_secs(5)).await;
    drop(exported);
    let servers = received
        .spans()
        .iter()
        .filter(|s| s.kind == SpanKind::Server as i32)
        .count();
    assert_eq!(servers, 20);
    let mut metrics = String::new();
    prometheus_client::encoding::text::encode(&mut metrics, &registry).unwrap();
    assert!(
        metrics.contains("switchyard_tracing_spans_exported_total 40"),
        "20 server + 20 client spans counted:\n{metrics}"
    );
}

#[tokio::test]
async fn a_dead_or_silent_collector_costs_requests_nothing() {
    let b = Backend::start("b").await.unwrap();
    let c = client();
    const N: usize = 300;
    let run = |toml: String| {
        let c = c.clone();
        async move {
            let p = start(&toml).await;
            let began = Instant::now();
            for _ in 0..N {
                let r = c.get(p.url("/")).send().await.unwrap();
                assert_eq!(r.status(), 200);
            }
            (p, began.elapsed())
        }
    };
    let (_off, off) = run(one_pool("", &[("b", b.addr)])).await;

    // Refused: every export fails at once and its spans are counted as dropped.
    let mut toml = one_pool("", &[("b", b.addr)]);
    toml.push_str(&tracing_toml(
        &format!("http://{}", dead_addr()),
        "sample = 1.0",
    ));
    let (p, dead) = run(toml).await;
    eventually("spans counted as dropped", || {
        p.metric("switchyard_tracing_spans_dropped_total{reason=\"export_failed\"}") > 0.0
    })
    .await;
    assert_eq!(p.metric("switchyard_tracing_spans_exported_total"), 0.0);

    // Silent: the collector accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut toml = one_pool("", &[("b", b.addr)]);
    toml.push_str(&tracing_toml(
        &format!("http://{}", silent.local_addr().unwrap()),
        "sample = 1.0",
    ));
    let (_silent_proxy, hung) = run(toml).await;
    // Timing is the benchmark's job; this only shows the three runs side by side.
    eprintln!(
        "{N} requests: tracing off {off:?}, collector refusing {dead:?}, collector silent {hung:?}"
    );
}

#[tokio::test]
async fn http2_clients_are_traced_too() {
    let (collector, received) = start_collector().await;
    let b = Backend::start("b").await.unwrap();
    let mut toml = one_pool("", &[("b", b.addr)]);
    toml.push_str(&tracing_toml(&format!("http://{collector}"), "sample = 1"));
    let p = start(&toml).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let r = h2
        .get(p.url("/echo"))
        .header("traceparent", format!("00-{trace}-b7ad6b7169203331-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    let echo: serde_json::Value = r.json().await.unwrap();
    let spans = spans_of(&received, trace, 2).await;
    let server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .unwrap();
    let client = spans
        .iter()
        .find(|s| s.kind == SpanKind::Client as i32)
        .unwrap();
    assert_eq!(hex(&server.parent_span_id), "b7ad6b7169203331");
    assert_eq!(text(server, "network.protocol.version"), "2");
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(int(client, "http.response.status_code"), 200);
    assert_eq!(
        echo["headers"]["traceparent"],
        format!("00-{trace}-{}-01", hex(&client.span_id))
    );
}

#[tokio::test]
async fn http1_clients_of_an_h2c_pool_are_traced_too() {
    let (collector, received) = start_collector().await;
    let b = Backend::start("b").await.unwrap();
    let mut toml = one_pool("protocol = \"h2c\"", &[("b", b.addr)]);
    toml.push_str(&tracing_toml(&format!("http://{collector}"), "sample = 1"));
    let p = start(&toml).await;
    let r = client().get(p.url("/echo")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let echo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(echo["version"], "HTTP/2.0");
    let trace = p.access_lines_when(1).await[0]["trace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let spans = spans_of(&received, &trace, 2).await;
    let server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .unwrap();
    let client_span = spans
        .iter()
        .find(|s| s.kind == SpanKind::Client as i32)
        .unwrap();
    assert_eq!(client_span.parent_span_id, server.span_id);
    assert_eq!(int(client_span, "http.response.status_code"), 200);
    assert_eq!(text(client_span, "network.protocol.version"), "2");
    assert_eq!(text(server, "network.protocol.version"), "1.1");
    assert_eq!(
        echo["headers"]["traceparent"],
        format!("00-{trace}-{}-01", hex(&client_span.span_id))
    );
}
