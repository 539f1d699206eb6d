//! The exporter: finished requests queue in a bounded channel that the request path only ever
//! `try_send`s into (a full queue drops and counts, it never waits), and a task on the
//! control runtime drains it every [`EXPORT_EVERY`], turns requests into spans and posts them
//! in batches over OTLP/HTTP. A collector that is down or slow costs the request path nothing:
//! its batches fail or time out on the task, and their spans are counted as dropped.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SpanExporter as _;
use opentelemetry_sdk::Resource;
use switchyard_config::TracingConfig;
use tokio::sync::Notify;

use super::record::Finished;
use super::spans::spans_of;
use crate::metrics::{Metrics, SpanDropLabels};

/// How often queued requests are exported.
pub(crate) const EXPORT_EVERY: Duration = Duration::from_millis(250);
/// Requests queued for export before new ones are dropped.
pub(crate) const QUEUE_REQUESTS: usize = 4096;
/// Most spans posted in one request to the collector.
const BATCH_SPANS: usize = 512;
/// Longest one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the exporter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("could not set up span export to {endpoint}: {source}")]
pub struct TracingError {
    endpoint: String,
    #[source]
    source: opentelemetry_otlp::ExporterBuildError,
}

pub(crate) struct Exporter {
    inner: opentelemetry_otlp::SpanExporter,
    scope: InstrumentationScope,
    /// Locked only by this task, never across an await; the mutex makes the task `Send`.
    queue: Mutex<Receiver<Finished>>,
    metrics: Metrics,
    /// Asks for an export now (at shutdown).
    pub flush: Arc<Notify>,
    pub flushed: Arc<Notify>,
}

impl Exporter {
    pub fn new(
        config: &TracingConfig,
        queue: Receiver<Finished>,
        metrics: Metrics,
    ) -> Result<Exporter, TracingError> {
        let endpoint = config.traces_url();
        let mut inner = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .with_headers(config.headers.clone().into_iter().collect())
            .build()
            .map_err(|source| TracingError { endpoint, source })?;
        inner.set_resource(
            &Resource::builder_empty()
                .with_service_name(config.service_name.clone())
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        );
        let scope = InstrumentationScope::builder("switchyard")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Ok(Exporter {
            inner,
            scope,
            queue: Mutex::new(queue),
            metrics,
            flush: Arc::new(Notify::new()),
            flushed: Arc::new(Notify::new()),
        })
    }

    /// Exports until every sender is gone.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(EXPORT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let flushing = tokio::select! {
                _ = tick.tick() => false,
                _ = self.flush.notified() => true,
            };
            let open = self.drain().await;
            if flushing {
                self.flushed.notify_waiters();
            }
            if !open {
                return;
            }
        }
    }

    /// Exports everything queued now; false once the queue is closed.
    async fn drain(&self) -> bool {
        loop {
            let (batch, open) = self.take(BATCH_SPANS);
            let full = batch.len() >= BATCH_SPANS;
            self.post(batch).await;
            if !open {
                return false;
            }
            if !full {
                return true;
            }
        }
    }

    /// Takes queued requests as spans, up to about `limit` of them; false once the queue is
    /// closed and empty.
    fn take(&self, limit: usize) -> (Vec<opentelemetry_sdk::trace::SpanData>, bool) {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let mut batch = Vec::new();
        while batch.len() < limit {
            match queue.try_recv() {
                Ok(finished) => spans_of(finished, &self.scope, &mut batch),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return (batch, false),
            }
        }
        (batch, true)
    }

    async fn post(&self, batch: Vec<opentelemetry_sdk::trace::SpanData>) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let result = tokio::time::timeout(EXPORT_TIMEOUT, self.inner.export(batch)).await;
        match result {
            Ok(Ok(())) => {
                self.metrics.spans_exported.inc_by(n);
            }
            Ok(Err(e)) => {
                self.dropped("export_failed", n);
                tracing::debug!("span export failed, {n} spans dropped: {e}");
            }
            Err(_) => {
                self.dropped("export_failed", n);
                tracing::debug!(
                    "span export timed out after {EXPORT_TIMEOUT:?}, {n} spans dropped"
                );
            }
        }
    }

    fn dropped(&self, reason: &'static str, n: u64) {
        self.metrics
            .spans_dropped
            .get_or_create(&SpanDropLabels { reason })
            .inc_by(n);
    }
}
