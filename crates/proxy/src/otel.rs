//! OpenTelemetry spans out of the proxy (`[tracing]`): one server span per request and one
//! client span per upstream attempt, exported over OTLP/HTTP.
//!
//! The request path pays for a sampling decision taken once from the client's `traceparent`
//! (or the configured ratio), a few random ids, a rewritten `traceparent` header and plain
//! fields in [`RequestTrace`]. Only a request whose spans will be exported (sampled, or failed
//! under `always_sample_errors`) copies anything out, into a bounded queue that never blocks;
//! the spans themselves are built and posted on the exporter task ([`export`]).

mod context;
mod export;
mod record;
mod spans;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::SystemTime;

use prometheus_client::metrics::counter::Counter;
use switchyard_config::TracingConfig;
use tokio::sync::Notify;

pub(crate) use context::{
    new_span_id, new_trace_id, parse_traceparent, set_parent, trace_hex, write_traceparent, Parent,
    Sampler, TraceHead,
};
pub use export::TracingError;
pub(crate) use record::{AttemptEnd, RequestTrace};

use crate::error::ServerRef;
use crate::metrics::{Metrics, SpanDropLabels};
use crate::outcome::RequestView;
use crate::pool::Pool;
use export::Exporter;
use record::{AttemptServer, Finished, FinishedAttempt};

/// Span export of a running proxy.
pub(crate) struct Tracing {
    pub sampler: Sampler,
    always_errors: bool,
    queue: SyncSender<Finished>,
    queue_full: Counter,
    /// The config version spans are labelled with.
    version: AtomicU64,
    flush: Arc<Notify>,
    flushed: Arc<Notify>,
}

/// The trace of a request in flight and the `tracestate` it came with.
pub(crate) struct Traced<'a> {
    pub trace: RequestTrace,
    pub tracestate: Option<&'a str>,
}

impl<'a> Traced<'a> {
    /// Opens the next attempt on server `server` with a new span id, and gives the
    /// `traceparent` value that names it, for the upstream request.
    pub fn next_attempt(&mut self, server: usize) -> [u8; context::TRACEPARENT_LEN] {
        let span = new_span_id();
        self.trace.begin(server, span);
        write_traceparent(self.trace.trace_id, span, self.trace.sampled)
    }

    /// Starts tracing a request whose head had trace context; `text` reads the forwarded head.
    pub fn start(
        head: &TraceHead,
        started: std::time::Instant,
        text: impl Fn(&std::ops::Range<usize>) -> &'a str,
    ) -> Traced<'a> {
        Traced {
            trace: RequestTrace::start(head, started),
            tracestate: head.tracestate.as_ref().map(text),
        }
    }
}

/// How a traced request ended.
pub(crate) struct Outcome<'a> {
    pub status: u16,
    pub pool: Option<&'a Pool>,
    pub server: Option<&'a ServerRef>,
    /// The proxy's error code and its explained reason, when it failed the request.
    pub error: Option<(&'static str, &'a str)>,
    /// Why each retried attempt failed, in order.
    pub earlier: &'a [String],
    /// Why the last attempt failed, when it did.
    pub last_error: Option<&'a crate::error::ProxyError>,
    pub tls: bool,
}

impl Tracing {
    /// Starts the exporter task on the current Tokio runtime.
    pub fn start(config: &TracingConfig, metrics: &Metrics) -> Result<Tracing, TracingError> {
        let (queue, rx) = sync_channel(export::QUEUE_REQUESTS);
        let exporter = Exporter::new(config, rx, metrics.clone())?;
        let (flush, flushed) = (exporter.flush.clone(), exporter.flushed.clone());
        tokio::spawn(exporter.run());
        Ok(Tracing {
            sampler: Sampler::new(config.sample.0),
            always_errors: config.always_sample_errors,
            queue,
            queue_full: metrics
                .spans_dropped
                .get_or_create(&SpanDropLabels {
                    reason: "queue_full",
                })
                .clone(),
            version: AtomicU64::new(0),
            flush,
            flushed,
        })
    }

    /// Starts the trace of a request whose headers were parsed by hyper (HTTP/2 clients):
    /// continues its `traceparent` when valid, else starts a trace sampled by the ratio.
    pub fn begin<'a>(
        &self,
        traceparent: Option<&[u8]>,
        tracestate: Option<&'a str>,
        started: std::time::Instant,
    ) -> Traced<'a> {
        let parent = traceparent.and_then(parse_traceparent);
        let trace_id = parent.map_or_else(new_trace_id, |p| p.trace_id);
        let sampled = self.sampler.sampled(parent.as_ref(), trace_id);
        Traced {
            trace: RequestTrace::new(trace_id, parent.map(|p| p.span_id), sampled, started),
            tracestate,
        }
    }

    pub fn set_version(&self, version: u64) {
        self.version.store(version, Ordering::Relaxed);
    }

    /// Exports what is queued now and waits for it (at most `timeout`).
    pub async fn flush(&self, timeout: std::time::Duration) {
        let done = self.flushed.notified();
        tokio::pin!(done);
        done.as_mut().enable();
        self.flush.notify_one();
        let _ = tokio::time::timeout(timeout, done).await;
    }

    /// Ends a request's trace: queues its spans when it was sampled, or failed and errors are
    /// always exported. Nothing is copied for a request that is not exported.
    pub fn finish(&self, traced: &Traced<'_>, view: &RequestView<'_>, out: Outcome<'_>) {
        let trace = &traced.trace;
        let failed = out.error.is_some() || out.status >= 500;
        let exported = trace.sampled || (self.always_errors && failed);
        if !exported {
            return;
        }
        let duration = trace.started.elapsed();
        let marks = trace.attempts();
        let mut earlier = out.earlier.iter();
        let attempts = marks
            .iter()
            .map(|m| {
                let server = out
                    .pool
                    .and_then(|p| p.servers.get(m.server as usize))
                    .map_or_else(
                        || AttemptServer {
                            name: String::new(),
                            address: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
                        },
                        |s| AttemptServer {
                            name: s.state.name.clone(),
                            address: s.state.address,
                        },
                    );
                let reason = match m.outcome {
                    AttemptEnd::Failed(_) => earlier
                        .next()
                        .cloned()
                        .or_else(|| out.last_error.map(ToString::to_string)),
                    _ => None,
                };
                FinishedAttempt {
                    mark: *m,
                    server,
                    reason,
                }
            })
            .collect();
        let finished = Finished {
            trace_id: trace.trace_id,
            parent: trace.parent,
            span_id: trace.span_id,
            sampled: trace.sampled,
            start: SystemTime::now() - duration,
            duration,
            method: view.method.to_string(),
            path: view.path.to_string(),
            host: view.host.to_string(),
            scheme: if out.tls { "https" } else { "http" },
            protocol: view.protocol,
            upstream_protocol: match out.pool.map(|p| p.config.protocol) {
                Some(switchyard_config::UpstreamProtocol::H2c) => "2",
                _ => "1.1",
            },
            client: view.client,
            listener: view.listener.to_string(),
            request_id: view.request_id.to_string(),
            tracestate: traced.tracestate.map(str::to_string),
            status: out.status,
            pool: out.pool.map(|p| p.name().to_string()),
            server: out.server.map(|s| s.name.clone()),
            version: self.version.load(Ordering::Relaxed),
            error: out.error.map(|(code, reason)| (code, reason.to_string())),
            attempts,
        };
        let spans = 1 + finished.attempts.len() as u64;
        match self.queue.try_send(finished) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.queue_full.inc_by(spans);
            }
        }
    }
}
