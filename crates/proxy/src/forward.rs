//! The life of one request from an HTTP/2 client (served by hyper): route, pick a server,
//! forward through the pool's client, retry when the [`RetryPolicy`] allows, stream the answer
//! back, and explain any failure, with the phases shared with the HTTP/1 engine
//! ([`crate::outcome`]).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, HOST};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;

use crate::access_log::{AccessRecord, Timestamp};
use crate::body::{Completion, ResponseBody};
use crate::error::ProxyError;
use crate::headers::{self, X_REQUEST_ID};
use crate::otel::{self, AttemptEnd, Traced};
use crate::outcome::{self, RequestView};
use crate::pool::Pool;
use crate::retry::{Attempted, RetryPolicy};
use crate::worker::ConnInfo;
use crate::Shared;

/// Per-request facts shared by the success and failure paths.
struct Ctx<'a> {
    shared: &'a Shared,
    conn: &'a ConnInfo,
    started: Instant,
    ts: Timestamp,
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
        ts: Timestamp::now(),
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
            None,
            ProxyError::NoRoute {
                listener: conn.listener.to_string(),
                host: ctx.host.clone(),
                path: ctx.path.clone(),
            },
            &[],
        );
    };
    drop(runtime);
    let tracestate = match &shared.tracing {
        Some(_) => req
            .headers()
            .get("tracestate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        None => None,
    };
    let traced = shared.tracing.as_ref().map(|t| {
        let parent = req.headers().get("traceparent").map(|v| v.as_bytes());
        t.begin(parent, tracestate.as_deref(), started)
    });
    ctx.forward(&pool, req, traced).await
}

impl Ctx<'_> {
    fn view(&self) -> RequestView<'_> {
        RequestView {
            listener: &self.conn.listener,
            client: self.conn.client,
            started: self.started,
            ts: self.ts,
            request_id: &self.request_id,
            method: self.method.as_str(),
            path: &self.path,
            host: &self.host,
            protocol: version_name(self.version),
        }
    }

    async fn forward(
        &self,
        pool: &Arc<Pool>,
        req: Request<Incoming>,
        mut traced: Option<Traced<'_>>,
    ) -> Response<ResponseBody> {
        let (mut parts, body) = req.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers);
        headers::set_forwarded(
            &mut parts.headers,
            &self.conn.client_ip,
            if self.conn.tls { "https" } else { "http" },
            self.conn.trusted,
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
        // hyper's client takes the body with the request, so only a request without a body can
        // be sent again; the headers are copied only when that can happen.
        let bodiless = http_body::Body::is_end_stream(&body);
        let may_retry = bodiless
            && pool.config.retries > 0
            && pool.servers.iter().filter(|s| s.in_rotation).count() > 1;
        let policy = RetryPolicy {
            retries: pool.config.retries,
        };
        let mut body = Some(body);
        let mut tried: Vec<usize> = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        loop {
            let (index, lease) = match pool.acquire(&tried).await {
                Ok(found) => found,
                Err(e) => return self.fail(Some(pool), traced.as_ref(), e, &failures),
            };
            let server = &pool.servers[index];
            let mut uri = http::uri::Parts::default();
            uri.scheme = Some(Scheme::HTTP);
            uri.authority = Some(server.state.authority.clone());
            uri.path_and_query = Some(path_and_query.clone());
            let mut upstream_req = Request::new(match body.take() {
                Some(b) if !bodiless => b.map_err(Into::into).boxed(),
                _ => Empty::new().map_err(|never| match never {}).boxed(),
            });
            *upstream_req.method_mut() = parts.method.clone();
            *upstream_req.uri_mut() = Uri::from_parts(uri).expect("scheme, authority and path");
            *upstream_req.headers_mut() = if may_retry {
                parts.headers.clone()
            } else {
                std::mem::take(&mut parts.headers)
            };
            if let Some(t) = &mut traced {
                let value = t.next_attempt(index);
                if let Ok(v) = HeaderValue::from_bytes(&value) {
                    upstream_req.headers_mut().insert("traceparent", v);
                }
            }
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
            if let Some(t) = &mut traced {
                t.trace.end(match &result {
                    Ok(resp) => AttemptEnd::Answered(resp.status().as_u16()),
                    Err(e) => AttemptEnd::Failed(e.code()),
                });
            }
            match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    outcome::answered(self.shared, pool, index, status, &self.view());
                    if let (Some(t), Some(tracing)) = (&traced, &self.shared.tracing) {
                        // The span ends with the response head: hyper streams the body on.
                        tracing.finish(
                            t,
                            &self.view(),
                            otel::Outcome {
                                status,
                                pool: Some(pool),
                                server: Some(&server.state.reference),
                                error: None,
                                earlier: &failures,
                                last_error: None,
                                tls: self.conn.tls,
                            },
                        );
                    }
                    return self.respond(pool, lease, tried.len() as u32 + 1, resp);
                }
                Err(e) => {
                    drop(lease);
                    outcome::attempt_failed(pool, index, &e);
                    tried.push(index);
                    let at = Attempted {
                        attempts: tried.len() as u32,
                        body_untouched: bodiless,
                        another_server: pool
                            .servers
                            .iter()
                            .enumerate()
                            .any(|(i, s)| s.in_rotation && !tried.contains(&i)),
                    };
                    if !may_retry || !policy.retry_elsewhere(&e, at) {
                        return self.fail(Some(pool), traced.as_ref(), e, &failures);
                    }
                    outcome::retrying(self.shared, pool, index, &e, &self.view());
                    failures.push(e.to_string());
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
        traced: Option<&Traced<'_>>,
        err: ProxyError,
        earlier: &[String],
    ) -> Response<ResponseBody> {
        let explained =
            outcome::explain(self.shared, &self.view(), pool.map(|p| &**p), &err, earlier);
        let server = err.server();
        if let (Some(t), Some(tracing)) = (traced, &self.shared.tracing) {
            tracing.finish(
                t,
                &self.view(),
                otel::Outcome {
                    status: explained.status.as_u16(),
                    pool: pool.map(|p| &**p),
                    server,
                    error: Some((explained.code, &explained.reason)),
                    earlier,
                    last_error: Some(&err),
                    tls: self.conn.tls,
                },
            );
        }
        let record = self.record(explained.status.as_u16()).map(|mut r| {
            r.pool = pool.map(|p| p.name().to_string());
            r.server = server.map(|s| s.name.clone());
            r.server_address = server.map(|s| s.address.to_string());
            r.attempts = earlier.len() as u32 + u32::from(server.is_some());
            r.error = Some(explained.code);
            r
        });
        self.local(explained.status, explained.body, record)
    }

    fn bad_request(&self, reason: &str) -> Response<ResponseBody> {
        let body = outcome::refused(&self.view(), 400, reason);
        let record = self.record(400).map(|mut r| {
            r.error = Some("bad_request");
            r
        });
        self.local(StatusCode::BAD_REQUEST, body, record)
    }

    fn local(
        &self,
        status: StatusCode,
        body: Vec<u8>,
        record: Option<AccessRecord>,
    ) -> Response<ResponseBody> {
        let done = self.completion(record, None);
        let mut resp = Response::new(ResponseBody::local(Bytes::from(body), Some(done)));
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
            ts: AccessRecord::timestamp(self.ts),
            request_id: self.request_id.clone(),
            client: self.conn.client.to_string(),
            listener: self.conn.listener.to_string(),
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
