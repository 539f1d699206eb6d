//! A simulated e-commerce site for `switchyard demo` and the end-to-end tests: real HTTP
//! services on loopback ports, each writing its own log, with faults injected from Rust or over
//! a small control API.
//!
//! | hosts | serve |
//! | --- | --- |
//! | `frontend-01..04` | `GET /products/{id}`, `POST /checkout`; call `auth`, `inventory` and `billing` through Switchyard |
//! | `inventory-1..3`, `billing-1..2`, `auth-1..2` | JSON under `/api/{service}/...` |
//! | `inventory-4` | 404 and an HTML page for every path: not an inventory service, in no pool at start |
//! | `inventory-5..7` | spare inventory services ([`SPARE_INVENTORY`]), in no pool at start: for rollouts |
//!
//! Every service answers `GET /health` with 200 `{"status":"ok"}`, names itself in the
//! `x-backend` response header, and writes `DIR/HOST/app.log` in the seed's plain format
//! (`2026-11-25 11:10:53 ERROR: ...`, details indented by two spaces). Front ends each have a
//! simulated database pool (see [`DbOptions`]). Faults are listed in [`Fault`]; they can also be
//! set over HTTP (see [`Lab::control_addr`]).
//!
//! The lab does not start Switchyard: start a proxy in front of it with
//! [`Lab::switchyard_toml`] and tell the lab where it listens with [`Lab::set_gateway`].
//!
//! ```no_run
//! # async fn demo(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
//! use switchyard_lab::shop::{Fault, Lab, LabOptions};
//!
//! let lab = Lab::start(LabOptions::new(dir)).await?;
//! let toml = format!(
//!     "[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:0\"\n{}",
//!     lab.switchyard_toml()
//! );
//! // ... start Switchyard with `toml`, then:
//! # let gateway: std::net::SocketAddr = "127.0.0.1:8080".parse()?;
//! lab.set_gateway(gateway);
//! lab.fault("frontend-02", Fault::leak()).await?;
//! // ... later
//! lab.fault("frontend-02", Fault::Recover).await?;
//! lab.shutdown().await;
//! # Ok(()) }
//! ```

mod answer;
mod control;
mod db;
mod fault;
mod frontend;
mod host;
mod http;
mod log;
mod services;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinHandle;

pub use db::DbOptions;
pub use fault::{Fault, DEFAULT_LEAK_PER_SECOND};
pub use host::{DbStatus, HostInfo, HostStatus, Role};

use fault::Answer;
use frontend::Frontend;
use host::{status_json, Host, HostCore, Service, Settings};
use log::AppLog;
use services::{BackEnd, WrongService};

/// The lab's hosts, in the order [`Lab::hosts`] lists them.
const HOSTS: &[(&str, Role)] = &[
    ("frontend-01", Role::Frontend),
    ("frontend-02", Role::Frontend),
    ("frontend-03", Role::Frontend),
    ("frontend-04", Role::Frontend),
    ("inventory-1", Role::Inventory),
    ("inventory-2", Role::Inventory),
    ("inventory-3", Role::Inventory),
    ("billing-1", Role::Billing),
    ("billing-2", Role::Billing),
    ("auth-1", Role::Auth),
    ("auth-2", Role::Auth),
    ("inventory-4", Role::WrongService),
    ("inventory-5", Role::Inventory),
    ("inventory-6", Role::Inventory),
    ("inventory-7", Role::Inventory),
];

/// Inventory services that [`Lab::switchyard_toml`] leaves out of the pool, to be rolled out.
pub const SPARE_INVENTORY: [&str; 3] = ["inventory-5", "inventory-6", "inventory-7"];

/// Pools and the path prefix routed to each, in route order (first match wins).
const ROUTES: &[(&str, &str)] = &[
    ("/api/inventory", "inventory"),
    ("/api/billing", "billing"),
    ("/api/auth", "auth"),
    ("/", "frontend"),
];

/// How to start a [`Lab`].
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Where `HOST/app.log` files go; the caller owns it and the logs stay after shutdown.
    pub dir: PathBuf,
    /// Front ends log `ERROR: invalid response from server` instead of the detailed error.
    /// Default off; can be flipped while running.
    pub vague_errors: bool,
    /// Each front end's database.
    pub db: DbOptions,
    /// How long a front end waits for a dependency's answer through Switchyard. Default 2 s.
    pub upstream_timeout: Duration,
    /// An INFO line for every request (besides `/health`). Default on.
    pub log_requests: bool,
}

impl LabOptions {
    pub fn new(dir: impl Into<PathBuf>) -> LabOptions {
        LabOptions {
            dir: dir.into(),
            vague_errors: false,
            db: DbOptions::default(),
            upstream_timeout: Duration::from_secs(2),
            log_requests: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("could not create the log file {}: {source}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not bind {host} on {addr}: {source}")]
    Bind {
        host: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("no host named {host:?} in the lab; hosts are: {known}")]
    UnknownHost { host: String, known: String },
    #[error("fault {fault} applies to front ends only, not to {host} ({role})")]
    NotApplicable {
        host: String,
        fault: &'static str,
        role: &'static str,
    },
}

/// The running lab. Stops everything (but keeps the logs) on [`shutdown`](Lab::shutdown) or
/// drop.
pub struct Lab {
    inner: Arc<LabInner>,
    control: http::Listener,
    flusher: JoinHandle<()>,
}

pub(crate) struct LabInner {
    dir: PathBuf,
    hosts: Vec<Host>,
    settings: Arc<Settings>,
}

impl Lab {
    /// Starts every host on a free loopback port, and the control API. Needs a Tokio runtime.
    pub async fn start(options: LabOptions) -> Result<Lab, LabError> {
        let settings = Arc::new(Settings::new(
            options.vague_errors,
            options.upstream_timeout,
            options.log_requests,
        ));
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("valid address");
        let mut hosts = Vec::with_capacity(HOSTS.len());
        for &(name, role) in HOSTS {
            let log = AppLog::create(&options.dir, name).map_err(|source| LabError::Log {
                path: options.dir.join(name).join("app.log"),
                source,
            })?;
            let core = HostCore {
                name: name.to_string(),
                role,
                log: Arc::new(log),
                requests: Default::default(),
                faults: Default::default(),
                service: service(role, &options.db),
                settings: settings.clone(),
            };
            let host = Host::start(core, any_port)
                .await
                .map_err(|source| LabError::Bind {
                    host: name.to_string(),
                    addr: any_port,
                    source,
                })?;
            hosts.push(host);
        }
        let logs: Vec<Arc<AppLog>> = hosts.iter().map(|h| h.core.log.clone()).collect();
        let flusher = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_millis(100));
            loop {
                ticks.tick().await;
                for log in &logs {
                    log.flush();
                }
            }
        });
        let inner = Arc::new(LabInner {
            dir: options.dir,
            hosts,
            settings,
        });
        let control = http::Listener::bind(any_port, control::handler(inner.clone()))
            .await
            .map_err(|source| LabError::Bind {
                host: "the control API".to_string(),
                addr: any_port,
                source,
            })?;
        Ok(Lab {
            inner,
            control,
            flusher,
        })
    }

    /// Every host, front ends first; `inventory-4` and the spares last.
    pub fn hosts(&self) -> Vec<HostInfo> {
        self.inner.hosts.iter().map(Host::info).collect()
    }

    pub fn host(&self, name: &str) -> Option<HostInfo> {
        self.inner.find(name).ok().map(Host::info)
    }

    /// A host's address.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.inner.find(name).ok().map(|h| h.listener.addr())
    }

    /// Requests a host received, `/health` excluded; `None` for an unknown host.
    pub fn requests(&self, name: &str) -> Option<u64> {
        self.inner
            .find(name)
            .ok()
            .map(|h| h.core.requests.load(Ordering::Relaxed))
    }

    /// Every host's live state.
    pub fn status(&self) -> Vec<HostStatus> {
        self.inner.hosts.iter().map(Host::status).collect()
    }

    /// The directory holding `HOST/app.log`.
    pub fn log_dir(&self) -> &Path {
        &self.inner.dir
    }

    /// `DIR/HOST/app.log` (whether or not the host exists).
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.inner.dir.join(name).join("app.log")
    }

    /// Writes out every buffered log line (also done every 100 ms).
    pub fn flush_logs(&self) {
        for host in &self.inner.hosts {
            host.core.log.flush();
        }
    }

    /// Where the control API listens (plain JSON over HTTP):
    ///
    /// - `GET /state`: the log directory, the gateway, and each host's address, role, pool,
    ///   `up`, faults, request count and (front ends) database pool;
    /// - `POST /faults/{host}` with `{"fault": "not-found" | "error-500" | "fail-every" |
    ///   "latency" | "leak-connections" | "crash" | "recover"}` (`"n"` for fail-every, `"ms"`
    ///   for latency, optional `"per_sec"` for a leak): answers the host's state after the change; 404 for an unknown host, 400
    ///   for a fault that does not parse or apply;
    /// - `POST /vague-errors` with `{"on": true}`.
    pub fn control_addr(&self) -> SocketAddr {
        self.control.addr()
    }

    /// The Switchyard listener front ends send their calls to.
    pub fn set_gateway(&self, addr: SocketAddr) {
        self.inner.settings.set_gateway(addr);
    }

    pub fn gateway(&self) -> Option<SocketAddr> {
        self.inner.settings.gateway()
    }

    /// Front ends log the seed's `ERROR: invalid response from server` instead of the detailed
    /// error (database timeouts keep their details).
    pub fn set_vague_errors(&self, on: bool) {
        self.inner.settings.set_vague_errors(on);
    }

    /// Applies `fault` to host `name`; returns once it is in effect (a crashed host's port is
    /// closed, a recovered one listens again).
    pub async fn fault(&self, name: &str, fault: Fault) -> Result<(), LabError> {
        self.inner.fault(name, fault).await
    }

    /// `[[routes]]` and `[pools.*]` tables for a Switchyard config that has one listener:
    /// `/api/inventory`, `/api/billing` and `/api/auth` to their pools, everything else to
    /// `frontend`; every host in its pool except `inventory-4` and the spares.
    pub fn switchyard_toml(&self) -> String {
        let mut toml = String::new();
        for (prefix, pool) in ROUTES {
            toml.push_str(&format!(
                "\n[[routes]]\npath_prefix = \"{prefix}\"\npool = \"{pool}\"\n"
            ));
        }
        for (_, pool) in ROUTES {
            toml.push_str(&format!("\n[pools.{pool}]\n"));
            let hosts = self.hosts();
            let members = hosts
                .iter()
                .filter(|h| h.pool == Some(pool) && !SPARE_INVENTORY.contains(&h.name.as_str()));
            for host in members {
                toml.push_str(&format!(
                    "\n[[pools.{pool}.servers]]\nname = \"{}\"\naddress = \"{}\"\n",
                    host.name, host.addr
                ));
            }
        }
        toml
    }

    /// Stops every host and the control API and waits until their ports are closed; the logs
    /// are flushed and stay in [`log_dir`](Lab::log_dir).
    pub async fn shutdown(self) {
        self.control.stop().await;
        for host in &self.inner.hosts {
            host.listener.stop().await;
            host.core.service.stop();
        }
        self.flusher.abort();
        self.flush_logs();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.control.abort();
        for host in &self.inner.hosts {
            host.listener.abort();
            host.core.service.stop();
        }
        self.flusher.abort();
        self.flush_logs();
    }
}

/// What runs on a host of `role`.
fn service(role: Role, db: &DbOptions) -> Box<dyn Service> {
    match role {
        Role::Frontend => Box::new(Frontend::new(db.clone())),
        Role::Inventory => Box::new(BackEnd::Inventory),
        Role::Billing => Box::new(BackEnd::Billing),
        Role::Auth => Box::new(BackEnd::Auth),
        Role::WrongService => Box::new(WrongService),
    }
}

impl LabInner {
    fn find(&self, name: &str) -> Result<&Host, LabError> {
        self.hosts
            .iter()
            .find(|h| h.core.name == name)
            .ok_or_else(|| LabError::UnknownHost {
                host: name.to_string(),
                known: HOSTS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            })
    }

    pub(crate) async fn fault(&self, name: &str, fault: Fault) -> Result<(), LabError> {
        let host = self.find(name)?;
        let _one_at_a_time = host.ops.lock().await;
        let core = &host.core;
        match fault {
            Fault::NotFound => core.faults.set_answer(Answer::NotFound),
            Fault::Error500 => core.faults.set_answer(Answer::Error500),
            Fault::FailEvery(n) => core.faults.set_fail_every(n),
            Fault::Latency(delay) => core.faults.set_latency(delay),
            Fault::LeakConnections { per_second } => {
                if !core.service.start_leak(per_second) {
                    return Err(LabError::NotApplicable {
                        host: name.to_string(),
                        fault: "leak-connections",
                        role: core.role.as_str(),
                    });
                }
            }
            Fault::Crash => host.listener.stop().await,
            Fault::Recover => {
                core.faults.clear();
                core.service.reset();
                if !host.listener.is_up() {
                    let addr = host.listener.addr();
                    host.listener
                        .start()
                        .await
                        .map_err(|source| LabError::Bind {
                            host: name.to_string(),
                            addr,
                            source,
                        })?;
                    core.log.info(&core.listening_line(addr));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn state_json(&self) -> Value {
        json!({
            "log_dir": self.dir.display().to_string(),
            "gateway": self.settings.gateway().map(|a| a.to_string()),
            "vague_errors": self.settings.vague_errors(),
            "hosts": self.hosts.iter().map(|h| status_json(&h.status())).collect::<Vec<_>>(),
        })
    }

    pub(crate) fn host_json(&self, name: &str) -> Option<Value> {
        self.find(name).ok().map(|h| status_json(&h.status()))
    }
}
