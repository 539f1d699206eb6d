//! From counts to conclusions: the onset, baseline and incident error rates, where the errors
//! concentrate, which templates are new, which changes line up, and what to try.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::analysis::aggregate::{Aggregator, Dim};
use crate::analysis::onset::{onset, Point};
use crate::analysis::series::{Counts, Series};
use crate::analysis::templates::TemplateBook;
use crate::changes::Change;
use crate::input::Skipped;

/// How far before the onset a change may be a suspect.
const LOOKBACK_MS: i64 = 6 * 3600 * 1000;
/// Closeness halves about every 20 minutes (e^-t/30min).
const CLOSENESS_MS: f64 = 30.0 * 60.0 * 1000.0;

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
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateView {
    pub template: String,
    pub count: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub hosts: Vec<String>,
    /// First seen at or after the onset.
    pub new: bool,
    pub example: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Suspect {
    pub ts: DateTime<Utc>,
    pub source: String,
    pub summary: String,
    pub score: f64,
    pub why: String,
    pub version: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RatePair {
    pub baseline: f64,
    pub incident: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub ts: DateTime<Utc>,
    pub total: u64,
    pub errors: u64,
    pub rate: f64,
}

/// Everything `switchyard triage` found; the JSON report is this, serialized.
#[derive(Debug, Clone, Serialize)]
pub struct Findings {
    pub onset: Option<DateTime<Utc>>,
    pub bucket_seconds: u64,
    pub baseline_error_rate: f64,
    pub incident_error_rate: f64,
    /// Which records the two rates count: `requests` (access logs) or `log records`.
    pub rate_of: &'static str,
    pub log_error_rate: Option<RatePair>,
    pub request_error_rate: Option<RatePair>,
    /// Set when the share of 4xx answers jumped at the onset: those answers then count as
    /// errors in the pool and server concentration.
    pub client_error_rate: Option<RatePair>,
    pub concentration: Vec<Concentration>,
    pub templates: Vec<TemplateView>,
    pub suspect_changes: Vec<Suspect>,
    pub suggestions: Vec<String>,
    pub skipped_lines: u64,
    pub skipped: Skipped,
    pub records: u64,
    pub series: Vec<Bucket>,
}

pub fn build(
    agg: &Aggregator,
    book: &TemplateBook,
    changes: &[Change],
    skipped: Skipped,
    bucket_ms: i64,
) -> Findings {
    let points = |s: &Series, f: fn(&Counts) -> u64| -> Vec<Point> {
        s.span()
            .map(|(a, b)| (a..b).map(|i| (i, s.get(i).total, f(&s.get(i)))).collect())
            .unwrap_or_default()
    };
    let candidates = [
        onset(&points(&agg.logs, |c| c.errors)),
        onset(&points(&agg.requests, |c| c.errors)),
        onset(&points(&agg.requests, |c| c.client_errors)),
    ];
    let onset_bucket = candidates.iter().flatten().min().copied();
    let end = [agg.logs.span(), agg.requests.span()]
        .iter()
        .flatten()
        .map(|s| s.1)
        .max()
        .unwrap_or(0);
    let split = |s: &Series| -> (Counts, Counts) {
        match (onset_bucket, s.span()) {
            (Some(o), Some((a, b))) => (s.sum(a..o), s.sum(o..b)),
            (None, Some(_)) => (s.total(), Counts::default()),
            _ => (Counts::default(), Counts::default()),
        }
    };
    let rate = |errors: u64, total: u64| {
        if total == 0 {
            0.0
        } else {
            errors as f64 / total as f64
        }
    };
    let (log_before, log_after) = split(&agg.logs);
    let (req_before, req_after) = split(&agg.requests);
    let client_jump = onset_bucket.is_some() && {
        let before = rate(req_before.client_errors, req_before.total);
        let after = rate(req_after.client_errors, req_after.total);
        after > 2.0 * before + 0.01
    };
    let req_errors = |c: &Counts| c.errors + if client_jump { c.client_errors } else { 0 };
    let log_rates = (!agg.logs.is_empty()).then(|| RatePair {
        baseline: rate(log_before.errors, log_before.total),
        incident: rate(log_after.errors, log_after.total),
    });
    let request_rates = (!agg.requests.is_empty()).then(|| RatePair {
        baseline: rate(req_errors(&req_before), req_before.total),
        incident: rate(req_errors(&req_after), req_after.total),
    });
    let use_requests = request_rates
        .as_ref()
        .is_some_and(|r| r.incident > 0.0 || log_rates.is_none());
    let (headline, rate_of, primary) = if use_requests {
        (request_rates.clone().unwrap(), "requests", &agg.requests)
    } else {
        (
            log_rates.clone().unwrap_or(RatePair {
                baseline: 0.0,
                incident: 0.0,
            }),
            "log records",
            &agg.logs,
        )
    };

    let concentration = concentrate(agg, onset_bucket, end, client_jump);
    let onset_ms = onset_bucket.map(|b| b * bucket_ms);
    let templates = template_views(book, onset_ms, bucket_ms);
    let suspect_changes = suspects(changes, onset_ms, bucket_ms, &concentration);
    let suggestions = suggest(&concentration, &suspect_changes, agg);
    let series = primary
        .span()
        .map(|(a, b)| {
            (a..b)
                .map(|i| {
                    let c = primary.get(i);
                    let errors = if use_requests {
                        req_errors(&c)
                    } else {
                        c.errors
                    };
                    Bucket {
                        ts: ms_to_time(i * bucket_ms),
                        total: c.total,
                        errors,
                        rate: rate(errors, c.total),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let records = agg.logs.total().total + agg.requests.total().total;
    Findings {
        onset: onset_ms.map(ms_to_time),
        bucket_seconds: (bucket_ms / 1000) as u64,
        baseline_error_rate: headline.baseline,
        incident_error_rate: headline.incident,
        rate_of,
        log_error_rate: log_rates,
        request_error_rate: request_rates,
        client_error_rate: client_jump.then(|| RatePair {
            baseline: rate(req_before.client_errors, req_before.total),
            incident: rate(req_after.client_errors, req_after.total),
        }),
        concentration,
        templates,
        suspect_changes,
        suggestions,
        skipped_lines: skipped.total(),
        skipped,
        records,
        series,
    }
}

pub fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Keys whose share of the errors exceeds their share of the traffic, in the incident
/// window (everything when there is no onset), most concentrated first.
fn concentrate(
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
        let window = |s: &Series| match (onset, s.span()) {
            (Some(o), _) => s.sum(o..end.max(o)),
            (None, _) => s.total(),
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
        // on an inventory error is not where the error is.
        let group = |key: &str| -> Option<&String> {
            (dim == Dim::Server)
                .then(|| agg.server_pools.get(key))
                .flatten()
        };
        let mut sums: HashMap<Option<&String>, (u64, u64)> = HashMap::new();
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
            out.push(Concentration {
                dimension: dim,
                key: key.clone(),
                share_of_errors,
                share_of_traffic,
                errors,
                total,
                pool: (dim == Dim::Server)
                    .then(|| agg.server_pools.get(key).cloned())
                    .flatten(),
            });
        }
    }
    let score = |c: &Concentration| c.share_of_errors * (c.share_of_errors - c.share_of_traffic);
    out.sort_by(|a, b| score(b).total_cmp(&score(a)).then(a.key.cmp(&b.key)));
    out
}

/// A template is new when it first appears at the onset, or in the bucket just before it (the
/// onset is the first bucket that stays high, so the first errors can come a little earlier).
fn template_views(book: &TemplateBook, onset_ms: Option<i64>, bucket_ms: i64) -> Vec<TemplateView> {
    let mut out: Vec<TemplateView> = book
        .iter()
        .map(|(text, s)| TemplateView {
            template: text.to_string(),
            count: s.count,
            first_seen: ms_to_time(s.first_ms),
            last_seen: ms_to_time(s.last_ms),
            hosts: s.hosts.iter().cloned().collect(),
            new: onset_ms.is_some_and(|o| s.first_ms >= o - bucket_ms),
            example: s.example.clone(),
        })
        .collect();
    out.sort_by(|a, b| b.new.cmp(&a.new).then(b.count.cmp(&a.count)));
    out
}

/// Changes in the hours before the onset, best first: closer is likelier, and a change that
/// names where the errors concentrate is much likelier.
fn suspects(
    changes: &[Change],
    onset_ms: Option<i64>,
    bucket_ms: i64,
    concentration: &[Concentration],
) -> Vec<Suspect> {
    let Some(onset) = onset_ms else {
        return Vec::new();
    };
    let top: Vec<&Concentration> = concentration.iter().take(3).collect();
    let mut out: Vec<Suspect> = changes
        .iter()
        .filter(|c| {
            let t = c.ts.timestamp_millis();
            t <= onset + bucket_ms && t >= onset - LOOKBACK_MS
        })
        .map(|c| {
            let before = onset - c.ts.timestamp_millis();
            let closeness = (-(before.max(0) as f64) / CLOSENESS_MS).exp();
            let text = format!(
                "{} {} {}",
                c.summary,
                c.target.as_deref().unwrap_or(""),
                c.kind.as_deref().unwrap_or("")
            );
            let (mention, named) = top
                .iter()
                .find_map(|k| mentions(&text, &k.key).then(|| (1.0, k.key.clone())))
                .or_else(|| {
                    top.iter().find_map(|k| {
                        let pool = k.pool.as_deref()?;
                        mentions(&text, pool).then(|| (0.5, format!("pool {pool}")))
                    })
                })
                .map_or((0.0, None), |(m, n)| (m, Some(n)));
            let score = 0.4 * closeness + 0.6 * mention;
            let when = if before >= 0 {
                format!("{} before the onset", human(before))
            } else {
                format!("{} after the onset", human(-before))
            };
            let why = match named {
                Some(n) => {
                    let share = top
                        .iter()
                        .find(|k| {
                            n.ends_with(&k.key) || k.pool.as_deref().is_some_and(|p| n.ends_with(p))
                        })
                        .map(|k| {
                            format!(
                                ", where {:.0}% of the errors are",
                                k.share_of_errors * 100.0
                            )
                        })
                        .unwrap_or_default();
                    format!("{when}; it names {n}{share}")
                }
                None => format!("{when}; it names none of the places the errors concentrate"),
            };
            Suspect {
                ts: c.ts,
                source: c.source.clone(),
                summary: c.summary.clone(),
                score: (score * 1000.0).round() / 1000.0,
                why,
                version: c.version,
            }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.ts.cmp(&a.ts)));
    out
}

/// Whether `text` names `key` as a whole word (so `inventory-4` is not found in `inventory-42`).
fn mentions(text: &str, key: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(key).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + key.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

fn human(ms: i64) -> String {
    let s = ms / 1000;
    if s < 90 {
        format!("{s}s")
    } else if s < 5400 {
        format!("{}m", s / 60)
    } else {
        format!("{:.1}h", s as f64 / 3600.0)
    }
}

/// The commands to try, marked as suggestions by the report.
fn suggest(concentration: &[Concentration], suspects: &[Suspect], agg: &Aggregator) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = suspects.first().filter(|s| s.score >= 0.5) {
        if let Some(v) = s.version.filter(|v| *v > 1) {
            out.push(format!(
                "switchyard rollback --to {} -m \"undo v{v}: {}\"",
                v - 1,
                s.why.split(';').next().unwrap_or("lines up with the onset")
            ));
        }
    }
    let pools_of_hosts: HashMap<&str, &str> = agg
        .server_pools
        .iter()
        .map(|(s, p)| (s.as_str(), p.as_str()))
        .collect();
    if let Some(top) = concentration.first().filter(|c| c.share_of_errors >= 0.5) {
        let pool = top
            .pool
            .as_deref()
            .or_else(|| pools_of_hosts.get(top.key.as_str()).copied());
        match (top.dimension, pool) {
            (Dim::Server | Dim::Host, Some(pool)) => out.push(format!(
                "switchyard servers remove {} --pool {pool} -m \"{:.0}% of errors\"",
                top.key,
                top.share_of_errors * 100.0
            )),
            (Dim::Host, None) => out.push(format!(
                "switchyard servers remove {} --pool POOL -m \"{:.0}% of errors\"  (name the pool {} serves in)",
                top.key,
                top.share_of_errors * 100.0,
                top.key
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_whole_names_only() {
        assert!(mentions(
            "pool inventory: + server inventory-4 10.0.0.1:80",
            "inventory-4"
        ));
        assert!(!mentions("+ server inventory-42", "inventory-4"));
        assert!(mentions("pool inventory: + server", "inventory"));
        assert!(!mentions("inventory-4 only", "inventory"));
    }
}
