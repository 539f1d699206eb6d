//! A rollout request checked against the running config and cut into steps: which servers
//! join in which step (`step`: `1`, `N` or `25%`), or, for replacements, which weights the new
//! server takes before the old one goes.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use switchyard_config::{Config, GuardConfig, ServerState};

use super::{Phase, RolloutError, RolloutState, RolloutView, StepView};

/// `POST /api/v1/pools/{pool}/rollouts`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RolloutRequest {
    #[serde(default)]
    pub add: Vec<NewServer>,
    #[serde(default)]
    pub replace: Vec<Replacement>,
    /// Servers per step: `1` (default), `N`, or a share of them such as `25%`.
    pub step: Option<String>,
    /// How long each step bakes, e.g. `60s` (default: `[guard] bake`, else 60s).
    pub bake: Option<String>,
    /// A path each new server must answer 2xx on before it joins the pool, e.g. `/health`.
    pub check: Option<String>,
    /// How long a step may wait for health checks. Default 60s.
    pub health_timeout: Option<String>,
    #[serde(default)]
    pub on_failure: OnFailure,
    /// A replacement's weights, in percent of the old server's. Default 10, 50, 100.
    pub weights: Option<Vec<u32>>,
    /// How long a replaced or removed server's requests get. Default 30s.
    pub drain_timeout: Option<String>,
    pub author: Option<String>,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewServer {
    pub name: String,
    /// IP:PORT.
    pub address: String,
    pub weight: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Replacement {
    /// The server that goes.
    pub old: String,
    pub new: NewServer,
}

/// What a failed step does to the steps that passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Take every server the rollout added out again, as one version.
    #[default]
    Remove,
    /// Take out only the failed step's servers; keep the steps that passed.
    Stop,
}

/// A checked server to add.
#[derive(Debug, Clone)]
pub(super) struct Server {
    pub name: String,
    pub address: SocketAddr,
    pub weight: u32,
}

/// One step of the plan.
#[derive(Debug, Clone)]
pub(super) enum Step {
    Add(Vec<Server>),
    /// `new` at `percent` of `old`'s weight; the first of a replacement adds it.
    Weigh {
        old: String,
        new: Server,
        percent: u32,
        first: bool,
    },
    /// Take `old` out and give `new` its weight.
    Retire {
        old: String,
        new: Server,
    },
}

/// The pool's weights are multiplied by this during a replacement, so that the new server can
/// take a tenth of the old one's weight.
pub(super) const WEIGHT_SCALE: u32 = 10;
const MAX_WEIGHT: u32 = 1000;

#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub pool: String,
    pub steps: Vec<Step>,
    pub bake: Duration,
    pub check: Option<String>,
    pub health_timeout: Duration,
    pub drain_timeout: Duration,
    pub on_failure: OnFailure,
    pub guard: GuardConfig,
    pub author: String,
    pub message: String,
}

fn duration(field: &str, text: Option<&str>, default: Duration) -> Result<Duration, RolloutError> {
    text.map_or(Ok(default), |t| {
        switchyard_config::parse_duration(t)
            .map_err(|e| RolloutError::Invalid(format!("{field}: {e}")))
    })
}

impl Plan {
    pub(super) fn new(
        config: &Config,
        pool: &str,
        r: RolloutRequest,
    ) -> Result<Plan, RolloutError> {
        let invalid = |s: String| Err(RolloutError::Invalid(s));
        let Some(p) = config.pools.get(pool) else {
            let known: Vec<String> = config.pools.keys().map(|k| format!("{k:?}")).collect();
            return invalid(format!(
                "pool {pool:?} does not exist; pools are: {}",
                known.join(", ")
            ));
        };
        if r.add.is_empty() == r.replace.is_empty() {
            return invalid("a rollout adds servers (--add NAME=ADDR) or replaces them (--replace OLD=NEW=ADDR): give one of the two".into());
        }
        let mut names: Vec<String> = Vec::new();
        let check_new = |s: &NewServer, names: &[String]| -> Result<Server, RolloutError> {
            let address: SocketAddr = s.address.parse().map_err(|_| {
                RolloutError::Invalid(format!(
                    "server {:?}: address {:?} is not an IP:PORT address; write it like 10.0.0.5:8080",
                    s.name, s.address
                ))
            })?;
            if p.server(&s.name).is_some() || names.contains(&s.name) {
                return Err(RolloutError::Invalid(format!(
                    "pool {pool:?} already has a server named {:?}; pick another name",
                    s.name
                )));
            }
            Ok(Server {
                name: s.name.clone(),
                address,
                weight: s.weight.unwrap_or(1),
            })
        };
        let mut servers = Vec::new();
        for s in &r.add {
            servers.push(check_new(s, &names)?);
            names.push(s.name.clone());
        }
        let mut steps = Vec::new();
        if !servers.is_empty() {
            let per_step = step_size(r.step.as_deref(), servers.len())?;
            steps = servers
                .chunks(per_step)
                .map(|c| Step::Add(c.to_vec()))
                .collect();
        }
        let weights = r.weights.clone().unwrap_or_else(|| vec![10, 50, 100]);
        if weights.is_empty() || weights.iter().any(|w| *w == 0 || *w > 100 || w % 10 != 0) {
            return invalid(format!("weights {weights:?}: give steps in tens of percent from 10 to 100, such as 10, 50, 100"));
        }
        if !r.replace.is_empty() {
            let heaviest = p.servers.iter().map(|s| s.weight).max().unwrap_or(1);
            if heaviest * WEIGHT_SCALE > MAX_WEIGHT {
                return invalid(format!("pool {pool:?} has a server of weight {heaviest}: a replacement multiplies weights by {WEIGHT_SCALE} for a while, and weights stop at {MAX_WEIGHT}"));
            }
        }
        for rep in &r.replace {
            match p.server(&rep.old) {
                Some(old) if old.state == ServerState::Active => {}
                Some(_) => {
                    return invalid(format!(
                        "{:?} in pool {pool:?} is already out of rotation: nothing to replace",
                        rep.old
                    ))
                }
                None => {
                    return invalid(format!(
                        "pool {pool:?} has no server {:?} to replace",
                        rep.old
                    ))
                }
            }
            let new = check_new(&rep.new, &names)?;
            names.push(rep.new.name.clone());
            for (i, percent) in weights.iter().enumerate() {
                steps.push(Step::Weigh {
                    old: rep.old.clone(),
                    new: new.clone(),
                    percent: *percent,
                    first: i == 0,
                });
            }
            steps.push(Step::Retire {
                old: rep.old.clone(),
                new,
            });
        }
        let guard = config.guard.clone().unwrap_or_default();
        Ok(Plan {
            pool: pool.to_string(),
            steps,
            bake: duration("bake", r.bake.as_deref(), guard.bake)?,
            check: match r.check {
                Some(c) if !c.starts_with('/') => {
                    return invalid(format!("check {c:?}: give a path such as /health"))
                }
                c => c,
            },
            health_timeout: duration(
                "health_timeout",
                r.health_timeout.as_deref(),
                Duration::from_secs(60),
            )?,
            drain_timeout: duration(
                "drain_timeout",
                r.drain_timeout.as_deref(),
                Duration::from_secs(30),
            )?,
            on_failure: r.on_failure,
            guard,
            author: r
                .author
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| "unknown".into()),
            message: r.message,
        })
    }

    /// The view of the rollout before its first step.
    pub(super) fn view(&self, id: u64, pool: &str) -> RolloutView {
        let steps = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (servers, weight_percent, replaces) = match s {
                    Step::Add(servers) => {
                        (servers.iter().map(|s| s.name.clone()).collect(), None, None)
                    }
                    Step::Weigh {
                        old, new, percent, ..
                    } => (vec![new.name.clone()], Some(*percent), Some(old.clone())),
                    Step::Retire { old, new } => (vec![new.name.clone()], None, Some(old.clone())),
                };
                StepView {
                    step: i + 1,
                    servers,
                    weight_percent,
                    replaces,
                    phase: Phase::Pending,
                    version: None,
                    bake: None,
                }
            })
            .collect();
        RolloutView {
            id,
            pool: pool.to_string(),
            author: self.author.clone(),
            message: self.message.clone(),
            state: RolloutState::Running,
            on_failure: self.on_failure,
            bake_s: self.bake.as_secs_f64(),
            started: Utc::now(),
            finished: None,
            steps,
            added: Vec::new(),
            failure: None,
            undo_version: None,
            summary: None,
        }
    }
}

/// Servers per step: `1`, `N`, or `25%` of `total` (at least one).
fn step_size(step: Option<&str>, total: usize) -> Result<usize, RolloutError> {
    let text = step.unwrap_or("1").trim();
    let bad = || {
        RolloutError::Invalid(format!(
            "step {text:?}: give a number of servers per step (1, 2) or a share of them (25%)"
        ))
    };
    let n = match text.strip_suffix('%') {
        Some(p) => {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(bad());
            }
            (total as f64 * p / 100.0).ceil() as usize
        }
        None => text.parse::<usize>().map_err(|_| bad())?,
    };
    if n == 0 {
        return Err(bad());
    }
    Ok(n.min(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_by_count_or_share() {
        assert_eq!(step_size(None, 3).unwrap(), 1);
        assert_eq!(step_size(Some("2"), 3).unwrap(), 2);
        assert_eq!(step_size(Some("25%"), 8).unwrap(), 2);
        assert_eq!(step_size(Some("25%"), 3).unwrap(), 1);
        assert_eq!(step_size(Some("100%"), 3).unwrap(), 3);
        for bad in ["0", "0%", "150%", "two", "-1"] {
            assert!(step_size(Some(bad), 3).is_err(), "{bad}");
        }
    }
}
