//! From counts to conclusions: the onset (decided per series, then combined by evidence),
//! baseline and incident error rates, where the errors concentrate, which templates are new,
//! which changes line up, and what to try.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::analysis::aggregate::{Aggregator, Dim};
use crate::analysis::concentration::concentrate;
pub use crate::analysis::concentration::Concentration;
use crate::analysis::evidence::{decide, SeriesEvidence, SeriesKind, SeriesSpec};
use crate::analysis::series::{Counts, Series};
use crate::analysis::stats::Excess;
use crate::analysis::suspects::suspects;
pub use crate::analysis::suspects::Suspect;
use crate::analysis::templates::TemplateBook;
use crate::changes::Change;
use crate::input::Skipped;

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
    /// The series whose evidence decided the onset.
    pub onset_series: Option<SeriesKind>,
    /// Per series: its own onset (if any) with observed and expected errors and the p-value.
    pub onset_evidence: Vec<SeriesEvidence>,
    /// The same, in words: `access log (5xx): errors began 14:02 (observed 96, expected 0.2,
    /// p < 1e-60); application logs: no significant change`.
    pub onset_summary: String,
    pub bucket_seconds: u64,
    pub baseline_error_rate: f64,
    pub incident_error_rate: f64,
    /// Which records the two rates count: `requests` (access logs) or `log records`.
    pub rate_of: &'static str,
    pub log_error_rate: Option<RatePair>,
    pub request_error_rate: Option<RatePair>,
    /// Set when the share of 4xx answers rose significantly at the onset: those answers then
    /// count as errors in the pool and server concentration.
    pub client_error_rate: Option<RatePair>,
    pub concentration: Vec<Concentration>,
    pub templates: Vec<TemplateView>,
    pub suspect_changes: Vec<Suspect>,
    /// How many changes (from files and Switchyard's versions) triage was given.
    pub changes_given: usize,
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
    let series: [SeriesSpec<'_>; 3] = [
        (SeriesKind::ApplicationLogs, &agg.logs, |c| c.errors),
        (SeriesKind::AccessLog5xx, &agg.requests, |c| c.errors),
        (SeriesKind::AccessLog4xx, &agg.requests, |c| c.client_errors),
    ];
    let decision = decide(&series, bucket_ms);
    let onset_bucket = decision.onset;
    let end = [agg.logs.span(), agg.requests.span()]
        .iter()
        .flatten()
        .map(|s| s.1)
        .max()
        .unwrap_or(0);
    let (log_before, log_after) = split(&agg.logs, onset_bucket);
    let (req_before, req_after) = split(&agg.requests, onset_bucket);
    let counting = Counting {
        client_errors: onset_bucket.is_some() && client_errors_jumped(&req_before, &req_after),
    };
    let log_rates = (!agg.logs.is_empty()).then(|| RatePair {
        baseline: rate(log_before.errors, log_before.total),
        incident: rate(log_after.errors, log_after.total),
    });
    let request_rates = (!agg.requests.is_empty()).then(|| RatePair {
        baseline: rate(counting.errors(&req_before), req_before.total),
        incident: rate(counting.errors(&req_after), req_after.total),
    });
    // The headline counts requests when there are any errors among them (or no logs at all).
    let use_requests = request_rates
        .as_ref()
        .is_some_and(|r| r.incident > 0.0 || log_rates.is_none());
    let (headline, rate_of, primary) = match (&request_rates, &log_rates) {
        (Some(r), _) if use_requests => (r.clone(), "requests", &agg.requests),
        (_, l) => (
            l.clone().unwrap_or(RatePair {
                baseline: 0.0,
                incident: 0.0,
            }),
            "log records",
            &agg.logs,
        ),
    };

    let concentration = concentrate(agg, onset_bucket, end, counting.client_errors);
    let onset_ms = onset_bucket.map(|b| b * bucket_ms);
    let templates = template_views(book, onset_ms, bucket_ms);
    let suspect_changes = suspects(changes, onset_ms, bucket_ms, &concentration);
    let suggestions = suggest(&concentration, &suspect_changes, agg);
    let errors_of = |c: &Counts| {
        if use_requests {
            counting.errors(c)
        } else {
            c.errors
        }
    };
    let series = buckets(primary, bucket_ms, errors_of);
    let records = agg.logs.total().total + agg.requests.total().total;
    Findings {
        onset: onset_ms.map(ms_to_time),
        onset_series: decision.series,
        onset_summary: decision.summary,
        onset_evidence: decision.evidence,
        bucket_seconds: (bucket_ms / 1000) as u64,
        baseline_error_rate: headline.baseline,
        incident_error_rate: headline.incident,
        rate_of,
        log_error_rate: log_rates,
        request_error_rate: request_rates,
        client_error_rate: counting.client_errors.then(|| RatePair {
            baseline: rate(req_before.client_errors, req_before.total),
            incident: rate(req_after.client_errors, req_after.total),
        }),
        concentration,
        templates,
        suspect_changes,
        changes_given: changes.len(),
        suggestions,
        skipped_lines: skipped.total(),
        skipped,
        records,
        series,
    }
}

/// `errors / total`, 0 when there is nothing.
fn rate(errors: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        errors as f64 / total as f64
    }
}

/// A series' counts before and from the onset; without an onset, all of it comes before.
fn split(s: &Series, onset: Option<i64>) -> (Counts, Counts) {
    match (onset, s.span()) {
        (Some(o), Some((a, b))) => (s.sum(a..o), s.sum(o..b)),
        (None, Some(_)) => (s.total(), Counts::default()),
        _ => (Counts::default(), Counts::default()),
    }
}

/// Whether the share of 4xx answers rose significantly, and clearly (to more than twice the
/// share before plus a point), at the onset.
fn client_errors_jumped(before: &Counts, after: &Counts) -> bool {
    let (share_before, share_after) = (
        rate(before.client_errors, before.total),
        rate(after.client_errors, after.total),
    );
    let test = Excess::test(
        after.client_errors,
        after.total,
        before.client_errors,
        before.total,
    );
    share_after > 2.0 * share_before + 0.01 && test.significant(1e-4, 5)
}

/// What counts as a failed request.
struct Counting {
    /// 4xx answers too (when their share jumped at the onset), not only 5xx.
    client_errors: bool,
}

impl Counting {
    fn errors(&self, c: &Counts) -> u64 {
        c.errors
            + if self.client_errors {
                c.client_errors
            } else {
                0
            }
    }
}

/// The series' buckets, with the errors `errors_of` counts in each.
fn buckets(series: &Series, bucket_ms: i64, errors_of: impl Fn(&Counts) -> u64) -> Vec<Bucket> {
    let Some((a, b)) = series.span() else {
        return Vec::new();
    };
    (a..b)
        .map(|i| {
            let c = series.get(i);
            let errors = errors_of(&c);
            Bucket {
                ts: ms_to_time(i * bucket_ms),
                total: c.total,
                errors,
                rate: rate(errors, c.total),
            }
        })
        .collect()
}

pub fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
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
    // Ties go by first sighting, then text: the order messages reached the miner depends on
    // how the scanning threads interleaved.
    out.sort_by(|a, b| {
        (b.new.cmp(&a.new))
            .then(b.count.cmp(&a.count))
            .then(a.first_seen.cmp(&b.first_seen))
            .then_with(|| a.template.cmp(&b.template))
    });
    out
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
    if let Some(top) = concentration
        .first()
        .filter(|c| c.significant && c.share_of_errors >= 0.5)
    {
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
