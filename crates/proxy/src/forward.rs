//! The life of one proxied request: route, pick a server, forward, retry when that is safe,
//! stream the answer back, and explain any failure in the response, the log and the metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, HOST};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;

use crate::access_log::AccessRecord;
use crate::body::{Completion, ResponseBody};
use crate::error::ProxyError;
use crate::headers::{self, X_REQUEST_ID};
use crate::metrics::{ErrorLabels, PoolLabels, RequestLabels};
use crate::pool::Pool;
use crate::Shared;

/// What a connection knows about itself.
pub(crate) struct ConnInfo {
    pub listener: String,
    pub client: SocketAddr,
    pub tls: bool,
}

/// Per-request facts shared by the success and failure paths.
struct Ctx<'a> {
    shared: &'a Shared,
    conn: &'a ConnInfo,
    started: Instant,
    request_id: String,
    method: Method,
    path: String,
    host: String,
    version: Version,
}

pub(crate) async fn handle(
    shared: &Shared,
    conn: &ConnInfo,
    req: Request<Incoming>,
) -> Response<ResponseBody> {
    let started = Instant::now();
    let request_id = headers::request_id(req.headers());
    let host = request_host(&req);
    let ctx = Ctx {
        shared,
        conn,
        started,
        request_id,
        method: req.method().clone(),
        path: req.uri().path().to_string(),
        host: host.clone().unwrap_or_default(),
        version: req.version(),
    };
    if req.version() == Version::HTTP_11 && host.is_none() {
        return ctx.bad_request("an HTTP/1.1 request needs a Host header");
    }
    let runtime = shared.runtime.load();
    let Some(pool) = runtime
        .route(&conn.listener, host.as_deref(), &ctx.path)
        .cloned()
    else {
        return ctx.fail(
            None,
            ProxyError::NoRoute {
                listener: conn.listener.clone(),
                host: ctx.host.clone(),
                path: ctx.path.clone(),
            },
            &[],
        );
    };
    drop(runtime);
    ctx.forward(&pool, req).await
}

impl Ctx<'_> {
    async fn forward(&self, pool: &Arc<Pool>, req: Request<Incoming>) -> Response<ResponseBody> {
        let (mut parts, body) = req.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers);
        headers::append_forwarded(
            &mut parts.headers,
            &self.conn.client.ip().to_string(),
            if self.conn.tls { "https" } else { "http" },
        );
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            parts.headers.insert(X_REQUEST_ID.clone(), v);
        }
        if !parts.headers.contains_key(HOST) {
            if let Some(authority) = parts.uri.authority() {
                if let Ok(v) = HeaderValue::from_str(authority.as_str()) {
                    parts.headers.insert(HOST, v);
                }
            }
        }
        let path_and_query = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        // Only a request that never reached a server can be retried, and only if sending it
        // again cannot change anything: an idempotent method and no body.
        let replayable = is_idempotent(&parts.method) && http_body::Body::is_end_stream(&body);
        // The headers are copied for each attempt only when a second attempt can happen.
        let may_retry = replayable
            && pool.config.retries > 0
            && pool.servers.iter().filter(|s| s.in_rotation).count() > 1;
        let mut body = Some(body);
        let mut tried: Vec<usize> = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        loop {
            let (index, lease) = match pool.acquire(&tried).await {
                Ok(found) => found,
                Err(e) => return self.fail(Some(pool), e, &failures),
            };
            let server = &pool.servers[index];
            let mut uri = http::uri::Parts::default();
            uri.scheme = Some(Scheme::HTTP);
            uri.authority = Some(server.state.authority.clone());
            uri.path_and_query = Some(path_and_query.clone());
            let mut upstream_req = Request::new(match body.take() {
                Some(b) if !replayable => b.boxed(),
                _ => Empty::new().map_err(|never| match never {}).boxed(),
            });
            *upstream_req.method_mut() = parts.method.clone();
            *upstream_req.uri_mut() = Uri::from_parts(uri).expect("scheme, authority and path");
            *upstream_req.headers_mut() = if may_retry {
                parts.headers.clone()
            } else {
                std::mem::take(&mut parts.headers)
            };
            let timeout = pool.config.timeouts.request;
            // A removed server whose drain time runs out wakes the requests still waiting on it.
            let closing = server.state.closing.notified();
            tokio::pin!(closing);
            closing.as_mut().enable();
            let result = tokio::select! {
                sent = tokio::time::timeout(timeout, pool.upstream.send(&server.state, upstream_req)) => {
                    sent.unwrap_or_else(|_| {
                        Err(ProxyError::Timeout {
                            server: server.state.server_ref(),
                            timeout,
                        })
                    })
                }
                _ = closing => Err(ProxyError::Drained {
                    server: server.state.server_ref(),
                }),
            };
            match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let failure = pool
                        .is_outlier_failure(status)
                        .then(|| format!("answered {status}"));
                    pool.observe(index, failure);
                    return self.respond(pool, lease, tried.len() as u32 + 1, resp);
                }
                Err(e) => {
                    drop(lease);
                    server.state.record_outcome(Some(e.to_string()));
                    if !matches!(e, ProxyError::Drained { .. }) {
                        pool.observe(index, Some(e.to_string()));
                    }
                    let another_left = pool
                        .servers
                        .iter()
                        .enumerate()
                        .any(|(i, s)| s.in_rotation && i != index && !tried.contains(&i));
                    let can_retry = e.connect_failed()
                        && replayable
                        && another_left
                        && (tried.len() as u32) < pool.config.retries;
                    if !can_retry {
                        return self.fail(Some(pool), e, &failures);
                    }
                    self.count_error_labels(pool.name(), &server.state.name, e.code());
                    tracing::warn!(
                        request_id = %self.request_id,
                        service = pool.name(),
                        server = %server.state.name,
                        server_address = %server.state.address,
                        reason = %e,
                        "retrying {} {} on another server: {e}",
                        self.method,
                        self.path
                    );
                    failures.push(e.to_string());
                    tried.push(index);
                }
            }
        }
    }

    fn respond(
        &self,
        pool: &Pool,
        lease: crate::server::Lease,
        attempts: u32,
        resp: Response<Incoming>,
    ) -> Response<ResponseBody> {
        let (mut parts, body) = resp.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers);
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            parts.headers.insert(X_REQUEST_ID.clone(), v);
        }
        let status = parts.status.as_u16();
        let server = lease.server.clone();
        server.count_response(&self.shared.metrics, status);
        pool.shared
            .history
            .record(crate::stats::now_second(), status);
        server.record_outcome(
            (status >= 500).then(|| format!("answered {status} to {} {}", self.method, self.path)),
        );
        pool.duration.observe(self.started.elapsed().as_secs_f64());
        let record = self.record(status).map(|mut r| {
            r.pool = Some(pool.name().to_string());
            r.server = Some(server.name.clone());
            r.server_address = Some(server.address.to_string());
            r.upstream_status = Some(status);
            r.attempts = attempts;
            r
        });
        let done = self.completion(record, Some(lease));
        Response::from_parts(parts, ResponseBody::upstream(body, done))
    }

    /// Answers with the proxy's own error: JSON body, one log line, metrics.
    fn fail(
        &self,
        pool: Option<&Arc<Pool>>,
        err: ProxyError,
        earlier: &[String],
    ) -> Response<ResponseBody> {
        let status = err.status();
        let service = pool.map(|p| p.name().to_string());
        let server = err.server().cloned();
        let mut reason = err.to_string();
        if !earlier.is_empty() {
            reason.push_str(&format!(
                " (after {} failed attempt{}: {})",
                earlier.len(),
                if earlier.len() == 1 { "" } else { "s" },
                earlier.join("; ")
            ));
        }
        let request = format!("{} {}", self.method, self.path);
        let pool_label = service.clone().unwrap_or_default();
        let server_label = server.as_ref().map(|s| s.name.clone()).unwrap_or_default();
        if let Some(pool) = pool {
            pool.shared.history.record(crate::stats::now_second(), 0);
        }
        if pool.is_some() {
            self.count_error_labels(&pool_label, &server_label, err.code());
            self.observe(&pool_label, &server_label, status.as_u16());
        }
        tracing::warn!(
            request_id = %self.request_id,
            status = status.as_u16(),
            error = err.code(),
            service = service.as_deref().unwrap_or(""),
            request = %request,
            server = server.as_ref().map(|s| s.name.as_str()).unwrap_or(""),
            server_address = %server.as_ref().map(|s| s.address.to_string()).unwrap_or_default(),
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
            "server": server.as_ref().map(|s| s.name.clone()),
            "server_address": server.as_ref().map(|s| s.address.to_string()),
            "expected": err.expected(),
            "received": err.received(),
            "reason": reason,
            "request_id": self.request_id,
        });
        let record = self.record(status.as_u16()).map(|mut r| {
            r.pool = service;
            r.server = server.as_ref().map(|s| s.name.clone());
            r.server_address = server.as_ref().map(|s| s.address.to_string());
            r.attempts = earlier.len() as u32 + u32::from(server.is_some());
            r.error = Some(err.code());
            r
        });
        self.local(status, body, record)
    }

    fn bad_request(&self, reason: &str) -> Response<ResponseBody> {
        let body = serde_json::json!({
            "status": 400,
            "error": "bad_request",
            "request": format!("{} {}", self.method, self.path),
            "reason": reason,
            "request_id": self.request_id,
        });
        let record = self.record(400).map(|mut r| {
            r.error = Some("bad_request");
            r
        });
        self.local(StatusCode::BAD_REQUEST, body, record)
    }

    fn local(
        &self,
        status: StatusCode,
        body: serde_json::Value,
        record: Option<AccessRecord>,
    ) -> Response<ResponseBody> {
        let mut bytes = serde_json::to_vec_pretty(&body).expect("json values serialize");
        bytes.push(b'\n');
        let done = self.completion(record, None);
        let mut resp = Response::new(ResponseBody::local(Bytes::from(bytes), Some(done)));
        *resp.status_mut() = status;
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            resp.headers_mut().insert(X_REQUEST_ID.clone(), v);
        }
        resp
    }

    fn completion(
        &self,
        record: Option<AccessRecord>,
        lease: Option<crate::server::Lease>,
    ) -> Completion {
        Completion {
            started: self.started,
            record,
            log: self.shared.access_log.clone(),
            lease,
            bytes: 0,
            complete: false,
            body_error: false,
        }
    }

    /// The access-log record, or `None` when the access log is off.
    fn record(&self, status: u16) -> Option<AccessRecord> {
        if !self.shared.access_log.is_on() {
            return None;
        }
        Some(AccessRecord {
            ts: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            request_id: self.request_id.clone(),
            client: self.conn.client.to_string(),
            listener: self.conn.listener.clone(),
            method: self.method.to_string(),
            path: self.path.clone(),
            host: self.host.clone(),
            protocol: version_name(self.version),
            status,
            pool: None,
            server: None,
            server_address: None,
            upstream_status: None,
            duration_ms: 0.0,
            bytes_sent: 0,
            attempts: 0,
            error: None,
        })
    }

    fn observe(&self, pool: &str, server: &str, status: u16) {
        let m = &self.shared.metrics;
        m.requests
            .get_or_create(&RequestLabels {
                pool: pool.to_string(),
                server: server.to_string(),
                code: status,
            })
            .inc();
        m.duration
            .get_or_create(&PoolLabels {
                pool: pool.to_string(),
            })
            .observe(self.started.elapsed().as_secs_f64());
    }

    fn count_error_labels(&self, pool: &str, server: &str, reason: &'static str) {
        self.shared
            .metrics
            .errors
            .get_or_create(&ErrorLabels {
                pool: pool.to_string(),
                server: server.to_string(),
                reason,
            })
            .inc();
    }
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// The host a request is for, lowercase, without port: from `Host`, else the URI authority.
fn request_host<B>(req: &Request<B>) -> Option<String> {
    let raw = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_string()))?;
    let authority: Authority = raw.parse().ok()?;
    Some(authority.host().to_ascii_lowercase())
}

fn version_name(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/?",
    }
}
