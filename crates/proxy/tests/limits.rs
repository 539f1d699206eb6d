//! Client limits over raw sockets: silent and half-sent connections are closed within the
//! handshake timeout, a listener at `max_connections` refuses new ones (log line and metric),
//! large heads share `max_buffer_memory`, clients that move bodies slower than
//! `min_data_rate` are cut off, and normal clients are served all along.

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

/// A request head of about 40 KB, complete or not.
fn large_head(complete: bool) -> Vec<u8> {
    let mut head = b"GET / HTTP/1.1\r\nhost: a\r\nx-pad: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 40_000));
    head.extend_from_slice(if complete { b"\r\n\r\n" } else { b"\r\n" });
    head
}

#[tokio::test]
async fn large_request_heads_share_the_listeners_buffer_memory() {
    let b = Backend::start("b").await.unwrap();
    // Room for one head to grow from 16 KiB to 64 KiB, not for two.
    let p = start(&limited("max_buffer_memory = 49152", b.addr)).await;

    let mut first = TcpStream::connect(p.addr).await.unwrap();
    first.write_all(&large_head(false)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut second = TcpStream::connect(p.addr).await.unwrap();
    second.write_all(&large_head(false)).await.unwrap();
    let (got, _) = until_closed(&mut second, Duration::from_secs(5)).await;
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 503"), "{got}");
    assert!(got.contains("max_buffer_memory"), "{got}");

    // Requests with usual heads need nothing from it.
    let r = client().get(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // Once the first client leaves, its share is back.
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut third = TcpStream::connect(p.addr).await.unwrap();
    third.write_all(&large_head(true)).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = third.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// A connection whose receive window is small, so that what the proxy sends waits on reads.
async fn narrow_connection(addr: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(addr).await.unwrap()
}

#[tokio::test]
async fn clients_that_move_bodies_too_slowly_are_cut_off_after_a_short_grace() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&limited("min_data_rate = 1000000", b.addr)).await;

    // Reads an 8 MB answer at about 20 KB/s, against a minimum of 1 MB/s.
    let slow_reader = async {
        let mut s = narrow_connection(p.addr).await;
        s.write_all(b"GET /bytes/8000000 HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let mut got = 0usize;
        let mut piece = [0u8; 2048];
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match tokio::time::timeout(Duration::from_secs(30), s.read(&mut piece)).await {
                Ok(Ok(n)) if n > 0 => got += n,
                _ => break,
            }
        }
        (got, started.elapsed())
    };
    // Sends a 1 MB body at about 200 bytes/s.
    let slow_sender = async {
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nhost: a\r\ncontent-length: 1000000\r\n\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let mut answer = Vec::new();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if s.write_all(&[b'x'; 20]).await.is_err() {
                break;
            }
            let mut piece = [0u8; 1024];
            match tokio::time::timeout(Duration::from_millis(1), s.read(&mut piece)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => answer.extend_from_slice(&piece[..n]),
                Err(_) => {}
            }
            if started.elapsed() > Duration::from_secs(30) {
                break;
            }
        }
        (
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )
    };
    let ((got, read_for), (answer, sent_for)) = tokio::join!(slow_reader, slow_sender);
    assert!(got < 8_000_000, "the slow reader got the whole answer");
    // Cut off once the 2 s of grace were spent waiting on them.
    assert!(
        read_for >= Duration::from_millis(1500) && read_for < Duration::from_secs(10),
        "the slow reader was cut off after {read_for:?}"
    );
    assert!(
        sent_for >= Duration::from_millis(1500) && sent_for < Duration::from_secs(10),
        "the slow sender was cut off after {sent_for:?}: {answer}"
    );
    // The slow body never reached a server: a server is chosen once the body has begun.
    assert_eq!(b.control.requests_to("/echo"), 0);
    // The server connections they held are given up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.control.in_flight(), 0);
    let r = client().get(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
