//! When errors began: the first bucket where the error rate leaves its baseline and stays out
//! for the next bucket too, so that a single blip is not an onset.

/// Fewest buckets that make a baseline.
const MIN_BASELINE: usize = 3;
/// A bucket with fewer records than this carries no rate of its own.
const MIN_RECORDS: u64 = 5;

/// Rate points: (bucket, records, errors).
pub type Point = (i64, u64, u64);

/// The onset bucket of `points` (in bucket order), if the rate changed.
///
/// For each candidate bucket the baseline is everything before it: its median rate `m` and
/// median absolute deviation `d` (scaled to a standard deviation). The candidate is the onset
/// when it and the next bucket are both above `m + max(4d, 2m, 0.005)`.
pub fn onset(points: &[Point]) -> Option<i64> {
    let rated: Vec<(i64, f64)> = points
        .iter()
        .filter(|(_, total, _)| *total >= MIN_RECORDS)
        .map(|&(b, total, errors)| (b, errors as f64 / total as f64))
        .collect();
    for i in MIN_BASELINE..rated.len().saturating_sub(1) {
        let base: Vec<f64> = rated[..i].iter().map(|r| r.1).collect();
        let m = median(&base);
        let d = 1.4826 * median(&base.iter().map(|r| (r - m).abs()).collect::<Vec<_>>());
        let threshold = m + (4.0 * d).max(2.0 * m).max(0.005);
        if rated[i].1 > threshold && rated[i + 1].1 > threshold {
            return Some(rated[i].0);
        }
    }
    None
}

fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
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

    #[test]
    fn finds_a_step() {
        let s = series(&[0.001, 0.002, 0.001, 0.0, 0.002, 0.2, 0.21, 0.19, 0.2]);
        assert_eq!(onset(&s), Some(5));
    }

    #[test]
    fn ignores_a_single_blip() {
        let s = series(&[0.001, 0.002, 0.001, 0.3, 0.002, 0.001, 0.002, 0.25, 0.22]);
        assert_eq!(onset(&s), Some(7));
    }

    #[test]
    fn no_change_no_onset() {
        let s = series(&[0.01, 0.012, 0.009, 0.011, 0.01, 0.012, 0.008]);
        assert_eq!(onset(&s), None);
        assert_eq!(onset(&[]), None);
    }

    #[test]
    fn empty_buckets_carry_no_rate() {
        let mut s = series(&[0.001, 0.001, 0.001, 0.001]);
        s.push((4, 1, 1));
        s.extend(
            series(&[0.1, 0.1])
                .into_iter()
                .map(|(b, t, e)| (b + 5, t, e)),
        );
        assert_eq!(onset(&s), Some(5));
    }
}
