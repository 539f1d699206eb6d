//! Why the proxy itself failed a request, with everything an operator needs to act on it.
//!
//! Each variant names the pool and server involved, what was expected and what came back.
//! [`ProxyError::status`] says which status the client gets, [`ProxyError::code`] is the short
//! label used in metrics and access logs, and [`ProxyError::connect_failed`] tells whether the
//! request never reached the server (the only case in which a retry is safe).

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;

/// A server named in an error: `inventory-1 (127.0.0.1:9101)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRef {
    pub name: String,
    pub address: SocketAddr,
}

impl std::fmt::Display for ServerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.address)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no route for host {host:?} and path {path:?} on listener {listener:?}")]
    NoRoute {
        listener: String,
        host: String,
        path: String,
    },
    #[error("could not connect to {server}: connection refused")]
    ConnectRefused { server: ServerRef },
    #[error("could not connect to {server}: connect timed out after {timeout:?}")]
    ConnectTimeout {
        server: ServerRef,
        timeout: Duration,
    },
    #[error("could not connect to {server}: {source}")]
    Connect {
        server: ServerRef,
        #[source]
        source: std::io::Error,
    },
    #[error("{server} sent no response headers within {timeout:?}")]
    Timeout {
        server: ServerRef,
        timeout: Duration,
    },
    #[error("{server} closed the connection before a complete response ({source})")]
    Reset {
        server: ServerRef,
        #[source]
        source: std::io::Error,
    },
    #[error("{server} sent an invalid HTTP response: {detail}")]
    InvalidResponse { server: ServerRef, detail: String },
    #[error("{server} was removed from rotation and its drain time ran out before it answered")]
    Drained { server: ServerRef },
    #[error("no healthy server in pool {pool}: {}", servers.join("; "))]
    NoHealthy { pool: String, servers: Vec<String> },
    #[error("pool has no server in rotation ({detail})")]
    NoServer { detail: String },
    #[error("all servers are at their connection limit ({usage}) and the queue is full ({waiting}/{queue} waiting)")]
    QueueFull {
        usage: String,
        waiting: u32,
        queue: u32,
    },
    #[error("the client's request body could not be read: {source}")]
    ClientBody {
        #[source]
        source: std::io::Error,
    },
    #[error("waited {waited:?} in the queue for a free server; all servers stayed at their connection limit ({usage})")]
    QueueTimeout { usage: String, waited: Duration },
}

impl ProxyError {
    /// The status the client receives.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ProxyError::ClientBody { .. } => StatusCode::BAD_REQUEST,
            ProxyError::ConnectRefused { .. }
            | ProxyError::Connect { .. }
            | ProxyError::Reset { .. }
            | ProxyError::Drained { .. }
            | ProxyError::InvalidResponse { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::ConnectTimeout { .. } | ProxyError::Timeout { .. } => {
                StatusCode::GATEWAY_TIMEOUT
            }
            ProxyError::NoServer { .. }
            | ProxyError::NoHealthy { .. }
            | ProxyError::QueueFull { .. }
            | ProxyError::QueueTimeout { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Short label for metrics and the access log's `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            ProxyError::NoRoute { .. } => "no_route",
            ProxyError::ClientBody { .. } => "client_body_error",
            ProxyError::ConnectRefused { .. } => "connect_refused",
            ProxyError::ConnectTimeout { .. } => "connect_timeout",
            ProxyError::Connect { .. } => "connect_error",
            ProxyError::Timeout { .. } => "timeout",
            ProxyError::Reset { .. } => "reset",
            ProxyError::InvalidResponse { .. } => "invalid_response",
            ProxyError::Drained { .. } => "drained",
            ProxyError::NoServer { .. } => "no_server",
            ProxyError::NoHealthy { .. } => "no_healthy_server",
            ProxyError::QueueFull { .. } => "queue_full",
            ProxyError::QueueTimeout { .. } => "queue_timeout",
        }
    }

    /// True when the request never reached the server, so another server may be tried.
    pub fn connect_failed(&self) -> bool {
        matches!(
            self,
            ProxyError::ConnectRefused { .. }
                | ProxyError::ConnectTimeout { .. }
                | ProxyError::Connect { .. }
        )
    }

    /// The server the failure happened on, if one was chosen.
    pub fn server(&self) -> Option<&ServerRef> {
        match self {
            ProxyError::ConnectRefused { server }
            | ProxyError::ConnectTimeout { server, .. }
            | ProxyError::Connect { server, .. }
            | ProxyError::Timeout { server, .. }
            | ProxyError::Reset { server, .. }
            | ProxyError::InvalidResponse { server, .. }
            | ProxyError::Drained { server } => Some(server),
            _ => None,
        }
    }

    /// What the proxy expected to happen.
    pub fn expected(&self) -> String {
        match self {
            ProxyError::NoRoute { .. } => "a route matching this host and path".into(),
            ProxyError::ClientBody { .. } => "a complete, well-formed request body".into(),
            ProxyError::ConnectRefused { server } | ProxyError::Connect { server, .. } => {
                format!("a TCP connection to {}", server.address)
            }
            ProxyError::ConnectTimeout { server, timeout } => {
                format!("a TCP connection to {} within {timeout:?}", server.address)
            }
            ProxyError::Timeout { timeout, .. } => {
                format!("HTTP response headers within {timeout:?}")
            }
            ProxyError::Reset { .. } | ProxyError::InvalidResponse { .. } => {
                "a complete HTTP response".into()
            }
            ProxyError::Drained { .. } => "response headers before the drain time ran out".into(),
            ProxyError::NoServer { .. } => "at least one server in rotation".into(),
            ProxyError::NoHealthy { pool, .. } => format!("a healthy server in pool {pool}"),
            ProxyError::QueueFull { .. } | ProxyError::QueueTimeout { .. } => {
                "a server below its connection limit".into()
            }
        }
    }

    /// What actually came back.
    pub fn received(&self) -> String {
        match self {
            ProxyError::NoRoute { .. } => "no matching route".into(),
            ProxyError::ClientBody { source } => source.to_string(),
            ProxyError::ConnectRefused { .. } => "connection refused".into(),
            ProxyError::ConnectTimeout { timeout, .. } => {
                format!("no answer to the connect after {timeout:?}")
            }
            ProxyError::Connect { source, .. } => source.to_string(),
            ProxyError::Timeout { timeout, .. } => {
                format!("nothing after {timeout:?}")
            }
            ProxyError::Reset { source, .. } => source.to_string(),
            ProxyError::InvalidResponse { detail, .. } => detail.clone(),
            ProxyError::Drained { .. } => "nothing before its connections were closed".into(),
            ProxyError::NoServer { detail } => detail.clone(),
            ProxyError::NoHealthy { servers, .. } => servers.join("; "),
            ProxyError::QueueFull {
                usage,
                waiting,
                queue,
            } => format!("{usage}; queue full, {waiting}/{queue} waiting"),
            ProxyError::QueueTimeout { usage, waited } => {
                format!("{usage} for {waited:?}")
            }
        }
    }
}
