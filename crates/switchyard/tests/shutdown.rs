//! `switchyard serve` on SIGTERM: stop accepting, let requests in flight finish, exit 0.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use crate::util::{http_client, poll, serve_config, Dir, Serve};
use switchyard_lab::Backend;

/// `serve` in a fresh directory in front of one backend; `runtime` goes into `[runtime]`.
async fn start(runtime: &str) -> (Dir, Backend, Serve) {
    let dir = Dir::new();
    let backend = Backend::start("inventory-1").await.unwrap();
    let config = dir.write(
        "switchyard.toml",
        &serve_config("off", runtime, &[("inventory-1", backend.addr)]),
    );
    let serve = Serve::start(&dir, &config).await;
    (dir, backend, serve)
}

#[tokio::test]
async fn sigterm_drains_requests_in_flight_and_exits_cleanly() {
    let (_dir, backend, mut serve) = start("shutdown_timeout = \"20s\"").await;
    let web = serve.listener("web");

    // A request that takes 1.5 s at the backend.
    let client = http_client();
    let slow = tokio::spawn({
        let client = client.clone();
        async move {
            let resp = client
                .get(format!("http://{web}/sleep/1500"))
                .send()
                .await?;
            let status = resp.status();
            let body = resp.text().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
    });
    serve.wait_in_flight(&backend).await;

    let signalled = Instant::now();
    serve.signal("TERM");

    // New connections are refused once the listener is closed.
    let refused = poll(Duration::from_secs(1), || async {
        match tokio::net::TcpStream::connect(web).await {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => Some(signalled.elapsed()),
            _ => None,
        }
    })
    .await;
    serve.check(
        refused.is_some(),
        "new connections should be refused within 1s of SIGTERM",
    );
    serve.check(
        !slow.is_finished(),
        "the listener should close while the slow request is still in flight",
    );

    // The request in flight still completes.
    let answer = tokio::time::timeout(Duration::from_secs(10), slow).await;
    let (status, body) = match answer {
        Ok(Ok(Ok(answer))) => answer,
        other => panic!(
            "{}",
            serve.report(&format!(
                "the request in flight should complete after SIGTERM, got {other:?}"
            ))
        ),
    };
    serve.check(
        status == 200 && body == "inventory-1 slept 1500ms\n",
        &format!(
            "the request in flight should get 200 and the backend's body, got {status} {body:?}"
        ),
    );

    // And the process exits 0 soon after.
    let exited = serve.wait_exit(Duration::from_secs(5)).await;
    serve.check(
        exited.is_some_and(|s| s.success()),
        &format!("switchyard serve should exit with status 0 within 5s of the last request, got {exited:?}"),
    );
    let logs = serve.logs();
    serve.check(
        logs.iter().any(|l| {
            l["msg"].as_str().is_some_and(|m| m.starts_with("stopping")) && l["signal"] == "SIGTERM"
        }),
        "a \"stopping\" line naming SIGTERM should be logged",
    );
    serve.check(
        logs.last()
            .is_some_and(|l| l["msg"] == "stopped cleanly" && l["level"] == "info"),
        "the last log line should be \"stopped cleanly\" at level info",
    );
}

#[tokio::test]
async fn sigterm_with_only_idle_connections_exits_promptly() {
    let (_dir, _backend, mut serve) = start("shutdown_timeout = \"20s\"").await;
    let web = serve.listener("web");

    // Leaves a kept-alive, idle connection open in the client's pool.
    let client = http_client();
    let resp = client.get(format!("http://{web}/")).send().await.unwrap();
    serve.check(resp.status() == 200, "GET / should be answered 200");
    resp.text().await.unwrap();

    serve.signal("TERM");
    // An idle connection has no request to finish: it must not hold shutdown for the whole
    // shutdown_timeout (20s).
    serve.stops_cleanly(Duration::from_secs(5)).await;
    drop(client);
}

#[tokio::test]
async fn sigint_stops_cleanly_too() {
    let (_dir, _backend, mut serve) = start("").await;
    serve.signal("INT");
    let exited = serve.wait_exit(Duration::from_secs(5)).await;
    serve.check(
        exited.is_some_and(|s| s.success()),
        &format!("switchyard serve should exit with status 0 on SIGINT, got {exited:?}"),
    );
    let logs = serve.logs();
    serve.check(
        logs.iter().any(|l| l["signal"] == "SIGINT")
            && logs.last().is_some_and(|l| l["msg"] == "stopped cleanly"),
        "SIGINT should be logged and followed by \"stopped cleanly\"",
    );
}
