//! Decommission: take servers out of a pool (one version), then let their requests finish; but
//! only while the pool keeps its `min_servers` and the servers that remain have room for the
//! pool's peak of requests in flight over the last 5 minutes, sampled every second here.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchyard_config::{ServerEdit, ServerState};
use switchyard_proxy::DrainOutcome;
use switchyard_store::{EventKind, NewEvent, VersionKind};
use tokio::time::Instant;

use super::RolloutError;
use crate::control::{Applied, ChangeMeta, ControlPlane};

/// How far back the peak of requests in flight reaches.
const PEAK_WINDOW: Duration = Duration::from_secs(300);
/// How often the pools' requests in flight are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// A server is saturated at this share of its limit (as the proxy's saturation events say).
const SATURATION: f64 = 0.9;

/// `POST /api/v1/pools/{pool}/decommission`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DecommissionRequest {
    /// Take out this many servers, the last in the pool's order first...
    pub count: Option<usize>,
    /// ...or these.
    #[serde(default)]
    pub servers: Vec<String>,
    /// How long their requests get. Default 30s.
    pub drain_timeout: Option<String>,
    pub author: Option<String>,
    #[serde(default)]
    pub message: String,
}

/// What a decommission did.
#[derive(Debug, Clone, Serialize)]
pub struct Decommissioned {
    #[serde(flatten)]
    pub applied: Applied,
    pub pool: String,
    pub removed: Vec<String>,
    pub remaining: usize,
    pub drains: Vec<DrainOutcome>,
}

/// The pools' requests in flight, second by second, for the last [`PEAK_WINDOW`].
#[derive(Default)]
pub(super) struct Peak {
    samples: Mutex<VecDeque<(Instant, HashMap<String, u64>)>>,
}

impl Peak {
    /// Samples every [`SAMPLE_EVERY`] for as long as the process runs.
    pub(super) async fn sample(self: Arc<Self>, control: Arc<ControlPlane>) {
        loop {
            let now: HashMap<String, u64> = control
                .proxy()
                .status()
                .into_iter()
                .map(|p| {
                    let n = p.servers.iter().map(|s| u64::from(s.in_flight)).sum();
                    (p.name, n)
                })
                .collect();
            {
                let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
                samples.push_back((Instant::now(), now));
                while samples
                    .front()
                    .is_some_and(|(at, _)| at.elapsed() > PEAK_WINDOW)
                {
                    samples.pop_front();
                }
            }
            tokio::time::sleep(SAMPLE_EVERY).await;
        }
    }

    /// The most requests `pool` had in flight at once in the last 5 minutes.
    fn of(&self, pool: &str) -> u64 {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples
            .iter()
            .filter_map(|(_, p)| p.get(pool).copied())
            .max()
            .unwrap_or(0)
    }
}

/// Checks the limits, then takes the servers out as one version and drains them. A refusal is
/// recorded as an event too.
pub(super) async fn run(
    control: &ControlPlane,
    peak: &Peak,
    pool: &str,
    r: DecommissionRequest,
) -> Result<Decommissioned, RolloutError> {
    let drain_timeout = match &r.drain_timeout {
        None => Duration::from_secs(30),
        Some(t) => switchyard_config::parse_duration(t)
            .map_err(|e| RolloutError::Invalid(format!("drain_timeout: {e}")))?,
    };
    let author = r
        .author
        .clone()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "unknown".into());
    let config = control.proxy().config();
    let Some(p) = config.pools.get(pool) else {
        return Err(RolloutError::Invalid(format!(
            "pool {pool:?} does not exist"
        )));
    };
    let active: Vec<&str> = p
        .servers
        .iter()
        .filter(|s| s.state == ServerState::Active)
        .map(|s| s.name.as_str())
        .collect();
    let chosen: Vec<String> = match (r.count, r.servers.is_empty()) {
        (Some(_), false) | (None, true) => {
            return Err(RolloutError::Invalid(
                "give a count of servers (--count N) or their names, not both".into(),
            ))
        }
        (Some(n), true) => {
            if n == 0 || n > active.len() {
                return Err(RolloutError::Invalid(format!(
                    "--count {n}: pool {pool:?} has {} server{} in rotation",
                    active.len(),
                    if active.len() == 1 { "" } else { "s" }
                )));
            }
            active[active.len() - n..]
                .iter()
                .map(|s| s.to_string())
                .collect()
        }
        (None, false) => {
            for s in &r.servers {
                if !active.contains(&s.as_str()) {
                    return Err(RolloutError::Invalid(format!(
                        "pool {pool:?} has no server {s:?} in rotation; in rotation: {}",
                        active.join(", ")
                    )));
                }
            }
            r.servers.clone()
        }
    };
    let remaining: Vec<&str> = active
        .iter()
        .copied()
        .filter(|s| !chosen.iter().any(|c| c == s))
        .collect();
    let limits: HashMap<String, u32> = control
        .proxy()
        .status()
        .into_iter()
        .filter(|ps| ps.name == pool)
        .flat_map(|ps| ps.servers)
        .map(|s| (s.name, s.limit))
        .collect();
    let room: u64 = remaining
        .iter()
        .map(|s| u64::from(limits.get(*s).copied().unwrap_or(0)))
        .sum();
    let peak = peak.of(pool);
    let refusal = if let Some(min) = p.min_servers.filter(|m| remaining.len() < *m as usize) {
        Some(format!(
            "refused: taking out {} would leave pool {pool:?} with {} server{} in rotation, below its min_servers {min}; nothing was changed",
            chosen.join(", "),
            remaining.len(),
            if remaining.len() == 1 { "" } else { "s" }
        ))
    } else if peak > 0 && peak as f64 >= room as f64 * SATURATION {
        Some(format!(
            "refused: the {} server{} left in pool {pool:?} would saturate: together they take {room} requests in flight (saturated at {:.0}%: {:.0}), and the pool's peak over the last 5 minutes was {peak}; nothing was changed",
            remaining.len(),
            if remaining.len() == 1 { "" } else { "s" },
            SATURATION * 100.0,
            room as f64 * SATURATION
        ))
    } else {
        None
    };
    let details = serde_json::json!({
        "pool": pool, "servers": chosen, "remaining": remaining.len(),
        "min_servers": p.min_servers, "peak_in_flight_5m": peak, "room": room,
        "author": author, "message": r.message,
    });
    if let Some(reason) = refusal {
        record(
            control,
            pool,
            serde_json::json!({ "refused": reason, "request": details }),
        )
        .await;
        return Err(RolloutError::Refused(reason));
    }
    let edits = chosen
        .iter()
        .map(|s| ServerEdit::State {
            name: s.clone(),
            state: ServerState::Removed,
        })
        .collect();
    let meta = ChangeMeta {
        author,
        message: format!("decommission {}: {}", chosen.join(", "), r.message),
        if_version: None,
    };
    let applied = control
        .edit_servers(
            pool,
            edits,
            VersionKind::Decommission,
            details.clone(),
            meta,
        )
        .await?;
    let mut drains = Vec::new();
    for s in &chosen {
        drains.push(control.drain(pool, s, drain_timeout).await);
    }
    let mut done = details;
    done["version"] = applied.version.version.into();
    record(control, pool, done).await;
    Ok(Decommissioned {
        applied,
        pool: pool.to_string(),
        removed: chosen,
        remaining: remaining.len(),
        drains,
    })
}

async fn record(control: &ControlPlane, pool: &str, details: serde_json::Value) {
    let event = NewEvent {
        kind: EventKind::Decommission,
        pool: Some(pool.to_string()),
        server: None,
        details,
    };
    if let Err(e) = control.blocking(move |s| s.record_event(event)).await {
        tracing::warn!("could not record a decommission of pool {pool}: {e}");
    }
}
