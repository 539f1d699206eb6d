//! The simulated shop: hosts, their addresses, the pools Switchyard balances over, and the
//! incident timeline (when the bad pool member joins, when `frontend-02` starts leaking).

use super::{LogGenOptions, Scenario};

/// Which pool a host serves in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Frontend,
    Inventory,
    Billing,
    Auth,
}

impl Service {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::Frontend => "frontend",
            Service::Inventory => "inventory",
            Service::Billing => "billing",
            Service::Auth => "auth",
        }
    }

    /// The `Host` header the front ends use for internal calls through Switchyard.
    pub(crate) fn internal_host(self) -> &'static str {
        match self {
            Service::Frontend => "shop.example.com",
            Service::Inventory => "inventory.shop.internal",
            Service::Billing => "billing.shop.internal",
            Service::Auth => "auth.shop.internal",
        }
    }
}

/// One machine with its own `app.log`.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub(crate) name: String,
    pub(crate) service: Service,
    /// `10.0.x.y`, without the port.
    pub(crate) ip: String,
    /// `ip:8080`, as the access log's `server_address` shows it.
    pub(crate) address: String,
    /// The server that answers 404 because it is not an inventory service.
    pub(crate) bad: bool,
    /// The front end whose database connections leak.
    pub(crate) leaking: bool,
}

/// Host names (frontend-01..04, inventory-1..3 [+4], billing-1..2, auth-1..2) and addresses.
pub(crate) fn hosts(scenario: Scenario) -> Vec<Host> {
    let mut hosts = Vec::new();
    let mut add = |name: String, service: Service, subnet: u8, n: u8, bad: bool| {
        let ip = format!("10.0.{subnet}.{}", 10 + n);
        hosts.push(Host {
            address: format!("{ip}:8080"),
            leaking: name == "frontend-02" && scenario.has_leak(),
            name,
            service,
            ip,
            bad,
        });
    };
    for n in 1..=4 {
        add(format!("frontend-{n:02}"), Service::Frontend, 1, n, false);
    }
    for n in 1..=2 {
        add(format!("auth-{n}"), Service::Auth, 2, n, false);
    }
    for n in 1..=3 {
        add(format!("inventory-{n}"), Service::Inventory, 3, n, false);
    }
    if scenario.has_bad_member() {
        add("inventory-4".to_string(), Service::Inventory, 3, 4, true);
    }
    for n in 1..=2 {
        add(format!("billing-{n}"), Service::Billing, 4, n, false);
    }
    hosts
}

/// When things happen, in microseconds since the epoch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeline {
    pub(crate) start_us: u64,
    /// The end of `duration` (generation may run longer to reach `target_bytes`).
    pub(crate) end_us: u64,
    pub(crate) onset_us: u64,
    /// The bad member is in the inventory pool from here on.
    pub(crate) bad_member_from: Option<u64>,
    /// `frontend-02` starts failing database queries from here on.
    pub(crate) leak_from: Option<u64>,
    /// `frontend-02` stops returning connections from here on (its pool fills up until
    /// `leak_from`).
    pub(crate) leak_build_up_from: Option<u64>,
}

/// Time it takes the leaking pool to go from 95 to 100 connections in use, and for the failure
/// share of `frontend-02`'s queries to reach its maximum.
pub(crate) const LEAK_RAMP_US: u64 = 10 * 60 * 1_000_000;

impl Timeline {
    pub(crate) fn new(options: &LogGenOptions) -> Timeline {
        let start_us = options.start.timestamp_micros().max(0) as u64;
        let duration_us = options.duration.as_micros() as u64;
        let onset_us = start_us + (options.onset_after.as_micros() as u64).min(duration_us);
        let end_us = start_us + duration_us;
        let leak_from = match options.scenario {
            Scenario::BadPoolMember => None,
            Scenario::LeakingFrontend => Some(onset_us),
            // Half way through the incident window, so both incidents show in the same logs.
            Scenario::Mixed => Some(onset_us + end_us.saturating_sub(onset_us) / 2),
        };
        Timeline {
            start_us,
            end_us,
            onset_us,
            bad_member_from: options.scenario.has_bad_member().then_some(onset_us),
            leak_from,
            leak_build_up_from: leak_from
                .map(|t| t.saturating_sub(15 * 60 * 1_000_000).max(start_us)),
        }
    }

    /// Connections in use in `frontend-02`'s database pool at `t` (others: `baseline`).
    pub(crate) fn leaked_pool_in_use(&self, t: u64, baseline: u64) -> u64 {
        let (Some(build), Some(leak)) = (self.leak_build_up_from, self.leak_from) else {
            return baseline;
        };
        if t < build {
            baseline
        } else if t < leak {
            let span = (leak - build).max(1);
            baseline + (95 - baseline.min(95)) * (t - build) / span
        } else {
            95 + (5 * (t - leak) / LEAK_RAMP_US).min(5)
        }
    }

    /// Share of `frontend-02`'s database queries that time out at `t`.
    pub(crate) fn leak_failure_share(&self, t: u64) -> f64 {
        match self.leak_from {
            Some(leak) if t >= leak => {
                let progress = ((t - leak) as f64 / LEAK_RAMP_US as f64).min(1.0);
                0.2 + 0.55 * progress
            }
            _ => 0.0,
        }
    }
}
