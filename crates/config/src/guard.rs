//! Settings of the change guard (`[guard]`) and of outgoing notifications (`[notify]`).
//!
//! The guard watches the pools a new version touched for `bake` and rolls the version back when
//! their error rate crosses a limit; the admin crate runs it. These types only hold the checked
//! settings.

use std::time::Duration;

use serde::Serialize;

use crate::duration::ser_duration;
use crate::health::{Factor, Fraction};

/// Default time a new version is watched.
pub const DEFAULT_BAKE: Duration = Duration::from_secs(60);
/// Default absolute limit on the error rate of the touched pools.
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.05;
/// Default limit on the rise of the error rate over the 5 minutes before the change.
pub const DEFAULT_MAX_INCREASE: f64 = 0.02;
/// Default number of requests below which the guard gives no verdict.
pub const DEFAULT_MIN_REQUESTS: u64 = 100;
/// Default limit on a rollout's new server's p90 latency, as a multiple of the existing servers'.
pub const DEFAULT_MAX_LATENCY_RATIO: f64 = 2.0;
/// Default least rise of that p90 over the existing servers' that counts.
pub const DEFAULT_MIN_LATENCY_INCREASE: Duration = Duration::from_millis(50);
/// Default time one webhook POST may take.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);
/// Default number of retries of a failed webhook POST.
pub const DEFAULT_NOTIFY_RETRIES: u32 = 3;

/// `[guard]`: watch every change to pools or routes while it bakes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardConfig {
    /// How long a new version is watched. Default 60s.
    #[serde(serialize_with = "ser_duration")]
    pub bake: Duration,
    /// Error rate of the touched pools above which the change is bad. Default 0.05.
    pub max_error_rate: Fraction,
    /// Or rise of the error rate over the baseline above which it is bad. Default 0.02.
    pub max_increase: Fraction,
    /// No verdict on fewer requests. Default 100.
    pub min_requests: u64,
    /// A rollout's new server is slow when its p90 latency is above this many times the
    /// existing servers' over the same seconds... Default 2.
    pub max_latency_ratio: Factor,
    /// ...and at least this much above it. Default 50ms.
    #[serde(serialize_with = "ser_duration")]
    pub min_latency_increase: Duration,
    /// Roll a bad change back by itself; otherwise only record the verdict. Default true.
    pub auto_rollback: bool,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            bake: DEFAULT_BAKE,
            max_error_rate: Fraction(DEFAULT_MAX_ERROR_RATE),
            max_increase: Fraction(DEFAULT_MAX_INCREASE),
            min_requests: DEFAULT_MIN_REQUESTS,
            max_latency_ratio: Factor(DEFAULT_MAX_LATENCY_RATIO),
            min_latency_increase: DEFAULT_MIN_LATENCY_INCREASE,
            auto_rollback: true,
        }
    }
}

/// `[notify]`: where auto-rollbacks, ejections and all-unhealthy pools are POSTed as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotifyConfig {
    /// `http://host:port/path`.
    pub webhook: String,
    /// Time one POST may take. Default 2s.
    #[serde(serialize_with = "ser_duration")]
    pub timeout: Duration,
    /// Retries of a failed POST, with doubling pauses. Default 3.
    pub retries: u32,
}

#[cfg(test)]
mod tests {
    use crate::Config;

    const BASE: &str = "[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:8080\"\n\n[[routes]]\npool = \"p\"\n\n[[pools.p.servers]]\nname = \"a\"\naddress = \"127.0.0.1:9101\"\n";

    #[test]
    fn defaults_and_round_trip() {
        let text = format!(
            "{BASE}\n[guard]\nbake = \"3s\"\n\n[notify]\nwebhook = \"http://127.0.0.1:9/h\"\n"
        );
        let config = Config::parse(&text, "t.toml").unwrap();
        let guard = config.guard.clone().unwrap();
        assert_eq!(guard.bake, std::time::Duration::from_secs(3));
        assert_eq!(guard.min_requests, 100);
        assert_eq!(guard.max_latency_ratio.0, 2.0);
        assert_eq!(
            guard.min_latency_increase,
            std::time::Duration::from_millis(50)
        );
        assert!(guard.auto_rollback);
        assert_eq!(config.notify.as_ref().unwrap().retries, 3);
        let again = Config::parse(&config.to_toml(), "canonical").unwrap();
        assert_eq!(again, config);
        assert_eq!(Config::parse(BASE, "t.toml").unwrap().guard, None);
    }

    #[test]
    fn latency_limits() {
        let text =
            format!("{BASE}\n[guard]\nmax_latency_ratio = 1.5\nmin_latency_increase = \"20ms\"\n");
        let guard = Config::parse(&text, "t.toml").unwrap().guard.unwrap();
        assert_eq!(guard.max_latency_ratio.0, 1.5);
        assert_eq!(
            guard.min_latency_increase,
            std::time::Duration::from_millis(20)
        );
        let text =
            format!("{BASE}\n[guard]\nmax_latency_ratio = 0.5\nmin_latency_increase = \"fast\"\n");
        let err = Config::parse(&text, "t.toml").unwrap_err().to_string();
        assert!(
            err.contains("t.toml:13:21: guard.max_latency_ratio is 0.5; allowed: 1 to 1000"),
            "{err}"
        );
        assert!(err.contains("guard.min_latency_increase"), "{err}");
    }

    #[test]
    fn located_errors() {
        let text =
            format!("{BASE}\n[guard]\nmax_error_rate = 1.5\n\n[notify]\nwebhook = \"https://x\"\n");
        let err = Config::parse(&text, "t.toml").unwrap_err().to_string();
        assert!(
            err.contains("t.toml:13:18: guard.max_error_rate is 1.5"),
            "{err}"
        );
        assert!(
            err.contains("t.toml:16:11: notify.webhook \"https://x\" is not an http URL"),
            "{err}"
        );
    }
}
