//! One lab host: its log, counters and faults, and the request path every service shares
//! (count, apply faults, hand over to the service, name the server in `x-backend`, log).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http::header::HeaderValue;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::fault::{Answer, FaultState};
use super::http::{self as shop_http, json, not_found_page, Body, Handler, Listener};
use super::log::{AppLog, Level};

/// Requests slower than this get a WARN line.
const SLOW: Duration = Duration::from_secs(1);

/// Lab-wide settings every host reads.
pub(crate) struct Settings {
    gateway: RwLock<Option<SocketAddr>>,
    vague_errors: AtomicBool,
    pub(crate) upstream_timeout: Duration,
    pub(crate) log_requests: bool,
}

impl Settings {
    pub(crate) fn new(vague_errors: bool, upstream_timeout: Duration, log_requests: bool) -> Self {
        Settings {
            gateway: RwLock::new(None),
            vague_errors: AtomicBool::new(vague_errors),
            upstream_timeout,
            log_requests,
        }
    }

    pub(crate) fn gateway(&self) -> Option<SocketAddr> {
        *self.gateway.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_gateway(&self, addr: SocketAddr) {
        *self.gateway.write().unwrap_or_else(|e| e.into_inner()) = Some(addr);
    }

    pub(crate) fn vague_errors(&self) -> bool {
        self.vague_errors.load(Ordering::Relaxed)
    }

    pub(crate) fn set_vague_errors(&self, on: bool) {
        self.vague_errors.store(on, Ordering::Relaxed);
    }
}

/// A [`Service`]'s answer, on its way.
pub(crate) type Reply<'a> = Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;

/// What runs on a host: a front end, a back-end service or the wrong service. The request path
/// (counting, faults, `x-backend`, logging) is the host's and the same for all of them; the
/// service answers what is left. Front ends also hold a database pool that a fault can leak.
pub(crate) trait Service: Send + Sync {
    /// Answers a request that no fault took over.
    fn handle<'a>(&'a self, host: &'a HostCore, req: Request<Incoming>, id: &'a str) -> Reply<'a>;

    /// Whether `/health` answers `{"status": "ok"}` before [`Service::handle`] sees it.
    fn serves_health(&self) -> bool {
        true
    }

    /// The database pool, for a service that has one.
    fn db(&self) -> Option<DbStatus> {
        None
    }

    /// Starts leaking `per_second` database connections; `false` for a service without a
    /// database.
    fn start_leak(&self, _per_second: f64) -> bool {
        false
    }

    fn is_leaking(&self) -> bool {
        false
    }

    /// Undoes what a fault left behind (a leak and the connections it took).
    fn reset(&self) {}

    /// Stops background work before the host goes away.
    fn stop(&self) {}
}

/// What a host's request path needs; shared by its connections.
pub(crate) struct HostCore {
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) log: Arc<AppLog>,
    /// Requests received, `/health` excluded.
    pub(crate) requests: AtomicU64,
    pub(crate) faults: FaultState,
    pub(crate) service: Box<dyn Service>,
    pub(crate) settings: Arc<Settings>,
}

/// A host and its listener.
pub(crate) struct Host {
    pub(crate) core: Arc<HostCore>,
    pub(crate) listener: Listener,
    /// Serializes faults on this host (a crash and a recover must not interleave).
    pub(crate) ops: tokio::sync::Mutex<()>,
}

impl Host {
    pub(crate) async fn start(core: HostCore, addr: SocketAddr) -> std::io::Result<Host> {
        let core = Arc::new(core);
        let listener = Listener::bind(addr, handler(core.clone())).await?;
        core.log.info(&core.listening_line(listener.addr()));
        Ok(Host {
            core,
            listener,
            ops: tokio::sync::Mutex::new(()),
        })
    }
}

fn handler(core: Arc<HostCore>) -> Handler {
    Arc::new(move |req| {
        let core = core.clone();
        Box::pin(async move { core.handle(req).await })
    })
}

impl HostCore {
    /// The line a host logs when it starts listening.
    pub(crate) fn listening_line(&self, addr: SocketAddr) -> String {
        match self.role {
            // Whatever runs there, it is not one of the shop's services.
            Role::WrongService => format!("web server listening on {addr}"),
            role => format!("{} service listening on {addr}", role.as_str()),
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let health = path == "/health";
        let request_id = shop_http::request_id(req.headers());
        if !health {
            self.requests.fetch_add(1, Ordering::Relaxed);
        }
        let latency = self.faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let mut response = match self.faults.answer() {
            Answer::NotFound => not_found_page(),
            Answer::Error500 => self.injected_500(&format!("{method} {path}"), &request_id),
            Answer::Normal if health && self.service.serves_health() => {
                json(StatusCode::OK, &json!({"status": "ok"}))
            }
            Answer::Normal if !health && self.faults.fails_now() => {
                self.injected_500(&format!("{method} {path}"), &request_id)
            }
            Answer::Normal => self.service.handle(self, req, &request_id).await,
        };
        let headers = response.headers_mut();
        if let Ok(name) = HeaderValue::from_str(&self.name) {
            headers.insert("x-backend", name);
        }
        if let Ok(id) = HeaderValue::from_str(&request_id) {
            headers.insert("x-request-id", id);
        }
        if !health {
            let took = started.elapsed();
            let status = response.status().as_u16();
            if took >= SLOW {
                self.log.write(
                    Level::Warn,
                    &format!(
                        "slow response: {method} {path} took {}ms (request id {request_id})",
                        took.as_millis()
                    ),
                    &[],
                );
            } else if self.settings.log_requests {
                self.log.info(&format!(
                    "{method} {path} -> {status} in {}ms (request id {request_id})",
                    took.as_millis()
                ));
            }
        }
        response
    }

    fn injected_500(&self, request: &str, request_id: &str) -> Response<Body> {
        let service = self.role.as_str();
        self.log.write(
            Level::Error,
            &format!("request failed for {request}"),
            &[
                ("Service", service),
                ("Request", &format!("{request} (request id {request_id})")),
                ("Server", &self.name),
                (
                    "Reason",
                    "fault injected through the lab control API: error-500",
                ),
            ],
        );
        json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"status": 500, "error": "internal error", "request_id": request_id}),
        )
    }
}

/// What a host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Frontend,
    Inventory,
    Billing,
    Auth,
    /// `inventory-4`: answers 404 to everything, like a server that runs something else.
    WrongService,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Frontend => "frontend",
            Role::Inventory => "inventory",
            Role::Billing => "billing",
            Role::Auth => "auth",
            Role::WrongService => "wrong-service",
        }
    }

    /// The Switchyard pool hosts of this role serve (`None` for the wrong service); the spare
    /// inventory servers are in it only once rolled out.
    pub fn pool(self) -> Option<&'static str> {
        match self {
            Role::WrongService => None,
            role => Some(role.as_str()),
        }
    }
}

/// A host as the caller needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    pub name: String,
    pub role: Role,
    pub addr: SocketAddr,
    /// The Switchyard pool it serves ([`Role::pool`]).
    pub pool: Option<&'static str>,
}

/// A host's live state.
#[derive(Debug, Clone, PartialEq)]
pub struct HostStatus {
    pub info: HostInfo,
    /// False after a crash, until it recovers.
    pub up: bool,
    /// Active faults by name: `not-found`, `error-500`, `latency 300ms`, `leak-connections`.
    pub faults: Vec<String>,
    /// Requests received, `/health` excluded.
    pub requests: u64,
    /// Front ends: database connections in use (leaked ones included), leaked, pool size.
    pub db: Option<DbStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbStatus {
    pub in_use: usize,
    pub leaked: usize,
    pub pool_size: usize,
}

impl Host {
    pub(crate) fn info(&self) -> HostInfo {
        HostInfo {
            name: self.core.name.clone(),
            role: self.core.role,
            addr: self.listener.addr(),
            pool: self.core.role.pool(),
        }
    }

    pub(crate) fn status(&self) -> HostStatus {
        let service = &self.core.service;
        let mut faults = self.core.faults.names();
        if service.is_leaking() {
            faults.push("leak-connections".to_string());
        }
        HostStatus {
            info: self.info(),
            up: self.listener.is_up(),
            faults,
            requests: self.core.requests.load(Ordering::Relaxed),
            db: service.db(),
        }
    }
}

pub(crate) fn status_json(status: &HostStatus) -> Value {
    json!({
        "name": status.info.name,
        "role": status.info.role.as_str(),
        "pool": status.info.pool,
        "address": status.info.addr.to_string(),
        "up": status.up,
        "faults": status.faults,
        "requests": status.requests,
        "db_pool": status.db.map(|db| json!({
            "in_use": db.in_use,
            "leaked": db.leaked,
            "size": db.pool_size,
        })),
    })
}
