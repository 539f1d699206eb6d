//! Answers per server, read from the proxy's `switchyard_requests_total` counters (pool, server,
//! status code) and `switchyard_upstream_errors_total` (requests the proxy failed on a server).
//! The guard uses them to tell a server that answers 4xx apart from clients that ask for missing
//! pages: only the former is the change's fault; a rollout compares its new servers' answers
//! with the existing servers'.

use std::collections::HashMap;

use prometheus_client::registry::Registry;

/// Requests, 5xx answers and failures, and 4xx answers of one server so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Answers {
    pub requests: u64,
    /// 5xx answers, and requests the proxy failed on the server.
    pub errors: u64,
    pub client_errors: u64,
}

impl Answers {
    pub fn minus(self, earlier: Answers) -> Answers {
        Answers {
            requests: self.requests.saturating_sub(earlier.requests),
            errors: self.errors.saturating_sub(earlier.errors),
            client_errors: self.client_errors.saturating_sub(earlier.client_errors),
        }
    }

    pub fn add(&mut self, other: Answers) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.client_errors += other.client_errors;
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

/// `switchyard_requests_total{pool="p",server="s",code="404"} 7` and
/// `switchyard_upstream_errors_total{pool="p",server="s",reason="r"} 2` lines of OpenMetrics
/// text.
fn parse(text: &str, pools: &[String]) -> ByServer {
    let mut out = ByServer::new();
    for line in text.lines() {
        let (rest, failed) = if let Some(rest) = line.strip_prefix("switchyard_requests_total{") {
            (rest, false)
        } else if let Some(rest) = line.strip_prefix("switchyard_upstream_errors_total{") {
            (rest, true)
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
        // A failure has no status code: it counts as a 5xx.
        let code = label("code").map_or(Ok(500), |c| c.parse::<u16>());
        let (Ok(code), Ok(n)) = (code, value.trim().parse::<f64>()) else {
            continue;
        };
        let n = n as u64;
        let entry = out.entry((pool, server)).or_default();
        entry.requests += n;
        if code >= 500 || failed {
            entry.errors += n;
        } else if (400..500).contains(&code) {
            entry.client_errors += n;
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
}
