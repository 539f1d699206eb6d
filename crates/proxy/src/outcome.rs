//! The last phases of a request, the same for every protocol: what is recorded when a server's
//! answer is passed on ([`answered`]), how a failure of the proxy's own is counted, logged and
//! explained to the client ([`explain`]), and the access-log line written when the response is
//! complete ([`RequestView::entry`]).

use std::net::SocketAddr;
use std::time::Instant;

use http::StatusCode;

use crate::access_log::{Entry, Timestamp};
use crate::error::{ProxyError, ServerRef};
use crate::metrics::{ErrorLabels, PoolLabels, RequestLabels};
use crate::pool::Pool;
use crate::stats::now_second;
use crate::Shared;

/// What the phases need to know about the request; borrowed from wherever it was parsed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestView<'a> {
    pub listener: &'a str,
    pub client: SocketAddr,
    pub started: Instant,
    pub ts: Timestamp,
    pub request_id: &'a str,
    pub method: &'a str,
    /// Path without the query.
    pub path: &'a str,
    /// Lowercase, without port.
    pub host: &'a str,
    pub protocol: &'static str,
}

/// How a request ended, for its access-log line.
#[derive(Debug, Default)]
pub(crate) struct Ending<'a> {
    pub status: u16,
    pub pool: Option<&'a str>,
    pub server: Option<&'a ServerRef>,
    pub upstream_status: Option<u16>,
    pub bytes_sent: u64,
    pub attempts: u32,
    pub error: Option<&'static str>,
    /// The W3C trace id, when spans are exported.
    pub trace_id: Option<u128>,
}

impl<'a> RequestView<'a> {
    /// The access-log line of this request.
    pub fn entry(&self, end: &Ending<'a>) -> Entry<'a> {
        Entry {
            ts: self.ts,
            request_id: self.request_id,
            client: self.client,
            listener: self.listener,
            method: self.method,
            path: self.path,
            host: self.host,
            protocol: self.protocol,
            status: end.status,
            pool: end.pool,
            server: end.server.map(|s| s.name.as_str()),
            server_address: end.server.map(|s| s.address),
            upstream_status: end.upstream_status,
            duration_ms: (self.started.elapsed().as_secs_f64() * 1e6).round() / 1000.0,
            bytes_sent: end.bytes_sent,
            attempts: end.attempts,
            error: end.error,
            trace_id: end.trace_id.map(crate::access_log::TraceId),
        }
    }
}

/// Records a server's answer with `status` as it is passed on to the client.
pub(crate) fn answered(
    shared: &Shared,
    pool: &Pool,
    index: usize,
    status: u16,
    view: &RequestView,
) {
    let server = &pool.servers[index].state;
    let failure = pool
        .is_outlier_failure(status)
        .then(|| format!("answered {status}"));
    pool.observe(index, failure);
    server.count_response(&shared.metrics, status);
    let second = now_second();
    pool.shared.history.record(second, status);
    server.record_outcome_at(
        second,
        (status >= 500).then(|| format!("answered {status} to {} {}", view.method, view.path)),
        (400..500).contains(&status),
    );
    let elapsed = view.started.elapsed().as_secs_f64();
    server.response_time.observe(elapsed);
    pool.duration.observe(elapsed);
}

/// Records an attempt that failed on a server (before any answer was passed on).
pub(crate) fn attempt_failed(pool: &Pool, index: usize, err: &ProxyError) {
    let server = &pool.servers[index].state;
    server.record_outcome(Some(err.to_string()));
    if !matches!(err, ProxyError::Drained { .. }) {
        pool.observe(index, Some(err.to_string()));
    }
}

/// Counts an attempt that will be retried on another server, and says so in the log.
pub(crate) fn retrying(
    shared: &Shared,
    pool: &Pool,
    index: usize,
    err: &ProxyError,
    view: &RequestView,
) {
    let server = &pool.servers[index].state;
    count_error(shared, pool.name(), &server.name, err.code());
    tracing::warn!(
        request_id = %view.request_id,
        service = pool.name(),
        server = %server.name,
        server_address = %server.address,
        reason = %err,
        "retrying {} {} on another server: {err}",
        view.method,
        view.path
    );
}

/// A failure the proxy answers itself.
pub(crate) struct Explained {
    pub status: StatusCode,
    /// The JSON body that says what failed.
    pub body: Vec<u8>,
    pub code: &'static str,
    /// The reason in words, as the body gives it.
    pub reason: String,
}

/// Counts, logs once and explains a failure: which service, which request, what was
/// expected, what came back, which server, and why.
pub(crate) fn explain(
    shared: &Shared,
    view: &RequestView,
    pool: Option<&Pool>,
    err: &ProxyError,
    earlier: &[String],
) -> Explained {
    let status = err.status();
    let service = pool.map(Pool::name);
    let server = err.server();
    let mut reason = err.to_string();
    if !earlier.is_empty() {
        reason.push_str(&format!(
            " (after {} failed attempt{}: {})",
            earlier.len(),
            if earlier.len() == 1 { "" } else { "s" },
            earlier.join("; ")
        ));
    }
    let request = format!("{} {}", view.method, view.path);
    let server_label = server.map(|s| s.name.as_str()).unwrap_or_default();
    if let Some(pool) = pool {
        pool.shared.history.record(now_second(), 0);
        count_error(shared, pool.name(), server_label, err.code());
        shared
            .metrics
            .requests
            .get_or_create(&RequestLabels {
                pool: pool.name().to_string(),
                server: server_label.to_string(),
                code: status.as_u16(),
            })
            .inc();
        shared
            .metrics
            .duration
            .get_or_create(&PoolLabels {
                pool: pool.name().to_string(),
            })
            .observe(view.started.elapsed().as_secs_f64());
    }
    tracing::warn!(
        request_id = %view.request_id,
        status = status.as_u16(),
        error = err.code(),
        service = service.unwrap_or(""),
        request = %request,
        server = server_label,
        server_address = %server.map(|s| s.address.to_string()).unwrap_or_default(),
        expected = %err.expected(),
        received = %err.received(),
        reason = %reason,
        "{} for {request}: {reason}",
        status.as_u16()
    );
    let body = serde_json::json!({
        "status": status.as_u16(),
        "error": err.code(),
        "service": service,
        "request": request,
        "server": server.map(|s| s.name.clone()),
        "server_address": server.map(|s| s.address.to_string()),
        "expected": err.expected(),
        "received": err.received(),
        "reason": &reason,
        "request_id": view.request_id,
    });
    Explained {
        status,
        body: json_body(&body),
        code: err.code(),
        reason,
    }
}

/// A request refused before it could be routed (malformed, unsupported), explained in JSON.
pub(crate) fn refused(view: &RequestView, status: u16, reason: &str) -> Vec<u8> {
    json_body(&serde_json::json!({
        "status": status,
        "error": "bad_request",
        "request": format!("{} {}", view.method, view.path),
        "reason": reason,
        "request_id": view.request_id,
    }))
}

fn json_body(value: &serde_json::Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

fn count_error(shared: &Shared, pool: &str, server: &str, reason: &'static str) {
    shared
        .metrics
        .errors
        .get_or_create(&ErrorLabels {
            pool: pool.to_string(),
            server: server.to_string(),
            reason,
        })
        .inc();
}
