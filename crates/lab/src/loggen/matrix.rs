//! The robustness matrix: small seeded log sets shaped unlike the shop of [`super::generate`],
//! for checking that triage's onset and concentration hold on logs no one tuned for.
//!
//! A [`Case`] is a seed, a density (application-log lines per host per second, from one a
//! minute to 1,000 a second), a background error rate (0 to 10 % of application lines are
//! unrelated errors) and a [`Shape`]. [`Case::write`] lays out, under one directory:
//!
//! ```text
//! DIR/app-01/checkout.log .. app-02   service checkout   plain `YYYY-MM-DD HH:MM:SS LEVEL: msg`
//! DIR/app-03/search.log   .. app-05   service search
//! DIR/app-06/catalog.log              service catalog
//! DIR/lb/access.log                   Switchyard's JSON access log: pools web (web-1, web-2)
//!                                     and api (api-1 .. api-4), with 2 % random 4xx and
//!                                     0.1 % random 5xx
//! ```
//!
//! Each case covers 60 buckets of [`Case::bucket`]; an incident begins at a random moment of
//! buckets 40 to 47 and lasts to the end. [`Case::write`] returns the [`Truth`]: the onset and
//! the key that should come first.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::rng::Rng;

/// What goes wrong, where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Service `checkout` (app-01, app-02): +30 points of errors at once.
    Step,
    /// Service `checkout`: errors rise by 6 points a bucket to +30 over five buckets.
    Ramp,
    /// Host app-04 alone: +40 points of errors.
    OneHost,
    /// Server api-3 answers 500 to 30 % of its requests.
    OneServer,
    /// Server api-2 answers 404 to half of its requests (no 5xx, no application errors).
    ClientErrorsOnly,
    /// Every server of pool `api` answers 503 to 6 % of requests (application logs unchanged).
    ServerErrorsOnly,
    /// Nothing happens.
    NoIncident,
}

impl Shape {
    pub const ALL: [Shape; 7] = [
        Shape::Step,
        Shape::Ramp,
        Shape::OneHost,
        Shape::OneServer,
        Shape::ClientErrorsOnly,
        Shape::ServerErrorsOnly,
        Shape::NoIncident,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Step => "step",
            Shape::Ramp => "ramp",
            Shape::OneHost => "one host",
            Shape::OneServer => "one server",
            Shape::ClientErrorsOnly => "4xx only",
            Shape::ServerErrorsOnly => "5xx only",
            Shape::NoIncident => "no incident",
        }
    }

    /// The (dimension, key) that should come first in the concentration.
    fn key(self) -> Option<(&'static str, &'static str)> {
        match self {
            Shape::Step | Shape::Ramp => Some(("service", "checkout")),
            Shape::OneHost => Some(("host", "app-04")),
            Shape::OneServer => Some(("server", "api-3")),
            Shape::ClientErrorsOnly => Some(("server", "api-2")),
            Shape::ServerErrorsOnly => Some(("pool", "api")),
            Shape::NoIncident => None,
        }
    }
}

/// Application-log lines per host per second in the matrix: 1 a minute, 10 a minute, 1, 10,
/// 100 and 1,000 a second.
pub const DENSITIES: [f64; 6] = [1.0 / 60.0, 1.0 / 6.0, 1.0, 10.0, 100.0, 1000.0];
/// Shares of application lines that are unrelated errors.
pub const BACKGROUNDS: [f64; 4] = [0.0, 0.02, 0.05, 0.10];
/// Buckets a case covers.
pub const BUCKETS: u64 = 60;

const HOSTS: [(&str, &str); 6] = [
    ("app-01", "checkout"),
    ("app-02", "checkout"),
    ("app-03", "search"),
    ("app-04", "search"),
    ("app-05", "search"),
    ("app-06", "catalog"),
];
const SERVERS: [(&str, &str); 6] = [
    ("web-1", "web"),
    ("web-2", "web"),
    ("api-1", "api"),
    ("api-2", "api"),
    ("api-3", "api"),
    ("api-4", "api"),
];

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Case {
    pub seed: u64,
    /// Application-log lines per host per second.
    pub density: f64,
    /// Share of application lines that are unrelated errors.
    pub background: f64,
    pub shape: Shape,
}

/// What a case holds, for scoring triage's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    /// When the incident began (none for [`Shape::NoIncident`]).
    pub onset: Option<DateTime<Utc>>,
    /// The (dimension, key) that should come first.
    pub key: Option<(String, String)>,
}

impl Case {
    /// Every density, background and shape for each seed.
    pub fn grid(seeds: impl IntoIterator<Item = u64>) -> Vec<Case> {
        let mut out = Vec::new();
        for seed in seeds {
            for &density in &DENSITIES {
                for &background in &BACKGROUNDS {
                    for &shape in &Shape::ALL {
                        out.push(Case {
                            seed,
                            density,
                            background,
                            shape,
                        });
                    }
                }
            }
        }
        out
    }

    /// The bucket triage is run with: the default minute from 1 line a second per host up to
    /// 10 a second; for sparser logs, a bucket that holds about 180 application lines (as an
    /// operator would pass with `--bucket`); for denser ones, shorter buckets that keep a case
    /// small (10 s at 100 lines/s, 1 s at 1,000).
    pub fn bucket(&self) -> Duration {
        let secs = if self.density >= 1000.0 {
            1
        } else if self.density >= 100.0 {
            10
        } else if self.density >= 1.0 {
            60
        } else {
            // 180 lines over six hosts, rounded up to whole minutes.
            let s = 180.0 / (self.density * HOSTS.len() as f64);
            ((s / 60.0).ceil() as u64) * 60
        };
        Duration::from_secs(secs)
    }

    /// `seed 3, 10/s, 5% background, one host`
    pub fn label(&self) -> String {
        let d = if self.density < 1.0 {
            format!("{:.0}/min", self.density * 60.0)
        } else {
            format!("{:.0}/s", self.density)
        };
        format!(
            "seed {}, {d} per host, {:.0}% background, {}",
            self.seed,
            self.background * 100.0,
            self.shape.name()
        )
    }

    /// Writes the case's logs under `dir` and returns its truth.
    pub fn write(&self, dir: &Path) -> io::Result<Truth> {
        let bucket_us = self.bucket().as_micros() as u64;
        let start_us = Utc
            .with_ymd_and_hms(2025, 3, 2, 6, 0, 0)
            .single()
            .expect("a valid date")
            .timestamp_micros() as u64;
        let mut rng = Rng::new(self.seed.wrapping_mul(1_000_003) ^ self.salt());
        let onset_us = start_us + rng.range(40, 47) * bucket_us + rng.below(bucket_us);
        let end_us = start_us + BUCKETS * bucket_us;
        let incident = self.shape != Shape::NoIncident;
        // Extra error probability of an application line at `t` on host `h`.
        let extra = |h: &str, t: u64| -> f64 {
            if !incident || t < onset_us {
                return 0.0;
            }
            match self.shape {
                Shape::Step if h == "app-01" || h == "app-02" => 0.3,
                Shape::Ramp if h == "app-01" || h == "app-02" => {
                    (0.06 * ((t - onset_us) / bucket_us + 1) as f64).min(0.3)
                }
                Shape::OneHost if h == "app-04" => 0.4,
                _ => 0.0,
            }
        };
        for (host, service) in HOSTS {
            let mut r = rng.fork();
            let path = dir.join(host).join(format!("{service}.log"));
            std::fs::create_dir_all(path.parent().expect("a parent"))?;
            let mut out = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
            let mut line = String::new();
            for t in arrivals(&mut r, self.density, start_us, end_us) {
                line.clear();
                stamp(&mut line, t);
                if r.chance(self.background + extra(host, t)) {
                    let _ = match r.below(3) {
                        0 => write!(
                            line,
                            " ERROR: request {} failed: upstream timeout after {}ms",
                            r.below(1 << 30),
                            r.range(500, 3000)
                        ),
                        1 => write!(
                            line,
                            " ERROR: could not write cache entry k{}: connection reset",
                            r.below(10_000)
                        ),
                        _ => write!(
                            line,
                            " ERROR: payment provider answered 502 for order {}",
                            r.below(1 << 20)
                        ),
                    };
                } else {
                    let _ = match r.below(4) {
                        0 => write!(
                            line,
                            " WARN: slow query on table t{} took {}ms",
                            r.below(20),
                            r.range(200, 900)
                        ),
                        _ => write!(
                            line,
                            " INFO: handled request {} in {}ms",
                            r.below(1 << 30),
                            r.range(1, 80)
                        ),
                    };
                }
                line.push('\n');
                out.write_all(line.as_bytes())?;
            }
            out.flush()?;
        }
        self.write_access(dir, &mut rng.fork(), start_us, end_us, onset_us)?;
        Ok(Truth {
            onset: incident.then(|| {
                Utc.timestamp_micros(onset_us as i64)
                    .single()
                    .expect("a valid time")
            }),
            key: self
                .shape
                .key()
                .map(|(d, k)| (d.to_string(), k.to_string())),
        })
    }

    fn salt(&self) -> u64 {
        let d = DENSITIES
            .iter()
            .position(|&d| d == self.density)
            .unwrap_or(9) as u64;
        let b = (self.background * 1000.0) as u64;
        let s = Shape::ALL
            .iter()
            .position(|&s| s == self.shape)
            .unwrap_or(9) as u64;
        (d << 32) ^ (b << 16) ^ s
    }

    /// The access log: two requests a second per application line of the six hosts, at least
    /// one a second and at most 2,000.
    fn write_access(
        &self,
        dir: &Path,
        r: &mut Rng,
        start: u64,
        end: u64,
        onset: u64,
    ) -> io::Result<()> {
        let path = dir.join("lb").join("access.log");
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        let mut out = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let rate = (self.density * HOSTS.len() as f64 * 2.0).clamp(1.0, 2000.0);
        let mut line = String::new();
        for t in arrivals(r, rate, start, end) {
            // web gets 40 % of requests, api 60 %.
            let (server, pool) = if r.chance(0.4) {
                SERVERS[r.below(2) as usize]
            } else {
                SERVERS[2 + r.below(4) as usize]
            };
            let during = t >= onset;
            let mut status = 200;
            if r.chance(0.02) {
                status = 404;
            }
            if r.chance(0.001) {
                status = 502;
            }
            match self.shape {
                Shape::OneServer if during && server == "api-3" && r.chance(0.3) => status = 500,
                Shape::ClientErrorsOnly if during && server == "api-2" && r.chance(0.5) => {
                    status = 404
                }
                Shape::ServerErrorsOnly if during && pool == "api" && r.chance(0.06) => {
                    status = 503
                }
                _ => {}
            }
            line.clear();
            line.push_str("{\"ts\":\"");
            let ts = Utc
                .timestamp_micros(t as i64)
                .single()
                .expect("a valid time");
            let _ = write!(
                line,
                "{}\",\"request_id\":\"{:016x}{:016x}\",\"client\":\"192.0.2.{}:{}\",\"listener\":\"public\",\"method\":\"GET\",\"path\":\"/{pool}/items/{}\",\"host\":\"shop.example\",\"protocol\":\"HTTP/1.1\",\"status\":{status},\"pool\":\"{pool}\",\"server\":\"{server}\",\"server_address\":\"10.1.0.{}:8080\",\"upstream_status\":{status},\"duration_ms\":{},\"bytes_sent\":{},\"attempts\":1,\"error\":null}}",
                ts.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
                r.next_u64(),
                r.next_u64(),
                r.range(1, 254),
                r.range(1024, 65535),
                r.below(5000),
                SERVERS.iter().position(|s| s.0 == server).unwrap_or(0) + 10,
                r.range(1, 120),
                r.range(200, 9000),
            );
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
        out.flush()
    }
}

/// `YYYY-MM-DD HH:MM:SS` of `t` (microseconds).
fn stamp(line: &mut String, t: u64) {
    let ts = Utc
        .timestamp_micros(t as i64)
        .single()
        .expect("a valid time");
    let _ = write!(line, "{}", ts.format("%Y-%m-%d %H:%M:%S"));
}

/// Times of a Poisson process of `rate` per second in `start..end` (microseconds), in order.
fn arrivals(r: &mut Rng, rate: f64, start: u64, end: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut t = start as f64;
    loop {
        // Exponential gaps; `1 - unit` is in (0, 1].
        t += -(1.0 - r.unit()).ln() / rate * 1e6;
        if t >= end as f64 {
            return out;
        }
        out.push(t as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_is_seeded_and_tells_its_truth() {
        let case = Case {
            seed: 7,
            density: 1.0,
            background: 0.05,
            shape: Shape::OneHost,
        };
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ta = case.write(a.path()).unwrap();
        let tb = case.write(b.path()).unwrap();
        assert_eq!(ta, tb);
        let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(
            read(a.path(), "app-04/search.log"),
            read(b.path(), "app-04/search.log")
        );
        assert_eq!(
            read(a.path(), "lb/access.log"),
            read(b.path(), "lb/access.log")
        );
        assert_eq!(ta.key, Some(("host".into(), "app-04".into())));
        let onset = ta.onset.unwrap();
        let log = read(a.path(), "app-04/search.log");
        let (before, after): (Vec<&str>, Vec<&str>) = log
            .lines()
            .partition(|l| l[..19] < *onset.format("%Y-%m-%d %H:%M:%S").to_string());
        let share = |ls: &[&str]| {
            ls.iter().filter(|l| l.contains(" ERROR: ")).count() as f64 / ls.len() as f64
        };
        assert!(
            share(&before) < 0.12 && share(&after) > 0.3,
            "{} {}",
            share(&before),
            share(&after)
        );
        // One line a second for an hour: about 3,600 lines.
        assert!((3000..4200).contains(&log.lines().count()));
        assert_eq!(Case::grid(1..4).len(), 3 * 6 * 4 * 7);
    }
}
