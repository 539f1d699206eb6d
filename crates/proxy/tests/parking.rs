//! Idle keep-alive connections parked outside their tasks: a client that comes back after a
//! pause is served on the same connection (again and again, many at once), parked connections
//! stay counted, and shutting down closes them at once.

use std::time::{Duration, Instant};

use switchyard_lab::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Longer than the proxy waits in a connection's task before parking it.
const PAUSE: Duration = Duration::from_millis(1200);

/// Sends one keep-alive request on `s` and reads its whole answer; returns the status line.
async fn get(s: &mut TcpStream) -> String {
    s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("content-length");
            if got.len() >= end + 4 + length {
                assert_eq!(got.len(), end + 4 + length, "nothing after the answer");
                return text.lines().next().unwrap().to_string();
            }
        }
    }
}

#[tokio::test]
async fn a_client_that_pauses_is_served_again_on_the_same_connection() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&one_pool("", &[("b", b.addr)])).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    for round in 0..3 {
        assert_eq!(get(&mut s).await, "HTTP/1.1 200 OK", "round {round}");
        tokio::time::sleep(PAUSE).await;
        // Parked, and still counted as open.
        assert_eq!(
            p.metric("switchyard_listener_connections{listener=\"web\"}"),
            1.0
        );
    }
    // A pipelined pair after a pause: both answered, in order.
    s.write_all(b"GET /1 HTTP/1.1\r\nhost: a\r\n\r\nGET /2 HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let mut got = String::new();
    let mut chunk = [0u8; 4096];
    while got.matches("HTTP/1.1 200 OK").count() < 2 {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("both answers within 5 s")
            .unwrap();
        assert!(n > 0, "closed after {got:?}");
        got.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
}

#[tokio::test]
async fn many_parked_connections_come_back_at_once() {
    let b = Backend::start("b").await.unwrap();
    // 200 upstream connections opened at once on a busy test machine: give them time, this
    // test is about the client side.
    let pool = "timeouts = { connect = \"10s\" }";
    let p = start(&one_pool(pool, &[("b", b.addr)])).await;
    let mut conns = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        assert_eq!(get(&mut s).await, "HTTP/1.1 200 OK");
        conns.push(s);
    }
    tokio::time::sleep(PAUSE).await;
    assert_eq!(
        p.metric("switchyard_listener_connections{listener=\"web\"}"),
        200.0
    );
    let answers = futures_util::future::join_all(conns.iter_mut().map(get)).await;
    assert!(
        answers.iter().all(|a| a == "HTTP/1.1 200 OK"),
        "{answers:?}"
    );
    // Closed by the clients: the parked ones and the served ones are all counted out.
    drop(conns);
    eventually("every connection counted out", || {
        p.metric("switchyard_listener_connections{listener=\"web\"}") == 0.0
    })
    .await;
}

#[tokio::test]
async fn shutting_down_closes_parked_connections_at_once() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&one_pool("", &[("b", b.addr)])).await;
    let mut conns = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        assert_eq!(get(&mut s).await, "HTTP/1.1 200 OK");
        conns.push(s);
    }
    tokio::time::sleep(PAUSE).await;
    let TestProxy { proxy, .. } = p;
    let started = Instant::now();
    assert!(
        proxy.shutdown(Duration::from_secs(10)).await,
        "every connection closed"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    for s in &mut conns {
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest))
            .await
            .expect("closed")
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
}
