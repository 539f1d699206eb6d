//! A running rollout: each step is one version made through the control plane, then a wait for
//! health, the pool's `slow_start`, and a bake that compares each new server with the existing
//! ones; a failure or an abort takes the servers out again as one version whose message carries
//! the numbers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use prometheus_client::registry::Registry;
use switchyard_config::{ServerEdit, ServerState};
use switchyard_store::{EventKind, NewEvent, VersionKind};
use tokio::sync::watch;

mod gates;

use super::plan::{OnFailure, Plan, Step, WEIGHT_SCALE};
use super::{Failure, Phase, RolloutState, RolloutView};
use crate::control::{ChangeMeta, ControlPlane};

/// How often health and bakes look at the numbers.
const TICK: Duration = Duration::from_millis(250);
/// Consecutive 2xx answers a `check` path must give.
const CHECK_PASSES: u32 = 2;

pub(super) struct Runner {
    control: Arc<ControlPlane>,
    registry: Option<Arc<Registry>>,
    plan: Plan,
    view: watch::Sender<RolloutView>,
    abort: watch::Receiver<bool>,
    /// The pool's servers in rotation before the rollout: the canaries' reference.
    existing: Vec<String>,
    /// Servers this rollout put into the pool, by step.
    added: Vec<(usize, String)>,
    /// The pool's weights before a replacement scaled them.
    weights: Option<Vec<(String, u32)>>,
    /// The new server of a replacement under way, and the weight it would end with: a failure
    /// takes it out whatever `on_failure` says, since the pool's weights go back to what they
    /// were.
    replacing: Option<(String, u32)>,
}

type StepResult = Result<(), Failure>;

fn failure(what: &str, step: usize, server: Option<&str>, reason: String) -> Failure {
    Failure {
        what: what.into(),
        step,
        server: server.map(str::to_string),
        reason,
        evidence: serde_json::Value::Null,
    }
}

impl Runner {
    pub(super) fn new(
        control: Arc<ControlPlane>,
        registry: Option<Arc<Registry>>,
        plan: Plan,
        view: watch::Sender<RolloutView>,
        abort: watch::Receiver<bool>,
    ) -> Runner {
        let config = control.proxy().config();
        let existing = config.pools[&plan.pool]
            .servers
            .iter()
            .filter(|s| s.state == ServerState::Active)
            .map(|s| s.name.clone())
            .collect();
        Runner {
            control,
            registry,
            plan,
            view,
            abort,
            existing,
            added: Vec::new(),
            weights: None,
            replacing: None,
        }
    }

    pub(super) async fn run(mut self) {
        self.record().await;
        let mut outcome = Ok(());
        for i in 0..self.plan.steps.len() {
            if let Err(f) = self.step(i).await {
                outcome = Err(f);
                break;
            }
        }
        let id = self.view.borrow().id;
        let steps = self.plan.steps.len();
        match outcome {
            Ok(()) => {
                let added: Vec<String> = self.added.iter().map(|(_, s)| s.clone()).collect();
                let summary = format!(
                    "rollout {id} of pool {}: {} in {steps} step{}, each healthy and baked {}",
                    self.plan.pool,
                    added.join(", "),
                    if steps == 1 { "" } else { "s" },
                    switchyard_config::format_duration(self.plan.bake)
                );
                self.finish(RolloutState::Succeeded, summary);
            }
            Err(f) => {
                let aborted = f.what == "abort";
                let phase = if aborted {
                    Phase::Aborted
                } else {
                    Phase::Failed
                };
                self.set_phase(f.step - 1, phase);
                let (state, undo) = if aborted {
                    (
                        RolloutState::Aborted,
                        self.undo(&f, OnFailure::Remove).await,
                    )
                } else {
                    (
                        RolloutState::Failed,
                        self.undo(&f, self.plan.on_failure).await,
                    )
                };
                let mut summary = format!(
                    "rollout {id} of pool {} {} at step {} of {steps}: {}",
                    self.plan.pool,
                    if aborted { "aborted" } else { "failed" },
                    f.step,
                    f.reason
                );
                summary.push_str(&format!("; {undo}"));
                self.view.send_modify(|v| v.failure = Some(f));
                self.finish(state, summary);
            }
        }
        self.record().await;
    }

    fn finish(&self, state: RolloutState, summary: String) {
        tracing::info!(pool = %self.plan.pool, state = ?state, "{summary}");
        self.view.send_modify(|v| {
            v.state = state;
            v.summary = Some(summary);
            v.finished = Some(Utc::now());
        });
    }

    /// Records the rollout as it is now as an event.
    async fn record(&self) {
        let view = self.view.borrow().clone();
        let event = NewEvent {
            kind: EventKind::Rollout,
            pool: Some(view.pool.clone()),
            server: None,
            details: serde_json::to_value(&view).unwrap_or_default(),
        };
        if let Err(e) = self.control.blocking(move |s| s.record_event(event)).await {
            tracing::warn!("could not record rollout {}: {e}", view.id);
        }
    }

    fn set_phase(&self, i: usize, phase: Phase) {
        self.view.send_modify(|v| v.steps[i].phase = phase);
    }

    /// `fut`, unless an abort comes first.
    async fn abortable<T>(
        &self,
        step: usize,
        fut: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let mut abort = self.abort.clone();
        tokio::select! {
            r = fut => r,
            _ = abort.wait_for(|a| *a) => Err(failure("abort", step, None, "stopped by `rollout abort`".into())),
        }
    }

    async fn step(&mut self, i: usize) -> StepResult {
        let n = i + 1;
        match self.plan.steps[i].clone() {
            Step::Add(servers) => {
                self.check(i, &servers).await?;
                let edits = servers
                    .iter()
                    .map(|s| ServerEdit::Add {
                        name: s.name.clone(),
                        address: s.address,
                        weight: s.weight,
                    })
                    .collect();
                let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
                self.change(i, edits, &format!("add {}", names.join(", ")))
                    .await?;
                self.added.extend(names.iter().map(|s| (n, s.clone())));
                self.admit(i, &names).await?;
            }
            Step::Weigh {
                old,
                new,
                percent,
                first,
            } => {
                let old_weight = self.weight_of(&old);
                let weight = (old_weight * percent / 10).max(1);
                let mut edits = Vec::new();
                if first {
                    self.check(i, std::slice::from_ref(&new)).await?;
                    let config = self.control.proxy().config();
                    let weights: Vec<(String, u32)> = config.pools[&self.plan.pool]
                        .servers
                        .iter()
                        .map(|s| (s.name.clone(), s.weight))
                        .collect();
                    for (name, w) in &weights {
                        edits.push(ServerEdit::Weight {
                            name: name.clone(),
                            weight: w * WEIGHT_SCALE,
                        });
                    }
                    self.weights = Some(weights);
                    edits.push(ServerEdit::Add {
                        name: new.name.clone(),
                        address: new.address,
                        weight,
                    });
                } else {
                    edits.push(ServerEdit::Weight {
                        name: new.name.clone(),
                        weight,
                    });
                }
                let what = format!("{} at {percent}% of {old}'s weight", new.name);
                self.change(i, edits, &what).await?;
                if first {
                    self.added.push((n, new.name.clone()));
                    self.replacing = Some((new.name.clone(), old_weight));
                }
                self.admit(i, std::slice::from_ref(&new.name)).await?;
            }
            Step::Retire { old, new } => {
                let mut edits = self.restore_weights();
                edits.push(ServerEdit::Weight {
                    name: new.name.clone(),
                    weight: self.weight_of(&old),
                });
                edits.push(ServerEdit::State {
                    name: old.clone(),
                    state: ServerState::Removed,
                });
                self.change(i, edits, &format!("{} replaces {old}", new.name))
                    .await?;
                self.weights = None;
                self.replacing = None;
                self.existing.retain(|s| s != &old);
                self.set_phase(i, Phase::Draining);
                self.control
                    .drain(&self.plan.pool, &old, self.plan.drain_timeout)
                    .await;
            }
        }
        self.set_phase(i, Phase::Passed);
        Ok(())
    }

    /// `server`'s weight before the rollout scaled it.
    fn weight_of(&self, server: &str) -> u32 {
        if let Some(w) = self.weights.iter().flatten().find(|(s, _)| s == server) {
            return w.1;
        }
        let config = self.control.proxy().config();
        config.pools[&self.plan.pool]
            .server(server)
            .map_or(1, |s| s.weight)
    }

    /// Edits that give every server its weight from before a replacement scaled them.
    fn restore_weights(&self) -> Vec<ServerEdit> {
        self.weights
            .iter()
            .flatten()
            .map(|(name, weight)| ServerEdit::Weight {
                name: name.clone(),
                weight: *weight,
            })
            .collect()
    }

    /// Makes step `i`'s version.
    async fn change(&self, i: usize, edits: Vec<ServerEdit>, what: &str) -> StepResult {
        let (id, steps) = (self.view.borrow().id, self.plan.steps.len());
        let details = serde_json::json!({
            "pool": self.plan.pool, "rollout": id, "step": i + 1, "steps": steps,
        });
        let meta = ChangeMeta {
            author: self.plan.author.clone(),
            message: format!(
                "rollout {id} step {}/{steps}: {what}: {}",
                i + 1,
                self.plan.message
            ),
            if_version: None,
        };
        let applied = self
            .control
            .edit_servers(&self.plan.pool, edits, VersionKind::Rollout, details, meta)
            .await
            .map_err(|e| {
                failure(
                    "change",
                    i + 1,
                    None,
                    format!("the change was refused: {e}"),
                )
            })?;
        let version = applied.version.version;
        self.view
            .send_modify(|v| v.steps[i].version = Some(version));
        Ok(())
    }

    /// Health, then `slow_start`, then the bake.
    async fn admit(&mut self, i: usize, names: &[String]) -> StepResult {
        self.view.send_modify(|v| {
            v.added = self.added.iter().map(|(_, s)| s.clone()).collect();
            v.steps[i].phase = Phase::Health;
        });
        self.abortable(i + 1, self.healthy(i, names)).await?;
        if let Some(ramp) = self.control.proxy().config().pools[&self.plan.pool].slow_start {
            self.set_phase(i, Phase::Ramping);
            self.abortable(i + 1, async {
                tokio::time::sleep(ramp).await;
                Ok(())
            })
            .await?;
        }
        self.set_phase(i, Phase::Baking);
        self.abortable(i + 1, self.bake(i, names)).await
    }

    /// Takes the servers out again after `f` (all the rollout added, or with `Stop` only the
    /// failed step's) as one version, and lets their requests finish; says what it did.
    async fn undo(&mut self, f: &Failure, on_failure: OnFailure) -> String {
        let out: Vec<String> = self
            .added
            .iter()
            .filter(|(step, name)| {
                on_failure == OnFailure::Remove
                    || *step == f.step
                    || self.replacing.as_ref().is_some_and(|(r, _)| r == name)
            })
            .map(|(_, s)| s.clone())
            .collect();
        let mut edits = self.restore_weights();
        if let Some((name, weight)) = self.replacing.take() {
            edits.push(ServerEdit::Weight { name, weight });
        }
        edits.extend(out.iter().map(|s| ServerEdit::State {
            name: s.clone(),
            state: ServerState::Removed,
        }));
        if out.is_empty() && edits.is_empty() {
            return "no server had joined the pool".into();
        }
        let id = self.view.borrow().id;
        let details = serde_json::json!({
            "pool": self.plan.pool, "rollout": id, "undo": true, "servers": out,
            "failure": f.evidence,
        });
        let meta = ChangeMeta {
            author: self.plan.author.clone(),
            message: format!(
                "rollout {id} {}: took {} out again: {}",
                if f.what == "abort" {
                    "aborted"
                } else {
                    "failed"
                },
                if out.is_empty() {
                    "no server".into()
                } else {
                    out.join(", ")
                },
                f.reason
            ),
            if_version: None,
        };
        let applied = self
            .control
            .edit_servers(&self.plan.pool, edits, VersionKind::Rollout, details, meta)
            .await;
        let version = match applied {
            Ok(a) => a.version.version,
            Err(e) => {
                return format!(
                    "taking {} out again was refused: {e}; take them out with `switchyard servers remove`",
                    out.join(", ")
                )
            }
        };
        self.added.retain(|(_, s)| !out.contains(s));
        self.weights = None;
        let kept: Vec<String> = self.added.iter().map(|(_, s)| s.clone()).collect();
        self.view.send_modify(|v| {
            v.undo_version = Some(version);
            v.added = kept.clone();
        });
        let mut drains = HashMap::new();
        for s in &out {
            let d = self
                .control
                .drain(&self.plan.pool, s, self.plan.drain_timeout)
                .await;
            drains.insert(s.clone(), d.drained);
        }
        let mut text = format!("took {} out again as v{version}", out.join(", "));
        if !kept.is_empty() {
            text.push_str(&format!(
                " (kept {}, from steps that passed)",
                kept.join(", ")
            ));
        }
        text
    }
}
