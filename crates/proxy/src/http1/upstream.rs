//! Connections to upstream servers for the HTTP/1 engine: each worker thread keeps its own
//! idle keep-alive connections per server address, so taking and returning one needs no lock
//! and no other thread. A connection is driven by the request that holds it, in that request's
//! task: no connection task, no channel between them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::buf::ReadBuf;
use super::head::ResponseHeaders;
use crate::error::{ProxyError, ServerRef};

/// Idle connections kept per server address and worker.
const IDLE_PER_SERVER: usize = 256;

/// A connection to a server, with the bytes read from it and not yet used.
pub(crate) struct UpstreamConn {
    pub io: TcpStream,
    pub buf: ReadBuf,
    /// The last response's end-to-end headers, as ranges of `buf` (memory reused).
    pub headers: ResponseHeaders,
    /// It served an earlier request: a failure before any answer may just mean the server
    /// closed it while idle.
    pub reused: bool,
    idle_since: Instant,
}

thread_local! {
    static IDLE: RefCell<HashMap<SocketAddr, Vec<UpstreamConn>>> = RefCell::new(HashMap::new());
}

/// An idle connection to `addr` that is still usable, if this worker has one.
pub(crate) fn take_idle(addr: SocketAddr, idle_timeout: Duration) -> Option<UpstreamConn> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.get_mut(&addr)?;
        while let Some(mut conn) = list.pop() {
            if conn.idle_since.elapsed() < idle_timeout && still_quiet(&conn.io) {
                conn.reused = true;
                return Some(conn);
            }
        }
        None
    })
}

/// Keeps `conn` for the next request to the same server.
pub(crate) fn put_idle(addr: SocketAddr, mut conn: UpstreamConn) {
    if !conn.buf.is_empty() {
        // The server sent more than the response: the connection is out of step.
        return;
    }
    conn.buf.shrink();
    conn.buf.release_if_empty();
    conn.idle_since = Instant::now();
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.entry(addr).or_default();
        if list.len() < IDLE_PER_SERVER {
            list.push(conn);
        }
    });
}

/// Drops idle connections older than `max_idle`; run now and then by each worker.
pub(crate) fn expire(max_idle: Duration) {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        idle.retain(|_, list| {
            list.retain(|c| c.idle_since.elapsed() < max_idle);
            !list.is_empty()
        });
    });
}

/// An idle connection must have nothing to read: readable means the server closed it (or sent
/// something unasked). The reactor's readiness is read without a system call; only when it
/// says readable is the socket asked (a one-byte peek), since readiness can be left over
/// from a body that ended exactly where a read did (a spliced body always does).
fn still_quiet(io: &TcpStream) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let mut byte = [0u8; 1];
    let mut peeked = tokio::io::ReadBuf::new(&mut byte);
    matches!(io.poll_peek(&mut cx, &mut peeked), Poll::Pending)
}

/// Opens a new connection to `server` within `timeout`.
pub(crate) async fn connect(
    server: &ServerRef,
    timeout: Duration,
) -> Result<UpstreamConn, ProxyError> {
    let io = match tokio::time::timeout(timeout, TcpStream::connect(server.address)).await {
        Err(_) => {
            return Err(ProxyError::ConnectTimeout {
                server: server.clone(),
                timeout,
            })
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            return Err(ProxyError::ConnectRefused {
                server: server.clone(),
            })
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::TimedOut => {
            return Err(ProxyError::ConnectTimeout {
                server: server.clone(),
                timeout,
            })
        }
        Ok(Err(source)) => {
            return Err(ProxyError::Connect {
                server: server.clone(),
                source,
            })
        }
        Ok(Ok(io)) => io,
    };
    let _ = io.set_nodelay(true);
    Ok(UpstreamConn {
        io,
        buf: ReadBuf::default(),
        headers: ResponseHeaders::default(),
        reused: false,
        idle_since: Instant::now(),
    })
}
