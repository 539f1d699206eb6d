//! A pool at run time: its servers, which of them may take a request now (in rotation,
//! healthy, not ejected, ramping up), the bounded queue of requests that wait when every such
//! server is at its connection limit, and what happens when none is healthy.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use prometheus_client::metrics::histogram::Histogram;
use switchyard_config::{PoolConfig, WhenAllUnhealthy};
use tokio::sync::Notify;

use crate::error::ProxyError;
use crate::events::{EventSink, ProxyEvent};
use crate::health::HealthStatus;
use crate::select::Selector;
use crate::server::{Lease, Server};
use crate::upstream::Upstream;

/// Live state of a pool shared across config versions: the wait queue, and whether the pool
/// has no healthy server (so that the moment is reported once).
#[derive(Debug, Default)]
pub(crate) struct PoolShared {
    pub wakeup: Notify,
    /// Requests waiting in the queue; a released slot wakes one only when there are any.
    pub waiting: AtomicU32,
    all_down: AtomicBool,
    /// The last 15 minutes of answers.
    pub history: crate::history::History,
}

struct Waiting<'a>(&'a AtomicU32);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(crate) struct Pool {
    pub config: PoolConfig,
    pub servers: Vec<Server>,
    pub selector: Selector,
    pub shared: Arc<PoolShared>,
    pub upstream: Upstream,
    /// This pool's `switchyard_request_duration_seconds`.
    pub duration: Histogram,
    pub events: EventSink,
}

impl Pool {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether server `i` may take traffic by health: it passes active checks (when the pool
    /// has them) and is not ejected. Reports an ejection that has just run out.
    pub fn is_healthy(&self, i: usize) -> bool {
        let s = &self.servers[i];
        if self.config.health.is_some() && s.state.health.status() != HealthStatus::Healthy {
            return false;
        }
        match s.state.health.ejected() {
            Ok(ejected) => !ejected,
            Err(()) => {
                self.events.send(ProxyEvent {
                    kind: crate::EventKind::Return,
                    pool: self.name().to_string(),
                    server: Some(s.state.name.clone()),
                    details: serde_json::json!({
                        "reason": format!("{} returns to rotation after its ejection", s.state.server_ref()),
                        "ejections": s.state.health.ejections.load(Ordering::Acquire),
                    }),
                });
                self.note_recovered();
                true
            }
        }
    }

    /// Whether any server in rotation may take traffic by health.
    pub fn any_healthy(&self) -> bool {
        (0..self.servers.len()).any(|i| self.servers[i].in_rotation && self.is_healthy(i))
    }

    /// A slot on a server not in `tried`, waiting in the queue (bounded in size and time) when
    /// every such server is at its limit.
    pub async fn acquire(&self, tried: &[usize]) -> Result<(usize, Lease), ProxyError> {
        let candidates = || {
            (0..self.servers.len()).filter(|i| self.servers[*i].in_rotation && !tried.contains(i))
        };
        if candidates().next().is_none() {
            let in_rotation = self.servers.iter().filter(|s| s.in_rotation).count();
            let detail = if in_rotation == 0 {
                format!(
                    "all {} servers of pool {} are removed from rotation",
                    self.servers.len(),
                    self.name()
                )
            } else {
                format!(
                    "all {in_rotation} servers in rotation in pool {} were tried",
                    self.name()
                )
            };
            return Err(ProxyError::NoServer { detail });
        }
        let ignore_health = if candidates().any(|i| self.is_healthy(i)) {
            false
        } else {
            self.note_all_down();
            match self.config.when_all_unhealthy {
                WhenAllUnhealthy::Reject => {
                    return Err(ProxyError::NoHealthy {
                        pool: self.name().to_string(),
                        servers: candidates().map(|i| self.why_out(i)).collect(),
                    })
                }
                WhenAllUnhealthy::FailOpen => true,
            }
        };
        if let Some(found) = self.try_acquire(tried, ignore_health) {
            return Ok(found);
        }
        let shared = &self.shared;
        let limit = self.config.queue;
        let mut waiting = shared.waiting.load(Ordering::Acquire);
        loop {
            if waiting >= limit {
                return Err(ProxyError::QueueFull {
                    usage: self.usage(tried),
                    waiting,
                    queue: limit,
                });
            }
            match shared.waiting.compare_exchange_weak(
                waiting,
                waiting + 1,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => waiting = actual,
            }
        }
        let _waiting = Waiting(&shared.waiting);
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + self.config.queue_timeout);
        loop {
            let notified = shared.wakeup.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = self.try_acquire(tried, ignore_health) {
                return Ok(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(ProxyError::QueueTimeout {
                    usage: self.usage(tried),
                    waited: started.elapsed(),
                });
            }
        }
    }

    /// The first server in balancing order that is eligible and below its limit. Servers still
    /// ramping up under `slow_start` are skipped in proportion to how far along they are, unless
    /// nothing else is free.
    fn try_acquire(&self, tried: &[usize], ignore_health: bool) -> Option<(usize, Lease)> {
        let eligible = |i: &usize| !tried.contains(i) && (ignore_health || self.is_healthy(*i));
        let take = |i: usize| self.servers[i].try_lease(&self.shared).map(|l| (i, l));
        let slow_start = self.config.slow_start;
        let ramped = |i: &usize| {
            let share = self.servers[*i].state.health.ramp(slow_start);
            share >= 1.0 || fastrand::f64() < share
        };
        let found = self
            .selector
            .order(&self.servers)
            .enumerate()
            .filter(|(_, i)| eligible(i) && ramped(i))
            .find_map(|(k, i)| take(i).map(|t| (k, t)))
            .or_else(|| {
                slow_start?;
                self.selector
                    .order(&self.servers)
                    .enumerate()
                    .filter(|(_, i)| eligible(i))
                    .find_map(|(k, i)| take(i).map(|t| (k, t)))
            });
        let (skipped, taken) = found?;
        self.selector.skipped(skipped);
        Some(taken)
    }

    /// `inventory-1 (10.0.0.1:80) unhealthy: health check GET /health ...`
    pub fn why_out(&self, i: usize) -> String {
        format!(
            "{} {}",
            self.servers[i].state.server_ref(),
            self.health_note(i)
        )
    }

    /// `unhealthy: health check GET /health ...`, `pending (1/2 checks passed): ...`,
    /// `ejected for 25s more: 5 consecutive failures ...` or `healthy`.
    pub fn health_note(&self, i: usize) -> String {
        let h = &self.servers[i].state.health;
        if let Some(left) = h.ejection_left() {
            let reason = h
                .ejection_reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or_default();
            return format!("ejected for {}s more: {reason}", left.as_secs() + 1);
        }
        let (reason, _) = h.last_check();
        match (h.status(), self.config.health.as_ref()) {
            (HealthStatus::Pending, Some(hc)) => format!(
                "pending ({}/{} checks passed): {}",
                h.passes(),
                hc.rise,
                reason.as_deref().unwrap_or("not checked yet")
            ),
            (HealthStatus::Unhealthy, _) => {
                format!("unhealthy: {}", reason.as_deref().unwrap_or("-"))
            }
            _ => "healthy".into(),
        }
    }

    /// Reports, once, that the pool has no healthy server left.
    pub fn note_all_down(&self) {
        if !self.shared.all_down.swap(true, Ordering::AcqRel) {
            let in_rotation: Vec<usize> = (0..self.servers.len())
                .filter(|i| self.servers[*i].in_rotation)
                .collect();
            let mode = match self.config.when_all_unhealthy {
                WhenAllUnhealthy::Reject => "rejecting requests with 503",
                WhenAllUnhealthy::FailOpen => "failing open: spreading over all servers",
            };
            self.events.send(ProxyEvent {
                kind: crate::EventKind::AllUnhealthy,
                pool: self.name().to_string(),
                server: None,
                details: serde_json::json!({
                    "reason": format!("no healthy server in pool {}; {mode}", self.name()),
                    "mode": self.config.when_all_unhealthy,
                    "servers": in_rotation.iter().map(|&i| self.why_out(i)).collect::<Vec<_>>(),
                }),
            });
        }
    }

    /// Reports, once, that a pool that had no healthy server has one again.
    pub fn note_recovered(&self) {
        if self.shared.all_down.swap(false, Ordering::AcqRel) {
            self.events.send(ProxyEvent {
                kind: crate::EventKind::Recovered,
                pool: self.name().to_string(),
                server: None,
                details: serde_json::json!({
                    "reason": format!("pool {} has a healthy server again", self.name()),
                }),
            });
        }
    }

    /// `inventory-1 100/100 in use, inventory-2 100/100 in use`
    fn usage(&self, tried: &[usize]) -> String {
        self.servers
            .iter()
            .enumerate()
            .filter(|(i, s)| s.in_rotation && !tried.contains(i))
            .map(|(_, s)| s.usage())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
