//! The change file: JSON lines `{ts, summary, kind, author, target}` as a change log or CI
//! system would export them. A few unrelated changes hours before the incident, and for the bad
//! pool member the Switchyard config version that added it, shortly before the onset.

use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, Utc};

use super::rng::Rng;
use super::world::Timeline;
use super::Scenario;

/// The config change that added the bad member, as it appears in the change file.
pub const BAD_MEMBER_CHANGE: &str =
    "switchyard v12: pool inventory: + server inventory-4 10.0.3.14:8080";

struct Change {
    ts_us: u64,
    summary: &'static str,
    kind: &'static str,
    author: &'static str,
    target: &'static str,
}

const MINUTE_US: u64 = 60 * 1_000_000;

pub(crate) fn write(
    path: &Path,
    scenario: Scenario,
    timeline: &Timeline,
    rng: &mut Rng,
) -> io::Result<()> {
    let onset = timeline.onset_us;
    let jitter = |rng: &mut Rng| rng.below(10 * MINUTE_US);
    let mut changes = vec![
        Change {
            ts_us: onset.saturating_sub(6 * 60 * MINUTE_US + jitter(rng)),
            summary: "auth: rotate token signing key (kid 2025-11)",
            kind: "secret",
            author: "s.ibrahim",
            target: "service auth",
        },
        Change {
            ts_us: onset.saturating_sub(5 * 60 * MINUTE_US + jitter(rng)),
            summary: "switchyard v11: pool billing: timeout 2s -> 3s",
            kind: "config",
            author: "a.kowalski",
            target: "pool billing",
        },
        Change {
            ts_us: onset.saturating_sub(220 * MINUTE_US + jitter(rng)),
            summary: "DNS: shop.example.com TTL 3600 -> 300",
            kind: "dns",
            author: "m.ortiz",
            target: "dns shop.example.com",
        },
        Change {
            ts_us: onset.saturating_sub(2 * 60 * MINUTE_US + jitter(rng)),
            summary: "deploy billing 2.14.1 to billing-1, billing-2",
            kind: "deploy",
            author: "ci",
            target: "service billing",
        },
        Change {
            ts_us: onset.saturating_sub(75 * MINUTE_US + jitter(rng)),
            summary: "feature flag search-suggestions: 10% -> 50%",
            kind: "flag",
            author: "p.nguyen",
            target: "flag search-suggestions",
        },
    ];
    if scenario.has_bad_member() {
        changes.push(Change {
            ts_us: onset.saturating_sub(rng.range(60, 180) * 1_000_000),
            summary: BAD_MEMBER_CHANGE,
            kind: "config",
            author: "j.doe",
            target: "pool inventory",
        });
    }
    changes.sort_by_key(|c| c.ts_us);
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    for c in &changes {
        let ts = DateTime::<Utc>::from_timestamp((c.ts_us / 1_000_000) as i64, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let line = serde_json::json!({
            "ts": ts,
            "summary": c.summary,
            "kind": c.kind,
            "author": c.author,
            "target": c.target,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}
