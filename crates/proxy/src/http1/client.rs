//! One HTTP/1 client connection: request heads read within the handshake timeout, requests
//! answered in order (pipelined ones too), the connection kept while both sides want it and
//! the proxy is not shutting down, and no buffer held while it is idle.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use super::buf::ReadBuf;
use super::exchange::{After, Client, Scratch};
use super::head::{parse_request, Refusal, RequestContext};
use super::splice::Splice;
use super::timer::Timer;
use crate::access_log::Timestamp;
use crate::outcome::{self, Ending, RequestView};
use crate::worker::{ConnInfo, Phase};
use crate::Shared;

/// How long a kept connection waits for its next request in its own task before
/// [`serve`] hands it back to be parked (where the transport allows it): far longer than the
/// gaps between a busy client's requests, far shorter than any useful idle timeout.
const PARK_AFTER: Duration = Duration::from_millis(500);

/// A byte stream a client connection runs on.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Splice {
    /// Whether an idle connection on this transport can be parked outside its task
    /// (`crate::park`): plain TCP can, TLS (whose state is large and in the stream) not.
    const PARKS: bool;

    /// Waits until the peer has sent something, without holding a buffer, where the transport
    /// allows it (plain TCP); otherwise returns at once.
    fn wait_readable(&self) -> impl Future<Output = io::Result<()>>;

    /// Makes closing reset the connection, so that what is still queued for the peer is
    /// dropped rather than delivered.
    fn reset_on_close(&self);
}

impl Transport for TcpStream {
    const PARKS: bool = true;

    fn wait_readable(&self) -> impl Future<Output = io::Result<()>> {
        self.readable()
    }

    fn reset_on_close(&self) {
        let _ = socket2::SockRef::from(self).set_linger(Some(std::time::Duration::ZERO));
    }
}

impl Transport for TlsStream<TcpStream> {
    const PARKS: bool = false;

    async fn wait_readable(&self) -> io::Result<()> {
        Ok(())
    }

    fn reset_on_close(&self) {
        self.get_ref().0.reset_on_close();
    }
}

/// How [`serve`] ended.
pub(crate) enum Served<T> {
    /// The connection is done (closed, timed out, refused, or the proxy is stopping).
    Closed,
    /// The connection has waited [`PARK_AFTER`] for its next request, since `since`; the
    /// caller parks it, and serves it again (with an empty buffer) when the client sends.
    Idle { io: T, since: Instant },
}

/// What ended an idle wait.
enum Woke {
    Readable,
    Waited,
    Closed,
}

/// Serves HTTP/1 requests on `io` until either side closes, a timeout passes or the proxy
/// shuts down, or the connection has been idle long enough to be parked. `buf` may already
/// hold the first bytes; `accepted` is when the connection came (or came back from parking).
pub(crate) async fn serve<T: Transport>(
    mut io: T,
    mut buf: ReadBuf,
    info: &ConnInfo,
    shared: &Shared,
    mut drain: watch::Receiver<Phase>,
    accepted: Instant,
) -> Served<T> {
    let limits = &info.limits;
    let mut scratch = Scratch::take();
    let mut first = true;
    let mut timer = Timer::new(accepted.into());
    loop {
        if buf.is_empty() {
            buf.release_if_empty();
            if !first {
                // An idle connection holds no buffers.
                scratch.give_back();
                let park = T::PARKS && PARK_AFTER < limits.idle_timeout;
                let wait = if park {
                    PARK_AFTER
                } else {
                    limits.idle_timeout
                };
                let now = tokio::time::Instant::now();
                let until = now + wait;
                let woke = tokio::select! {
                    ready = io.wait_readable() => if ready.is_ok() { Woke::Readable } else { Woke::Closed },
                    _ = timer.until(until) => if park { Woke::Waited } else { Woke::Closed },
                    _ = drain.changed() => Woke::Closed,
                };
                match woke {
                    Woke::Readable => {}
                    Woke::Waited => {
                        return Served::Idle {
                            io,
                            since: now.into_std(),
                        }
                    }
                    Woke::Closed => return Served::Closed,
                }
            }
        }
        // A new connection has the handshake timeout from its start; a kept one from the
        // moment its next request began to arrive.
        let since = if first { accepted } else { Instant::now() };
        first = false;
        // Boxed: the state of reading and answering a request exists only while one is in
        // flight, so a waiting connection's task stays small.
        let draining = Phase::closing(&drain);
        let request = one_request(
            &mut io,
            &mut buf,
            &mut scratch,
            &mut timer,
            info,
            shared,
            since,
            draining,
        );
        let Some(after) = Box::pin(request).await else {
            return Served::Closed;
        };
        if after == After::Abort {
            io.reset_on_close();
            return Served::Closed;
        }
        if after == After::Close || Phase::closing(&drain) {
            let _ = io.shutdown().await;
            return Served::Closed;
        }
    }
}

/// Reads one request head within the handshake timeout (counted from `since`) and answers
/// it; `None` when the connection must close without more (closed, silent, or refused).
#[allow(clippy::too_many_arguments)]
async fn one_request<T: Transport>(
    io: &mut T,
    buf: &mut ReadBuf,
    scratch: &mut Scratch,
    timer: &mut Timer,
    info: &ConnInfo,
    shared: &Shared,
    since: Instant,
    draining: bool,
) -> Option<After> {
    let limits = &info.limits;
    scratch.refill();
    let deadline = tokio::time::Instant::from_std(since + limits.handshake_timeout);
    let mut id = [0u8; 32];
    new_request_id(&mut id);
    let ctx = RequestContext {
        client_ip: &info.client_ip,
        tls: info.tls,
        trusted: info.trusted,
        new_request_id: &id,
        sampler: shared.tracing.as_ref().map(|t| &t.sampler),
    };
    let head = loop {
        let refusal = match parse_request(buf.filled(), &ctx, &mut scratch.up_head) {
            Ok(Some(head)) => break head,
            Err(refusal) => refusal,
            Ok(None) => {
                let read = buf.read_from(io, limits.max_header_bytes);
                match tokio::time::timeout_at(deadline, read).await {
                    Ok(Ok(Some(n))) if n > 0 => continue,
                    Ok(Ok(None)) => Refusal {
                        status: 431,
                        reason: "the request head is larger than max_header_bytes",
                    },
                    Ok(Err(e)) if e.kind() == io::ErrorKind::OutOfMemory => Refusal {
                        status: 503,
                        reason: "request heads over 16 KiB are holding all of the listener's max_buffer_memory",
                    },
                    Err(_) if !buf.is_empty() => Refusal {
                        status: 408,
                        reason: "the request head did not arrive within handshake_timeout",
                    },
                    // Closed, failed, or silent past the timeout with nothing sent.
                    _ => return None,
                }
            }
        };
        Box::pin(refuse(io, timer, info, shared, &refusal, &id)).await;
        return None;
    };
    buf.consume(head.len);
    let started = Instant::now();
    let mut client = Client {
        io,
        buf,
        timer,
        shared,
        info,
        body_timeout: limits.idle_timeout,
        draining,
        pace: None,
    };
    Some(
        client
            .exchange(&head, scratch, started, log_time(shared))
            .await,
    )
}

/// Answers a request that could not be read with its status and reason, then the connection
/// closes (nothing after a broken head can be trusted).
async fn refuse<T: Transport>(
    io: &mut T,
    timer: &mut Timer,
    info: &ConnInfo,
    shared: &Shared,
    refusal: &Refusal,
    id: &[u8; 32],
) {
    let request_id = std::str::from_utf8(id).unwrap_or_default();
    let view = RequestView {
        listener: &info.listener,
        client: info.client,
        started: Instant::now(),
        ts: Timestamp::now(),
        request_id,
        method: "-",
        path: "-",
        host: "",
        protocol: "HTTP/1.1",
    };
    let body = outcome::refused(&view, refusal.status, refusal.reason);
    let mut buf = ReadBuf::default();
    let mut client = Client {
        io,
        buf: &mut buf,
        timer,
        shared,
        info,
        body_timeout: info.limits.idle_timeout,
        draining: true,
        pace: None,
    };
    let status =
        http::StatusCode::from_u16(refusal.status).unwrap_or(http::StatusCode::BAD_REQUEST);
    client.log(
        &view,
        &Ending {
            status: refusal.status,
            bytes_sent: body.len() as u64,
            error: Some("bad_request"),
            ..Ending::default()
        },
    );
    let mut out = super::buf::Out::default();
    let _ = client
        .local(&mut out, status, &body, false, request_id)
        .await;
    let _ = client.io.shutdown().await;
}

/// The wall-clock time of a request, read only when the access log will need it.
fn log_time(shared: &Shared) -> Timestamp {
    if shared.access_log.is_on() {
        Timestamp::now()
    } else {
        Timestamp(0)
    }
}

/// A random version-4 UUID in its 32-digit form, as request ids are made.
fn new_request_id(out: &mut [u8; 32]) {
    let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
    id.simple().encode_lower(out);
}
