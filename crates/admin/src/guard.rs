//! The change guard: after a version that changes pools or routes, watch the pools it touched
//! for `[guard] bake` and roll the version back when their error rate crosses a limit.
//!
//! The guard compares the touched pools' answers since the change with the 5 minutes before it
//! (the proxy's per-second history). 5xx answers and failures of the proxy always count as
//! errors. 4xx answers count only from the servers the change added or changed, and only when
//! those answer 4xx more often than the pools' other servers (or, without others, than the
//! pools did before): a new server that answers 404 is as broken as one that answers 500, but
//! clients asking for missing pages during a bake are nobody's fault ([`measure`]).
//!
//! The guard is a task of its own that subscribes to the versions the [`ControlPlane`]
//! publishes; the control plane does not know it exists. Only the newest version bakes: a newer
//! version cancels the older bake. A rollback goes through [`ControlPlane::rollback`], the path
//! an operator's takes. Time comes from a [`Clock`] that is passed in, so bakes run on paused
//! tokio time in tests. Nothing here runs on the request path.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use chrono::{DateTime, Utc};
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use switchyard_config::{Change, ChangeKind, Config, ServerState};
use switchyard_store::VersionKind;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use crate::control::{ControlPlane, Published};
use crate::error::Json;
use crate::AdminState;

mod bake;
mod canary;
mod measure;
#[cfg(test)]
mod tests;

pub(crate) use canary::Canary;
pub(crate) use measure::{Counts, Measure};

/// The author of the guard's rollbacks.
pub const GUARD_AUTHOR: &str = "switchyard-guard";
/// Kinds of version the guard watches; rollbacks and removals are left alone.
const GUARDED_KINDS: [VersionKind; 3] = [
    VersionKind::Apply,
    VersionKind::ServerAdd,
    VersionKind::ServerRestore,
];
/// How long `GET /guard` waits for the guard to look at the newest version.
const CATCH_UP: Duration = Duration::from_secs(2);

/// Wall-clock time for bakes (the proxy's history is kept by the second). Passed in, so that
/// a test can run bakes on paused tokio time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What `GET /api/v1/guard` answers.
#[derive(Debug, Clone, Serialize)]
pub struct GuardView {
    /// Whether the running config has `[guard]`.
    pub enabled: bool,
    /// The newest bake, running or finished.
    pub bake: Option<BakeView>,
}

/// Where a bake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Still watching.
    Baking,
    /// The numbers stayed within the limits for the whole bake.
    Kept,
    /// The numbers crossed a limit and the guard rolled the version back.
    RolledBack,
    /// The numbers crossed a limit; `auto_rollback` is off, so the version stays.
    Failed,
    /// A newer version came (or the rollback was refused) before a verdict.
    Superseded,
}

impl Verdict {
    /// The verdict as the API and the event log write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Baking => "baking",
            Verdict::Kept => "kept",
            Verdict::RolledBack => "rolled-back",
            Verdict::Failed => "failed",
            Verdict::Superseded => "superseded",
        }
    }
}

/// One version's bake.
#[derive(Debug, Clone, Serialize)]
pub struct BakeView {
    pub version: u64,
    pub pools: Vec<String>,
    pub started: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub requests: u64,
    /// Errors as counted: 5xx and proxy failures, plus 4xx when `client_errors_counted`.
    pub errors: u64,
    pub rate: f64,
    /// The error rate of the 5 minutes before the change, counted the same way.
    pub baseline: f64,
    pub client_errors_counted: bool,
    pub verdict: Verdict,
    pub reason: Option<String>,
    /// The version the guard made to undo this one.
    pub rollback_version: Option<u64>,
}

/// What the guard has seen: the newest version it looked at and the newest bake.
#[derive(Debug, Clone, Default)]
struct Seen {
    version: Option<u64>,
    bake: Option<BakeView>,
}

/// The running guard, as the API reads it; cheap to clone.
#[derive(Clone)]
pub struct Guard {
    seen: watch::Receiver<Seen>,
}

impl Guard {
    /// Starts the guard on a task of its own, baking each guarded version `control` publishes
    /// from now on. `registry` holds the proxy's metrics, where it reads each server's answers
    /// (without it, 4xx answers never count).
    pub fn spawn(
        control: Arc<ControlPlane>,
        registry: Option<Arc<Registry>>,
        clock: Arc<dyn Clock>,
    ) -> Guard {
        let versions = control.subscribe();
        let (seen, rx) = watch::channel(Seen::default());
        let watcher = Watcher {
            control,
            registry,
            clock,
            seen,
        };
        tokio::spawn(watcher.run(versions));
        Guard { seen: rx }
    }

    /// The newest bake, once the guard has looked at version `published` (waiting at most
    /// [`CATCH_UP`] for it), so that a caller who just made a version sees its bake.
    pub async fn view(&self, published: Option<u64>) -> Option<BakeView> {
        let mut seen = self.seen.clone();
        if published.is_some() {
            let caught_up = seen.wait_for(|s| s.version >= published);
            let _ = tokio::time::timeout(CATCH_UP, caught_up).await;
        }
        let bake = seen.borrow().bake.clone();
        bake
    }
}

/// `GET /api/v1/guard`.
pub(crate) async fn view(State(s): State<AdminState>) -> Json<GuardView> {
    Json(GuardView {
        enabled: s.control.proxy().config().guard.is_some(),
        bake: s.guard.view(s.control.published()).await,
    })
}

/// The guard's task.
struct Watcher {
    control: Arc<ControlPlane>,
    registry: Option<Arc<Registry>>,
    clock: Arc<dyn Clock>,
    seen: watch::Sender<Seen>,
}

impl Watcher {
    /// Bakes each published version that is guarded until it has a verdict or a newer version
    /// replaces it. Ends when the control plane is gone.
    async fn run(self, mut versions: broadcast::Receiver<Published>) {
        let mut next = None;
        loop {
            let published = match next.take() {
                Some(p) => p,
                None => match versions.recv().await {
                    Ok(p) => p,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                },
            };
            let bake = bake::Bake::start(&self, &published);
            self.seen.send_modify(|s| {
                s.version = Some(published.version);
                if let Some(bake) = &bake {
                    s.bake = Some(bake.view());
                }
            });
            let Some(bake) = bake else { continue };
            tokio::select! {
                m = bake.watch() => bake.conclude(m).await,
                newer = versions.recv() => {
                    bake.update(|b| b.verdict = Verdict::Superseded);
                    match newer {
                        Ok(p) => next = Some(p),
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return,
                    }
                }
            }
        }
    }
}

/// What a version changed that the guard cares about.
pub(crate) struct Touched {
    pub pools: Vec<String>,
    /// Servers the version added, changed or put back into rotation.
    pub servers: Vec<String>,
}

/// The pools a change touched (those of changed routes included) and the servers it brought
/// into rotation; pools the new config lacks are left out.
pub(crate) fn touched(old: &Config, new: &Config, changes: &[Change]) -> Touched {
    let mut pools: Vec<String> = changes.iter().filter_map(|c| c.pool.clone()).collect();
    for i in 0..old.routes.len().max(new.routes.len()) {
        let (a, b) = (old.routes.get(i), new.routes.get(i));
        if a != b {
            pools.extend(a.into_iter().chain(b).map(|r| r.pool.clone()));
        }
    }
    pools.retain(|p| new.pools.contains_key(p));
    pools.sort();
    pools.dedup();
    let out_of_rotation = |kind: &ChangeKind| {
        matches!(
            kind,
            ChangeKind::ServerRemoved
                | ChangeKind::StateChanged {
                    to: ServerState::Removed,
                    ..
                }
        )
    };
    let mut servers: Vec<String> = changes
        .iter()
        .filter(|c| !out_of_rotation(&c.kind))
        .filter_map(|c| c.server.clone())
        .collect();
    servers.dedup();
    Touched { pools, servers }
}
