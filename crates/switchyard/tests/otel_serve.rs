//! `switchyard serve` with `[tracing]`: spans reach a collector over OTLP/HTTP labelled with
//! the config version, the access log names each request's trace, `/metrics` counts the
//! exported spans, and a change to `[tracing]` is refused as needing a restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::util::{http_client, poll, serve_config, Admin, Dir, Serve};
use serde_json::json;
use switchyard_lab::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A collector that keeps the raw body of every OTLP/HTTP export and answers 200.
async fn collector() -> (std::net::SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let keep = bodies.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let mut chunk = [0u8; 8192];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < end + 4 + len {
                        let mut chunk = [0u8; 8192];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    keep.lock()
                        .unwrap()
                        .push(buf[end + 4..end + 4 + len].to_vec());
                    buf.drain(..end + 4 + len);
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if s.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, bodies)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn serve_exports_spans_labelled_with_the_config_version() {
    let dir = Dir::new();
    let backend = Backend::start("inventory-1").await.unwrap();
    let (collector, bodies) = collector().await;
    let access_log = dir.path().join("access.log");
    let mut toml = serve_config(
        access_log.to_str().unwrap(),
        "",
        &[("inventory-1", backend.addr)],
    );
    toml.push_str(&format!(
        "\n[tracing]\notlp_endpoint = \"http://{collector}\"\nsample = 1.0\nservice_name = \"edge-lb\"\n"
    ));
    let config = dir.write("switchyard.toml", &toml);
    let serve = Serve::start(&dir, &config).await;
    let web = serve.listener("web");
    let client = http_client();
    for _ in 0..3 {
        let r = client.get(format!("http://{web}/")).send().await.unwrap();
        serve.check(r.status() == 200, "requests are answered");
    }
    let metrics_url = format!("http://{}/metrics", serve.admin);
    let exported = poll(Duration::from_secs(10), || {
        let client = client.clone();
        let url = metrics_url.clone();
        async move {
            let text = client.get(url).send().await.ok()?.text().await.ok()?;
            let line = text
                .lines()
                .find(|l| l.starts_with("switchyard_tracing_spans_exported_total"))?
                .to_string();
            let n: f64 = line.rsplit(' ').next()?.parse().ok()?;
            (n >= 6.0).then_some(n)
        }
    })
    .await;
    serve.check(
        exported.is_some(),
        "3 requests give 6 spans counted as exported",
    );
    let all: Vec<u8> = bodies.lock().unwrap().concat();
    serve.check(
        contains(&all, b"edge-lb"),
        "service.name is the configured one",
    );
    // KeyValue{key: "switchyard.version", value: AnyValue{int_value: 1}} in protobuf.
    serve.check(
        contains(&all, b"switchyard.version\x12\x02\x18\x01"),
        "spans carry the config version serve stored (v1)",
    );

    // The access log names the trace of each request.
    let admin = Admin::of(&dir, &serve);
    let lines = poll(Duration::from_secs(5), || {
        let text = std::fs::read_to_string(&access_log).unwrap_or_default();
        async move { (text.lines().count() >= 3).then_some(text) }
    })
    .await
    .unwrap_or_default();
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    let trace = first["trace_id"].as_str().unwrap_or_default();
    serve.check(
        trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
        "the access log has a trace_id",
    );

    // [tracing] is set up at start: a change to it needs a restart.
    let changed = toml.replace("sample = 1.0", "sample = 0.5");
    let (status, body) = admin
        .post(
            "/apply",
            &json!({"config": changed, "message": "sample less"}),
        )
        .await;
    serve.check(
        status == 422 && body.to_string().contains("tracing"),
        &format!("a [tracing] change is refused as needing a restart: {status} {body}"),
    );
}
