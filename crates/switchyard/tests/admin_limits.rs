//! The admin listener cannot be held by slow clients: a silent socket, a half-sent request head
//! and a half-sent body are closed within the admin timeouts (10 s each), and a normal client is
//! served meanwhile and afterwards.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::util::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The admin timeouts (`switchyard_admin::listener`), plus room for a loaded machine.
const CLOSED_WITHIN: Duration = Duration::from_secs(10 + 5);

/// Sends `first` (maybe nothing) and waits until the server closes the connection; returns how
/// long that took, or panics after [`CLOSED_WITHIN`] plus a margin.
async fn closed_after(addr: SocketAddr, first: &'static [u8]) -> Duration {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    if !first.is_empty() {
        s.write_all(first).await.unwrap();
    }
    let mut buf = vec![0; 4096];
    let limit = CLOSED_WITHIN + Duration::from_secs(10);
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), s.read(&mut buf)).await
        {
            Err(_) => panic!("{first:?}: still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_sent_admin_requests_are_closed() {
    let site = Site::start(1, "alice").await;
    let admin_addr = site.serve.admin;
    let admin = Admin::of(&site.dir, &site.serve);
    let token = admin.token.clone();
    let body_head: &'static [u8] = Box::leak(
        format!(
            "POST /api/v1/apply HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"config\":"
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    let silent = tokio::spawn(closed_after(admin_addr, b""));
    let half_head = tokio::spawn(closed_after(
        admin_addr,
        b"GET /api/v1/version HTTP/1.1\r\nhost: x\r\n",
    ));
    let half_body = tokio::spawn(closed_after(admin_addr, body_head));

    // Meanwhile the API answers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(admin.get("/version").await["version"], 1);

    for (what, task) in [
        ("silent", silent),
        ("half head", half_head),
        ("half body", half_body),
    ] {
        let took = task.await.unwrap();
        assert!(took <= CLOSED_WITHIN, "{what} closed after {took:?}");
        assert!(
            took >= Duration::from_secs(5),
            "{what} closed too soon: {took:?}"
        );
    }
    assert_eq!(admin.get("/version").await["version"], 1);
    assert_eq!(site.versions(), [1], "the half-sent apply changed nothing");
}
