//! Where the errors concentrate: each host, service, pool and server is tested against the rest
//! of its group (the other servers of its pool; the other hosts, services or pools) with
//! [`Excess::test`] over the incident window. A key is reported when its share of the errors
//! exceeds its share of the traffic; keys whose excess is significant rank first (by how
//! concentrated the errors are), the others after them (by p-value), so three errors in four
//! records never outrank 2,500 in 2,600.

use std::collections::HashMap;

use serde::Serialize;

use crate::analysis::aggregate::{Aggregator, Dim};
use crate::analysis::series::Series;
use crate::analysis::stats::Excess;

/// Significance a key's excess must reach to rank among the concentrations that count.
pub const ALPHA: f64 = 1e-4;
/// Fewest errors a significant key has.
pub const MIN_ERRORS: u64 = 5;

#[derive(Debug, Clone, Serialize)]
pub struct Concentration {
    pub dimension: Dim,
    pub key: String,
    pub share_of_errors: f64,
    pub share_of_traffic: f64,
    pub errors: u64,
    pub total: u64,
    /// For servers: the pool they answer in.
    pub pool: Option<String>,
    /// Errors and records of the rest of the group the key is compared with.
    pub rest_errors: u64,
    pub rest_total: u64,
    /// Errors the key would have at the rest's error rate.
    pub expected: f64,
    /// One-sided p-value of the key's excess over the rest's rate.
    pub p_value: f64,
    /// p < [`ALPHA`] with at least [`MIN_ERRORS`] errors.
    pub significant: bool,
    /// The evidence in words.
    pub evidence: String,
    #[serde(skip)]
    ln_p: f64,
}

impl Concentration {
    fn score(&self) -> f64 {
        self.share_of_errors * (self.share_of_errors - self.share_of_traffic)
    }
}

/// Keys whose share of the errors exceeds their share of the traffic in buckets
/// `onset..end` (everything when there is no onset), best first.
pub fn concentrate(
    agg: &Aggregator,
    onset: Option<i64>,
    end: i64,
    client_jump: bool,
) -> Vec<Concentration> {
    let mut out = Vec::new();
    for dim in Dim::ALL {
        let map = &agg.keys[dim as usize];
        if map.len() < 2 {
            continue;
        }
        let counts_client = client_jump && matches!(dim, Dim::Pool | Dim::Server);
        let window = |s: &Series| match onset {
            Some(o) => s.sum(o..end.max(o)),
            None => s.total(),
        };
        let per_key: Vec<(&String, u64, u64)> = map
            .iter()
            .map(|(k, s)| {
                let c = window(s);
                let errors = c.errors + if counts_client { c.client_errors } else { 0 };
                (k, errors, c.total)
            })
            .collect();
        // A server is compared with the other servers of its pool: a front end that passes
        // on an inventory error is not where the error is. Hosts and services that wrote
        // access logs are compared with each other, not with application logs.
        let group = |key: &str| -> Option<&str> {
            match dim {
                Dim::Server => agg.server_pools.get(key).map(String::as_str),
                Dim::Host => agg.access_sources[0].contains(key).then_some("access"),
                Dim::Service => agg.access_sources[1].contains(key).then_some("access"),
                Dim::Pool => None,
            }
        };
        let mut sums: HashMap<Option<&str>, (u64, u64)> = HashMap::new();
        for (key, errors, total) in &per_key {
            let e = sums.entry(group(key)).or_default();
            e.0 += errors;
            e.1 += total;
        }
        // Keys with a sliver of the errors are noise, however skewed their own pool is.
        let dim_errors: u64 = per_key.iter().map(|p| p.1).sum();
        for (key, errors, total) in per_key {
            let (all_errors, all_total) = sums[&group(key)];
            if errors == 0 || all_errors == 0 || all_total == 0 || errors * 20 < dim_errors {
                continue;
            }
            let share_of_errors = errors as f64 / all_errors as f64;
            let share_of_traffic = total as f64 / all_total as f64;
            if share_of_errors <= share_of_traffic {
                continue;
            }
            let (rest_errors, rest_total) = (all_errors - errors, all_total - total);
            if rest_total == 0 {
                continue;
            }
            let test = Excess::test(errors, total, rest_errors, rest_total);
            let pool = (dim == Dim::Server)
                .then(|| agg.server_pools.get(key).cloned())
                .flatten();
            let mut c = Concentration {
                dimension: dim,
                key: key.clone(),
                share_of_errors,
                share_of_traffic,
                errors,
                total,
                pool,
                rest_errors,
                rest_total,
                expected: test.expected,
                p_value: test.p_value,
                significant: test.significant(ALPHA, MIN_ERRORS),
                evidence: String::new(),
                ln_p: test.ln_p,
            };
            c.evidence = words(&c, &test);
            out.push(c);
        }
    }
    out.sort_by(|a, b| {
        b.significant
            .cmp(&a.significant)
            .then_with(|| {
                if a.significant {
                    b.score().total_cmp(&a.score())
                } else {
                    a.ln_p.total_cmp(&b.ln_p)
                }
            })
            .then(a.key.cmp(&b.key))
    });
    out
}

/// `2500 of its 2600 requests failed (96.2%), against 0.1% on the rest of pool inventory:
/// 3.1 expected, p < 1e-300`
fn words(c: &Concentration, test: &Excess) -> String {
    let what = match c.dimension {
        Dim::Server | Dim::Pool => "requests",
        _ => "records",
    };
    let rest = match (&c.pool, c.dimension) {
        (Some(p), _) => format!("the rest of pool {p}"),
        (None, Dim::Server) => "the other servers".to_string(),
        (None, dim) => format!("the other {}s", dim.as_str()),
    };
    let rate = |e: u64, t: u64| {
        if t == 0 {
            0.0
        } else {
            e as f64 / t as f64
        }
    };
    let verdict = if c.significant {
        ""
    } else {
        "; not significant"
    };
    format!(
        "{} of its {} {what} failed ({}), against {} on {rest}: {:.1} expected, {}{verdict}",
        c.errors,
        c.total,
        crate::report::pct(rate(c.errors, c.total)),
        crate::report::pct(rate(c.rest_errors, c.rest_total)),
        c.expected,
        test.p_text()
    )
}
