//! The change guard: after a version that changes pools or routes, watch the pools it touched
//! for `[guard] bake` and roll the version back when their error rate crosses a limit.
//!
//! The guard compares the touched pools' answers since the change with the 5 minutes before it
//! (the proxy's per-second history). 5xx answers and failures of the proxy always count as
//! errors. 4xx answers count only from the servers the change added or changed, and only when
//! those answer 4xx more often than the pools' other servers (or, without others, than the
//! pools did before): a new server that answers 404 is as broken as one that answers 500, but
//! clients asking for missing pages during a bake are nobody's fault ([`measure`]). Only the
//! newest version bakes: a newer version cancels the older bake. Everything runs on a task of its own, never on the request path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_config::{Change, ChangeKind, Config, GuardConfig, ServerState};
use switchyard_store::{EventKind, NewEvent, VersionKind};

use crate::answers::Answers;
use crate::control::{ChangeMeta, ControlPlane};
use crate::notify::{Notice, NoticeKind, Notifier};
use crate::AdminState;

mod measure;

pub(crate) use measure::{Counts, Measure};

/// The author of the guard's rollbacks.
pub const GUARD_AUTHOR: &str = "switchyard-guard";
/// Kinds of version the guard watches; rollbacks and removals are left alone.
const GUARDED_KINDS: [VersionKind; 3] = [
    VersionKind::Apply,
    VersionKind::ServerAdd,
    VersionKind::ServerRestore,
];
/// How far back the baseline reaches.
const BASELINE: Duration = Duration::from_secs(300);
/// How often a bake looks at the numbers.
const TICK: Duration = Duration::from_millis(500);

/// What `GET /api/v1/guard` answers.
#[derive(Debug, Clone, Serialize)]
pub struct GuardView {
    /// Whether the running config has `[guard]`.
    pub enabled: bool,
    /// The newest bake, running or finished.
    pub bake: Option<BakeView>,
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

/// Where a bake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
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

/// Bake state, owned by the [`ControlPlane`].
#[derive(Debug, Default)]
pub(crate) struct Guard {
    control: OnceLock<Weak<ControlPlane>>,
    /// Bumped by every new version; a bake stops when it moved on.
    generation: AtomicU64,
    bake: Mutex<Option<BakeView>>,
    pub(crate) notifier: Notifier,
}

/// What a version changed that the guard cares about.
pub(crate) struct Touched {
    pub pools: Vec<String>,
    /// Servers the version added, changed or put back into rotation.
    pub servers: Vec<String>,
}

impl Guard {
    /// Lets bakes reach the control plane (to roll back); until then no bake starts.
    pub(crate) fn attach(&self, control: &Arc<ControlPlane>) {
        let _ = self.control.set(Arc::downgrade(control));
    }

    pub(crate) fn view(&self) -> Option<BakeView> {
        self.bake.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update(&self, version: u64, f: impl FnOnce(&mut BakeView)) {
        let mut bake = self.bake.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = bake.as_mut().filter(|b| b.version == version) {
            f(b);
        }
    }

    /// Called for every new version, after it runs: cancels the bake in progress and starts one
    /// for this version when its kind is guarded and the config has `[guard]`.
    pub(crate) fn on_version(
        &self,
        kind: VersionKind,
        version: u64,
        parent: u64,
        guard: Option<GuardConfig>,
        touched: Touched,
    ) {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let Some(guard) = guard else { return };
        if !GUARDED_KINDS.contains(&kind) || touched.pools.is_empty() {
            return;
        }
        let Some(control) = self.control.get().and_then(Weak::upgrade) else {
            return;
        };
        let started = Utc::now();
        *self.bake.lock().unwrap_or_else(|e| e.into_inner()) = Some(BakeView {
            version,
            pools: touched.pools.clone(),
            started,
            until: started + guard.bake,
            requests: 0,
            errors: 0,
            rate: 0.0,
            baseline: 0.0,
            client_errors_counted: false,
            verdict: Verdict::Baking,
            reason: None,
            rollback_version: None,
        });
        let bake = Bake {
            control,
            generation,
            version,
            parent,
            touched,
            guard,
        };
        tokio::spawn(bake.run());
    }
}

/// `GET /api/v1/guard`.
pub(crate) async fn view(State(s): State<AdminState>) -> Json<GuardView> {
    Json(GuardView {
        enabled: s.control.proxy().config().guard.is_some(),
        bake: s.control.guard.view(),
    })
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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One running bake.
struct Bake {
    control: Arc<ControlPlane>,
    generation: u64,
    version: u64,
    parent: u64,
    touched: Touched,
    guard: GuardConfig,
}

impl Bake {
    fn current(&self) -> bool {
        self.control.guard.generation.load(Ordering::Acquire) == self.generation
    }

    async fn run(self) {
        let deadline = Instant::now() + self.guard.bake;
        let start = unix_now();
        let proxy = self.control.proxy().clone();
        let pools = &self.touched.pools;
        let before = Counts::of(
            &proxy,
            pools,
            start.saturating_sub(BASELINE.as_secs()),
            start,
        );
        // Answers of the change's own second so far came before the change.
        let head_start = Counts::of(&proxy, pools, start, start);
        let servers_at_start = self.server_answers();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(TICK)).await;
            if !self.current() {
                self.control
                    .guard
                    .update(self.version, |b| b.verdict = Verdict::Superseded);
                return;
            }
            let (changed, others) = self.split(&servers_at_start, &self.server_answers());
            let m = Measure::new(
                before,
                Counts::of(&proxy, pools, start, unix_now()).minus(head_start),
                changed,
                others,
                &self.guard,
            );
            self.control.guard.update(self.version, |b| {
                b.requests = m.requests;
                b.errors = m.errors;
                b.rate = m.rate;
                b.baseline = m.baseline;
                b.client_errors_counted = m.client_errors_counted;
            });
            if m.bad(&self.guard) {
                return self.reject(m).await;
            }
            if Instant::now() >= deadline {
                return self.keep(m).await;
            }
        }
    }

    /// Every server's answers in the touched pools so far.
    fn server_answers(&self) -> crate::answers::ByServer {
        match self.control.registry() {
            Some(r) => crate::answers::snapshot(r, &self.touched.pools),
            None => Default::default(),
        }
    }

    /// Answers since `start`: of the servers the change added or changed, and of the others.
    fn split(
        &self,
        start: &crate::answers::ByServer,
        now: &crate::answers::ByServer,
    ) -> (Answers, Answers) {
        let (mut changed, mut others) = (Answers::default(), Answers::default());
        for (key, answers) in now {
            let since = answers.minus(start.get(key).copied().unwrap_or_default());
            if self.touched.servers.contains(&key.1) {
                changed.add(since);
            } else {
                others.add(since);
            }
        }
        (changed, others)
    }

    async fn keep(&self, m: Measure) {
        let mut reason = format!(
            "kept v{}: {}",
            self.version,
            m.describe(&self.touched.pools, &self.guard)
        );
        if m.requests < self.guard.min_requests {
            reason.push_str(&format!(
                " (fewer than min_requests {}, so no verdict on the numbers)",
                self.guard.min_requests
            ));
        }
        self.finish(Verdict::Kept, &reason, &m, None).await;
    }

    async fn reject(&self, m: Measure) {
        let mut reason = format!(
            "auto-rollback of v{}: {}",
            self.version,
            m.describe(&self.touched.pools, &self.guard)
        );
        let culprit = self.culprit(&m);
        if let Some((_, text)) = &culprit {
            reason.push_str("; ");
            reason.push_str(text);
        }
        if !self.guard.auto_rollback {
            let reason = reason.replacen("auto-rollback of", "bad change", 1);
            return self.finish(Verdict::Failed, &reason, &m, None).await;
        }
        let meta = ChangeMeta {
            author: GUARD_AUTHOR.into(),
            message: reason.clone(),
            if_version: Some(self.version),
        };
        match self.control.rollback(self.parent, meta).await {
            Ok(applied) => {
                let rollback = applied.version.version;
                self.finish(Verdict::RolledBack, &reason, &m, Some(rollback))
                    .await;
                let notice = Notice {
                    kind: NoticeKind::AutoRollback,
                    version: Some(self.version),
                    pool: self.touched.pools.first().cloned(),
                    server: culprit.map(|(server, _)| server),
                    reason,
                    details: serde_json::json!({
                        "rollback_version": rollback, "rolled_back_to": self.parent,
                        "pools": self.touched.pools, "requests": m.requests, "errors": m.errors,
                        "rate": m.rate, "baseline": m.baseline,
                    }),
                    ts: Utc::now(),
                };
                let notify = self.control.proxy().config().notify.clone();
                self.control.guard.notifier.send(notify.as_ref(), notice);
            }
            Err(e) => {
                let reason = format!("{reason}; the rollback was refused: {e}");
                self.finish(Verdict::Superseded, &reason, &m, None).await;
            }
        }
    }

    /// Where the errors came from, best effort: the server with most 5xx of the last minute,
    /// or the servers the change brought in when 4xx answers made the difference.
    fn culprit(&self, m: &Measure) -> Option<(String, String)> {
        let added = |server: &str| {
            if self.touched.servers.iter().any(|s| s == server) {
                format!(" (added in v{})", self.version)
            } else {
                String::new()
            }
        };
        if !m.client_errors_counted {
            let servers: Vec<_> = self
                .control
                .proxy()
                .status()
                .into_iter()
                .filter(|p| self.touched.pools.contains(&p.name))
                .flat_map(|p| p.servers)
                .collect();
            let total: u64 = servers.iter().map(|s| s.errors_1m).sum();
            let top = servers.iter().max_by_key(|s| s.errors_1m)?;
            if total == 0 || top.errors_1m == 0 {
                return None;
            }
            let share = (top.errors_1m as f64 / total as f64 * 100.0).round();
            let text = format!(
                "{share}% of the errors came from {}{}",
                top.name,
                added(&top.name)
            );
            return Some((top.name.clone(), text));
        }
        let first = self.touched.servers.first()?;
        let text = format!(
            "the change brought {} into rotation",
            self.touched.servers.join(", ")
        );
        Some((first.clone(), text))
    }

    async fn finish(&self, verdict: Verdict, reason: &str, m: &Measure, rollback: Option<u64>) {
        self.control.guard.update(self.version, |b| {
            b.verdict = verdict;
            b.reason = Some(reason.into());
            b.rollback_version = rollback;
        });
        tracing::info!(
            version = self.version,
            verdict = verdict.as_str(),
            "{reason}"
        );
        let event = NewEvent {
            kind: EventKind::Guard,
            pool: (self.touched.pools.len() == 1).then(|| self.touched.pools[0].clone()),
            server: None,
            details: serde_json::json!({
                "version": self.version, "verdict": verdict.as_str(), "reason": reason,
                "pools": self.touched.pools, "requests": m.requests, "errors": m.errors,
                "rate": m.rate, "baseline": m.baseline,
                "client_errors_counted": m.client_errors_counted,
                "rollback_version": rollback,
            }),
        };
        if let Err(e) = self.control.blocking(move |s| s.record_event(event)).await {
            tracing::warn!(
                "could not record the guard's verdict on v{}: {e}",
                self.version
            );
        }
    }
}
