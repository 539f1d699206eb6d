//! The simulated shop while it runs: one [`Sink`] per host's `app.log` plus Switchyard's access
//! log, round-robin balancing per pool, and the background lines every service writes whatever
//! the traffic (pool statistics, slow queries, GC pauses, the odd unrelated error).

use std::io;
use std::path::Path;

use super::rng::Rng;
use super::sink::{Put, Sink};
use super::world::{hosts, Host, Service, Timeline};
use super::LogGenOptions;

/// Search terms clients type (URL-encoded).
pub(crate) const SEARCH_TERMS: &[&str] = &[
    "running+shoes",
    "rain+jacket",
    "headphones",
    "coffee+grinder",
    "desk+lamp",
    "backpack",
    "usb-c+cable",
    "yoga+mat",
    "water+bottle",
    "wool+socks",
    "phone+case",
    "tent",
];

pub(crate) struct Shop {
    pub(crate) rng: Rng,
    pub(crate) hosts: Vec<Host>,
    pub(crate) logs: Vec<Sink>,
    pub(crate) access: Sink,
    pub(crate) timeline: Timeline,
    pub(crate) vague_errors: bool,
    /// 1 for the single-incident scenarios, more for `Mixed`.
    pub(crate) noise: u64,
    pub(crate) baseline_error_rate: f64,
    pub(crate) client_ips: Vec<String>,
    /// Eight keep-alive source ports per front end (indexed `fe * 8 + k`).
    pub(crate) fe_ports: Vec<u64>,
    pub(crate) leak_started: bool,
    pub(crate) scratch_path: Vec<u8>,
    pub(crate) scratch_call_path: Vec<u8>,
    pools: [Vec<usize>; 4],
    turn: [u64; 4],
}

fn pool_index(service: Service) -> usize {
    match service {
        Service::Frontend => 0,
        Service::Inventory => 1,
        Service::Billing => 2,
        Service::Auth => 3,
    }
}

impl Shop {
    pub(crate) fn new(
        dir: &Path,
        options: &LogGenOptions,
        timeline: Timeline,
        mut rng: Rng,
    ) -> io::Result<Shop> {
        let hosts = hosts(options.scenario);
        let mut logs = Vec::with_capacity(hosts.len());
        for host in &hosts {
            logs.push(Sink::create(&dir.join(&host.name).join("app.log"))?);
        }
        let access = Sink::create(&dir.join("lb").join("access.log"))?;
        let mut pools: [Vec<usize>; 4] = Default::default();
        for (i, host) in hosts.iter().enumerate() {
            pools[pool_index(host.service)].push(i);
        }
        let client_ips = (0..600)
            .map(|_| {
                let net = *rng.pick(&[
                    "203.0.113",
                    "198.51.100",
                    "192.0.2",
                    "100.64.12",
                    "100.64.87",
                ]);
                format!("{net}.{}", rng.range(2, 254))
            })
            .collect();
        let fe_ports = (0..hosts.len() * 8)
            .map(|_| rng.range(32768, 60999))
            .collect();
        let noise = if options.scenario == super::Scenario::Mixed {
            3
        } else {
            1
        };
        Ok(Shop {
            rng,
            hosts,
            logs,
            access,
            timeline,
            vague_errors: options.vague_errors,
            noise,
            baseline_error_rate: 0.0025 + 0.0005 * noise as f64,
            client_ips,
            fe_ports,
            leak_started: false,
            scratch_path: Vec::with_capacity(64),
            scratch_call_path: Vec::with_capacity(64),
            pools,
            turn: [0; 4],
        })
    }

    /// The next server of `service`'s pool at `t`, round robin (the bad member takes its turn
    /// only once it has been added).
    pub(crate) fn next_server(&mut self, service: Service, t: u64) -> usize {
        let p = pool_index(service);
        let admitted = match self.timeline.bad_member_from {
            Some(from) if t >= from => self.pools[p].len(),
            _ => self.pools[p]
                .iter()
                .filter(|&&h| !self.hosts[h].bad)
                .count(),
        };
        let k = (self.turn[p] % admitted as u64) as usize;
        self.turn[p] += 1;
        self.pools[p][k]
    }

    /// First lines of the bad member's log: it was set up a while before it joined the pool.
    pub(crate) fn startup(&mut self) {
        let t = self.timeline.start_us;
        for (i, host) in self.hosts.iter().enumerate() {
            if !host.bad {
                continue;
            }
            let at = match self.timeline.bad_member_from {
                Some(from) => from.saturating_sub(10 * 60 * 1_000_000).max(t),
                None => t,
            };
            let sink = &mut self.logs[i];
            sink.plain(at, "INFO")
                .s("assets-server 1.4.2 starting (document root /srv/assets)\n");
            sink.plain(at + 40_000, "INFO")
                .s("listening on 0.0.0.0:8080\n");
        }
    }

    /// Lines not tied to a request, for the second starting at `sec_us` (`sec` seconds in).
    pub(crate) fn background(&mut self, sec: u64, sec_us: u64) {
        for i in 0..self.hosts.len() {
            let stagger = i as u64 * 7;
            let t = sec_us + self.rng.below(1_000_000);
            let service = self.hosts[i].service;
            if self.hosts[i].bad && self.timeline.bad_member_from.is_some_and(|f| sec_us < f) {
                continue;
            }
            match service {
                Service::Frontend if (sec + stagger).is_multiple_of(60) => {
                    let baseline = 8 + self.rng.below(12);
                    let in_use = if self.hosts[i].leaking {
                        self.timeline.leaked_pool_in_use(t, baseline)
                    } else {
                        baseline
                    };
                    let waiting = if in_use >= 95 {
                        self.rng.range(4, 30)
                    } else {
                        in_use.saturating_sub(79) / 4
                    };
                    let level = if in_use >= 80 { "WARN" } else { "INFO" };
                    self.logs[i]
                        .plain(t, level)
                        .s("db pool: ")
                        .u(in_use)
                        .s("/100 connections in use, ")
                        .u(waiting)
                        .s(" waiting\n");
                }
                Service::Frontend if (sec + stagger) % 300 == 30 => {
                    let hits = self.rng.range(40_000, 60_000);
                    let misses = self.rng.range(2_000, 5_000);
                    self.logs[i]
                        .plain(t, "INFO")
                        .s("cache stats: hits=")
                        .u(hits)
                        .s(" misses=")
                        .u(misses)
                        .s(" hit_ratio=0.")
                        .u(hits * 1000 / (hits + misses))
                        .s(" evictions=")
                        .u(self.rng.range(50, 400))
                        .s("\n");
                }
                Service::Inventory if !self.hosts[i].bad && (sec + stagger).is_multiple_of(300) => {
                    self.logs[i]
                        .plain(t, "INFO")
                        .s("stock sync complete: ")
                        .u(self.rng.range(900, 2000))
                        .s(" items updated in ")
                        .u(self.rng.range(400, 1500))
                        .s(" ms\n");
                }
                Service::Billing if (sec + stagger).is_multiple_of(600) => {
                    let n = self.rng.range(100, 400);
                    self.logs[i]
                        .plain(t, "INFO")
                        .s("settlement batch submitted: ")
                        .u(n)
                        .s(" charges, ")
                        .money(n * self.rng.range(3000, 9000))
                        .s(" EUR\n");
                }
                Service::Auth if (sec + stagger).is_multiple_of(120) => {
                    self.logs[i]
                        .plain(t, "INFO")
                        .s("token cache: ")
                        .u(self.rng.range(6000, 9000))
                        .s(" entries, hit ratio 0.9")
                        .u(self.rng.range(10, 99))
                        .s("\n");
                }
                _ => {}
            }
            if !self.hosts[i].bad && self.rng.chance(0.002 * self.noise as f64) {
                self.warning(i, t);
            }
            if !self.hosts[i].bad && self.rng.chance(0.0006 * self.noise as f64) {
                self.unrelated_error(i, t);
            }
        }
    }

    fn warning(&mut self, i: usize, t: u64) {
        let rng = &mut self.rng;
        let b = self.logs[i].plain(t, "WARN");
        match (self.hosts[i].service, rng.below(2)) {
            (_, 0) => b
                .s("GC pause ")
                .u(rng.range(120, 480))
                .s(" ms (heap ")
                .u(rng.range(12, 38))
                .s("00 MB of 4096 MB)\n"),
            (Service::Frontend, _) => b
                .s("slow render of /search?q=")
                .s(rng.pick::<&str>(SEARCH_TERMS))
                .s(": ")
                .u(rng.range(800, 2500))
                .s(" ms\n"),
            (Service::Inventory, _) => b
                .s("slow query ")
                .u(rng.range(500, 1500))
                .s(" ms: SELECT sku, qty FROM stock WHERE sku = ANY($1) (")
                .u(rng.range(20, 90))
                .s(" skus)\n"),
            (Service::Billing, _) => {
                b.s("retrying POST https://psp.example.net/v2/charges after 502 (attempt 2/3)\n")
            }
            (Service::Auth, _) => b
                .s("rate limit: client ")
                .s(&self.client_ips[rng.below(self.client_ips.len() as u64) as usize])
                .s(" over 50 logins/min, throttled\n"),
        };
    }

    fn unrelated_error(&mut self, i: usize, t: u64) {
        let rng = &mut self.rng;
        let b = self.logs[i].plain(t, "ERROR");
        match self.hosts[i].service {
            Service::Frontend => b
                .s("could not send metrics to statsd 10.0.9.5:8125: connection refused\n")
                .s("  Dropped: ")
                .u(rng.range(100, 900))
                .s(" samples\n"),
            Service::Inventory => b
                .s("supplier feed https://feeds.supplier.example/stock.csv returned 500\n")
                .s("  Next attempt in 300 s\n"),
            Service::Billing => b
                .s("exchange-rate refresh failed: GET https://rates.example.net/v1/latest timed out after 5 s\n")
                .s("  Using rates from ")
                .u(rng.range(2, 59))
                .s(" minutes ago\n"),
            Service::Auth => b
                .s("group sync from ldap://ldap.corp.example:389 failed: connection refused\n")
                .s("  Skipped: ")
                .u(rng.range(1, 12))
                .s(" groups; will retry in 300 s\n"),
        };
    }

    /// Writes out everything stamped before `boundary_us`.
    pub(crate) fn flush_before(&mut self, boundary_us: u64) -> io::Result<()> {
        for log in &mut self.logs {
            log.flush_before(boundary_us)?;
        }
        self.access.flush_before(boundary_us)
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.logs.iter().map(Sink::bytes).sum::<u64>() + self.access.bytes()
    }
}
