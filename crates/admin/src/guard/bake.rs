//! One version's bake: watch the numbers until a limit is crossed or the bake time is over,
//! then keep the version or roll it back, and record the verdict.

use std::time::Duration;

use chrono::Utc;
use switchyard_config::GuardConfig;
use switchyard_store::{EventKind, NewEvent};
use tokio::time::Instant;

use super::{touched, BakeView, Counts, Measure, Touched, Verdict, Watcher, GUARDED_KINDS};
use crate::answers::{Answers, ByServer};
use crate::control::notify::{Notice, NoticeKind};
use crate::control::{ChangeMeta, Published};
use crate::GUARD_AUTHOR;

/// How far back the baseline reaches.
const BASELINE: Duration = Duration::from_secs(300);
/// How often a bake looks at the numbers.
const TICK: Duration = Duration::from_millis(500);

/// One running bake.
pub(super) struct Bake<'a> {
    w: &'a Watcher,
    version: u64,
    parent: u64,
    touched: Touched,
    guard: GuardConfig,
    started: chrono::DateTime<Utc>,
}

impl<'a> Bake<'a> {
    /// A bake for `published`, when the config has `[guard]`, the kind of version is guarded
    /// and it touched a pool.
    pub(super) fn start(w: &'a Watcher, published: &Published) -> Option<Bake<'a>> {
        let guard = published.new.guard.clone()?;
        if !GUARDED_KINDS.contains(&published.kind) {
            return None;
        }
        let touched = touched(&published.old, &published.new, &published.changes);
        if touched.pools.is_empty() {
            return None;
        }
        Some(Bake {
            w,
            version: published.version,
            parent: published.parent,
            touched,
            guard,
            started: w.clock.now(),
        })
    }

    /// The view of a bake that has just started.
    pub(super) fn view(&self) -> BakeView {
        BakeView {
            version: self.version,
            pools: self.touched.pools.clone(),
            started: self.started,
            until: self.started + self.guard.bake,
            requests: 0,
            errors: 0,
            rate: 0.0,
            baseline: 0.0,
            client_errors_counted: false,
            verdict: Verdict::Baking,
            reason: None,
            rollback_version: None,
        }
    }

    /// Changes this bake's view, unless a newer bake has replaced it.
    pub(super) fn update(&self, f: impl FnOnce(&mut BakeView)) {
        self.w.seen.send_modify(|s| {
            if let Some(b) = s.bake.as_mut().filter(|b| b.version == self.version) {
                f(b);
            }
        });
    }

    fn unix_now(&self) -> u64 {
        self.w.clock.now().timestamp().max(0) as u64
    }

    /// Looks at the numbers every [`TICK`] until they cross a limit or the bake time is over;
    /// returns the last measure.
    pub(super) async fn watch(&self) -> Measure {
        let deadline = Instant::now() + self.guard.bake;
        let start = self.unix_now();
        let proxy = self.w.control.proxy().clone();
        let pools = &self.touched.pools;
        let baseline_from = start.saturating_sub(BASELINE.as_secs());
        let before = Counts::of(&proxy, pools, baseline_from, start);
        // Answers of the change's own second so far came before the change.
        let head_start = Counts::of(&proxy, pools, start, start);
        let servers_at_start = self.server_answers();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(TICK)).await;
            let (changed, others) = self.split(&servers_at_start, &self.server_answers());
            let since = Counts::of(&proxy, pools, start, self.unix_now()).minus(head_start);
            let m = Measure::new(before, since, changed, others, &self.guard);
            self.update(|b| {
                b.requests = m.requests;
                b.errors = m.errors;
                b.rate = m.rate;
                b.baseline = m.baseline;
                b.client_errors_counted = m.client_errors_counted;
            });
            if m.bad(&self.guard) || Instant::now() >= deadline {
                return m;
            }
        }
    }

    /// Keeps the version or rolls it back, as `m` says.
    pub(super) async fn conclude(&self, m: Measure) {
        if m.bad(&self.guard) {
            self.reject(m).await
        } else {
            self.keep(m).await
        }
    }

    /// Every server's answers in the touched pools so far.
    fn server_answers(&self) -> ByServer {
        match &self.w.registry {
            Some(r) => crate::answers::snapshot(r, &self.touched.pools),
            None => Default::default(),
        }
    }

    /// Answers since `start`: of the servers the change added or changed, and of the others.
    fn split(&self, start: &ByServer, now: &ByServer) -> (Answers, Answers) {
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
        let control = &self.w.control;
        match control.rollback(self.parent, meta).await {
            Ok(applied) => {
                let rollback = applied.version.version;
                self.finish(Verdict::RolledBack, &reason, &m, Some(rollback))
                    .await;
                control.notify(Notice {
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
                });
            }
            Err(e) => {
                let reason = format!("{reason}; the rollback was refused: {e}");
                self.finish(Verdict::Superseded, &reason, &m, None).await;
            }
        }
    }

    /// Where the errors came from, best effort: the server with most errors of the last minute
    /// (its 4xx included when 4xx answers made the difference), with its share.
    fn culprit(&self, m: &Measure) -> Option<(String, String)> {
        let servers: Vec<_> = self
            .w
            .control
            .proxy()
            .status()
            .into_iter()
            .filter(|p| self.touched.pools.contains(&p.name))
            .flat_map(|p| p.servers)
            .collect();
        let counted = |s: &switchyard_proxy::ServerStatus| {
            s.errors_1m
                + if m.client_errors_counted {
                    s.client_errors_1m
                } else {
                    0
                }
        };
        let total: u64 = servers.iter().map(counted).sum();
        let top = servers.iter().max_by_key(|s| counted(s))?;
        if total == 0 || counted(top) == 0 {
            return None;
        }
        let share = (counted(top) as f64 / total as f64 * 100.0).round();
        let added = if self.touched.servers.contains(&top.name) {
            format!(" (added in v{})", self.version)
        } else {
            String::new()
        };
        let what = if m.client_errors_counted {
            "errors (4xx included)"
        } else {
            "errors"
        };
        let text = format!("{share}% of the {what} came from {}{added}", top.name);
        Some((top.name.clone(), text))
    }

    async fn finish(&self, verdict: Verdict, reason: &str, m: &Measure, rollback: Option<u64>) {
        self.update(|b| {
            b.verdict = verdict;
            b.reason = Some(reason.into());
            b.rollback_version = rollback;
        });
        tracing::info!(
            version = self.version,
            verdict = verdict.as_str(),
            "{reason}"
        );
        let pools = &self.touched.pools;
        let event = NewEvent {
            kind: EventKind::Guard,
            pool: (pools.len() == 1).then(|| pools[0].clone()),
            server: None,
            details: serde_json::json!({
                "version": self.version, "verdict": verdict.as_str(), "reason": reason,
                "pools": pools, "requests": m.requests, "errors": m.errors,
                "rate": m.rate, "baseline": m.baseline,
                "client_errors_counted": m.client_errors_counted,
                "rollback_version": rollback,
            }),
        };
        let recorded = self
            .w
            .control
            .blocking(move |s| s.record_event(event))
            .await;
        if let Err(e) = recorded {
            tracing::warn!(
                "could not record the guard's verdict on v{}: {e}",
                self.version
            );
        }
    }
}
