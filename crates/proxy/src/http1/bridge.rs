//! An HTTP/1 client's request to a pool whose servers speak cleartext HTTP/2 (`protocol =
//! "h2c"`): sent through the pool's multiplexing client, the answer written back as HTTP/1.
//! A request body is streamed through a small channel, fed in the same task.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Request, Uri};
use http_body::Frame;
use http_body_util::{BodyExt, Empty, StreamBody};

use super::buf::Out;
use super::client::Transport;
use super::exchange::{After, Client, Finish};
use super::head::{is_hop_by_hop, Framing, RequestHead};
use super::pump::{pump, Encode, Paced};
use super::rate::{self, Pace};
use crate::body::BoxError;
use crate::otel::{AttemptEnd, Traced};
use crate::outcome::{self, Ending, RequestView};
use crate::pool::Pool;
use crate::retry::{Attempted, RetryPolicy};
use crate::upstream::UpstreamBody;

/// Forwards the request to the h2c pool and writes its answer to the client; `traced` gets a
/// client span per attempt.
pub(crate) async fn forward<T: Transport>(
    client: &mut Client<'_, T>,
    head: &RequestHead,
    up_head: &[u8],
    pool: &Arc<Pool>,
    view: &RequestView<'_>,
    out: &mut Out,
    mut traced: Option<&mut Traced<'_>>,
) -> After {
    let has_body = head.framing != Framing::Empty;
    let policy = RetryPolicy {
        retries: pool.config.retries,
    };
    let mut tried = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    loop {
        let (index, lease) = match pool.acquire(&tried).await {
            Ok(found) => found,
            Err(e) => {
                let traced = traced.as_deref();
                return client
                    .fail(view, head, Some(pool), e, &failures, out, traced)
                    .await;
            }
        };
        let server = &pool.servers[index].state;
        let Some(mut request) = build(up_head, &server.authority) else {
            return After::Close;
        };
        if let Some(t) = traced.as_deref_mut() {
            let value = t.next_attempt(index);
            if let Ok(v) = HeaderValue::from_bytes(&value) {
                request.headers_mut().insert("traceparent", v);
            }
        }
        let (request, feeder) = if has_body {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(2);
            let body = StreamBody::new(tokio_stream_from(rx)).boxed();
            (request.map(|()| body), Some(tx))
        } else {
            let body: UpstreamBody = Empty::new().map_err(|never| match never {}).boxed();
            (request.map(|()| body), None)
        };
        let send = pool.upstream.send(server, request);
        let sent = match feeder {
            None => send.await,
            Some(tx) => {
                let feed = feed(client, head, tx);
                let (sent, fed) = tokio::join!(send, feed);
                if fed.is_err() && sent.is_ok() {
                    return After::Close;
                }
                sent
            }
        };
        if let Some(t) = traced.as_deref_mut() {
            t.trace.end(match &sent {
                Ok(response) => AttemptEnd::Answered(response.status().as_u16()),
                Err(e) => AttemptEnd::Failed(e.code()),
            });
        }
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                outcome::answered(client.shared, pool, index, status, view);
                let after = write_back(client, head, view, response, out).await;
                let mut end = Ending {
                    status,
                    pool: Some(pool.name()),
                    server: Some(&server.reference),
                    upstream_status: Some(status),
                    attempts: tried.len() as u32 + 1,
                    trace_id: traced.as_ref().map(|t| t.trace.trace_id),
                    ..Ending::default()
                };
                let keep = match after {
                    Ok((bytes, keep)) => {
                        end.bytes_sent = bytes;
                        keep
                    }
                    Err(reason) => {
                        end.error = Some(reason);
                        After::Close
                    }
                };
                drop(lease);
                client.log(view, &end);
                let finish = Finish {
                    traced: traced.as_deref(),
                    earlier: &failures,
                };
                client.trace_answered(view, pool, &end, &finish);
                return keep;
            }
            Err(err) => {
                drop(lease);
                outcome::attempt_failed(pool, index, &err);
                tried.push(index);
                let at = Attempted {
                    attempts: tried.len() as u32,
                    body_untouched: !has_body,
                    another_server: pool
                        .servers
                        .iter()
                        .enumerate()
                        .any(|(i, s)| s.in_rotation && !tried.contains(&i)),
                };
                if !policy.retry_elsewhere(&err, at) {
                    let traced = traced.as_deref();
                    return client
                        .fail(view, head, Some(pool), err, &failures, out, traced)
                        .await;
                }
                outcome::retrying(client.shared, pool, index, &err, view);
                failures.push(err.to_string());
            }
        }
    }
}

/// The forwarded head as an HTTP request to `authority`.
fn build(up_head: &[u8], authority: &http::uri::Authority) -> Option<Request<()>> {
    let mut slots = [httparse::EMPTY_HEADER; super::head::MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    parsed.parse(up_head).ok()?;
    let mut uri = http::uri::Parts::default();
    uri.scheme = Some(Scheme::HTTP);
    uri.authority = Some(authority.clone());
    uri.path_and_query = Some(PathAndQuery::try_from(parsed.path?).ok()?);
    let mut request = Request::new(());
    *request.method_mut() = http::Method::from_bytes(parsed.method?.as_bytes()).ok()?;
    *request.uri_mut() = Uri::from_parts(uri).ok()?;
    for h in parsed.headers.iter() {
        if is_hop_by_hop(h.name) || h.name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(h.value).ok()?;
        request.headers_mut().append(name, value);
    }
    Some(request)
}

/// Reads the client's body and sends it down the channel, chunk by chunk.
async fn feed<T: Transport>(
    client: &mut Client<'_, T>,
    head: &RequestHead,
    tx: tokio::sync::mpsc::Sender<Result<Frame<Bytes>, BoxError>>,
) -> Result<(), ()> {
    let mut sink = ChannelWriter {
        tx: tokio_util::sync::PollSender::new(tx.clone()),
    };
    let mut scratch = Vec::new();
    let result = pump(
        client.io,
        client.buf,
        head.framing,
        &mut sink,
        Encode::Raw,
        b"",
        &mut scratch,
        client.body_timeout,
        Paced::Source(client.pace.as_mut()),
        &mut |_| {},
    )
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            let _ = tx.send(Err(Box::new(e))).await;
            Err(())
        }
    }
}

/// Writes the HTTP/2 answer to the HTTP/1 client; returns body bytes and what follows.
async fn write_back<T: Transport>(
    client: &mut Client<'_, T>,
    head: &RequestHead,
    view: &RequestView<'_>,
    response: http::Response<hyper::body::Incoming>,
    out: &mut Out,
) -> Result<(u64, After), &'static str> {
    let (parts, mut body) = response.into_parts();
    let bodiless = head.method == http::Method::HEAD
        || parts.status == http::StatusCode::NO_CONTENT
        || parts.status == http::StatusCode::NOT_MODIFIED;
    let length = http_body::Body::size_hint(&body).exact();
    let chunked = !bodiless && length.is_none() && head.minor == 1;
    let keep_alive =
        head.keep_alive && !client.draining && (bodiless || length.is_some() || chunked);
    out.clear();
    out.status_line(parts.status.as_u16());
    for (name, value) in &parts.headers {
        if is_hop_by_hop(name.as_str())
            || name == http::header::CONTENT_LENGTH
            || name.as_str() == "x-request-id"
        {
            continue;
        }
        out.header(name.as_str().as_bytes(), value.as_bytes());
    }
    if let (false, Some(n)) = (bodiless, length) {
        out.header_u64(b"content-length", n);
    }
    if chunked {
        out.header(b"transfer-encoding", b"chunked");
    }
    out.header(b"x-request-id", view.request_id.as_bytes());
    if !keep_alive {
        out.header(b"connection", b"close");
    }
    out.end_head();
    let write_err = |e: io::Error| match e.kind() {
        io::ErrorKind::TimedOut => "client_too_slow",
        _ => "response_incomplete",
    };
    let mut pace = Pace::start(client.info.limits.min_data_rate);
    rate::write_all(client.io, &out.bytes, pace.as_mut())
        .await
        .map_err(write_err)?;
    let mut sent = 0u64;
    if !bodiless {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| "upstream_body_error")?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            out.clear();
            if chunked {
                super::chunked::chunk_head(&mut out.bytes, data.len());
            }
            out.bytes.extend_from_slice(&data);
            if chunked {
                out.bytes.extend_from_slice(b"\r\n");
            }
            rate::write_all(client.io, &out.bytes, pace.as_mut())
                .await
                .map_err(write_err)?;
            sent += data.len() as u64;
        }
        if chunked {
            rate::write_all(client.io, super::chunked::LAST_CHUNK, pace.as_mut())
                .await
                .map_err(write_err)?;
        }
    }
    out.trim();
    Ok((
        sent,
        if keep_alive {
            After::KeepAlive
        } else {
            After::Close
        },
    ))
}

/// A body stream over the channel's receiver.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, BoxError>>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, BoxError>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// An `AsyncWrite` that sends what is written down the body channel.
struct ChannelWriter {
    tx: tokio_util::sync::PollSender<Result<Frame<Bytes>, BoxError>>,
}

impl super::splice::Splice for ChannelWriter {}

impl tokio::io::AsyncWrite for ChannelWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let this = self.get_mut();
        let closed = || {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the server stopped reading the body",
            )
        };
        match this.tx.poll_reserve(cx) {
            std::task::Poll::Ready(Ok(())) => {
                let frame = Ok(Frame::data(Bytes::copy_from_slice(buf)));
                this.tx.send_item(frame).map_err(|_| closed())?;
                std::task::Poll::Ready(Ok(buf.len()))
            }
            std::task::Poll::Ready(Err(_)) => std::task::Poll::Ready(Err(closed())),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
