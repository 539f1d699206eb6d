//! What a request records for its spans while it runs: plain fields (ids, offsets from the
//! request's start, the server of each attempt), no allocation. Whether the spans are exported
//! is known only at the end; [`Finished`] is then built for those that are, and turned into
//! OTLP spans off the request path.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use super::context::{new_span_id, TraceHead};

/// Most attempts one request can make: `retries` is at most 10.
pub(crate) const MAX_ATTEMPTS: usize = 11;

/// How one attempt on a server ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum AttemptEnd {
    /// Still running (or the request ended while it ran).
    #[default]
    Open,
    /// The server answered with this status.
    Answered(u16),
    /// The attempt failed: the error's code.
    Failed(&'static str),
}

/// One attempt: its span id, which server (its index in the pool), and when, in microseconds
/// from the request's start (kept small: every request carries room for [`MAX_ATTEMPTS`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AttemptMark {
    pub span_id: u64,
    pub server: u32,
    pub start_us: u32,
    pub end_us: u32,
    pub outcome: AttemptEnd,
}

impl AttemptMark {
    pub fn start(&self) -> Duration {
        Duration::from_micros(self.start_us.into())
    }

    /// When the attempt ended; `None` while it was still open.
    pub fn end(&self) -> Option<Duration> {
        (self.outcome != AttemptEnd::Open).then(|| Duration::from_micros(self.end_us.into()))
    }
}

/// Microseconds since `started`, saturating.
fn micros_since(started: Instant) -> u32 {
    u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// The trace of one request in flight.
#[derive(Debug, Clone)]
pub(crate) struct RequestTrace {
    pub trace_id: u128,
    pub parent: Option<u64>,
    pub span_id: u64,
    pub sampled: bool,
    pub started: Instant,
    pub attempts: [AttemptMark; MAX_ATTEMPTS],
    pub count: usize,
}

impl RequestTrace {
    pub fn start(head: &TraceHead, started: Instant) -> RequestTrace {
        RequestTrace::new(head.trace_id, head.parent, head.sampled, started)
    }

    pub fn new(
        trace_id: u128,
        parent: Option<u64>,
        sampled: bool,
        started: Instant,
    ) -> RequestTrace {
        RequestTrace {
            trace_id,
            parent,
            span_id: new_span_id(),
            sampled,
            started,
            attempts: [AttemptMark::default(); MAX_ATTEMPTS],
            count: 0,
        }
    }

    /// Opens the next attempt on server `server`; `span_id` is the id sent upstream.
    pub fn begin(&mut self, server: usize, span_id: u64) {
        if self.count < MAX_ATTEMPTS {
            self.attempts[self.count] = AttemptMark {
                span_id,
                server: server as u32,
                start_us: micros_since(self.started),
                ..AttemptMark::default()
            };
            self.count += 1;
        }
    }

    /// Closes the attempt opened last.
    pub fn end(&mut self, outcome: AttemptEnd) {
        if let Some(a) = self.count.checked_sub(1).map(|i| &mut self.attempts[i]) {
            a.end_us = micros_since(self.started);
            a.outcome = outcome;
        }
    }

    /// The span id to send upstream on the next attempt: the one already written into the
    /// forwarded head for the first, a new one for each retry.
    pub fn next_span_id(&self, head: &TraceHead) -> u64 {
        if self.count == 0 {
            head.first_attempt
        } else {
            new_span_id()
        }
    }

    pub fn attempts(&self) -> &[AttemptMark] {
        &self.attempts[..self.count]
    }
}

/// A server an attempt went to, as the span names it.
#[derive(Debug, Clone)]
pub(crate) struct AttemptServer {
    pub name: String,
    pub address: SocketAddr,
}

/// One attempt with owned facts, for export.
#[derive(Debug, Clone)]
pub(crate) struct FinishedAttempt {
    pub mark: AttemptMark,
    pub server: AttemptServer,
    /// Why the attempt failed, in words.
    pub reason: Option<String>,
}

/// A request whose spans are to be exported, with everything they say.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub trace_id: u128,
    pub parent: Option<u64>,
    pub span_id: u64,
    pub sampled: bool,
    pub start: SystemTime,
    pub duration: Duration,
    pub method: String,
    pub path: String,
    pub host: String,
    pub scheme: &'static str,
    pub protocol: &'static str,
    /// The HTTP version spoken to the servers: "1.1", or "2" for h2c pools.
    pub upstream_protocol: &'static str,
    pub client: SocketAddr,
    pub listener: String,
    pub request_id: String,
    pub tracestate: Option<String>,
    pub status: u16,
    pub pool: Option<String>,
    pub server: Option<String>,
    pub version: u64,
    /// The proxy's error code and explained reason, when it failed the request.
    pub error: Option<(&'static str, String)>,
    pub attempts: Vec<FinishedAttempt>,
}
