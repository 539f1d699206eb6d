//! Choosing a server: weighted round robin and least connections.

use std::sync::atomic::{AtomicUsize, Ordering};

use switchyard_config::Balance;

use crate::server::Server;

/// Per-pool balancing state.
#[derive(Debug)]
pub(crate) struct Selector {
    balance: Balance,
    /// Server indexes in smooth weighted round-robin order (each index appears `weight` times).
    sequence: Vec<usize>,
    next: AtomicUsize,
}

impl Selector {
    pub fn new(balance: Balance, servers: &[Server]) -> Self {
        Selector {
            balance,
            sequence: smooth_weighted_sequence(servers),
            next: AtomicUsize::new(0),
        }
    }

    /// Indexes of `servers` in the order they should be tried for this request; the caller takes
    /// the first one that is eligible and has a free slot.
    pub fn order(&self, servers: &[Server]) -> impl Iterator<Item = usize> + '_ {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let rr = match self.balance {
            Balance::RoundRobin => Some(
                (0..self.sequence.len())
                    .map(move |i| self.sequence[(start + i) % self.sequence.len()]),
            ),
            Balance::LeastConn => None,
        };
        // Ties start at a random server: a counter would keep two tiers that balance in
        // lockstep pairing the same servers forever.
        let lc = match self.balance {
            Balance::LeastConn => Some(least_conn_order(servers, fastrand::usize(..))),
            Balance::RoundRobin => None,
        };
        rr.into_iter().flatten().chain(lc.into_iter().flatten())
    }

    /// Tells round robin that the server taken was `skipped` places after the first one
    /// offered, so the next request starts after it: servers that are skipped (unhealthy,
    /// full) do not hand their turns to their neighbour alone.
    pub fn skipped(&self, skipped: usize) {
        if skipped > 0 && self.balance == Balance::RoundRobin {
            self.next.fetch_add(skipped, Ordering::Relaxed);
        }
    }
}

/// Servers sorted by in-flight requests per unit of weight; ties start at a rotating offset so
/// that idle servers share the load evenly.
fn least_conn_order(servers: &[Server], start: usize) -> Vec<usize> {
    let n = servers.len();
    let mut order: Vec<usize> = (0..n)
        .map(|i| (start + i) % n.max(1))
        .filter(|&i| servers[i].in_rotation)
        .collect();
    order.sort_by(|&a, &b| {
        let (sa, sb) = (&servers[a], &servers[b]);
        let la = sa.state.in_flight() as u64 * sb.weight as u64;
        let lb = sb.state.in_flight() as u64 * sa.weight as u64;
        la.cmp(&lb)
    });
    order
}

/// nginx's smooth weighted round robin, unrolled once: weights 5,1,1 give a,a,b,a,c,a,a.
/// Servers out of rotation get weight 0 and so never appear.
fn smooth_weighted_sequence(servers: &[Server]) -> Vec<usize> {
    let weight = |s: &Server| if s.in_rotation { s.weight as i64 } else { 0 };
    let total: i64 = servers.iter().map(weight).sum();
    let mut current = vec![0i64; servers.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, s) in current.iter_mut().zip(servers) {
            *c += weight(s);
        }
        let (best, _) = current
            .iter()
            .enumerate()
            .max_by_key(|&(i, c)| (*c, std::cmp::Reverse(i)))
            .expect("non-empty pool");
        current[best] -= total;
        out.push(best);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use crate::server::ServerState;
    use prometheus_client::registry::Registry;
    use std::sync::Arc;

    fn servers(weights: &[u32]) -> Vec<Server> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| Server {
                state: Arc::new(ServerState::new(
                    "pool",
                    &format!("s{i}"),
                    format!("127.0.0.1:{}", 1000 + i).parse().unwrap(),
                    &Metrics::register(&mut Registry::default()),
                )),
                weight: w,
                limit: 10,
                in_rotation: true,
            })
            .collect()
    }

    #[test]
    fn smooth_weights_interleave() {
        assert_eq!(
            smooth_weighted_sequence(&servers(&[5, 1, 1])),
            vec![0, 0, 1, 0, 2, 0, 0]
        );
        assert_eq!(smooth_weighted_sequence(&servers(&[1, 1])), vec![0, 1]);
    }

    #[test]
    fn round_robin_rotates() {
        let s = servers(&[1, 1, 1]);
        let sel = Selector::new(Balance::RoundRobin, &s);
        let firsts: Vec<usize> = (0..6).map(|_| sel.order(&s).next().unwrap()).collect();
        assert_eq!(firsts, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn least_conn_prefers_idle() {
        let s = servers(&[1, 1]);
        let pool = Arc::new(crate::pool::PoolShared::default());
        let _busy = s[0].try_lease(&pool).unwrap();
        let sel = Selector::new(Balance::LeastConn, &s);
        for _ in 0..4 {
            assert_eq!(sel.order(&s).next(), Some(1));
        }
    }
}
