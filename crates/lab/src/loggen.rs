//! Deterministic logs of a multi-service shop living through Switchyard's two seed incidents,
//! for `switchyard triage`'s end-to-end tests and its benchmark.
//!
//! [`generate`] writes, under one directory, what the operators of the shop would collect:
//!
//! ```text
//! DIR/frontend-01/app.log .. DIR/frontend-04/app.log   front ends
//! DIR/auth-1/app.log, DIR/auth-2/app.log
//! DIR/inventory-1/app.log .. inventory-3 (+ inventory-4 when it is the bad pool member)
//! DIR/billing-1/app.log, DIR/billing-2/app.log
//! DIR/lb/access.log                                    Switchyard's JSON access log
//! DIR/changes.jsonl                                    the change history
//! ```
//!
//! - `app.log` files use the plain format `YYYY-MM-DD HH:MM:SS LEVEL: message`; details of a
//!   record follow on lines indented by two spaces.
//! - `lb/access.log` has one JSON object per request with exactly the fields Switchyard's
//!   access log writes (`ts`, `request_id`, `client`, `listener`, `method`, `path`, `host`,
//!   `protocol`, `status`, `pool`, `server`, `server_address`, `upstream_status`,
//!   `duration_ms`, `bytes_sent`, `attempts`, `error`). Client requests come in on the `web`
//!   listener (pool `frontend`); the front ends' calls to `auth`, `inventory` and `billing` go
//!   through the `internal` listener.
//! - `changes.jsonl` has one change per line: `{"ts", "summary", "kind", "author", "target"}`.
//!
//! A request keeps one request id across every hop: the front end's line, each access-log line
//! and each backend's line carry it, so a trace tool can follow one request through the shop.
//! Each file is in time order; all content follows from [`LogGenOptions::seed`], so the same
//! options give the same bytes.
//!
//! Traffic is steady (a slow ±6 % wave around [`LogGenOptions::requests_per_second`]) with a
//! baseline of noise: periodic statistics, warnings, a rare unrelated error, and about 0.3 % of
//! client requests failing for unrelated reasons (an upstream timeout, a connection reset, a
//! payment provider outage, a panic). Then, from the onset:
//!
//! - [`Scenario::BadPoolMember`]: `inventory-4`, a static-assets server, has joined the
//!   `inventory` pool (the change file records the config version that added it 1–3 minutes
//!   before the onset). Round robin sends it a quarter of the inventory calls; it answers an
//!   HTML 404 page, the front ends log an error for each such call and answer 500, and about
//!   20 % of client requests fail.
//! - [`Scenario::LeakingFrontend`]: `frontend-02` has been leaking database connections for up
//!   to 15 minutes (its periodic `db pool` lines climb and turn to WARN). From the onset its
//!   queries time out: `ERROR: database connection timeout` with `Server:`, `Query:` and
//!   `Connection pool: 95/100 connections in use` details, the count creeping up to 100/100
//!   and the share of failing queries from 20 % to 75 % over ten minutes. The other front ends
//!   stay clean, and no change in the change file is related.
//! - [`Scenario::Mixed`]: both, with more background noise (debug lines, warnings). The bad
//!   member arrives at the onset and `frontend-02` starts failing half way between the onset and
//!   the end of `duration`. Meant for benchmarks.
//!
//! ```no_run
//! use std::time::Duration;
//! use switchyard_lab::loggen::{generate, LogGenOptions, Scenario};
//!
//! let options = LogGenOptions {
//!     scenario: Scenario::BadPoolMember,
//!     duration: Duration::from_secs(20 * 60),
//!     onset_after: Duration::from_secs(12 * 60),
//!     ..LogGenOptions::default()
//! };
//! let logs = generate(std::path::Path::new("/tmp/shop-logs"), &options)?;
//! assert_eq!(logs.bad_server.as_deref(), Some("inventory-4"));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

mod access;
mod changes;
mod errors;
pub mod matrix;
mod rng;
mod shop;
mod sink;
#[cfg(test)]
mod tests;
mod traffic;
mod world;

pub use access::ACCESS_FIELDS;
pub use changes::BAD_MEMBER_CHANGE;

/// Which incident the logs show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// A config change adds `inventory-4`, which answers 404, to the `inventory` pool.
    BadPoolMember,
    /// `frontend-02` runs out of database connections.
    LeakingFrontend,
    /// Both incidents, plus more noise; for benchmarks.
    Mixed,
}

impl Scenario {
    /// The command-line name: `bad-deploy`, `connection-leak` or `mixed`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::BadPoolMember => "bad-deploy",
            Scenario::LeakingFrontend => "connection-leak",
            Scenario::Mixed => "mixed",
        }
    }

    pub(crate) fn has_bad_member(self) -> bool {
        matches!(self, Scenario::BadPoolMember | Scenario::Mixed)
    }

    pub(crate) fn has_leak(self) -> bool {
        matches!(self, Scenario::LeakingFrontend | Scenario::Mixed)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario name that is not one of `bad-deploy`, `connection-leak`, `mixed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScenario(pub String);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown scenario {:?}: expected bad-deploy, connection-leak or mixed",
            self.0
        )
    }
}

impl std::error::Error for UnknownScenario {}

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Scenario, UnknownScenario> {
        match s {
            "bad-deploy" | "bad-pool-member" => Ok(Scenario::BadPoolMember),
            "connection-leak" | "leaking-frontend" => Ok(Scenario::LeakingFrontend),
            "mixed" => Ok(Scenario::Mixed),
            other => Err(UnknownScenario(other.to_string())),
        }
    }
}

/// What to generate. [`Default`] gives 30 minutes of `BadPoolMember` at 20 requests/s starting
/// 2025-11-13 10:00:00 UTC, onset 20 minutes in, seed 1.
#[derive(Debug, Clone)]
pub struct LogGenOptions {
    pub scenario: Scenario,
    /// Time of the first second of logs.
    pub start: DateTime<Utc>,
    /// How much time the logs cover (at least; see `target_bytes`).
    pub duration: Duration,
    /// When the incident begins, counted from `start` (capped at `duration`).
    pub onset_after: Duration,
    /// Mean client requests per second across all front ends. Each causes one to four calls
    /// between services, so the access log gets about 2.6 lines per client request.
    pub requests_per_second: u32,
    /// Everything random follows from this.
    pub seed: u64,
    /// Keep generating past `duration` until the files hold at least this many bytes (checked
    /// once per simulated second, so the total overshoots by at most a second of traffic).
    pub target_bytes: Option<u64>,
    /// Front ends log the bad member's answers in the vague form
    /// `ERROR: invalid response from server` instead of the detailed multi-line record
    /// (service, request, expected, received, server, reason).
    pub vague_errors: bool,
}

impl Default for LogGenOptions {
    fn default() -> Self {
        LogGenOptions {
            scenario: Scenario::BadPoolMember,
            start: Utc
                .with_ymd_and_hms(2025, 11, 13, 10, 0, 0)
                .single()
                .expect("a valid date"),
            duration: Duration::from_secs(30 * 60),
            onset_after: Duration::from_secs(20 * 60),
            requests_per_second: 20,
            seed: 1,
            target_bytes: None,
            vague_errors: false,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub dir: PathBuf,
    /// When the incident begins; its first errors are logged within seconds after it (a
    /// database wait of 5 s for the leak). For `Mixed`, the bad member's onset.
    pub onset: DateTime<Utc>,
    /// The pool member that answers 404 (`inventory-4`), when the scenario has one.
    pub bad_server: Option<String>,
    /// The front end that leaks connections (`frontend-02`), when the scenario has one.
    pub bad_host: Option<String>,
    /// `DIR/changes.jsonl`.
    pub change_file: PathBuf,
    /// Total size of all files written.
    pub bytes: u64,
    /// Every file written, sorted.
    pub files: Vec<PathBuf>,
}

/// Writes the logs described by `options` under `dir` (created if missing). Files of the layout
/// are overwritten; nothing else in `dir` is touched.
///
/// Fails with `InvalidInput` if `target_bytes` is set while `requests_per_second` is 0 (no
/// traffic would ever reach the size), and with the I/O error of any file it cannot write.
pub fn generate(dir: &Path, options: &LogGenOptions) -> io::Result<Generated> {
    if options.target_bytes.is_some() && options.requests_per_second == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a target size needs traffic: requests_per_second must be above 0",
        ));
    }
    std::fs::create_dir_all(dir)?;
    let timeline = world::Timeline::new(options);
    let mut seeds = rng::Rng::new(options.seed);
    let change_file = dir.join("changes.jsonl");
    changes::write(&change_file, options.scenario, &timeline, &mut seeds.fork())?;
    let mut shop = shop::Shop::new(dir, options, timeline, seeds.fork())?;
    shop.startup();

    let rate = f64::from(options.requests_per_second);
    let mut offsets: Vec<u64> = Vec::new();
    for sec in 0u64.. {
        let sec_us = timeline.start_us + sec * 1_000_000;
        let target_reached = options.target_bytes.is_none_or(|t| shop.bytes() >= t);
        if sec_us >= timeline.end_us && target_reached {
            break;
        }
        // A slow triangular wave over the hour, plus roughly Poisson noise per second.
        let phase = (sec % 3600) as f64 / 3600.0;
        let mean = rate * (0.94 + 0.12 * (1.0 - (2.0 * phase - 1.0).abs()));
        let noise: f64 = (0..4).map(|_| shop.rng.unit()).sum::<f64>() - 2.0;
        let n = (mean + noise * 3f64.sqrt() * mean.sqrt()).round().max(0.0) as u64;
        offsets.clear();
        offsets.extend((0..n).map(|_| shop.rng.below(1_000_000)));
        offsets.sort_unstable();
        for &offset in &offsets {
            shop.client_request(sec_us + offset);
        }
        shop.background(sec, sec_us);
        shop.flush_before(sec_us + 1_000_000)?;
    }

    let mut files = vec![change_file.clone()];
    let mut bytes = std::fs::metadata(&change_file)?.len();
    for sink in shop.logs.into_iter().chain(std::iter::once(shop.access)) {
        files.push(sink.path.clone());
        bytes += sink.finish()?;
    }
    files.sort();
    let hosts = world::hosts(options.scenario);
    Ok(Generated {
        dir: dir.to_path_buf(),
        onset: Utc
            .timestamp_micros(timeline.onset_us as i64)
            .single()
            .expect("onset is a valid time"),
        bad_server: hosts.iter().find(|h| h.bad).map(|h| h.name.clone()),
        bad_host: hosts.iter().find(|h| h.leaking).map(|h| h.name.clone()),
        change_file,
        bytes,
        files,
    })
}

/// Parses a size such as `1GB`, `500MB`, `1.5GB`, `64KiB` or `1000` (bytes). `KB`, `MB`, `GB`
/// are powers of 1000, `KiB`, `MiB`, `GiB` powers of 1024; case does not matter.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected a number and a unit, e.g. 1GB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size {text:?}: unknown unit {other:?} (use B, KB, MB, GB, KiB, MiB or GiB)"
            ))
        }
    };
    Ok((number * factor as f64).round() as u64)
}
