//! HTTP/1 framing over raw sockets: every message a peer could read two ways gets a precise
//! answer, and nothing ambiguous reaches the server. The server here is a raw socket too, so
//! the tests see the exact bytes the proxy sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// A server that records the bytes it receives and answers each complete request with `reply`.
struct RawUpstream {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<u8>>>,
}

impl RawUpstream {
    async fn start(reply: &'static [u8]) -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut pending = Vec::new();
                    let mut buf = [0u8; 8192];
                    loop {
                        let n = match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        log.lock().unwrap().extend_from_slice(&buf[..n]);
                        pending.extend_from_slice(&buf[..n]);
                        while let Some(used) = complete_request(&pending) {
                            pending.drain(..used);
                            if s.write_all(reply).await.is_err() {
                                return;
                            }
                            if reply.windows(17).any(|w| w == b"connection: close") {
                                let _ = s.shutdown().await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        RawUpstream { addr, received }
    }

    fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }
}

/// Length of the first complete request in `buf` (head plus Content-Length or chunked body).
fn complete_request(buf: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_string())
    };
    if header("transfer-encoding").is_some() {
        let body = &buf[head..];
        return body
            .windows(5)
            .position(|w| w == b"0\r\n\r\n")
            .map(|p| head + p + 5);
    }
    let len: usize = header("content-length").map_or(0, |v| v.parse().unwrap());
    (buf.len() >= head + len).then_some(head + len)
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

async fn proxy_to(up: &RawUpstream) -> TestProxy {
    start(&one_pool("", &[("raw", up.addr)])).await
}

/// Sends `request` and reads until the proxy closes or `wait` passes.
async fn send(addr: SocketAddr, request: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn refused(request: &[u8], status: &str) {
    let up = RawUpstream::start(OK).await;
    let p = proxy_to(&up).await;
    let answer = send(p.addr, request, Duration::from_secs(2)).await;
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status}")),
        "{:?} -> {answer}",
        String::from_utf8_lossy(request)
    );
    assert!(answer.contains("connection: close"), "{answer}");
    assert_eq!(up.received(), "", "nothing may reach the server");
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused() {
    refused(
        b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        "400",
    )
    .await;
}

#[tokio::test]
async fn two_different_lengths_are_refused_and_equal_ones_are_one() {
    refused(
        b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
        "400",
    )
    .await;
    refused(
        b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5, 6\r\n\r\nhello!",
        "400",
    )
    .await;
    refused(
        b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: +5\r\n\r\nhello",
        "400",
    )
    .await;
    let up = RawUpstream::start(OK).await;
    let p = proxy_to(&up).await;
    let answer = send(
        p.addr,
        b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
        Duration::from_secs(2),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = up.received();
    assert_eq!(seen.matches("content-length").count(), 1, "{seen}");
    assert!(seen.ends_with("\r\n\r\nhello"), "{seen}");
}

#[tokio::test]
async fn transfer_codings_other_than_a_final_chunked_are_refused() {
    refused(
        b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: gzip\r\n\r\nxx",
        "400",
    )
    .await;
    refused(
        b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        "400",
    )
    .await;
    refused(
        b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "501",
    )
    .await;
    refused(
        b"POST / HTTP/1.0\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        "400",
    )
    .await;
}

#[tokio::test]
async fn bad_chunk_sizes_end_the_request_without_a_complete_body_upstream() {
    for body in [
        &b"zz\r\nhello\r\n0\r\n\r\n"[..],
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"11111111111111111\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
    ] {
        let up = RawUpstream::start(OK).await;
        let p = proxy_to(&up).await;
        let mut request =
            b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        request.extend_from_slice(body);
        let answer = send(p.addr, &request, Duration::from_secs(2)).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("client_body_error"), "{answer}");
        let seen = up.received();
        assert!(
            !seen.contains("0\r\n\r\n"),
            "a body end was forwarded: {seen:?}"
        );
    }
}

#[tokio::test]
async fn chunk_extensions_and_trailers_are_dropped_and_the_body_rechunked() {
    let up = RawUpstream::start(OK).await;
    let p = proxy_to(&up).await;
    let answer = send(
        p.addr,
        b"POST / HTTP/1.1\r\nhost: a\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n5;name=\"v\"\r\nhello\r\n1 ; x\r\n!\r\n0\r\nx-trailer: 1\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = up.received();
    assert!(
        seen.ends_with("\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n"),
        "{seen:?}"
    );
    assert!(!seen.contains("name="), "{seen:?}");
    assert!(!seen.contains("x-trailer"), "{seen:?}");
}

#[tokio::test]
async fn folded_lines_bare_line_ends_and_control_bytes_are_refused() {
    for request in [
        &b"GET / HTTP/1.1\r\nhost: a\r\nx-a: 1\r\n folded\r\n\r\n"[..],
        b"GET / HTTP/1.1\nhost: a\n\n",
        b"GET / HTTP/1.1\r\nhost: a\nx-a: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nhost: a\rx-a: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nhost: a\r\nx-a: 1\x002\r\n\r\n",
        b"GET / HTTP/1.1\r\nhost: a\r\nx\x01a: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nhost: a\r\nx-a : 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        refused(request, "400").await;
    }
}

#[tokio::test]
async fn absolute_form_targets_are_forwarded_in_origin_form_with_their_host() {
    let up = RawUpstream::start(OK).await;
    let p = proxy_to(&up).await;
    let answer = send(
        p.addr,
        b"GET http://Shop.Example:8080/cart?id=1 HTTP/1.1\r\nhost: other\r\nconnection: close\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = up.received();
    assert!(seen.starts_with("GET /cart?id=1 HTTP/1.1\r\n"), "{seen:?}");
    assert!(seen.contains("host: Shop.Example:8080\r\n"), "{seen:?}");
    assert!(!seen.contains("other"), "{seen:?}");
    let line = p.access_lines_when(1).await.pop().unwrap();
    assert_eq!(line["host"], "shop.example");
    assert_eq!(line["path"], "/cart");
}

#[tokio::test]
async fn connect_is_refused() {
    refused(
        b"CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n",
        "405",
    )
    .await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let b = switchyard_lab::Backend::start("b").await.unwrap();
    let p = start(&one_pool("", &[("b", b.addr)])).await;
    let answer = send(
        p.addr,
        b"GET /status/201 HTTP/1.1\r\nhost: a\r\n\r\nGET /status/404 HTTP/1.1\r\nhost: a\r\n\r\nGET /status/202 HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
        Duration::from_secs(3),
    )
    .await;
    let statuses: Vec<&str> = answer
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &answer[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["201", "404", "202"], "{answer}");
}

#[tokio::test]
async fn expect_continue_is_answered_by_the_proxy() {
    let up = RawUpstream::start(OK).await;
    let p = proxy_to(&up).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 25];
    tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut first))
        .await
        .expect("100 Continue in time")
        .unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"hello").await.unwrap();
    let mut rest = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&rest[..n]).starts_with("HTTP/1.1 200"));
    let seen = up.received();
    assert!(!seen.to_ascii_lowercase().contains("expect"), "{seen:?}");
    assert!(seen.ends_with("hello"), "{seen:?}");
    refused(
        b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\nexpect: something-else\r\n\r\nhello",
        "417",
    )
    .await;
}

/// Reads one response (head and body by its framing) from `s`.
async fn read_response(s: &mut TcpStream, head_request: bool) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(n)) = resp.parse(&buf) {
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let lower = head.to_ascii_lowercase();
            let body_start = n;
            loop {
                let body = &buf[body_start..];
                if head_request {
                    return (head, Vec::new());
                }
                if lower.contains("transfer-encoding: chunked") {
                    if body.ends_with(b"0\r\n\r\n") {
                        return (head, body.to_vec());
                    }
                } else if let Some(cl) = lower
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                {
                    if body.len() >= cl.trim().parse::<usize>().unwrap() {
                        return (head, body.to_vec());
                    }
                }
                let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut chunk))
                    .await
                    .expect("the rest of the body in time")
                    .unwrap();
                assert!(n > 0, "closed mid-body: {head}");
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut chunk))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "closed before a response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn a_close_delimited_answer_reaches_a_keep_alive_client_chunked() {
    let up = RawUpstream::start(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end").await;
    let p = proxy_to(&up).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    for _ in 0..2 {
        s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        let (head, body) = read_response(&mut s, false).await;
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
        assert!(!head.contains("connection: close"), "{head}");
        assert_eq!(body, b"d\r\nuntil the end\r\n0\r\n\r\n");
    }
}

#[tokio::test]
async fn head_answers_keep_their_length_and_have_no_body() {
    let up = RawUpstream::start(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n").await;
    let p = proxy_to(&up).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    for _ in 0..2 {
        s.write_all(b"HEAD / HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        let (head, _) = read_response(&mut s, true).await;
        assert!(head.contains("content-length: 1234"), "{head}");
    }
    // Nothing else was sent: the next answer starts right away.
    s.write_all(b"HEAD / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(
        rest.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
    assert!(rest.ends_with(b"\r\n\r\n"));
}

#[tokio::test]
async fn interim_answers_from_the_server_are_passed_over() {
    let up = RawUpstream::start(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal",
    )
    .await;
    let p = proxy_to(&up).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let (head, body) = read_response(&mut s, false).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, b"final");
}

#[tokio::test]
async fn an_answer_with_two_lengths_is_a_bad_gateway() {
    let up =
        RawUpstream::start(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok!")
            .await;
    let p = proxy_to(&up).await;
    let answer = send(
        p.addr,
        b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    assert!(answer.contains("invalid_response"), "{answer}");
}

#[tokio::test]
async fn forwarding_headers_from_clients_are_replaced() {
    let up = RawUpstream::start(OK).await;
    let p = proxy_to(&up).await;
    send(
        p.addr,
        b"GET / HTTP/1.1\r\nhost: a\r\nx-forwarded-for: 6.6.6.6\r\nx-forwarded-proto: https\r\nforwarded: for=6.6.6.6\r\nconnection: close\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    let seen = up.received();
    assert!(seen.contains("x-forwarded-for: 127.0.0.1\r\n"), "{seen}");
    assert!(seen.contains("x-forwarded-proto: http\r\n"), "{seen}");
    assert!(!seen.contains("6.6.6.6"), "{seen}");
}

#[tokio::test]
async fn forwarding_headers_from_trusted_proxies_are_appended_to() {
    let up = RawUpstream::start(OK).await;
    let toml = one_pool("", &[("raw", up.addr)]).replace(
        "bind = \"127.0.0.1:0\"",
        "bind = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.0/8\"]",
    );
    let p = start(&toml).await;
    send(
        p.addr,
        b"GET / HTTP/1.1\r\nhost: a\r\nx-forwarded-for: 203.0.113.9\r\nx-forwarded-proto: https\r\nconnection: close\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    let seen = up.received();
    assert!(
        seen.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1\r\n"),
        "{seen}"
    );
    assert!(seen.contains("x-forwarded-proto: https\r\n"), "{seen}");
}

#[tokio::test]
async fn websocket_upgrades_pass_through_both_ways() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(s).await.unwrap();
                ws.send(Message::text("hello from the server"))
                    .await
                    .unwrap();
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() {
                        let reply = format!("echo: {}", msg.into_text().unwrap());
                        ws.send(Message::text(reply)).await.unwrap();
                    }
                }
            });
        }
    });
    let p = start(&one_pool("", &[("ws", backend)])).await;
    let (mut ws, response) = tokio_tungstenite::connect_async(format!("ws://{}/chat", p.addr))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    assert!(response.headers().contains_key("x-request-id"));
    let first = ws.next().await.unwrap().unwrap();
    assert_eq!(first.into_text().unwrap().as_str(), "hello from the server");
    for i in 0..3 {
        ws.send(Message::text(format!("message {i}")))
            .await
            .unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        assert_eq!(
            reply.into_text().unwrap().as_str(),
            format!("echo: message {i}")
        );
    }
    ws.close(None).await.unwrap();
}
