//! Answers per server, read from the proxy's `switchyard_requests_total` counters (pool, server,
//! status code) and `switchyard_upstream_errors_total` (requests the proxy failed on a server).
//! The guard uses them to tell a server that answers 4xx apart from clients that ask for missing
//! pages: only the former is the change's fault; a rollout compares its new servers' answers
//! with the existing servers'. `switchyard_upstream_response_seconds` gives each server's
//! response times, for the rollout's latency comparison.

use std::collections::HashMap;

use prometheus_client::registry::Registry;
use switchyard_proxy::DURATION_BUCKETS;

/// Requests, 5xx answers and failures, 4xx answers and response times of one server so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Answers {
    pub requests: u64,
    /// 5xx answers, and requests the proxy failed on the server.
    pub errors: u64,
    pub client_errors: u64,
    pub latency: Latency,
}

impl Answers {
    pub fn minus(self, earlier: Answers) -> Answers {
        Answers {
            requests: self.requests.saturating_sub(earlier.requests),
            errors: self.errors.saturating_sub(earlier.errors),
            client_errors: self.client_errors.saturating_sub(earlier.client_errors),
            latency: self.latency.minus(earlier.latency),
        }
    }

    pub fn add(&mut self, other: Answers) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.client_errors += other.client_errors;
        self.latency.add(other.latency);
    }
}

#[cfg(test)]
impl Answers {
    pub const NONE: Answers = Answers {
        requests: 0,
        errors: 0,
        client_errors: 0,
        latency: Latency::NONE,
    };

    /// Counts without response times.
    pub fn counted(requests: u64, errors: u64, client_errors: u64) -> Answers {
        Answers {
            requests,
            errors,
            client_errors,
            latency: Latency::NONE,
        }
    }
}

/// Response times as the proxy's histogram holds them: how many answers took at most each of
/// [`DURATION_BUCKETS`], and in all (the last count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Latency {
    at_most: [u64; DURATION_BUCKETS.len() + 1],
}

impl Latency {
    #[cfg(test)]
    pub const NONE: Latency = Latency {
        at_most: [0; DURATION_BUCKETS.len() + 1],
    };

    /// `n` answers, each taking `seconds`.
    #[cfg(test)]
    pub fn all_at(seconds: f64, n: u64) -> Latency {
        let mut out = Latency::NONE;
        let first = DURATION_BUCKETS
            .iter()
            .position(|&b| b >= seconds)
            .unwrap_or(DURATION_BUCKETS.len());
        for at_most in &mut out.at_most[first..] {
            *at_most = n;
        }
        out
    }

    /// Answers timed.
    pub fn count(&self) -> u64 {
        self.at_most[DURATION_BUCKETS.len()]
    }

    /// Sets the count of the bucket whose bound is `le` (seconds, or `+Inf`).
    fn set(&mut self, le: &str, n: u64) {
        let i = if le == "+Inf" {
            Some(DURATION_BUCKETS.len())
        } else {
            le.parse::<f64>().ok().and_then(|le| {
                DURATION_BUCKETS
                    .iter()
                    .position(|b| (b - le).abs() <= b * 1e-9)
            })
        };
        if let Some(i) = i {
            self.at_most[i] += n;
        }
    }

    fn minus(self, earlier: Latency) -> Latency {
        let mut out = self;
        for (a, b) in out.at_most.iter_mut().zip(earlier.at_most) {
            *a = a.saturating_sub(b);
        }
        out
    }

    fn add(&mut self, other: Latency) {
        for (a, b) in self.at_most.iter_mut().zip(other.at_most) {
            *a += b;
        }
    }

    /// The `q` quantile in seconds (0.9 for p90), interpolated within its bucket as
    /// Prometheus's `histogram_quantile` does; `None` when nothing was timed.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let i = self.at_most.iter().position(|&n| n as f64 >= rank)?;
        if i == DURATION_BUCKETS.len() {
            // Beyond the last bound: that bound is all that is known.
            return Some(DURATION_BUCKETS[i - 1]);
        }
        let (lower, below) = match i {
            0 => (0.0, 0),
            _ => (DURATION_BUCKETS[i - 1], self.at_most[i - 1]),
        };
        let within = (self.at_most[i] - below) as f64;
        let share = if within == 0.0 {
            1.0
        } else {
            (rank - below as f64) / within
        };
        Some(lower + (DURATION_BUCKETS[i] - lower) * share)
    }
}

/// Every server's answers, by (pool, server).
pub(crate) type ByServer = HashMap<(String, String), Answers>;

/// The counters of servers in `pools`, as the registry holds them now.
pub(crate) fn snapshot(registry: &Registry, pools: &[String]) -> ByServer {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, registry).is_err() {
        return ByServer::new();
    }
    parse(&text, pools)
}

/// What one line of the exposition counts.
enum Line {
    Answers,
    Failures,
    Latency,
}

/// `switchyard_requests_total{pool="p",server="s",code="404"} 7`,
/// `switchyard_upstream_errors_total{pool="p",server="s",reason="r"} 2` and
/// `switchyard_upstream_response_seconds_bucket{le="0.004",pool="p",server="s"} 5` lines of
/// OpenMetrics text.
fn parse(text: &str, pools: &[String]) -> ByServer {
    let mut out = ByServer::new();
    for line in text.lines() {
        let (kind, rest) = if let Some(rest) = line.strip_prefix("switchyard_requests_total{") {
            (Line::Answers, rest)
        } else if let Some(rest) = line.strip_prefix("switchyard_upstream_errors_total{") {
            (Line::Failures, rest)
        } else if let Some(rest) = line.strip_prefix("switchyard_upstream_response_seconds_bucket{")
        {
            (Line::Latency, rest)
        } else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k == name).then(|| v.trim_matches('"').to_string())
            })
        };
        let (Some(pool), Some(server)) = (label("pool"), label("server")) else {
            continue;
        };
        if !pools.contains(&pool) {
            continue;
        }
        let Ok(n) = value.trim().parse::<f64>() else {
            continue;
        };
        let n = n as u64;
        let entry = out.entry((pool, server)).or_default();
        match kind {
            Line::Latency => {
                if let Some(le) = label("le") {
                    entry.latency.set(&le, n);
                }
            }
            Line::Failures => {
                entry.requests += n;
                entry.errors += n;
            }
            Line::Answers => {
                let Some(Ok(code)) = label("code").map(|c| c.parse::<u16>()) else {
                    continue;
                };
                entry.requests += n;
                if code >= 500 {
                    entry.errors += n;
                } else if (400..500).contains(&code) {
                    entry.client_errors += n;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_request_counters_of_the_asked_pools() {
        let text = "# HELP switchyard_requests Requests answered\n\
            switchyard_requests_total{pool=\"inventory\",server=\"inventory-1\",code=\"200\"} 10\n\
            switchyard_requests_total{pool=\"inventory\",server=\"inventory-1\",code=\"404\"} 3\n\
            switchyard_requests_total{pool=\"inventory\",server=\"inventory-4\",code=\"404\"} 5\n\
            switchyard_requests_total{pool=\"inventory\",server=\"inventory-4\",code=\"503\"} 1\n\
            switchyard_requests_total{pool=\"frontend\",server=\"f-1\",code=\"404\"} 9\n\
            switchyard_upstream_errors_total{pool=\"inventory\",server=\"inventory-1\",reason=\"x\"} 2\n";
        let got = parse(text, &["inventory".into()]);
        assert_eq!(got.len(), 2);
        let one = got[&("inventory".into(), "inventory-1".into())];
        assert_eq!((one.requests, one.errors, one.client_errors), (15, 2, 3));
        let four = got[&("inventory".into(), "inventory-4".into())];
        assert_eq!((four.requests, four.errors, four.client_errors), (6, 1, 5));
    }

    /// Histogram lines of `counts` answers per bucket (cumulative), as the proxy writes them.
    fn buckets(server: &str, counts: &[u64]) -> String {
        let mut text = String::new();
        let mut les: Vec<String> = DURATION_BUCKETS.iter().map(|b| b.to_string()).collect();
        les.push("+Inf".into());
        for (le, n) in les.iter().zip(
            counts
                .iter()
                .chain(std::iter::repeat(counts.last().unwrap())),
        ) {
            text.push_str(&format!(
                "switchyard_upstream_response_seconds_bucket{{le=\"{le}\",pool=\"inventory\",server=\"{server}\"}} {n}\n"
            ));
        }
        text
    }

    #[test]
    fn reads_response_times_and_their_p90() {
        // 100 answers: 50 within 0.5 ms, 40 more within 1 ms, the last 10 within 2 ms.
        let fast = buckets("inventory-1", &[50, 90, 100]);
        // 100 answers, 85 within 2 ms and 15 between 128 and 256 ms.
        let slow = buckets("inventory-7", &[0, 0, 85, 85, 85, 85, 85, 85, 85, 100]);
        let got = parse(&(fast + &slow), &["inventory".into()]);
        let one = got[&("inventory".into(), "inventory-1".into())].latency;
        assert_eq!(one.count(), 100);
        let p90 = one.quantile(0.9).unwrap();
        assert!((p90 - 0.001).abs() < 1e-9, "{p90}");
        let p95 = one.quantile(0.95).unwrap();
        assert!(
            (p95 - 0.0015).abs() < 1e-9,
            "halfway into the 1-2 ms bucket: {p95}"
        );
        let seven = got[&("inventory".into(), "inventory-7".into())].latency;
        let p90 = seven.quantile(0.9).unwrap();
        assert!(p90 > 0.128 && p90 < 0.256, "{p90}");
        assert_eq!(
            seven.minus(seven).quantile(0.9),
            None,
            "nothing timed in between"
        );
        let mut both = one;
        both.add(seven);
        assert_eq!(both.count(), 200);
    }
}
