//! What the proxy can tell about its pools and servers right now, and draining a server that
//! was taken out of rotation.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::health::HealthStatus;
use crate::stats::{now_second, LastError};
use crate::ProxyHandle;

/// A pool as `servers list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PoolStatus {
    pub name: String,
    pub servers: Vec<ServerStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerStatus {
    pub name: String,
    pub address: String,
    pub state: LiveState,
    /// `healthy`, `unhealthy`, `pending`, or `unchecked` when the pool has no health check.
    pub health: &'static str,
    /// Why the server is out: the last failed check or the ejection, when it is out.
    pub health_reason: Option<String>,
    /// When the last health check ran.
    pub last_check: Option<chrono::DateTime<chrono::Utc>>,
    /// Seconds left of an ejection.
    pub ejected_for_s: Option<u64>,
    /// At or above 90% of its limit for most of the last 10 s.
    pub saturated: bool,
    pub in_flight: u32,
    pub limit: u32,
    pub requests_1m: u64,
    /// 5xx answers and failed attempts.
    pub errors_1m: u64,
    /// errors_1m / requests_1m, 0 when there were no requests.
    pub error_rate_1m: f64,
    /// 4xx answers.
    pub client_errors_1m: u64,
    /// client_errors_1m / requests_1m, 0 when there were no requests.
    pub client_error_rate_1m: f64,
    pub last_error: Option<LastError>,
}

/// What a server is doing now. Its configured state (`switchyard_config::ServerState`) only
/// says whether it is in rotation; this adds health, ejection and draining.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiveState {
    /// In rotation and taking traffic.
    Active,
    /// In rotation, but has not yet passed `rise` checks.
    Pending,
    /// In rotation, but failing its health checks.
    Unhealthy,
    /// In rotation, but ejected for a while by outlier detection.
    Ejected,
    /// Removed, with requests still in flight.
    Draining,
    /// Removed, nothing in flight.
    Removed,
}

impl LiveState {
    /// Out of rotation (removed, or draining towards it).
    pub fn is_removed(self) -> bool {
        matches!(self, LiveState::Removed | LiveState::Draining)
    }
}

/// How a drain ended.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DrainOutcome {
    pub pool: String,
    pub server: String,
    /// True when every request in flight finished in time.
    pub drained: bool,
    /// Requests still in flight when the drain time ran out (their waits were cut).
    pub cut: u32,
    pub waited_ms: u64,
}

impl ProxyHandle {
    /// Every pool and server of the running config, in config order.
    pub fn status(&self) -> Vec<PoolStatus> {
        let runtime = self.shared.runtime.load();
        let now = now_second();
        runtime
            .config
            .pools
            .keys()
            .map(|name| {
                let pool = &runtime.pools[name];
                PoolStatus {
                    name: name.clone(),
                    servers: pool
                        .servers
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let in_flight = s.state.in_flight();
                            let minute = s.state.window.totals(now, 60);
                            let rate = |n: u64| {
                                if minute.requests == 0 {
                                    0.0
                                } else {
                                    n as f64 / minute.requests as f64
                                }
                            };
                            let h = &s.state.health;
                            let ejected = h.ejection_left();
                            let checked = pool.config.health.is_some().then(|| h.status());
                            let health = checked.map_or("unchecked", HealthStatus::as_str);
                            let state = match (s.in_rotation, in_flight) {
                                (false, 0) => LiveState::Removed,
                                (false, _) => LiveState::Draining,
                                _ if ejected.is_some() => LiveState::Ejected,
                                _ => match checked {
                                    Some(HealthStatus::Pending) => LiveState::Pending,
                                    Some(HealthStatus::Unhealthy) => LiveState::Unhealthy,
                                    _ => LiveState::Active,
                                },
                            };
                            let (check_reason, last_check) = h.last_check();
                            let out = state != LiveState::Active && s.in_rotation;
                            ServerStatus {
                                name: s.state.name.clone(),
                                address: s.state.address.to_string(),
                                state,
                                health,
                                health_reason: if out {
                                    Some(pool.health_note(i))
                                } else {
                                    check_reason.filter(|_| health != "healthy")
                                },
                                last_check,
                                ejected_for_s: ejected.map(|d| d.as_secs() + 1),
                                saturated: h.saturated.load(std::sync::atomic::Ordering::Acquire),
                                in_flight,
                                limit: s.limit,
                                requests_1m: minute.requests,
                                errors_1m: minute.errors,
                                error_rate_1m: rate(minute.errors),
                                client_errors_1m: minute.client_errors,
                                client_error_rate_1m: rate(minute.client_errors),
                                last_error: s.state.last_error(),
                            }
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Waits until `server` of `pool`, already out of rotation, has no request in flight, for
    /// at most `timeout`; then wakes whatever still waits on it, which is answered 502. Does
    /// nothing to a server that is back in rotation by then.
    pub async fn drain(&self, pool: &str, server: &str, timeout: Duration) -> DrainOutcome {
        let started = Instant::now();
        let state = {
            let runtime = self.shared.runtime.load();
            runtime.pools.get(pool).and_then(|p| {
                p.servers
                    .iter()
                    .find(|s| s.state.name == server)
                    .map(|s| s.state.clone())
            })
        };
        let outcome = |drained, cut| DrainOutcome {
            pool: pool.to_string(),
            server: server.to_string(),
            drained,
            cut,
            waited_ms: started.elapsed().as_millis() as u64,
        };
        let Some(state) = state else {
            return outcome(true, 0);
        };
        while state.in_flight() > 0 && started.elapsed() < timeout {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = state.in_flight();
        if left == 0 || self.in_rotation(pool, server) {
            return outcome(true, 0);
        }
        state.closing.notify_waiters();
        outcome(false, left)
    }

    /// The answers of `pool` second by second from `from` to `to` (Unix seconds), oldest
    /// first; seconds without requests are left out. `None` for a pool the config lacks.
    pub fn history(&self, pool: &str, from: u64, to: u64) -> Option<Vec<crate::Second>> {
        let runtime = self.shared.runtime.load();
        Some(runtime.pools.get(pool)?.shared.history.range(from, to))
    }

    /// Each server of `pool` with its answers second by second from `from` to `to` (Unix
    /// seconds; servers keep only the last minute), in config order. `None` for a pool the
    /// config lacks.
    pub fn server_history(
        &self,
        pool: &str,
        from: u64,
        to: u64,
    ) -> Option<Vec<(String, Vec<crate::Second>)>> {
        let runtime = self.shared.runtime.load();
        let pool = runtime.pools.get(pool)?;
        Some(
            pool.servers
                .iter()
                .map(|s| (s.state.name.clone(), s.state.window.seconds(from, to)))
                .collect(),
        )
    }

    fn in_rotation(&self, pool: &str, server: &str) -> bool {
        let runtime = self.shared.runtime.load();
        runtime.pools.get(pool).is_some_and(|p| {
            p.servers
                .iter()
                .any(|s| s.state.name == server && s.in_rotation)
        })
    }
}
