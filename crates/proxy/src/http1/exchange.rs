//! One HTTP/1 request from a client, in phases: route, pick a server, attempt (retried by the
//! pool's [`RetryPolicy`]), respond or fail, then finish (metrics, pool history, access log).
//! Everything runs in the client connection's task; the upstream connection is driven here.

use std::borrow::Cow;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::AsyncWriteExt;

use super::buf::{Out, ReadBuf, BUF_SIZE};
use super::chunked;
use super::client::Transport;
use super::head::{
    parse_response, write_response, BodyOut, Framing, RequestHead, ResponseContext, ResponseHead,
};
use super::pump::{pump, Encode, Paced, PumpError};
use super::rate::{self, Pace};
use super::timer::Timer;
use super::upstream::{self, UpstreamConn};

mod attempt;

use crate::access_log::Timestamp;
use crate::error::ProxyError;
use crate::otel::{self, AttemptEnd, Traced};
use crate::outcome::{self, Ending, RequestView};
use crate::pool::Pool;
use crate::retry::{Attempted, RetryPolicy};
use crate::worker::ConnInfo;
use crate::Shared;
use attempt::AttemptError;

/// Reusable memory of a busy client connection, taken from a per-thread pool while it has a
/// request and given back when it goes idle.
#[derive(Default)]
pub(crate) struct Scratch {
    /// The request head as forwarded.
    pub up_head: Vec<u8>,
    /// The response head as written to the client.
    pub out: Out,
    /// Body bytes on their way, re-chunked when needed.
    pub body: Vec<u8>,
    /// The forwarded head of a traced retry, whose `traceparent` names the retry's span.
    pub retry_head: Vec<u8>,
}

thread_local! {
    static SPARE: std::cell::RefCell<Vec<Scratch>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Scratch memory kept per thread for reuse.
const SPARE_LIMIT: usize = 256;

impl Scratch {
    pub fn take() -> Scratch {
        SPARE.with(|s| s.borrow_mut().pop()).unwrap_or_default()
    }

    /// Takes pooled memory if this one was given back.
    pub fn refill(&mut self) {
        if self.up_head.capacity() == 0 {
            *self = Scratch::take();
        }
    }

    /// Returns the memory to the pool, leaving this one empty until [`Self::refill`].
    pub fn give_back(&mut self) {
        if self.up_head.capacity() == 0 && self.out.bytes.capacity() == 0 {
            return;
        }
        let mut spent = std::mem::take(self);
        spent.body = Vec::new();
        SPARE.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARE_LIMIT {
                s.push(spent);
            }
        });
    }
}

/// The client side of an exchange.
pub(crate) struct Client<'a, T> {
    pub io: &'a mut T,
    pub buf: &'a mut ReadBuf,
    /// The connection's timer, for the wait on the server's answer.
    pub timer: &'a mut Timer,
    pub shared: &'a Shared,
    pub info: &'a ConnInfo,
    /// Longest wait for the next body bytes from the client.
    pub body_timeout: Duration,
    /// The proxy is shutting down: answer this request, then close.
    pub draining: bool,
    /// The request body's account against the listener's `min_data_rate`.
    pub pace: Option<Pace>,
}

/// What the client connection does after an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    KeepAlive,
    Close,
    /// The client broke a limit: reset the connection, dropping what is still queued for it.
    Abort,
}

/// A server's answer, ready to be passed on.
struct Answer {
    conn: UpstreamConn,
    response: ResponseHead,
    lease: crate::server::Lease,
    attempts: u32,
}

/// What ending a request's trace needs from the attempt phase.
pub(crate) struct Finish<'a> {
    pub traced: Option<&'a Traced<'a>>,
    /// Why each retried attempt failed.
    pub earlier: &'a [String],
}

impl<T: Transport> Client<'_, T> {
    /// Serves the request whose head was just read.
    pub async fn exchange(
        &mut self,
        head: &RequestHead,
        scratch: &mut Scratch,
        started: Instant,
        ts: Timestamp,
    ) -> After {
        let Scratch {
            up_head,
            out,
            body,
            retry_head,
        } = scratch;
        let up_head: &[u8] = up_head;
        let text =
            |r: &std::ops::Range<usize>| std::str::from_utf8(&up_head[r.clone()]).unwrap_or("");
        let full_path = text(&head.path);
        let path = full_path.split('?').next().unwrap_or(full_path);
        let host = head
            .host
            .as_ref()
            .map_or(Cow::Borrowed(""), |h| host_key(text(h)));
        let view = RequestView {
            listener: &self.info.listener,
            client: self.info.client,
            started,
            ts,
            request_id: text(&head.request_id),
            method: head.method.as_str(),
            path,
            host: &host,
            protocol: if head.minor == 0 {
                "HTTP/1.0"
            } else {
                "HTTP/1.1"
            },
        };
        let mut traced = head.trace.as_ref().map(|t| Traced::start(t, started, text));
        let pool = {
            let runtime = self.shared.runtime.load();
            runtime
                .route(
                    &self.info.listener,
                    (!host.is_empty()).then_some(&*host),
                    path,
                )
                .cloned()
        };
        let Some(pool) = pool else {
            let err = ProxyError::NoRoute {
                listener: self.info.listener.to_string(),
                host: host.to_string(),
                path: path.to_string(),
            };
            return self
                .fail(&view, head, None, err, &[], out, traced.as_ref())
                .await;
        };
        if head.framing != Framing::Empty {
            self.pace = Pace::start(self.info.limits.min_data_rate);
            if let Err(source) = self.preread(head).await {
                let abort = source.kind() == io::ErrorKind::TimedOut;
                let err = ProxyError::ClientBody { source };
                self.fail(&view, head, Some(&pool), err, &[], out, traced.as_ref())
                    .await;
                // Part of the body was read: nothing after it can be trusted.
                return if abort { After::Abort } else { After::Close };
            }
        }
        if pool.config.protocol == switchyard_config::UpstreamProtocol::H2c {
            let traced = traced.as_mut();
            return super::bridge::forward(self, head, up_head, &pool, &view, out, traced).await;
        }
        let policy = RetryPolicy {
            retries: pool.config.retries,
        };
        let mut tried: Vec<usize> = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        loop {
            let (index, lease) = match pool.acquire(&tried).await {
                Ok(found) => found,
                Err(e) => {
                    return self
                        .fail(&view, head, Some(&pool), e, &failures, out, traced.as_ref())
                        .await
                }
            };
            let sent_head: &[u8] = match (&mut traced, &head.trace) {
                (Some(t), Some(context)) => {
                    let span = t.trace.next_span_id(context);
                    t.trace.begin(index, span);
                    if span == context.first_attempt {
                        up_head
                    } else {
                        retry_head.clear();
                        retry_head.extend_from_slice(up_head);
                        otel::set_parent(&mut retry_head[context.traceparent.clone()], span);
                        retry_head
                    }
                }
                _ => up_head,
            };
            let attempt = self.attempt(&pool, index, head, sent_head, body).await;
            if let Some(t) = &mut traced {
                t.trace.end(match &attempt {
                    Ok((_, response)) => AttemptEnd::Answered(response.status),
                    Err(e) => AttemptEnd::Failed(e.err.code()),
                });
            }
            let (conn, response) = match attempt {
                Ok(answer) => answer,
                Err(AttemptError {
                    err,
                    body_untouched,
                }) => {
                    drop(lease);
                    outcome::attempt_failed(&pool, index, &err);
                    tried.push(index);
                    let another_server = pool
                        .servers
                        .iter()
                        .enumerate()
                        .any(|(i, s)| s.in_rotation && !tried.contains(&i));
                    let at = Attempted {
                        attempts: tried.len() as u32,
                        body_untouched,
                        another_server,
                    };
                    if !policy.retry_elsewhere(&err, at) {
                        let after = if body_untouched {
                            None
                        } else {
                            Some(After::Close)
                        };
                        let done = self
                            .fail(
                                &view,
                                head,
                                Some(&pool),
                                err,
                                &failures,
                                out,
                                traced.as_ref(),
                            )
                            .await;
                        return after.unwrap_or(done);
                    }
                    outcome::retrying(self.shared, &pool, index, &err, &view);
                    failures.push(err.to_string());
                    continue;
                }
            };
            let attempts = tried.len() as u32 + 1;
            let answer = Answer {
                conn,
                response,
                lease,
                attempts,
            };
            let finish = Finish {
                traced: traced.as_ref(),
                earlier: &failures,
            };
            return self
                .respond(&pool, index, head, &view, answer, out, body, finish)
                .await;
        }
    }

    /// Passes the server's answer on: head, then body, then finish.
    #[allow(clippy::too_many_arguments)]
    async fn respond(
        &mut self,
        pool: &Pool,
        index: usize,
        head: &RequestHead,
        view: &RequestView<'_>,
        answer: Answer,
        out: &mut Out,
        scratch: &mut Vec<u8>,
        finish: Finish<'_>,
    ) -> After {
        let Answer {
            mut conn,
            response,
            lease,
            attempts,
        } = answer;
        let status = response.status;
        let server = &pool.servers[index].state;
        outcome::answered(self.shared, pool, index, status, view);
        let ctx = ResponseContext {
            client_minor: head.minor,
            client_keep_alive: head.keep_alive && !self.draining,
            request_id: view.request_id.as_bytes(),
        };
        out.clear();
        let framing = write_response(out, conn.buf.filled(), &response, &conn.headers, &ctx);
        conn.buf.consume(response.len);
        let mut end = Ending {
            status,
            pool: Some(pool.name()),
            server: Some(&server.reference),
            upstream_status: Some(status),
            attempts,
            trace_id: finish.traced.map(|t| t.trace.trace_id),
            ..Ending::default()
        };
        if status == 101 {
            let after = self.switch_protocols(conn, &out.bytes).await;
            drop(lease);
            end.error = after.err();
            self.log(view, &end);
            self.trace_answered(view, pool, &end, &finish);
            return After::Close;
        }
        let encode = if framing.body == BodyOut::Chunked {
            Encode::Chunked
        } else {
            Encode::Raw
        };
        // Once the whole body has come from the server, its slot is free and the line is
        // logged, before the client can see the end of the response.
        let mut lease = Some(lease);
        let mut logged = false;
        let log = self.shared.access_log.clone();
        let mut pace = Pace::start(self.info.limits.min_data_rate);
        let copied = pump(
            &mut conn.io,
            &mut conn.buf,
            response.framing,
            self.io,
            encode,
            &out.bytes,
            scratch,
            pool.config.timeouts.request,
            Paced::Sink(pace.as_mut()),
            &mut |bytes| {
                lease.take();
                end.bytes_sent = bytes;
                log.write(&view.entry(&end));
                logged = true;
            },
        )
        .await;
        drop(lease);
        out.trim();
        let after = match copied {
            Ok(_) => {
                if response.keep_alive {
                    upstream::put_idle(server.address, conn);
                }
                if framing.keep_alive {
                    After::KeepAlive
                } else {
                    After::Close
                }
            }
            Err(PumpError::Write(e)) if e.kind() == io::ErrorKind::TimedOut => {
                end.error = Some("client_too_slow");
                After::Abort
            }
            Err(PumpError::Write(_)) => {
                end.error = Some("response_incomplete");
                After::Close
            }
            Err(PumpError::Read(_) | PumpError::Chunk(_)) => {
                end.error = Some("upstream_body_error");
                After::Close
            }
        };
        if !logged {
            self.log(view, &end);
        }
        self.trace_answered(view, pool, &end, &finish);
        after
    }

    /// Ends the trace of a request a server answered.
    pub fn trace_answered(
        &self,
        view: &RequestView<'_>,
        pool: &Pool,
        end: &Ending<'_>,
        finish: &Finish<'_>,
    ) {
        if let (Some(traced), Some(tracing)) = (finish.traced, &self.shared.tracing) {
            tracing.finish(
                traced,
                view,
                otel::Outcome {
                    status: end.status,
                    pool: Some(pool),
                    server: end.server,
                    error: end.error.map(|code| (code, code)),
                    earlier: finish.earlier,
                    last_error: None,
                    tls: self.info.tls,
                },
            );
        }
    }

    /// Relays both directions of an upgraded connection (WebSocket) until either side closes.
    async fn switch_protocols(
        &mut self,
        mut conn: UpstreamConn,
        head: &[u8],
    ) -> Result<(), &'static str> {
        let mut first = head.to_vec();
        first.extend_from_slice(conn.buf.filled());
        self.io
            .write_all(&first)
            .await
            .map_err(|_| "response_incomplete")?;
        if !self.buf.is_empty() {
            conn.io
                .write_all(self.buf.filled())
                .await
                .map_err(|_| "upstream_body_error")?;
            let n = self.buf.len();
            self.buf.consume(n);
        }
        self.buf.release_if_empty();
        tokio::io::copy_bidirectional(self.io, &mut conn.io)
            .await
            .map(|_| ())
            .map_err(|_| "upgraded_connection_error")
    }

    /// Answers with the proxy's own explained error.
    #[allow(clippy::too_many_arguments)]
    pub async fn fail(
        &mut self,
        view: &RequestView<'_>,
        head: &RequestHead,
        pool: Option<&Arc<Pool>>,
        err: ProxyError,
        earlier: &[String],
        out: &mut Out,
        traced: Option<&Traced<'_>>,
    ) -> After {
        let explained = outcome::explain(self.shared, view, pool.map(|p| &**p), &err, earlier);
        // An unread request body would be taken for the next request: close instead.
        let keep_alive = head.keep_alive && head.framing == Framing::Empty && !self.draining;
        let server = err.server();
        let end = Ending {
            status: explained.status.as_u16(),
            pool: pool.map(|p| p.name()),
            server,
            upstream_status: None,
            bytes_sent: explained.body.len() as u64,
            attempts: earlier.len() as u32 + u32::from(server.is_some()),
            error: Some(explained.code),
            trace_id: traced.map(|t| t.trace.trace_id),
        };
        // Logged before the answer goes out, so the line is there once the client has it.
        self.log(view, &end);
        if let (Some(traced), Some(tracing)) = (traced, &self.shared.tracing) {
            tracing.finish(
                traced,
                view,
                otel::Outcome {
                    status: end.status,
                    pool: pool.map(|p| &**p),
                    server,
                    error: Some((explained.code, &explained.reason)),
                    earlier,
                    last_error: Some(&err),
                    tls: self.info.tls,
                },
            );
        }
        let written = self
            .local(
                out,
                explained.status,
                &explained.body,
                keep_alive,
                view.request_id,
            )
            .await;
        if written.is_ok() && keep_alive {
            After::KeepAlive
        } else {
            After::Close
        }
    }

    /// Writes a response of the proxy's own with a JSON body.
    pub async fn local(
        &mut self,
        out: &mut Out,
        status: StatusCode,
        body: &[u8],
        keep_alive: bool,
        request_id: &str,
    ) -> io::Result<()> {
        out.clear();
        out.status_line(status.as_u16());
        out.header(b"content-type", b"application/json");
        out.header_u64(b"content-length", body.len() as u64);
        out.header(b"x-request-id", request_id.as_bytes());
        if !keep_alive {
            out.header(b"connection", b"close");
        }
        out.end_head();
        out.bytes.extend_from_slice(body);
        self.io.write_all(&out.bytes).await
    }

    pub fn log(&self, view: &RequestView<'_>, end: &Ending<'_>) {
        if self.shared.access_log.is_on() {
            self.shared.access_log.write(&view.entry(end));
        }
    }
}

/// `Example.COM:8080` -> `example.com`; `[::1]:80` -> `[::1]`.
fn host_key(host: &str) -> Cow<'_, str> {
    let bare = if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    if bare.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(bare.to_ascii_lowercase())
    } else {
        Cow::Borrowed(bare)
    }
}

#[cfg(test)]
mod tests {
    use super::host_key;

    #[test]
    fn host_keys() {
        assert_eq!(host_key("Example.COM:8080"), "example.com");
        assert_eq!(host_key("shop"), "shop");
        assert_eq!(host_key("[::1]:80"), "[::1]");
    }
}
