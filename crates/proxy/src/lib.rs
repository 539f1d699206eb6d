//! Switchyard's data plane: listeners, routing, balancing, upstream connections, timeouts,
//! retries, connection limits, access log and metrics.
//!
//! The running configuration is one immutable [`Config`] value, turned into a runtime and swapped
//! atomically by [`ProxyHandle::apply`]: requests in flight finish on the version they started
//! with, and servers that stay keep their counters and idle connections.
//!
//! This crate never reads files or the version store: the binary hands it a checked config, TLS
//! material as PEM bytes and an access-log writer. The admin API lives in `switchyard-admin`.

mod access_log;
mod body;
mod checker;
mod error;
mod events;
mod forward;
mod h2;
mod headers;
mod health;
mod history;
mod http1;
mod metrics;
mod otel;
mod outcome;
mod outlier;
mod park;
mod pool;
mod retry;
mod runtime;
mod saturation;
mod select;
mod server;
mod stats;
mod status;
mod tls;
mod upstream;
mod worker;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use switchyard_config::Config;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use access_log::{AccessLog, AccessRecord};
pub use error::{ProxyError, ServerRef};
pub use events::{EventKind, EventSink, ProxyEvent};
pub use health::HealthStatus;
pub use history::{Second, HISTORY_SECONDS};
pub use metrics::{Metrics, DURATION_BUCKETS};
pub use otel::TracingError;
pub use stats::LastError;
pub use status::{DrainOutcome, LiveState, PoolStatus, ServerStatus};
pub use tls::{TlsError, TlsMaterial};

use runtime::Runtime;
use worker::{Phase, Tracker, WorkerListener};

/// State every request reads.
pub(crate) struct Shared {
    runtime: ArcSwap<Runtime>,
    metrics: Metrics,
    access_log: AccessLog,
    events: EventSink,
    checks: checker::HealthChecks,
    /// Span export, when `[tracing]` is set.
    tracing: Option<otel::Tracing>,
    /// Serializes config swaps so that each builds on the one before.
    apply_lock: Mutex<()>,
}

/// What the proxy needs besides its config.
pub struct ProxyOptions {
    pub metrics: Metrics,
    pub access_log: AccessLog,
    /// PEM material for each listener that has `tls` set, by listener name.
    pub tls: HashMap<String, TlsMaterial>,
    /// Where health transitions, ejections and saturation changes are reported.
    pub events: EventSink,
    /// Called on each worker thread about once a second while its connections are closing,
    /// for an allocator that gives freed memory back to the system only when asked (such as
    /// mimalloc's `mi_collect`).
    pub release_memory: Option<fn()>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not bind listener {listener:?} on {addr}: {source}")]
    Bind {
        listener: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("listener {listener:?} has tls set but no certificate was loaded for it")]
    MissingTls { listener: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Tracing(#[from] TracingError),
    #[error("could not start worker thread {index}: {source}")]
    Worker {
        index: usize,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("listeners changed ({detail}); listeners are bound at start, so this change needs a restart")]
    ListenersChanged { detail: String },
    #[error(
        "[tracing] changed; the span exporter is set up at start, so this change needs a restart"
    )]
    TracingChanged,
}

/// A running proxy: bound listeners served by worker threads.
pub struct Proxy {
    handle: ProxyHandle,
    addrs: Vec<(String, SocketAddr)>,
    phase: watch::Sender<Phase>,
    workers: Vec<std::thread::JoinHandle<()>>,
    tracker: Arc<Tracker>,
    sampler: JoinHandle<()>,
}

/// Reads and swaps the running config; cheap to clone.
#[derive(Clone)]
pub struct ProxyHandle {
    shared: Arc<Shared>,
}

impl Proxy {
    /// Binds every listener of `config` and starts `[runtime] workers` worker threads (default:
    /// one per core), each accepting on its own socket. Health checks and samplers run on the
    /// caller's runtime.
    pub async fn start(config: Config, options: ProxyOptions) -> Result<Proxy, StartError> {
        let workers = config
            .runtime
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let mut first = Vec::new();
        for l in &config.listeners {
            let bind_error = |source| StartError::Bind {
                listener: l.name.clone(),
                addr: l.bind,
                source,
            };
            let socket = worker::bind(l.bind, workers > 1).map_err(bind_error)?;
            let tls = match &l.tls {
                None => None,
                Some(_) => {
                    let material =
                        options
                            .tls
                            .get(&l.name)
                            .ok_or_else(|| StartError::MissingTls {
                                listener: l.name.clone(),
                            })?;
                    Some(tls::acceptor(&l.name, material)?)
                }
            };
            let labels = WorkerListener::labels(&l.name);
            first.push(WorkerListener {
                name: l.name.as_str().into(),
                socket,
                tls,
                limits: Arc::new(worker::Limits::of(l)),
                open: Arc::new(AtomicUsize::new(0)),
                gauge: options.metrics.connections.get_or_create(&labels).clone(),
                refused: options
                    .metrics
                    .connections_refused
                    .get_or_create(&labels)
                    .clone(),
            });
        }
        let mut per_worker = Vec::with_capacity(workers);
        for _ in 1..workers {
            let mut siblings = Vec::new();
            for (l, cfg) in first.iter().zip(&config.listeners) {
                siblings.push(l.sibling().map_err(|source| StartError::Bind {
                    listener: cfg.name.clone(),
                    addr: cfg.bind,
                    source,
                })?);
            }
            per_worker.push(siblings);
        }
        let addrs = first
            .iter()
            .map(|l| Ok((l.name.to_string(), l.socket.local_addr()?)))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|source| StartError::Worker { index: 0, source })?;
        per_worker.insert(0, first);
        let tracing = config
            .tracing
            .as_ref()
            .map(|t| otel::Tracing::start(t, &options.metrics))
            .transpose()?;
        let config = Arc::new(config);
        let runtime = Runtime::build(config, None, &options.metrics, &options.events);
        let shared = Arc::new(Shared {
            runtime: ArcSwap::from_pointee(runtime),
            metrics: options.metrics,
            access_log: options.access_log,
            events: options.events,
            checks: checker::HealthChecks::default(),
            tracing,
            apply_lock: Mutex::new(()),
        });
        shared.checks.reconcile(&shared.runtime.load(), &shared);
        let sampler = tokio::spawn(saturation::sample_loop(Arc::downgrade(&shared)));
        let (phase, phase_rx) = watch::channel(Phase::Serving);
        let tracker = Arc::new(Tracker::default());
        let mut threads = Vec::new();
        for (index, listeners) in per_worker.into_iter().enumerate() {
            let thread = worker::spawn(
                index,
                listeners,
                shared.clone(),
                tracker.clone(),
                phase_rx.clone(),
                options.release_memory,
            )
            .map_err(|source| StartError::Worker { index, source })?;
            threads.push(thread);
        }
        Ok(Proxy {
            handle: ProxyHandle { shared },
            addrs,
            phase,
            workers: threads,
            tracker,
            sampler,
        })
    }

    /// The address a listener is bound to (useful with port 0).
    pub fn local_addr(&self, listener: &str) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(name, _)| name == listener)
            .map(|(_, a)| *a)
    }

    pub fn handle(&self) -> ProxyHandle {
        self.handle.clone()
    }

    /// Stops accepting, then waits up to `timeout` for open connections to finish their
    /// requests. Returns false if some were still busy when time ran out.
    pub async fn shutdown(mut self, timeout: Duration) -> bool {
        let _ = self.phase.send(Phase::Draining);
        self.sampler.abort();
        self.handle.shared.checks.stop_all();
        let finished = tokio::time::timeout(timeout, self.tracker.wait_idle())
            .await
            .is_ok();
        let _ = self.phase.send(Phase::Stopped);
        let workers = std::mem::take(&mut self.workers);
        let log = self.handle.shared.access_log.clone();
        tokio::task::spawn_blocking(move || {
            for w in workers {
                let _ = w.join();
            }
            log.flush();
        })
        .await
        .ok();
        if let Some(tracing) = &self.handle.shared.tracing {
            tracing.flush(Duration::from_secs(5)).await;
        }
        finished
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.phase.send(Phase::Stopped);
    }
}

impl ProxyHandle {
    /// The config version requests are routed by now.
    pub fn config(&self) -> Arc<Config> {
        self.shared.runtime.load().config.clone()
    }

    /// Whether `config` can be swapped in without a restart.
    pub fn check(&self, config: &Config) -> Result<(), ApplyError> {
        let current = self.shared.runtime.load();
        if current.config.listeners != config.listeners {
            return Err(ApplyError::ListenersChanged {
                detail: listener_change(&current.config, config),
            });
        }
        if current.config.tracing != config.tracing {
            return Err(ApplyError::TracingChanged);
        }
        Ok(())
    }

    /// Swaps in `config`. Requests in flight finish on the version they started with.
    pub fn apply(&self, config: Config) -> Result<(), ApplyError> {
        let _guard = self
            .shared
            .apply_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.check(&config)?;
        let current = self.shared.runtime.load_full();
        let next = Runtime::build(
            Arc::new(config),
            Some(&current),
            &self.shared.metrics,
            &self.shared.events,
        );
        self.shared.runtime.store(Arc::new(next));
        self.shared
            .checks
            .reconcile(&self.shared.runtime.load(), &self.shared);
        Ok(())
    }

    /// Names the config version that spans are labelled with (`switchyard.version`).
    pub fn set_version(&self, version: u64) {
        if let Some(tracing) = &self.shared.tracing {
            tracing.set_version(version);
        }
    }

    /// Writes out every access-log line recorded so far.
    pub fn flush_access_log(&self) {
        self.shared.access_log.flush();
    }
}

fn listener_change(old: &Config, new: &Config) -> String {
    let names = |c: &Config| {
        c.listeners
            .iter()
            .map(|l| format!("{} {}", l.name, l.bind))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("running: {}; new: {}", names(old), names(new))
}
