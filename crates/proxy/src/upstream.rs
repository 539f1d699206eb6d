//! Pooled connections to upstream servers (hyper-util's client) and the translation of its
//! failures into [`ProxyError`]s that say what happened.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use switchyard_config::{PoolConfig, UpstreamProtocol};

use crate::error::{ProxyError, ServerRef};
use crate::server::ServerState;

/// Body type sent upstream: the client's streamed body, or nothing.
pub(crate) type UpstreamBody = BoxBody<Bytes, crate::body::BoxError>;

/// What makes two pools' clients interchangeable; a client is kept across config versions
/// while its key stays the same, so idle connections survive a swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct UpstreamKey {
    pub protocol: UpstreamProtocol,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
}

impl UpstreamKey {
    pub fn of(pool: &PoolConfig) -> Self {
        UpstreamKey {
            protocol: pool.protocol,
            connect_timeout: pool.timeouts.connect,
            idle_timeout: pool.timeouts.idle,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Upstream {
    pub key: UpstreamKey,
    client: Client<HttpConnector, UpstreamBody>,
}

impl Upstream {
    pub fn new(key: UpstreamKey) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(key.connect_timeout));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(key.idle_timeout)
            .http2_only(key.protocol == UpstreamProtocol::H2c);
        Upstream {
            key,
            client: builder.build(connector),
        }
    }

    pub async fn send(
        &self,
        server: &ServerState,
        req: Request<UpstreamBody>,
    ) -> Result<Response<Incoming>, ProxyError> {
        self.client
            .request(req)
            .await
            .map_err(|e| classify(&server.server_ref(), self.key.connect_timeout, &e))
    }
}

/// Turns a client error into the variant that names what went wrong.
pub(crate) fn classify(
    server: &ServerRef,
    connect_timeout: Duration,
    err: &hyper_util::client::legacy::Error,
) -> ProxyError {
    let server = server.clone();
    let io_err = find_io_error(err);
    if err.is_connect() {
        return match io_err.map(io::Error::kind) {
            Some(io::ErrorKind::ConnectionRefused) => ProxyError::ConnectRefused { server },
            Some(io::ErrorKind::TimedOut) => ProxyError::ConnectTimeout {
                server,
                timeout: connect_timeout,
            },
            _ => ProxyError::Connect {
                server,
                source: io::Error::other(chain(err)),
            },
        };
    }
    let hyper_err = find::<hyper::Error>(err);
    if hyper_err.is_some_and(|h| h.is_parse() || h.is_parse_status()) {
        return ProxyError::InvalidResponse {
            server,
            detail: chain(err),
        };
    }
    ProxyError::Reset {
        server,
        source: io::Error::other(chain(err)),
    }
}

fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

fn find_io_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    find::<io::Error>(err)
}

/// "connection closed before message completed" rather than a bare "client error (SendRequest)".
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.contains(&s) {
            parts.push(s);
        }
        cur = e.source();
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}
