//! Rollouts: new servers join a pool step by step, each step health-gated and baked, and a bad
//! step takes every server the rollout added out again as one version; and decommissions, which
//! take servers out only while the pool keeps its `min_servers` and enough room for its recent
//! peak.
//!
//! A rollout is a task of the serve process, not of the CLI that asked for it: closing the
//! terminal does not stop it half way. It changes the pool only through the [`ControlPlane`]'s
//! public methods, the path an operator's changes take, as versions of kind `rollout`, which the
//! change guard leaves alone: the rollout bakes its own steps, comparing each new server's
//! answers with the existing servers' over the same seconds ([`Canary`](crate::guard::Canary)).
//! Its start and its end are recorded as events.

mod api;
mod decommission;
mod plan;
mod run;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::control::{ControlError, ControlPlane};

pub(crate) use api::{abort, all, decommission, get, list, start};
pub use decommission::{DecommissionRequest, Decommissioned};
pub use plan::{NewServer, OnFailure, Replacement, RolloutRequest};

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutState {
    Running,
    /// Every step passed.
    Succeeded,
    /// A step failed; the servers were taken out again (or kept, with `on_failure: stop`).
    Failed,
    /// Stopped by `rollout abort`; the servers it added were taken out again.
    Aborted,
}

/// Where one step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Pending,
    /// Probing the rollout's `check` path on the new servers, before they join the pool.
    Checking,
    /// Waiting for the pool's health checks to put the new servers in rotation.
    Health,
    /// Waiting out the pool's `slow_start`.
    Ramping,
    /// Comparing the new servers' answers with the existing servers'.
    Baking,
    /// Taking the replaced server out and letting its requests finish.
    Draining,
    Passed,
    Failed,
    Aborted,
}

/// One server's answers during a bake.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServerNumbers {
    /// A new server's name, or `existing` for the pool's servers from before the rollout.
    pub server: String,
    pub requests: u64,
    /// 5xx answers and failures.
    pub errors: u64,
    pub client_errors: u64,
    /// Errors as the comparison counts them (4xx included when they made the difference),
    /// over requests.
    pub error_rate: f64,
    /// The 90th percentile of the response times, in milliseconds, once answers were timed.
    #[serde(default)]
    pub p90_ms: Option<f64>,
}

/// A step's bake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BakeNumbers {
    pub started: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub new: Vec<ServerNumbers>,
    pub existing: ServerNumbers,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepView {
    /// 1-based.
    pub step: usize,
    pub servers: Vec<String>,
    /// In a replacement: the new server's weight as a share of the old one's, in percent.
    pub weight_percent: Option<u32>,
    /// The server this step replaces.
    pub replaces: Option<String>,
    pub phase: Phase,
    /// The version that made the step.
    pub version: Option<u64>,
    pub bake: Option<BakeNumbers>,
}

/// What stopped a rollout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    /// `check`, `health`, `bake`, `change` or `abort`.
    pub what: String,
    pub step: usize,
    pub server: Option<String>,
    /// One line: what failed, on which server, with what numbers.
    pub reason: String,
    /// The numbers behind the reason.
    pub evidence: serde_json::Value,
}

/// A rollout as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutView {
    pub id: u64,
    pub pool: String,
    pub author: String,
    pub message: String,
    pub state: RolloutState,
    pub on_failure: OnFailure,
    pub bake_s: f64,
    pub started: DateTime<Utc>,
    pub finished: Option<DateTime<Utc>>,
    pub steps: Vec<StepView>,
    /// Servers this rollout put into the pool (and still has there).
    pub added: Vec<String>,
    pub failure: Option<Failure>,
    /// The version that took the added servers out again after a failure or an abort.
    pub undo_version: Option<u64>,
    /// One line on how it ended.
    pub summary: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("{0}")]
    Invalid(String),
    #[error("pool {pool:?} already has rollout {id} running: follow it with `switchyard rollout status --pool {pool}` or stop it with `switchyard rollout abort --pool {pool}`")]
    Busy { pool: String, id: u64 },
    #[error("pool {pool:?} has no rollout {id}; `switchyard rollout status --pool {pool}` lists its rollouts")]
    NotFound { pool: String, id: u64 },
    /// A decommission that would leave the pool short; the reason names the limit and numbers.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// One rollout, as the registry keeps it.
struct Entry {
    view: watch::Receiver<RolloutView>,
    abort: watch::Sender<bool>,
}

/// The rollouts of this serve process; cheap to clone.
#[derive(Clone)]
pub struct Rollouts {
    inner: Arc<Inner>,
}

struct Inner {
    control: Arc<ControlPlane>,
    registry: Option<Arc<Registry>>,
    next: AtomicU64,
    entries: Mutex<Vec<Entry>>,
    peak: Arc<decommission::Peak>,
}

impl Rollouts {
    /// The rollouts of `control`'s pools; `registry` holds the proxy's metrics, where bakes
    /// read each server's answers. Starts sampling the pools' requests in flight, which
    /// decommissions compare with the servers that would remain.
    pub fn spawn(control: Arc<ControlPlane>, registry: Option<Arc<Registry>>) -> Rollouts {
        let peak = Arc::new(decommission::Peak::default());
        tokio::spawn(peak.clone().sample(control.clone()));
        Rollouts {
            inner: Arc::new(Inner {
                control,
                registry,
                next: AtomicU64::new(1),
                entries: Mutex::new(Vec::new()),
                peak,
            }),
        }
    }

    /// Starts a rollout on `pool` on a task of its own; refused while the pool has one running.
    pub async fn start(
        &self,
        pool: &str,
        request: RolloutRequest,
    ) -> Result<RolloutView, RolloutError> {
        let mut entries = self.entries();
        if let Some(busy) = entries
            .iter()
            .map(|e| e.view.borrow().clone())
            .find(|v| v.pool == pool && v.state == RolloutState::Running)
        {
            return Err(RolloutError::Busy {
                pool: pool.to_string(),
                id: busy.id,
            });
        }
        let config = self.inner.control.proxy().config();
        let plan = plan::Plan::new(&config, pool, request)?;
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let view = plan.view(id, pool);
        let (view_tx, view_rx) = watch::channel(view.clone());
        let (abort_tx, abort_rx) = watch::channel(false);
        entries.push(Entry {
            view: view_rx,
            abort: abort_tx,
        });
        drop(entries);
        let runner = run::Runner::new(
            self.inner.control.clone(),
            self.inner.registry.clone(),
            plan,
            view_tx,
            abort_rx,
        );
        tokio::spawn(runner.run());
        Ok(view)
    }

    /// Rollout `id` of `pool`.
    pub fn get(&self, pool: &str, id: u64) -> Result<RolloutView, RolloutError> {
        self.entries()
            .iter()
            .map(|e| e.view.borrow().clone())
            .find(|v| v.id == id && v.pool == pool)
            .ok_or_else(|| RolloutError::NotFound {
                pool: pool.to_string(),
                id,
            })
    }

    /// The rollouts of `pool` (of every pool without one), newest first.
    pub fn list(&self, pool: Option<&str>) -> Vec<RolloutView> {
        let mut views: Vec<RolloutView> = self
            .entries()
            .iter()
            .map(|e| e.view.borrow().clone())
            .filter(|v| pool.is_none_or(|p| p == v.pool))
            .collect();
        views.reverse();
        views
    }

    /// Asks rollout `id` of `pool` to stop; it takes the servers it added out again. Returns
    /// the rollout as it is once it has stopped (or after a few seconds).
    pub async fn abort(&self, pool: &str, id: u64) -> Result<RolloutView, RolloutError> {
        let mut view = {
            let entries = self.entries();
            let entry = entries
                .iter()
                .find(|e| {
                    let v = e.view.borrow();
                    v.id == id && v.pool == pool
                })
                .ok_or_else(|| RolloutError::NotFound {
                    pool: pool.to_string(),
                    id,
                })?;
            let _ = entry.abort.send(true);
            entry.view.clone()
        };
        let stopped = view.wait_for(|v| v.state != RolloutState::Running);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), stopped).await;
        let v = view.borrow().clone();
        Ok(v)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.inner.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
