//! A pool member at run time, and the lease a request holds on it.
//!
//! [`ServerState`] outlives config versions: a server that stays in a pool across a swap keeps
//! its in-flight count, so connection limits hold while old and new versions overlap.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use http::uri::Authority;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::Notify;

use crate::error::ServerRef;
use crate::health::ServerHealth;
use crate::metrics::{Metrics, RequestLabels, ServerLabels};
use crate::pool::PoolShared;
use crate::stats::{now_second, LastError, Window};

/// Live counters of one server, shared by every config version that contains it.
#[derive(Debug)]
pub(crate) struct ServerState {
    pub pool: String,
    pub name: String,
    pub address: SocketAddr,
    /// `address` as the authority of upstream request URIs.
    pub authority: Authority,
    /// Name and address, as errors and log lines give them.
    pub reference: ServerRef,
    in_flight: AtomicU32,
    active_gauge: Gauge,
    /// `switchyard_upstream_healthy`: 1 when active checks (if any) let it take traffic.
    pub healthy_gauge: Gauge,
    /// `switchyard_upstream_response_seconds` of this server.
    pub response_time: Histogram,
    pub health: ServerHealth,
    /// `switchyard_requests_total` handles by status code, so that the hot path skips the
    /// label-set lookup.
    responses: Mutex<Vec<(u16, Counter)>>,
    /// Requests, errors and 4xx answers over the last minute.
    pub window: Window,
    pub last_error: Mutex<Option<LastError>>,
    /// Wakes requests still waiting on this server when its drain time is over.
    pub closing: Notify,
}

impl ServerState {
    pub fn new(pool: &str, name: &str, address: SocketAddr, metrics: &Metrics) -> Self {
        let labels = ServerLabels {
            pool: pool.to_string(),
            server: name.to_string(),
        };
        ServerState {
            pool: pool.to_string(),
            name: name.to_string(),
            address,
            authority: Authority::try_from(address.to_string().as_str())
                .expect("a socket address is a valid authority"),
            reference: ServerRef {
                name: name.to_string(),
                address,
            },
            in_flight: AtomicU32::new(0),
            active_gauge: metrics.active.get_or_create(&labels).clone(),
            healthy_gauge: metrics.healthy.get_or_create(&labels).clone(),
            response_time: metrics.response_time.get_or_create(&labels).clone(),
            health: ServerHealth::default(),
            responses: Mutex::new(Vec::new()),
            window: Window::default(),
            last_error: Mutex::new(None),
            closing: Notify::new(),
        }
    }

    /// Records one finished exchange; `error` says why it failed, if it did.
    pub fn record_outcome(&self, error: Option<String>) {
        self.record_outcome_at(now_second(), error, false);
    }

    /// [`Self::record_outcome`] at a second the caller already knows; `client_error` when the
    /// server answered 4xx.
    pub fn record_outcome_at(&self, second: u64, error: Option<String>, client_error: bool) {
        self.window.record(second, error.is_some(), client_error);
        if let Some(reason) = error {
            *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(LastError {
                at: chrono::Utc::now(),
                reason,
            });
        }
    }

    pub fn last_error(&self) -> Option<LastError> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts one response with `code` in `switchyard_requests_total`.
    pub fn count_response(&self, metrics: &Metrics, code: u16) {
        let mut responses = self.responses.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, counter)) = responses.iter().find(|(c, _)| *c == code) {
            counter.inc();
            return;
        }
        let counter = metrics
            .requests
            .get_or_create(&RequestLabels {
                pool: self.pool.clone(),
                server: self.name.clone(),
                code,
            })
            .clone();
        counter.inc();
        responses.push((code, counter));
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn server_ref(&self) -> ServerRef {
        self.reference.clone()
    }
}

/// A server as one config version sees it.
#[derive(Debug)]
pub(crate) struct Server {
    pub state: Arc<ServerState>,
    pub weight: u32,
    pub limit: u32,
    /// False for servers an operator removed: they keep their state but get no requests.
    pub in_rotation: bool,
}

impl Server {
    /// Takes a slot if the server is below its limit.
    pub fn try_lease(&self, pool: &Arc<PoolShared>) -> Option<Lease> {
        let counter = &self.state.in_flight;
        let mut current = counter.load(Ordering::Acquire);
        loop {
            if current >= self.limit {
                return None;
            }
            match counter.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.state.active_gauge.inc();
                    return Some(Lease {
                        server: self.state.clone(),
                        pool: pool.clone(),
                    });
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// `inventory-1 3/100 in use`
    pub fn usage(&self) -> String {
        format!(
            "{} {}/{} in use",
            self.state.name,
            self.state.in_flight(),
            self.limit
        )
    }
}

/// One in-flight request's slot on a server; released on drop, waking one queued request.
#[derive(Debug)]
pub(crate) struct Lease {
    pub server: Arc<ServerState>,
    pool: Arc<PoolShared>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.server.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.server.active_gauge.dec();
        // Seen together with the queue's count (both sequentially consistent), so a request
        // that is queuing either finds this slot free or is woken.
        if self.pool.waiting.load(Ordering::SeqCst) > 0 {
            self.pool.wakeup.notify_one();
        }
    }
}
