//! Prometheus metrics of the data plane, registered into a registry the caller owns.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub pool: String,
    pub server: String,
    pub code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PoolLabels {
    pub pool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ServerLabels {
    pub pool: String,
    pub server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ListenerLabels {
    pub listener: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ErrorLabels {
    pub pool: String,
    pub server: String,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SpanDropLabels {
    pub reason: &'static str,
}

/// Upper bounds of the duration histograms' buckets, in seconds: 0.5 ms, doubling to 65.5 s.
pub const DURATION_BUCKETS: [f64; 18] = [
    0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048,
    4.096, 8.192, 16.384, 32.768, 65.536,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Every metric the proxy records. Cheap to clone; clones share values.
#[derive(Clone)]
pub struct Metrics {
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) duration: Family<PoolLabels, Histogram, fn() -> Histogram>,
    pub(crate) response_time: Family<ServerLabels, Histogram, fn() -> Histogram>,
    pub(crate) active: Family<ServerLabels, Gauge>,
    pub(crate) limit: Family<ServerLabels, Gauge>,
    pub(crate) errors: Family<ErrorLabels, Counter>,
    pub(crate) healthy: Family<ServerLabels, Gauge>,
    pub(crate) access_log_dropped: Counter,
    pub(crate) access_log_write_errors: Counter,
    pub(crate) connections: Family<ListenerLabels, Gauge>,
    pub(crate) connections_refused: Family<ListenerLabels, Counter>,
    pub(crate) spans_exported: Counter,
    pub(crate) spans_dropped: Family<SpanDropLabels, Counter>,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry` under the `switchyard_` prefix.
    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            response_time: Family::new_with_constructor(duration_histogram),
            active: Family::default(),
            limit: Family::default(),
            errors: Family::default(),
            healthy: Family::default(),
            access_log_dropped: Counter::default(),
            access_log_write_errors: Counter::default(),
            connections: Family::default(),
            connections_refused: Family::default(),
            spans_exported: Counter::default(),
            spans_dropped: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("switchyard");
        r.register(
            "requests",
            "Requests answered, by pool, server and status code",
            m.requests.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time from receiving a request to sending its response headers, by pool",
            m.duration.clone(),
        );
        r.register(
            "upstream_response_seconds",
            "Time from receiving a request to sending the response headers a server gave, by pool and server",
            m.response_time.clone(),
        );
        r.register(
            "upstream_active_connections",
            "Requests in flight to each server",
            m.active.clone(),
        );
        r.register(
            "upstream_connection_limit",
            "Concurrent-request limit of each server",
            m.limit.clone(),
        );
        r.register(
            "upstream_errors",
            "Requests the proxy failed, by pool, server and reason",
            m.errors.clone(),
        );
        r.register(
            "upstream_healthy",
            "1 when a server passes its pool's active health checks (or the pool has none), else 0",
            m.healthy.clone(),
        );
        r.register(
            "access_log_dropped",
            "Access-log lines dropped because the writer fell behind",
            m.access_log_dropped.clone(),
        );
        r.register(
            "access_log_write_errors",
            "Access-log batches that could not be written (disk full, closed pipe)",
            m.access_log_write_errors.clone(),
        );
        r.register(
            "listener_connections",
            "Client connections open on each listener",
            m.connections.clone(),
        );
        r.register(
            "listener_connections_refused",
            "Client connections closed at once because the listener was at max_connections",
            m.connections_refused.clone(),
        );
        r.register(
            "tracing_spans_exported",
            "Spans the OTLP collector accepted",
            m.spans_exported.clone(),
        );
        r.register(
            "tracing_spans_dropped",
            "Spans not exported: queue_full (the exporter fell behind) or export_failed (the collector refused, failed or timed out)",
            m.spans_dropped.clone(),
        );
        m
    }
}
