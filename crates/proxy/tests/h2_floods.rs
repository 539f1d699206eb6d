//! HTTP/2 abuse over raw frames on a cleartext (prior knowledge) connection: a rapid-reset
//! flood (CVE-2023-44487) and a CONTINUATION flood (CVE-2024-27316 class) are cut off with a
//! GOAWAY after a bounded amount of work, and other clients are served all along.

use std::time::Duration;

use switchyard_lab::Backend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// `GET /` for authority `a`, in HPACK with static-table names and no indexing.
const GET_ROOT: &[u8] = &[0x82, 0x86, 0x84, 0x01, 0x01, b'a'];

/// The start of a connection: the preface and empty SETTINGS.
fn opening() -> Vec<u8> {
    let mut out = PREFACE.to_vec();
    frame(&mut out, SETTINGS, 0, 0, &[]);
    out
}

#[tokio::test]
async fn a_rapid_reset_flood_is_cut_off() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&one_pool("", &[("b", b.addr)])).await;
    const STREAMS: u32 = 20_000;
    let mut flood = opening();
    for i in 0..STREAMS {
        let id = 1 + 2 * i;
        frame(&mut flood, HEADERS, END_STREAM | END_HEADERS, id, GET_ROOT);
        frame(&mut flood, RST_STREAM, 0, id, &8u32.to_be_bytes()); // CANCEL
    }
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    let (mut rd, mut wr) = s.split();
    let (_, code) = tokio::join!(
        write_while_open(&mut wr, &flood),
        goaway(&mut rd, Duration::from_secs(10))
    );
    // ENHANCE_YOUR_CALM: too many streams reset before they were answered.
    assert_eq!(
        code,
        Some(0xb),
        "no GOAWAY(ENHANCE_YOUR_CALM) for {STREAMS} reset streams"
    );
    let reached = b.control.requests();
    assert!(
        reached < 1_000,
        "{reached} of {STREAMS} reset requests reached the server"
    );
    // Everyone else is served.
    let r = client().get(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_continuation_flood_is_cut_off() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&one_pool("", &[("b", b.addr)])).await;
    // A header block that never ends: 64 MiB of CONTINUATION frames of 16 KiB each, every one
    // a literal header that would make the list grow without bound.
    // One field: a literal without indexing, new name "x-a", a value of 120 bytes.
    let mut one = vec![0x00, 0x03, b'x', b'-', b'a', 120];
    one.extend_from_slice(&[b'v'; 120]);
    let mut block = Vec::new();
    while block.len() + one.len() <= 16 * 1024 {
        block.extend_from_slice(&one);
    }
    let mut flood = opening();
    frame(&mut flood, HEADERS, END_STREAM, 1, GET_ROOT);
    let frames = (64 << 20) / block.len();
    let mut continuation = Vec::new();
    frame(&mut continuation, CONTINUATION, 0, 1, &block);
    for _ in 0..frames {
        flood.extend_from_slice(&continuation);
    }
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    let (mut rd, mut wr) = s.split();
    let (sent, code) = tokio::join!(
        write_while_open(&mut wr, &flood),
        goaway(&mut rd, Duration::from_secs(10))
    );
    // The connection ends (GOAWAY, or a reset once the proxy stops reading) long before the
    // flood is through, and no request reached the server.
    assert!(
        sent < flood.len() / 4,
        "the proxy read {sent} of {} flood bytes",
        flood.len()
    );
    if let Some(code) = code {
        assert!(
            code == 0x1 || code == 0x6 || code == 0xb,
            "unexpected GOAWAY code {code:#x}"
        );
    }
    assert_eq!(b.control.requests(), 0);
    let r = client().get(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Writes `bytes` while the peer takes them; returns how many it took.
async fn write_while_open(s: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> usize {
    let mut sent = 0;
    for piece in bytes.chunks(16 * 1024) {
        match tokio::time::timeout(Duration::from_secs(5), s.write_all(piece)).await {
            Ok(Ok(())) => sent += piece.len(),
            _ => break,
        }
    }
    sent
}

/// Reads frames until a GOAWAY (its error code) or the end of the connection (None).
async fn goaway(s: &mut (impl AsyncRead + Unpin), limit: Duration) -> Option<u32> {
    let read = async {
        loop {
            let mut head = [0u8; 9];
            s.read_exact(&mut head).await.ok()?;
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0u8; len];
            s.read_exact(&mut payload).await.ok()?;
            if head[3] == GOAWAY && len >= 8 {
                return Some(u32::from_be_bytes(payload[4..8].try_into().unwrap()));
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok().flatten()
}
