//! When errors began, as a statistical decision on one series of (records, errors) buckets.
//!
//! - **Alarm.** Buckets are read in order. At bucket `t`, each window of the last
//!   [`WINDOW`] buckets ending at `t` is tested against everything before that window (the
//!   baseline) with [`Excess::test`]: the alarm goes off when a window holds at least
//!   [`MIN_ERRORS`] errors at p < [`ALPHA`].
//! - **Stays out.** The buckets right after the alarm (as many as hold the alarm bucket's
//!   number of records, at most [`WINDOW`]) must also hold more errors than the baseline
//!   predicts (p < [`CONFIRM_ALPHA`]); a burst that returns to the baseline is not an onset,
//!   and the scan goes on past it (later windows start after it).
//! - **Where it began.** The onset is the window start, among the [`WINDOW`] buckets up to the
//!   alarm, whose window through the confirming buckets is most significant: a sparse series
//!   may need a few buckets to raise the alarm, but its onset is placed where the rate changed.

use super::stats::Excess;

/// Significance a window must reach to raise the alarm.
pub const ALPHA: f64 = 1e-4;
/// Fewest errors that can raise the alarm, however small the p-value.
pub const MIN_ERRORS: u64 = 5;
/// Longest window, in buckets, for the alarm, the confirmation and the onset's placement.
pub const WINDOW: usize = 5;
/// Significance the buckets after the alarm must reach: the rate stays out.
pub const CONFIRM_ALPHA: f64 = 0.01;
/// Fewest buckets with records that make a baseline.
const MIN_BASELINE: usize = 3;

/// Rate points: (bucket, records, errors), one per bucket in order.
pub type Point = (i64, u64, u64);

/// An onset and its evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Onset {
    pub bucket: i64,
    /// The bucket whose counts raised the alarm (at or after `bucket`).
    pub alarm: i64,
    /// Errors from the onset through the confirming buckets, against the baseline before it.
    pub evidence: Excess,
    /// One past the last bucket the evidence counts.
    pub evidence_end: i64,
}

/// Cumulative (records, errors) so that any window's sum is a subtraction.
struct Prefix(Vec<(u64, u64)>);

impl Prefix {
    fn new(points: &[Point]) -> Prefix {
        let mut acc = vec![(0, 0)];
        for &(_, n, k) in points {
            let (tn, tk) = acc[acc.len() - 1];
            acc.push((tn + n, tk + k));
        }
        Prefix(acc)
    }

    /// (records, errors) of points `a..b`.
    fn sum(&self, a: usize, b: usize) -> (u64, u64) {
        (self.0[b].0 - self.0[a].0, self.0[b].1 - self.0[a].1)
    }

    /// Points `a..b` against the baseline `0..base`.
    fn test(&self, a: usize, b: usize, base: usize) -> Excess {
        let (n, k) = self.sum(a, b);
        let (n0, k0) = self.sum(0, base);
        Excess::test(k, n, k0, n0)
    }
}

/// The onset of `points` (one per bucket, in order), if the error rate left its baseline and
/// stayed out.
pub fn onset(points: &[Point]) -> Option<Onset> {
    let prefix = Prefix::new(points);
    // Index of the point that completes a baseline of MIN_BASELINE buckets with records.
    let mut with_records = 0;
    let first = points.iter().position(|p| {
        with_records += usize::from(p.1 > 0);
        with_records >= MIN_BASELINE
    })? + 1;
    let len = points.len();
    let mut t = first;
    // Windows start after the last burst that did not stay out.
    let mut floor = first;
    while t < len {
        let starts = t.saturating_sub(WINDOW - 1).max(floor)..=t;
        let alarm = starts
            .clone()
            .map(|c| prefix.test(c, t + 1, c))
            .any(|e| e.significant(ALPHA, MIN_ERRORS));
        if !alarm {
            t += 1;
            continue;
        }
        // The buckets right after the alarm, as many as it takes to hold as many records as
        // the alarm's own bucket (at most WINDOW).
        let alarm_records = prefix.sum(t, t + 1).0;
        let mut end = t + 1;
        while end < len.min(t + 1 + WINDOW) {
            end += 1;
            if prefix.sum(t + 1, end).0 >= alarm_records {
                break;
            }
        }
        let ahead = (t + 1)..end;
        if ahead.is_empty() {
            return None;
        }
        let best = starts
            .map(|c| (c, prefix.test(c, end, c)))
            .min_by(|a, b| a.1.ln_p.total_cmp(&b.1.ln_p))
            .expect("at least one start");
        let stays = prefix.test(ahead.start, end, best.0);
        if stays.ln_p < CONFIRM_ALPHA.ln() {
            return Some(Onset {
                bucket: points[best.0].0,
                alarm: points[t].0,
                evidence: best.1,
                evidence_end: points[end - 1].0 + 1,
            });
        }
        floor = t + 1;
        t += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(rates: &[f64]) -> Vec<Point> {
        rates
            .iter()
            .enumerate()
            .map(|(i, r)| (i as i64, 1000, (r * 1000.0) as u64))
            .collect()
    }

    fn at(points: &[Point]) -> Option<i64> {
        onset(points).map(|o| o.bucket)
    }

    #[test]
    fn finds_a_step() {
        let s = series(&[0.001, 0.002, 0.001, 0.0, 0.002, 0.2, 0.21, 0.19, 0.2]);
        let o = onset(&s).unwrap();
        assert_eq!(o.bucket, 5);
        assert!(
            o.evidence.observed >= 400 && o.evidence.expected < 10.0,
            "{o:?}"
        );
        assert!(o.evidence.p_value < 1e-100);
    }

    #[test]
    fn ignores_a_single_blip() {
        let s = series(&[0.001, 0.002, 0.001, 0.3, 0.002, 0.001, 0.002, 0.25, 0.22]);
        assert_eq!(at(&s), Some(7));
    }

    #[test]
    fn no_change_no_onset() {
        let s = series(&[0.01, 0.012, 0.009, 0.011, 0.01, 0.012, 0.008]);
        assert_eq!(at(&s), None);
        assert_eq!(at(&[]), None);
    }

    #[test]
    fn a_lone_record_is_not_a_baseline_shift() {
        let mut s = series(&[0.001, 0.001, 0.001, 0.001, 0.001]);
        s[2] = (2, 1, 1);
        s.extend(
            series(&[0.1, 0.1])
                .into_iter()
                .map(|(b, t, e)| (b + 5, t, e)),
        );
        assert_eq!(at(&s), Some(5));
    }

    #[test]
    fn sparse_background_errors_are_not_an_onset() {
        // Ten lines a bucket with 5% errors: single errors come and go, two in a row happen.
        let s: Vec<Point> = (0..60)
            .map(|i| (i, 10, u64::from(i % 9 == 0 || i % 13 == 0 || i == 31)))
            .collect();
        assert_eq!(at(&s), None);
        // Two random 500s in consecutive minutes of a dense access log with rare 5xx.
        let mut s: Vec<Point> = (0..60).map(|i| (i, 1000, u64::from(i % 7 == 0))).collect();
        s[40].2 = 2;
        s[41].2 = 2;
        assert_eq!(at(&s), None);
    }

    #[test]
    fn a_sparse_step_is_placed_where_it_began() {
        // Twenty lines a bucket, 5% errors, then 40% from bucket 30: one bucket alone is not
        // enough, yet the onset lands on 30, not where the alarm went off.
        let s: Vec<Point> = (0..45)
            .map(|i| (i, 20, if i < 30 { u64::from(i % 10 == 0) } else { 8 }))
            .collect();
        let o = onset(&s).unwrap();
        assert_eq!(o.bucket, 30, "{o:?}");
    }
}
