//! A rollout's canary comparison: one new server's answers against the existing servers' over
//! the same seconds, on errors (with 4xx when the new server answers them clearly more often)
//! and on p90 latency. Pure functions of the numbers, tested without sockets.

use switchyard_config::GuardConfig;

use super::measure::{client_errors_elevated, limit, percent, share, short, thousands, z};
use crate::answers::Answers;

/// A new server needs this many requests before a canary verdict.
const CANARY_MIN_REQUESTS: u64 = 20;
/// ...and its error rate this many standard errors above the existing servers'.
const CANARY_Z: f64 = 3.0;
/// The latency the comparison reads: the 90th percentile.
const QUANTILE: f64 = 0.9;

/// One new server against the existing ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Canary {
    pub new: Answers,
    pub existing: Answers,
    pub new_rate: f64,
    pub existing_rate: f64,
    pub client_errors_counted: bool,
    /// Standard errors between the two rates.
    pub z: f64,
    /// p90 response times in seconds, when there were answers to time.
    pub new_p90: Option<f64>,
    pub existing_p90: Option<f64>,
    /// Errors beyond the limits and beyond chance.
    pub failing: bool,
    /// p90 beyond the latency limits.
    pub slow: bool,
}

impl Canary {
    /// Nothing is decided before the new server has [`CANARY_MIN_REQUESTS`]. Then it is
    /// failing when its error rate is over `max_error_rate` or over the existing servers' plus
    /// `max_increase`, and the difference is beyond chance; slow when the existing servers were
    /// timed as often, and its p90 is over `max_latency_ratio` times theirs and at least
    /// `min_latency_increase` above it.
    pub(crate) fn new(new: Answers, existing: Answers, guard: &GuardConfig) -> Canary {
        let counted = client_errors_elevated(new, existing);
        let errors = |a: Answers| a.errors + if counted { a.client_errors } else { 0 };
        let (new_errors, existing_errors) = (errors(new), errors(existing));
        let new_rate = share(new_errors, new.requests);
        let existing_rate = share(existing_errors, existing.requests);
        let z = z(
            (new_errors, new.requests),
            (existing_errors, existing.requests),
        );
        let enough = new.requests >= CANARY_MIN_REQUESTS;
        let over =
            new_rate > guard.max_error_rate.0 || new_rate > existing_rate + guard.max_increase.0;
        let failing = enough && over && z > CANARY_Z;
        let new_p90 = new.latency.quantile(QUANTILE);
        let existing_p90 = existing.latency.quantile(QUANTILE);
        let slow = match (new_p90, existing_p90) {
            (Some(n), Some(e)) => {
                new.latency.count() >= CANARY_MIN_REQUESTS
                    && existing.latency.count() >= CANARY_MIN_REQUESTS
                    && n > e * guard.max_latency_ratio.0
                    && n - e >= guard.min_latency_increase.as_secs_f64()
            }
            _ => false,
        };
        Canary {
            new,
            existing,
            new_rate,
            existing_rate,
            client_errors_counted: counted,
            z,
            new_p90,
            existing_p90,
            failing,
            slow,
        }
    }

    /// Failing or slow: the step fails.
    pub(crate) fn bad(&self) -> bool {
        self.failing || self.slow
    }

    /// What the verdict rests on: the errors when they decided it (or nothing did), then the
    /// latency when it did, as in
    /// "inventory-7: error rate 21.3% over 45 requests against 0.0% on the existing servers over
    /// 612 (6.1 standard errors; limits 2% above the existing servers, 5% in all)".
    pub(crate) fn describe(&self, server: &str, guard: &GuardConfig) -> String {
        let mut parts = Vec::new();
        if self.failing || !self.slow {
            parts.push(self.describe_errors(guard));
        }
        if self.slow {
            parts.push(self.describe_latency(guard));
        }
        format!("{server}: {}", parts.join("; "))
    }

    fn describe_errors(&self, guard: &GuardConfig) -> String {
        let counting = if self.client_errors_counted {
            ", 4xx counted"
        } else {
            ""
        };
        let z = if self.z.is_finite() {
            format!("{:.1} standard errors", self.z)
        } else {
            "no existing server took requests".into()
        };
        format!(
            "error rate {} over {} requests against {} on the existing servers over {}{counting} ({z}; limits {} above the existing servers, {} in all)",
            percent(self.new_rate),
            thousands(self.new.requests),
            percent(self.existing_rate),
            thousands(self.existing.requests),
            limit(guard.max_increase.0),
            limit(guard.max_error_rate.0),
        )
    }

    /// "p90 latency 212 ms over 45 requests against 1.9 ms on the existing servers over 612
    /// (limits 2x the existing servers' and 50 ms above)"
    fn describe_latency(&self, guard: &GuardConfig) -> String {
        format!(
            "p90 latency {} over {} requests against {} on the existing servers over {} (limits {}x the existing servers' and {} above)",
            millis(self.new_p90.unwrap_or_default()),
            thousands(self.new.latency.count()),
            millis(self.existing_p90.unwrap_or_default()),
            thousands(self.existing.latency.count()),
            short(guard.max_latency_ratio.0),
            millis(guard.min_latency_increase.as_secs_f64()),
        )
    }
}

/// Seconds as `212 ms`, `1.9 ms` or `2.35 s`.
fn millis(seconds: f64) -> String {
    switchyard_config::format_millis(seconds * 1000.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::answers::Latency;

    fn guard() -> GuardConfig {
        GuardConfig::default()
    }

    fn answers(requests: u64, client_errors: u64) -> Answers {
        Answers::counted(requests, 0, client_errors)
    }

    const NONE: Answers = Answers::NONE;

    fn failing(requests: u64, errors: u64) -> Answers {
        Answers::counted(requests, errors, 0)
    }

    /// `requests` answers, all taking about `seconds`.
    fn timed(requests: u64, seconds: f64) -> Answers {
        Answers {
            requests,
            latency: Latency::all_at(seconds, requests),
            ..Answers::default()
        }
    }

    #[test]
    fn a_canary_answering_500_to_one_in_five_is_bad() {
        let c = Canary::new(failing(40, 8), failing(600, 0), &guard());
        assert!(c.bad(), "{c:?}");
        assert_eq!(
            c.describe("inventory-7", &guard()),
            "inventory-7: error rate 20.0% over 40 requests against 0.0% on the existing servers over 600 (11.0 standard errors; limits 2% above the existing servers, 5% in all)"
        );
        // Too few requests yet for a verdict.
        assert!(!Canary::new(failing(10, 2), failing(600, 0), &guard()).bad());
    }

    #[test]
    fn a_canary_like_the_others_is_good() {
        // The same 3% as everybody: a noisy backend, not the new server's fault.
        let c = Canary::new(failing(200, 6), failing(600, 18), &guard());
        assert!(!c.bad(), "{c:?}");
        assert!(!Canary::new(failing(200, 0), NONE, &guard()).bad());
        // A canary answering 404 is as bad as one answering 500.
        let c = Canary::new(answers(100, 30), answers(600, 6), &guard());
        assert!(c.client_errors_counted && c.bad(), "{c:?}");
    }

    #[test]
    fn a_slow_canary_is_bad() {
        let c = Canary::new(timed(40, 0.2), timed(600, 0.0015), &guard());
        assert!(c.slow && c.bad() && !c.failing, "{c:?}");
        let text = c.describe("inventory-7", &guard());
        assert!(
            text.starts_with("inventory-7: p90 latency 2"),
            "the latency decided: {text}"
        );
        assert!(
            text.ends_with("ms on the existing servers over 600 (limits 2x the existing servers' and 50 ms above)"),
            "{text}"
        );
        // Too few answers timed yet.
        assert!(!Canary::new(timed(10, 0.2), timed(600, 0.0015), &guard()).bad());
        // Nothing to compare with.
        assert!(!Canary::new(timed(40, 0.2), NONE, &guard()).bad());
    }

    #[test]
    fn a_canary_a_little_slower_is_good() {
        // Three times slower, but by less than the 50 ms floor.
        let c = Canary::new(timed(100, 0.006), timed(600, 0.002), &guard());
        assert!(!c.slow, "{c:?}");
        // 40 ms more, but not twice as slow.
        let c = Canary::new(timed(100, 0.3), timed(600, 0.25), &guard());
        assert!(!c.slow, "{c:?}");
        // Stricter limits make the first one slow.
        let mut strict = guard();
        strict.max_latency_ratio = switchyard_config::Factor(1.5);
        strict.min_latency_increase = Duration::from_millis(2);
        assert!(Canary::new(timed(100, 0.006), timed(600, 0.002), &strict).slow);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(millis(0.212), "212 ms");
        assert_eq!(millis(0.0019), "1.9 ms");
        assert_eq!(millis(2.345), "2.35 s");
    }
}
