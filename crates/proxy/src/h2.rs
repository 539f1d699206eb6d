//! HTTP/2 clients (cleartext with prior knowledge, or TLS with ALPN `h2`), served by hyper's
//! HTTP/2 server with keep-alive pings and a bound on concurrent streams; each request goes
//! through [`crate::forward`].

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf as TokioReadBuf};
use tokio::sync::watch;

use crate::http1::ReadBuf;
use crate::worker::{ConnInfo, Phase};
use crate::{forward, Shared};

/// Concurrent streams a client may open on one connection.
const MAX_CONCURRENT_STREAMS: u32 = 256;
/// A ping is sent after this long without frames; no answer within the same time closes.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// Serves HTTP/2 on `io` until the client leaves or the proxy shuts down.
pub(crate) async fn serve<IO>(
    io: IO,
    info: Arc<ConnInfo>,
    shared: Arc<Shared>,
    mut drain: watch::Receiver<Phase>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let info = info.clone();
        async move { Ok::<_, Infallible>(forward::handle(&shared, &info, req).await) }
    });
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEP_ALIVE)
        .keep_alive_timeout(KEEP_ALIVE)
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(64 * 1024);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = drain.changed() => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// A stream whose first bytes were already read into a buffer.
pub(crate) struct Prefixed<T> {
    prefix: ReadBuf,
    inner: T,
}

impl<T> Prefixed<T> {
    pub fn new(prefix: ReadBuf, inner: T) -> Self {
        Prefixed { prefix, inner }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut TokioReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix.filled()[..n]);
            self.prefix.consume(n);
            self.prefix.release_if_empty();
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
