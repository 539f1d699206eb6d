//! The gates of a step: the rollout's own `check` probe before the servers join, the pool's
//! health checks after, and the bake that compares each new server with the existing ones over
//! the same seconds.

use std::time::Duration;

use chrono::Utc;
use switchyard_proxy::LiveState;
use tokio::time::Instant;

use super::{failure, Runner, StepResult, CHECK_PASSES, TICK};
use crate::answers::{self, Answers, ByServer};
use crate::guard::Canary;
use crate::rollout::plan::Server;
use crate::rollout::{BakeNumbers, Phase, ServerNumbers};

impl Runner {
    /// Probes the rollout's `check` path on `servers` before they join the pool.
    pub(super) async fn check(&self, i: usize, servers: &[Server]) -> StepResult {
        let Some(path) = &self.plan.check else {
            return Ok(());
        };
        self.set_phase(i, Phase::Checking);
        for s in servers {
            let probe = probe(s, path, self.plan.health_timeout);
            self.abortable(i + 1, async {
                probe
                    .await
                    .map_err(|reason| failure("check", i + 1, Some(&s.name), reason))
            })
            .await?;
        }
        Ok(())
    }

    /// Waits until `names` are in rotation and pass the pool's health checks.
    pub(super) async fn healthy(&self, i: usize, names: &[String]) -> StepResult {
        let deadline = Instant::now() + self.plan.health_timeout;
        loop {
            let status = self.control.proxy().status();
            let servers = status
                .iter()
                .find(|p| p.name == self.plan.pool)
                .map(|p| p.servers.clone())
                .unwrap_or_default();
            let waiting = names.iter().find_map(|n| {
                let s = servers.iter().find(|s| &s.name == n)?;
                (s.state != LiveState::Active).then(|| s.clone())
            });
            let Some(waiting) = waiting else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                let reason = format!(
                    "{} did not pass pool {}'s health checks within {}: {}",
                    waiting.name,
                    self.plan.pool,
                    switchyard_config::format_duration(self.plan.health_timeout),
                    waiting
                        .health_reason
                        .unwrap_or_else(|| format!("it is {:?}", waiting.state))
                );
                let mut f = failure("health", i + 1, Some(&waiting.name), reason);
                f.evidence =
                    serde_json::json!({ "health": waiting.health, "state": waiting.state });
                return Err(f);
            }
            tokio::time::sleep(TICK).await;
        }
    }

    fn answers(&self) -> ByServer {
        match &self.registry {
            Some(r) => answers::snapshot(r, std::slice::from_ref(&self.plan.pool)),
            None => ByServer::default(),
        }
    }

    /// Compares each of `names` with the existing servers over the same seconds, for the
    /// bake time or until one is worse beyond chance.
    pub(super) async fn bake(&self, i: usize, names: &[String]) -> StepResult {
        let start = self.answers();
        let started = Utc::now();
        let until = started + self.plan.bake;
        let deadline = Instant::now() + self.plan.bake;
        let since = |now: &ByServer, server: &str| {
            let key = (self.plan.pool.clone(), server.to_string());
            let at_start = start.get(&key).copied().unwrap_or_default();
            now.get(&key).copied().unwrap_or_default().minus(at_start)
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(TICK)).await;
            let now = self.answers();
            let mut existing = Answers::default();
            for s in &self.existing {
                existing.add(since(&now, s));
            }
            let canaries: Vec<(String, Canary)> = names
                .iter()
                .map(|n| {
                    let c = Canary::new(since(&now, n), existing, &self.plan.guard);
                    (n.clone(), c)
                })
                .collect();
            let numbers = |server: &str, a: Answers, rate: f64, p90: Option<f64>| ServerNumbers {
                server: server.to_string(),
                requests: a.requests,
                errors: a.errors,
                client_errors: a.client_errors,
                error_rate: rate,
                p90_ms: p90.map(|s| s * 1000.0),
            };
            let bake = BakeNumbers {
                started,
                until,
                new: canaries
                    .iter()
                    .map(|(n, c)| numbers(n, c.new, c.new_rate, c.new_p90))
                    .collect(),
                existing: numbers(
                    "existing",
                    existing,
                    canaries.first().map_or(0.0, |(_, c)| c.existing_rate),
                    canaries.first().and_then(|(_, c)| c.existing_p90),
                ),
            };
            self.view.send_modify(|v| v.steps[i].bake = Some(bake));
            if let Some((server, c)) = canaries.iter().find(|(_, c)| c.bad()) {
                let mut f = failure(
                    "bake",
                    i + 1,
                    Some(server),
                    c.describe(server, &self.plan.guard),
                );
                f.evidence = serde_json::json!({
                    "server": server,
                    "requests": c.new.requests, "errors": c.new.errors,
                    "client_errors": c.new.client_errors, "error_rate": c.new_rate,
                    "existing_requests": c.existing.requests,
                    "existing_errors": c.existing.errors,
                    "existing_error_rate": c.existing_rate,
                    "client_errors_counted": c.client_errors_counted,
                    "standard_errors": if c.z.is_finite() { Some(c.z) } else { None },
                    "failing": c.failing,
                    "slow": c.slow,
                    "p90_ms": c.new_p90.map(|s| s * 1000.0),
                    "existing_p90_ms": c.existing_p90.map(|s| s * 1000.0),
                });
                return Err(f);
            }
            if Instant::now() >= deadline {
                return Ok(());
            }
        }
    }
}

/// Asks `server` for `path` until it answers 2xx [`CHECK_PASSES`] times in a row, for at most
/// `timeout`; the error says what it answered last.
async fn probe(server: &Server, path: &str, timeout: Duration) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("http://{}{path}", server.address);
    let deadline = Instant::now() + timeout;
    let (mut passes, mut last) = (0, String::from("no answer yet"));
    loop {
        match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => passes += 1,
            Ok(r) => {
                passes = 0;
                last = format!("answered {}", r.status().as_u16());
            }
            Err(e) => {
                passes = 0;
                last = format!("could not be reached ({e})");
            }
        }
        if passes >= CHECK_PASSES {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{} did not answer 2xx on {path} within {}: it {last}",
                server.name,
                switchyard_config::format_duration(timeout)
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
