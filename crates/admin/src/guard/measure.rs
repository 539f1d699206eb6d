//! The guard's arithmetic: a bake's counts against the limits, and when 4xx answers are the
//! change's fault. Pure functions of the numbers, tested without sockets.

use switchyard_config::GuardConfig;
use switchyard_proxy::ProxyHandle;

use crate::answers::Answers;

/// ...and that many standard errors above it, so that chance does not decide.
const CLIENT_ERROR_Z: f64 = 3.0;
/// 4xx answers of the changed servers count as errors once their share is this much above the
/// reference share, and at least half again as high: where clients already get many 4xx (pages
/// that do not exist), the way round robin happens to line requests up can shift shares by
/// points without any server being at fault...
const CLIENT_ERROR_RISE: f64 = 0.05;
const CLIENT_ERROR_RATIO: f64 = 1.5;
/// Answers of some pools over some seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Counts {
    pub requests: u64,
    /// 5xx and proxy failures.
    pub errors: u64,
    /// 4xx.
    pub client_errors: u64,
}

impl Counts {
    pub(crate) fn minus(self, earlier: Counts) -> Counts {
        Counts {
            requests: self.requests.saturating_sub(earlier.requests),
            errors: self.errors.saturating_sub(earlier.errors),
            client_errors: self.client_errors.saturating_sub(earlier.client_errors),
        }
    }

    pub(crate) fn of(proxy: &ProxyHandle, pools: &[String], from: u64, to: u64) -> Counts {
        let mut c = Counts::default();
        for pool in pools {
            for s in proxy.history(pool, from, to).unwrap_or_default() {
                c.requests += u64::from(s.requests);
                c.errors += u64::from(s.errors);
                c.client_errors += u64::from(s.client_errors);
            }
        }
        c
    }
}

/// The bake's numbers against the limits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measure {
    pub requests: u64,
    pub errors: u64,
    pub rate: f64,
    pub baseline: f64,
    pub client_errors_counted: bool,
    /// 4xx share before and since the change.
    pub client_rates: (f64, f64),
    pub over_limit: bool,
    pub over_increase: bool,
}

impl Measure {
    /// `before` and `since`: the touched pools before and since the change; `changed` and
    /// `others`: answers since the change of the servers the change added or changed, and of
    /// the pools' other servers.
    pub(crate) fn new(
        before: Counts,
        since: Counts,
        changed: Answers,
        others: Answers,
        guard: &GuardConfig,
    ) -> Measure {
        let reference = if others.requests > 0 {
            others
        } else {
            Answers {
                requests: before.requests,
                errors: before.errors,
                client_errors: before.client_errors,
                ..Answers::default()
            }
        };
        let (changed_4xx, reference_4xx) = (
            share(changed.client_errors, changed.requests),
            share(reference.client_errors, reference.requests),
        );
        let counted = client_errors_elevated(changed, reference);
        let reference = reference_4xx;
        let errors = since.errors + if counted { changed.client_errors } else { 0 };
        let baseline = share(before.errors, before.requests);
        let rate = share(errors, since.requests);
        Measure {
            requests: since.requests,
            errors,
            rate,
            baseline,
            client_errors_counted: counted,
            client_rates: (reference, changed_4xx),
            over_limit: rate > guard.max_error_rate.0,
            over_increase: rate > baseline + guard.max_increase.0,
        }
    }

    /// Enough requests, and a limit crossed.
    pub(crate) fn bad(&self, guard: &GuardConfig) -> bool {
        self.requests >= guard.min_requests && (self.over_limit || self.over_increase)
    }

    /// "error rate 21.3% (baseline 0.1%, limit 2% + baseline) in pool inventory over 1,204
    /// requests"
    pub(crate) fn describe(&self, pools: &[String], guard: &GuardConfig) -> String {
        let limit = if self.over_increase {
            format!("limit {} + baseline", limit(guard.max_increase.0))
        } else {
            format!("limit {}", limit(guard.max_error_rate.0))
        };
        let mut text = format!(
            "error rate {} (baseline {}, {limit}) in pool{} {} over {} requests",
            percent(self.rate),
            percent(self.baseline),
            if pools.len() == 1 { "" } else { "s" },
            pools.join(", "),
            thousands(self.requests)
        );
        if self.client_errors_counted {
            text.push_str(&format!(
                ", counting 4xx answers of the servers the change added or changed, which answered {} 4xx against {} elsewhere",
                percent(self.client_rates.1),
                percent(self.client_rates.0)
            ));
        }
        text
    }
}

/// Whether `changed` answers 4xx clearly more often than `reference`: by a margin, and beyond
/// chance.
pub(super) fn client_errors_elevated(changed: Answers, reference: Answers) -> bool {
    let (changed_4xx, reference_4xx) = (
        share(changed.client_errors, changed.requests),
        share(reference.client_errors, reference.requests),
    );
    changed.client_errors > 0
        && changed_4xx > (reference_4xx + CLIENT_ERROR_RISE).max(reference_4xx * CLIENT_ERROR_RATIO)
        && z_score(changed, reference) > CLIENT_ERROR_Z
}

/// How many standard errors `a`'s 4xx share lies above `b`'s.
fn z_score(a: Answers, b: Answers) -> f64 {
    z((a.client_errors, a.requests), (b.client_errors, b.requests))
}

/// How many standard errors the share `a.0 / a.1` lies above `b.0 / b.1` (two-proportion
/// z-test with a pooled share); infinite when neither varies but `a` is higher.
pub(super) fn z(a: (u64, u64), b: (u64, u64)) -> f64 {
    let (pa, pb) = (share(a.0, a.1), share(b.0, b.1));
    if a.1 == 0 {
        return 0.0;
    }
    if b.1 == 0 {
        return if pa > 0.0 { f64::INFINITY } else { 0.0 };
    }
    let pooled = share(a.0 + b.0, a.1 + b.1);
    let se = (pooled * (1.0 - pooled) * (1.0 / a.1 as f64 + 1.0 / b.1 as f64)).sqrt();
    if se == 0.0 {
        return if pa > pb { f64::INFINITY } else { 0.0 };
    }
    (pa - pb) / se
}

pub(super) fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

/// `21.3%`
pub(super) fn percent(f: f64) -> String {
    format!("{:.1}%", f * 100.0)
}

/// `2%`, `2.5%`
pub(super) fn limit(f: f64) -> String {
    format!("{}%", short(f * 100.0))
}

/// `2`, `2.5`: one decimal, none when it is 0.
pub(super) fn short(f: f64) -> String {
    let text = format!("{f:.1}");
    text.trim_end_matches(".0").to_string()
}

/// `1,204`
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    groups.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> GuardConfig {
        GuardConfig::default()
    }

    fn counts(requests: u64, errors: u64, client_errors: u64) -> Counts {
        Counts {
            requests,
            errors,
            client_errors,
        }
    }

    fn answers(requests: u64, client_errors: u64) -> Answers {
        Answers::counted(requests, 0, client_errors)
    }

    const NONE: Answers = Answers::NONE;

    #[test]
    fn a_new_server_answering_404_counts_as_errors() {
        let m = Measure::new(
            counts(1000, 1, 0),
            counts(1204, 0, 401),
            answers(401, 401),
            answers(803, 0),
            &guard(),
        );
        assert!(m.client_errors_counted);
        assert!(m.bad(&guard()));
        assert_eq!(
            m.describe(&["inventory".into()], &guard()),
            "error rate 33.3% (baseline 0.1%, limit 2% + baseline) in pool inventory over 1,204 requests, counting 4xx answers of the servers the change added or changed, which answered 100.0% 4xx against 0.0% elsewhere"
        );
    }

    #[test]
    fn clients_asking_for_missing_pages_are_not_the_change() {
        // Every server answers a third of its requests with 404, the new one included.
        let m = Measure::new(
            counts(1000, 0, 0),
            counts(900, 0, 300),
            answers(300, 100),
            answers(600, 200),
            &guard(),
        );
        assert!(!m.client_errors_counted && !m.bad(&guard()));
        // A change that added no server never counts 4xx.
        let m = Measure::new(
            counts(1000, 0, 0),
            counts(900, 0, 300),
            NONE,
            answers(900, 300),
            &guard(),
        );
        assert!(!m.client_errors_counted && !m.bad(&guard()));
    }

    #[test]
    fn a_small_difference_on_few_requests_is_chance() {
        // 57.9% against 46.6% over 96 and 192 requests: under 2 standard errors.
        let m = Measure::new(
            counts(1000, 0, 0),
            counts(288, 0, 145),
            answers(95, 55),
            answers(193, 90),
            &guard(),
        );
        assert!(!m.client_errors_counted, "{m:?}");
        assert!(z_score(answers(95, 55), answers(193, 90)) < 2.0);
        assert!(z_score(answers(10, 10), answers(20, 0)) > 3.0);
        assert_eq!(z_score(answers(10, 10), NONE), f64::INFINITY);
    }

    #[test]
    fn steady_4xx_do_not_count() {
        let m = Measure::new(
            counts(1000, 0, 100),
            counts(500, 0, 52),
            answers(500, 52),
            NONE,
            &guard(),
        );
        assert!(!m.client_errors_counted);
        assert!(!m.bad(&guard()));
    }

    #[test]
    fn no_verdict_on_few_requests() {
        let m = Measure::new(counts(0, 0, 0), counts(99, 50, 0), NONE, NONE, &guard());
        assert!(m.over_limit && !m.bad(&guard()));
        let m = Measure::new(counts(0, 0, 0), counts(100, 50, 0), NONE, NONE, &guard());
        assert!(m.bad(&guard()));
    }

    #[test]
    fn increase_over_baseline() {
        // 4% is under the 5% limit but 3 points over a 1% baseline.
        let m = Measure::new(
            counts(1000, 10, 0),
            counts(1000, 40, 0),
            NONE,
            NONE,
            &guard(),
        );
        assert!(!m.over_limit && m.over_increase && m.bad(&guard()));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(limit(0.02), "2%");
        assert_eq!(limit(0.025), "2.5%");
        assert_eq!(percent(0.213), "21.3%");
    }
}
