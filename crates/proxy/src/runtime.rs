//! One config version made runnable: routes resolved to pools, pools with their servers,
//! balancers, queues and upstream clients. Built from a checked [`Config`] and swapped in whole.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_config::{Config, RouteConfig, ServerState};

use crate::events::EventSink;
use crate::health::HealthStatus;
use crate::metrics::{Metrics, PoolLabels, ServerLabels};
use crate::pool::{Pool, PoolShared};
use crate::select::Selector;
use crate::server::{self, Server};
use crate::upstream::{Upstream, UpstreamKey};

struct Route {
    config: RouteConfig,
    pool: Arc<Pool>,
}

pub(crate) struct Runtime {
    pub config: Arc<Config>,
    pub pools: HashMap<String, Arc<Pool>>,
    routes: HashMap<String, Vec<Route>>,
}

impl Runtime {
    /// Builds a runtime for `config`, keeping the live state (in-flight counts, queues, idle
    /// upstream connections) of servers and pools that `previous` already had.
    pub fn build(
        config: Arc<Config>,
        previous: Option<&Runtime>,
        metrics: &Metrics,
        events: &EventSink,
    ) -> Runtime {
        let mut pools = HashMap::new();
        for (name, pc) in &config.pools {
            let old = previous.and_then(|p| p.pools.get(name));
            let servers: Vec<Server> = pc
                .servers
                .iter()
                .map(|sc| {
                    let limit = sc.max_connections.unwrap_or(pc.max_connections);
                    let labels = ServerLabels {
                        pool: name.clone(),
                        server: sc.name.clone(),
                    };
                    metrics.limit.get_or_create(&labels).set(limit as i64);
                    let before = old.and_then(|o| {
                        o.servers
                            .iter()
                            .find(|s| s.state.name == sc.name && s.state.address == sc.address)
                    });
                    let in_rotation = sc.state == ServerState::Active;
                    let state = before.map(|s| s.state.clone()).unwrap_or_else(|| {
                        let state = server::ServerState::new(name, &sc.name, sc.address, metrics);
                        // A server that was never seen starts pending under active checks, and
                        // one added to a running proxy ramps up under slow start.
                        if previous.is_some() {
                            state.health.admitted_now();
                        }
                        Arc::new(state)
                    });
                    if let Some(before) = before {
                        let checked_before = old.is_some_and(|o| o.config.health.is_some());
                        if pc.health.is_some() && !checked_before {
                            // Checks added to a serving pool: its servers keep serving until
                            // `fall` checks fail.
                            state.health.reset_checks(HealthStatus::Healthy);
                        } else if in_rotation && !before.in_rotation {
                            // A restored server is admitted again only after `rise` checks.
                            state.health.reset_checks(HealthStatus::Pending);
                            state.health.admitted_now();
                        }
                    }
                    let healthy =
                        pc.health.is_none() || state.health.status() == HealthStatus::Healthy;
                    state.healthy_gauge.set(i64::from(healthy));
                    Server {
                        state,
                        weight: sc.weight,
                        limit,
                        in_rotation,
                    }
                })
                .collect();
            let key = UpstreamKey::of(pc);
            let upstream = old
                .map(|o| &o.upstream)
                .filter(|u| u.key == key)
                .cloned()
                .unwrap_or_else(|| Upstream::new(key));
            let shared = old
                .map(|o| o.shared.clone())
                .unwrap_or_else(|| Arc::new(PoolShared::default()));
            let selector = Selector::new(pc.balance, &servers);
            let duration = metrics
                .duration
                .get_or_create(&PoolLabels { pool: name.clone() })
                .clone();
            pools.insert(
                name.clone(),
                Arc::new(Pool {
                    config: pc.clone(),
                    servers,
                    selector,
                    shared,
                    upstream,
                    duration,
                    events: events.clone(),
                }),
            );
        }
        let mut routes: HashMap<String, Vec<Route>> = HashMap::new();
        for r in &config.routes {
            routes.entry(r.listener.clone()).or_default().push(Route {
                config: r.clone(),
                pool: pools[&r.pool].clone(),
            });
        }
        Runtime {
            config,
            pools,
            routes,
        }
    }

    /// The pool of the first route of `listener` that matches; `host` is lowercase, no port.
    pub fn route(&self, listener: &str, host: Option<&str>, path: &str) -> Option<&Arc<Pool>> {
        self.routes
            .get(listener)?
            .iter()
            .find(|r| r.config.matches(host, path))
            .map(|r| &r.pool)
    }
}
