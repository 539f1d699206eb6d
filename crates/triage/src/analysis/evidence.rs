//! One onset from several series: application-log errors, access-log 5xx and access-log 4xx
//! each get their own [`onset`] decision, and the series with the strongest evidence (the
//! smallest p-value, not the earliest time) sets the onset. The others are reported beside it,
//! in numbers and in words, so that a disagreement is said, not hidden:
//! `access log (5xx): errors began 14:02 (observed 96, expected 0.2, p < 1e-60);
//! application logs: no significant change (observed 12, expected 10.5, p = 0.34)`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analysis::findings::ms_to_time;
use crate::analysis::onset::{onset, Onset, Point, WINDOW};
use crate::analysis::series::{Counts, Series};
use crate::analysis::stats::Excess;

/// Which records a rate series counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeriesKind {
    /// Error-or-worse records of application logs.
    ApplicationLogs,
    /// 5xx answers in access logs.
    AccessLog5xx,
    /// 4xx answers in access logs.
    AccessLog4xx,
}

impl SeriesKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SeriesKind::ApplicationLogs => "application logs",
            SeriesKind::AccessLog5xx => "access log (5xx)",
            SeriesKind::AccessLog4xx => "access log (4xx)",
        }
    }
}

/// What one series says about the onset.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesEvidence {
    pub series: SeriesKind,
    /// This series' own onset, when its errors left their baseline significantly and stayed out.
    pub onset: Option<DateTime<Utc>>,
    /// The buckets the numbers count (`from` inclusive, `to` exclusive): from this series'
    /// onset (or else the decided onset, or else the last buckets) through the buckets that
    /// confirmed it; the baseline is everything before `from`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub observed: u64,
    pub expected: f64,
    pub p_value: f64,
    pub words: String,
}

/// A series to decide on: its kind, its counts, and which count is its error count.
pub type SeriesSpec<'a> = (SeriesKind, &'a Series, fn(&Counts) -> u64);

/// The onset bucket, the series that decided it, and every series' evidence.
pub struct Decision {
    pub onset: Option<i64>,
    pub series: Option<SeriesKind>,
    pub evidence: Vec<SeriesEvidence>,
    pub summary: String,
}

/// Decides the onset over `series` (kind, counts, which count is the error count).
pub fn decide(series: &[SeriesSpec<'_>], bucket_ms: i64) -> Decision {
    let found: Vec<(SeriesSpec<'_>, Option<Onset>)> = series
        .iter()
        .filter(|(_, s, _)| !s.is_empty())
        .map(|&(kind, s, f)| ((kind, s, f), onset(&points(s, f))))
        .collect();
    let best = found
        .iter()
        .filter_map(|((kind, _, _), o)| o.map(|o| (*kind, o)))
        .min_by(|a, b| a.1.evidence.ln_p.total_cmp(&b.1.evidence.ln_p));
    let hhmm = |b: i64| ms_to_time(b * bucket_ms).format("%H:%M:%S").to_string();
    let mut evidence = Vec::new();
    for ((kind, s, f), own) in &found {
        let (from, to, test) = match (own, best) {
            (Some(o), _) => (o.bucket, o.evidence_end, o.evidence),
            (None, Some((_, b))) => (
                b.bucket,
                b.evidence_end,
                window(s, *f, b.bucket, b.evidence_end),
            ),
            (None, None) => {
                // No onset anywhere: the latest buckets against everything before them.
                let (_, end) = s.span().expect("not empty");
                let from = end - WINDOW as i64;
                (from, end, window(s, *f, from, end))
            }
        };
        // A 4xx series that shows nothing is not worth a word: 4xx are not errors by default.
        if *kind == SeriesKind::AccessLog4xx && own.is_none() {
            continue;
        }
        let numbers = format!(
            "observed {}, expected {:.1}, {}",
            test.observed,
            test.expected,
            test.p_text()
        );
        let words = match (own, best) {
            (Some(o), Some((k, b))) if k == *kind || (o.bucket - b.bucket).abs() <= 1 => {
                format!(
                    "{}: errors began {} ({numbers})",
                    kind.as_str(),
                    hhmm(o.bucket)
                )
            }
            (Some(o), _) => format!(
                "{}: errors began {}, with weaker evidence ({numbers})",
                kind.as_str(),
                hhmm(o.bucket)
            ),
            (None, _) => format!("{}: no significant change ({numbers})", kind.as_str()),
        };
        evidence.push(SeriesEvidence {
            series: *kind,
            onset: own.map(|o| ms_to_time(o.bucket * bucket_ms)),
            from: ms_to_time(from * bucket_ms),
            to: ms_to_time(to * bucket_ms),
            observed: test.observed,
            expected: test.expected,
            p_value: test.p_value,
            words,
        });
    }
    // The deciding series first.
    if let Some((kind, _)) = best {
        evidence.sort_by_key(|e| e.series != kind);
    }
    let summary = evidence
        .iter()
        .map(|e| e.words.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    Decision {
        onset: best.map(|b| b.1.bucket),
        series: best.map(|b| b.0),
        evidence,
        summary,
    }
}

fn points(s: &Series, f: fn(&Counts) -> u64) -> Vec<Point> {
    s.span()
        .map(|(a, b)| {
            (a..b)
                .map(|i| {
                    let c = s.get(i);
                    (i, c.total, f(&c))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Buckets `from..to` of `s` against everything before `from`.
fn window(s: &Series, f: fn(&Counts) -> u64, from: i64, to: i64) -> Excess {
    let (start, _) = s.span().unwrap_or((from, from));
    let (mut n, mut k, mut n0, mut k0) = (0, 0, 0, 0);
    for b in start.min(from)..to {
        let c = s.get(b);
        if b < from {
            n0 += c.total;
            k0 += f(&c);
        } else {
            n += c.total;
            k += f(&c);
        }
    }
    Excess::test(k, n, k0, n0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(buckets: &[(u64, u64)]) -> Series {
        let mut s = Series::default();
        for (i, &(total, errors)) in buckets.iter().enumerate() {
            let c = s.slot(i as i64);
            c.total = total;
            c.errors = errors;
        }
        s
    }

    #[test]
    fn strongest_evidence_decides_and_disagreement_is_said() {
        // Application logs: a noisy early wobble that is significant but weak.
        let mut logs: Vec<(u64, u64)> = vec![(40, 1); 30];
        for b in logs.iter_mut().skip(10).take(20) {
            b.1 = 5;
        }
        // Access log: a clean, overwhelming step at bucket 20.
        let mut access: Vec<(u64, u64)> = vec![(1000, 1); 30];
        for b in access.iter_mut().skip(20) {
            b.1 = 200;
        }
        let (logs, access) = (series(&logs), series(&access));
        let d = decide(
            &[
                (SeriesKind::ApplicationLogs, &logs, |c| c.errors),
                (SeriesKind::AccessLog5xx, &access, |c| c.errors),
                (SeriesKind::AccessLog4xx, &access, |c| c.client_errors),
            ],
            60_000,
        );
        assert_eq!(d.onset, Some(20));
        assert_eq!(d.series, Some(SeriesKind::AccessLog5xx));
        assert_eq!(d.evidence.len(), 2, "4xx shows nothing and is left out");
        assert_eq!(d.evidence[0].series, SeriesKind::AccessLog5xx);
        assert!(d.evidence[0].observed >= 200 && d.evidence[0].expected < 10.0);
        assert!(d
            .summary
            .starts_with("access log (5xx): errors began 00:20:00 (observed "));
        assert!(
            d.summary
                .contains("; application logs: errors began 00:10:00, with weaker evidence"),
            "{}",
            d.summary
        );
    }

    #[test]
    fn quiet_series_say_so() {
        let logs = series(&[
            (10, 1),
            (10, 0),
            (10, 0),
            (10, 1),
            (10, 0),
            (10, 0),
            (10, 0),
        ]);
        let d = decide(
            &[(SeriesKind::ApplicationLogs, &logs, |c| c.errors)],
            60_000,
        );
        assert_eq!(d.onset, None);
        assert!(
            d.summary
                .starts_with("application logs: no significant change (observed 1,"),
            "{}",
            d.summary
        );
    }
}
