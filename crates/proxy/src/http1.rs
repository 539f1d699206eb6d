//! The HTTP/1 engine: client connections parsed and answered by the proxy itself (on
//! `httparse`), upstream HTTP/1 connections driven inside the request's own task from the
//! worker's own pool. HTTP/2 clients are served by hyper (`crate::h2`); pools whose servers
//! speak h2c are reached through hyper's client (`bridge`).

mod bridge;
mod buf;
mod chunked;
mod client;
mod exchange;
mod head;
mod pump;
mod rate;
mod splice;
mod timer;
mod upstream;

use std::time::Duration;

use tokio::io::AsyncRead;

pub(crate) use buf::{drop_spare_buffers, BufferBudget, ReadBuf};
pub(crate) use client::{serve, Served};
pub(crate) use splice::drop_spare_pipes;

/// The client-connection preface of HTTP/2 (RFC 9113 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads a new cleartext connection's first bytes into `buf` and tells whether they are the
/// HTTP/2 preface. `None`: the client closed or sent nothing before `deadline`.
pub(crate) async fn sniff_h2<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut ReadBuf,
    deadline: tokio::time::Instant,
) -> Option<bool> {
    loop {
        let seen = buf.filled();
        let n = seen.len().min(H2_PREFACE.len());
        if seen[..n] != H2_PREFACE[..n] {
            return Some(false);
        }
        if n == H2_PREFACE.len() {
            return Some(true);
        }
        match tokio::time::timeout_at(deadline, buf.read_from(io, H2_PREFACE.len())).await {
            Ok(Ok(Some(n))) if n > 0 => {}
            _ => return None,
        }
    }
}

/// Drops this worker's upstream connections idle for longer than `max_idle`.
pub(crate) fn expire_idle_upstreams(max_idle: Duration) {
    upstream::expire(max_idle);
}
