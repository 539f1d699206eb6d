//! One attempt of a request on a server: the start of the request body read first (so that a
//! slow client holds no server connection), the request sent, and the server's answer head
//! read, with what can go wrong on the way.

use super::*;

/// Largest response head accepted from a server.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// Request body bytes (or all of a smaller body) read before a server is chosen.
const PREREAD: usize = 8 * 1024;

/// How an attempt on one server failed.
pub(super) struct AttemptError {
    pub err: ProxyError,
    pub body_untouched: bool,
}

impl<T: Transport> Client<'_, T> {
    /// Waits for the start of the request body (all of it, or [`PREREAD`] bytes) before a
    /// server is chosen, so that a client sending its body slowly holds no server connection
    /// while it does (HAProxy's `http-buffer-request`).
    pub(super) async fn preread(&mut self, head: &RequestHead) -> io::Result<()> {
        let want = match head.framing {
            Framing::Length(n) => n.min(PREREAD as u64) as usize,
            _ => PREREAD,
        };
        if head.expect_continue && self.buf.is_empty() {
            self.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        while self.buf.len() < want
            && !(head.framing == Framing::Chunked && chunked::complete(self.buf.filled()))
        {
            let pace = self.pace.as_mut();
            match rate::read(self.buf, self.io, BUF_SIZE, self.body_timeout, pace).await? {
                Some(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Some(_) => {}
                None => break,
            }
        }
        Ok(())
    }

    /// Sends the request to server `index` and reads its response head.
    pub(super) async fn attempt(
        &mut self,
        pool: &Pool,
        index: usize,
        head: &RequestHead,
        up_head: &[u8],
        body: &mut Vec<u8>,
    ) -> Result<(UpstreamConn, ResponseHead), AttemptError> {
        let state = &pool.servers[index].state;
        let timeouts = &pool.config.timeouts;
        let untouched = |err| AttemptError {
            err,
            body_untouched: true,
        };
        let mut conn = match upstream::take_idle(state.address, timeouts.idle) {
            Some(conn) => conn,
            None => upstream::connect(&state.reference, timeouts.connect)
                .await
                .map_err(untouched)?,
        };
        let has_body = head.framing != Framing::Empty;
        let resend = RetryPolicy::resend_on_new_connection(&head.method, has_body);
        // A removed server whose drain time runs out wakes the requests still waiting on it.
        let closing = state.closing.notified();
        tokio::pin!(closing);
        closing.as_mut().enable();
        loop {
            let sent = self.send(&mut conn, head, up_head, body).await;
            let result = match sent {
                Err(e) => Err(e),
                Ok(()) => {
                    let deadline = tokio::time::Instant::now() + timeouts.request;
                    tokio::select! {
                        read = read_response(&mut conn, head, deadline, self.timer) => read,
                        _ = &mut closing => Err(Failure::Drained),
                    }
                }
            };
            let failure = match result {
                Ok(response) => return Ok((conn, response)),
                Err(f) => f,
            };
            if conn.reused && resend && failure.before_any_answer() {
                // The server closed the idle connection as the request went out.
                conn = upstream::connect(&state.reference, timeouts.connect)
                    .await
                    .map_err(untouched)?;
                continue;
            }
            return Err(AttemptError {
                err: failure.into_error(&state.reference, timeouts.request),
                body_untouched: !has_body,
            });
        }
    }

    /// Writes the request head and body to the server.
    async fn send(
        &mut self,
        conn: &mut UpstreamConn,
        head: &RequestHead,
        up_head: &[u8],
        scratch: &mut Vec<u8>,
    ) -> Result<(), Failure> {
        if head.framing == Framing::Empty {
            return conn.io.write_all(up_head).await.map_err(Failure::Send);
        }
        if head.expect_continue && self.buf.is_empty() {
            self.io
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .map_err(Failure::Client)?;
        }
        let encode = if head.framing == Framing::Chunked {
            Encode::Chunked
        } else {
            Encode::Raw
        };
        pump(
            self.io,
            self.buf,
            head.framing,
            &mut conn.io,
            encode,
            up_head,
            scratch,
            self.body_timeout,
            Paced::Source(self.pace.as_mut()),
            &mut |_| {},
        )
        .await
        .map(|_| ())
        .map_err(|e| match e {
            PumpError::Write(e) => Failure::Send(e),
            PumpError::Read(e) => Failure::Client(e),
            PumpError::Chunk(e) => Failure::Client(io::Error::new(io::ErrorKind::InvalidData, e)),
        })
    }
}

/// How sending a request or reading its answer failed.
enum Failure {
    /// Writing to the server failed.
    Send(io::Error),
    /// The client failed while its body was being forwarded.
    Client(io::Error),
    /// Reading the answer failed; `answered`: some bytes of it had come.
    Receive {
        source: io::Error,
        answered: bool,
    },
    Invalid(&'static str),
    TimedOut,
    Drained,
}

impl Failure {
    fn before_any_answer(&self) -> bool {
        matches!(
            self,
            Failure::Send(_)
                | Failure::Receive {
                    answered: false,
                    ..
                }
        )
    }

    fn into_error(self, server: &crate::error::ServerRef, timeout: Duration) -> ProxyError {
        let server = server.clone();
        match self {
            Failure::Send(source) | Failure::Receive { source, .. } => {
                ProxyError::Reset { server, source }
            }
            Failure::Client(source) => ProxyError::ClientBody { source },
            Failure::Invalid(detail) => ProxyError::InvalidResponse {
                server,
                detail: detail.to_string(),
            },
            Failure::TimedOut => ProxyError::Timeout { server, timeout },
            Failure::Drained => ProxyError::Drained { server },
        }
    }
}

/// Reads the server's response head, skipping interim (1xx) answers other than 101.
async fn read_response(
    conn: &mut UpstreamConn,
    head: &RequestHead,
    deadline: tokio::time::Instant,
    timer: &mut Timer,
) -> Result<ResponseHead, Failure> {
    let mut interim = false;
    loop {
        match parse_response(conn.buf.filled(), &head.method, &mut conn.headers) {
            Ok(Some(response)) => {
                if (100..200).contains(&response.status) && response.status != 101 {
                    conn.buf.consume(response.len);
                    interim = true;
                    continue;
                }
                if response.status == 101 && !head.upgrade {
                    return Err(Failure::Invalid(
                        "101 Switching Protocols to a request that asked for no upgrade",
                    ));
                }
                return Ok(response);
            }
            Ok(None) => {}
            Err(bad) => return Err(Failure::Invalid(bad.0)),
        }
        let answered = interim || !conn.buf.is_empty();
        let read = tokio::select! {
            read = conn.buf.read_from(&mut conn.io, MAX_RESPONSE_HEAD) => Ok(read),
            _ = timer.until(deadline) => Err(()),
        };
        match read {
            Err(()) => return Err(Failure::TimedOut),
            Ok(Ok(Some(0))) => {
                return Err(Failure::Receive {
                    source: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before message completed",
                    ),
                    answered,
                })
            }
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) => return Err(Failure::Invalid("response head larger than 64 KiB")),
            Ok(Err(source)) => return Err(Failure::Receive { source, answered }),
        }
    }
}
