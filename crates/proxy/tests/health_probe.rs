//! Health checks that must neither crash nor misjudge: a check whose request cannot be built is
//! a failed check with its reason, and `expect_body` searches the first 64 KiB of a longer body.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::*;
use switchyard_lab::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn wait_for(
    p: &TestProxy,
    server: &str,
    what: &str,
    ok: impl Fn(&switchyard_proxy::ServerStatus) -> bool,
) {
    for _ in 0..500 {
        if ok(&status_of(p, server)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{server} never {what}: {:?}", status_of(p, server));
}

/// A server that answers every request with 200 and a body of `len` bytes starting with `head`.
async fn long_body_server(head: &'static str, len: usize) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0; 4096];
                let _ = s.read(&mut buf).await;
                let mut body = head.as_bytes().to_vec();
                body.resize(len, b' ');
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            });
        }
    });
    addr
}

const CHECK: &str = "[pools.pool.health]\npath = \"/health\"\ninterval = \"200ms\"\ntimeout = \"200ms\"\nrise = 2\nfall = 2\n";

#[tokio::test]
async fn expect_body_finds_its_text_in_the_first_64_kib_of_a_longer_body() {
    let addr = long_body_server("{\"status\":\"ok\"}", 200 * 1024).await;
    let toml = format!(
        "{}\n{CHECK}expect_body = '\"status\":\"ok\"'\n",
        one_pool("", &[("big", addr)])
    );
    let p = start(&toml).await;
    wait_for(&p, "big", "became healthy", |s| s.health == "healthy").await;
}

#[tokio::test]
async fn a_check_request_that_cannot_be_built_is_a_failed_check() {
    let backend = Backend::start("inventory-1").await.unwrap();
    let p = start(&format!(
        "{}\n{CHECK}",
        one_pool("", &[("inventory-1", backend.addr)])
    ))
    .await;
    wait_for(&p, "inventory-1", "became healthy", |s| {
        s.health == "healthy"
    })
    .await;

    // Validation refuses such a path; the checker must survive one all the same.
    let mut config = (*p.handle.config()).clone();
    config
        .pools
        .get_mut("pool")
        .unwrap()
        .health
        .as_mut()
        .unwrap()
        .path = "/health check".into();
    p.handle.apply(config).unwrap();
    wait_for(&p, "inventory-1", "failed its checks", |s| {
        s.health == "unhealthy"
    })
    .await;
    let reason = status_of(&p, "inventory-1").health_reason.unwrap();
    assert!(
        reason.contains("health check GET /health check on inventory-1")
            && reason.contains("cannot be sent"),
        "{reason}"
    );
}
