//! Client limits over raw sockets: silent and half-sent connections are closed within the
//! handshake timeout, a listener at `max_connections` refuses new ones (log line and metric),
//! and normal clients are served again once the slow ones are gone.

use std::time::{Duration, Instant};

use switchyard_lab::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

fn limited(listener_extra: &str, backend: std::net::SocketAddr) -> String {
    one_pool("", &[("b", backend)]).replace(
        "bind = \"127.0.0.1:0\"",
        &format!("bind = \"127.0.0.1:0\"\n{listener_extra}"),
    )
}

/// Reads until the peer closes; returns what came and how long it took.
async fn until_closed(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(limit, s.read_to_end(&mut got)).await;
    (got, started.elapsed())
}

#[tokio::test]
async fn silent_and_half_sent_connections_are_closed_within_the_handshake_timeout() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&limited("handshake_timeout = \"1s\"", b.addr)).await;

    let mut silent = TcpStream::connect(p.addr).await.unwrap();
    let mut half_preface = TcpStream::connect(p.addr).await.unwrap();
    half_preface.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let mut half_head = TcpStream::connect(p.addr).await.unwrap();
    half_head
        .write_all(b"GET / HTTP/1.1\r\nhost: a\r\n")
        .await
        .unwrap();

    let (got, took) = until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(
        took < Duration::from_secs(3),
        "silent socket open for {took:?}"
    );
    let (got, took) = until_closed(&mut half_preface, Duration::from_secs(5)).await;
    assert!(
        took < Duration::from_secs(3),
        "half preface open for {took:?}: {got:?}"
    );
    let (got, took) = until_closed(&mut half_head, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "half head open for {took:?}");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408"));

    // Normal clients are served all along.
    let r = client().get(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&limited("idle_timeout = \"1s\"", b.addr)).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let mut first = vec![0u8; 4096];
    let n = s.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    let (_, took) = until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(3),
        "closed after {took:?}"
    );
}

#[tokio::test]
async fn a_listener_at_max_connections_refuses_new_ones_until_some_leave() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&limited("max_connections = 2", b.addr)).await;
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        slow.push(s);
    }
    eventually("two connections counted", || {
        p.metric("switchyard_listener_connections{listener=\"web\"}") == 2.0
    })
    .await;
    // The third is reset at once (the reset may even beat the end of `connect`), and counted.
    if let Ok(mut third) = TcpStream::connect(p.addr).await {
        let _ = third.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n").await;
        let (got, _) = until_closed(&mut third, Duration::from_secs(2)).await;
        assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    }
    eventually("the refusal to be counted", || {
        p.metric("switchyard_listener_connections_refused_total{listener=\"web\"}") == 1.0
    })
    .await;
    // Once the slow clients leave, normal ones are served.
    drop(slow);
    eventually("the slow connections to be gone", || {
        p.metric("switchyard_listener_connections{listener=\"web\"}") == 0.0
    })
    .await;
    let r = client().get(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
