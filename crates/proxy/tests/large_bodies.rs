//! Large bodies between plain TCP sockets, the ones the proxy splices: every byte arrives in
//! order, with and without a length, in both directions, and the server connection is kept
//! for the next request afterwards.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// The `n`th byte of every body in these tests: no run of it repeats within a page, so a
/// byte lost, doubled or moved shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 12) as u8)
        .collect()
}

/// A server that answers `GET /len/N` with N pattern bytes and a Content-Length, `GET
/// /close/N` with N bytes ended by closing, and any request with a body by recording the body.
struct BigUpstream {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl BigUpstream {
    async fn start() -> BigUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let (count, kept) = (accepted.clone(), bodies.clone());
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(s, kept.clone()));
            }
        });
        BigUpstream {
            addr,
            accepted,
            bodies,
        }
    }
}

async fn serve(mut s: TcpStream, bodies: Arc<Mutex<Vec<Vec<u8>>>>) {
    let mut pending = Vec::new();
    loop {
        let (path, length, used) = loop {
            if let Some(parsed) = parse_head(&pending) {
                break parsed;
            }
            let mut buf = [0u8; 16384];
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        };
        pending.drain(..used);
        if length > 0 {
            while pending.len() < length {
                let mut buf = vec![0u8; 65536];
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
            }
            bodies
                .lock()
                .unwrap()
                .push(pending.drain(..length).collect());
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
            continue;
        }
        let closing = path.starts_with("/close/");
        let n: usize = path.rsplit('/').next().unwrap().parse().unwrap();
        let head = if closing {
            "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_string()
        } else {
            format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n")
        };
        if s.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        // In pieces of uneven size, so reads on the proxy's side end anywhere.
        let body = pattern(n);
        for piece in body.chunks(100_003) {
            if s.write_all(piece).await.is_err() {
                return;
            }
        }
        if closing {
            let _ = s.shutdown().await;
            return;
        }
    }
}

/// The path, the Content-Length and the head's size of the first complete head in `buf`.
fn parse_head(buf: &[u8]) -> Option<(String, usize, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    let length = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |h| {
            std::str::from_utf8(h.value).unwrap().parse().unwrap()
        });
    Some((req.path.unwrap().to_string(), length, used))
}

/// Reads one response from `s`: its head, then its body by Content-Length or to the end.
async fn read_response(s: &mut TcpStream) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let head_end = loop {
        if let Some(p) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let mut buf = [0u8; 16384];
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the head's end");
        got.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&got[..head_end]).into_owned();
    let mut body = got.split_off(head_end);
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map(|v| v.trim().parse::<usize>().unwrap());
    match length {
        Some(n) => {
            while body.len() < n {
                let mut buf = vec![0u8; 65536];
                let r = s.read(&mut buf).await.unwrap();
                assert!(r > 0, "closed after {} of {n} body bytes", body.len());
                body.extend_from_slice(&buf[..r]);
            }
        }
        None => {
            s.read_to_end(&mut body).await.unwrap();
        }
    }
    (head, body)
}

#[tokio::test]
async fn large_answers_arrive_whole_and_the_server_connection_is_kept() {
    let up = BigUpstream::start().await;
    let p = start(&one_pool("", &[("big", up.addr)])).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    for n in [5 * 1024 * 1024 + 7, 70_000, 3_000_001] {
        s.write_all(format!("GET /len/{n} HTTP/1.1\r\nhost: a\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (head, body) = read_response(&mut s).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body.len(), n);
        assert!(body == pattern(n), "the {n}-byte body arrived changed");
    }
    // One server connection served all three.
    assert_eq!(up.accepted.load(Ordering::SeqCst), 1);
    let lines = p.access_lines_when(3).await;
    let sent: Vec<u64> = lines
        .iter()
        .map(|l| l["bytes_sent"].as_u64().unwrap())
        .collect();
    assert_eq!(sent, [5 * 1024 * 1024 + 7, 70_000, 3_000_001]);
}

#[tokio::test]
async fn a_large_answer_ended_by_close_arrives_whole() {
    let up = BigUpstream::start().await;
    let p = start(&one_pool("", &[("big", up.addr)])).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    let n = 4 * 1024 * 1024 + 3;
    // An HTTP/1.0 client knows no chunks: it gets the body as the server sent it, ended by
    // close (an HTTP/1.1 client would get it re-chunked, which is not spliced).
    s.write_all(format!("GET /close/{n} HTTP/1.0\r\nhost: a\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (head, body) = read_response(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(body.len(), n);
    assert!(
        body == pattern(n),
        "the body ended by close arrived changed"
    );
    let line = p.access_lines_when(1).await.pop().unwrap();
    assert_eq!(line["bytes_sent"], n as u64);
}

#[tokio::test]
async fn a_large_upload_reaches_the_server_whole() {
    let up = BigUpstream::start().await;
    let p = start(&one_pool("", &[("big", up.addr)])).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    for n in [3 * 1024 * 1024 + 5, 200_000] {
        let body = pattern(n);
        s.write_all(
            format!("POST /upload HTTP/1.1\r\nhost: a\r\ncontent-length: {n}\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        // In uneven pieces with pauses, so the proxy has to wait on the client mid-body.
        for piece in body.chunks(700_001) {
            s.write_all(piece).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let (head, answer) = read_response(&mut s).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(answer, b"ok");
    }
    let bodies = up.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    assert!(
        bodies[0] == pattern(3 * 1024 * 1024 + 5),
        "the upload arrived changed"
    );
    assert!(
        bodies[1] == pattern(200_000),
        "the second upload arrived changed"
    );
}
