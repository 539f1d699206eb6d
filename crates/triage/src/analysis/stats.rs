//! Significance of an excess of errors: is a window's (or a key's) error count larger than the
//! rate of its reference (the baseline before it, or the rest of its pool) can explain?
//!
//! The test is the exact conditional test for two rates: given `k` errors in `n` records and
//! `k_ref` errors in `n_ref` reference records, under "same rate" the `k` errors are a binomial
//! draw from all `k + k_ref` errors, each landing in the window with probability
//! `n / (n + n_ref)`. The p-value is that binomial's upper tail, computed in log space so that
//! overwhelming evidence (p far below 1e-300) still compares and ranks.
//! Because the reference's own count is part of the test, a short or empty baseline gives
//! weak evidence instead of a rate of zero that any single error would exceed.

use serde::Serialize;

/// The verdict on one window or key, with the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Excess {
    /// Errors seen.
    pub observed: u64,
    /// Errors the reference rate predicts for this many records.
    pub expected: f64,
    /// One-sided p-value of seeing `observed` or more (0 when below f64's range).
    pub p_value: f64,
    /// Natural log of the p-value, kept for ranking when `p_value` underflows.
    #[serde(skip)]
    pub ln_p: f64,
}

impl Excess {
    /// `k` errors of `n` records against `k_ref` of `n_ref`.
    pub fn test(k: u64, n: u64, k_ref: u64, n_ref: u64) -> Excess {
        let expected = if n_ref == 0 {
            0.0
        } else {
            n as f64 * k_ref as f64 / n_ref as f64
        };
        let ln_p = if n == 0 || n_ref == 0 {
            0.0
        } else {
            ln_binomial_tail(k, k + k_ref, n as f64 / (n + n_ref) as f64)
        };
        Excess {
            observed: k,
            expected,
            p_value: ln_p.exp(),
            ln_p,
        }
    }

    /// Significant at `alpha`, with at least `min_errors` errors.
    pub fn significant(&self, alpha: f64, min_errors: u64) -> bool {
        self.observed >= min_errors && self.ln_p < alpha.ln()
    }

    /// `p < 1e-16`, `p = 0.003`: the p-value as a person reads it.
    pub fn p_text(&self) -> String {
        p_text(self.ln_p)
    }
}

/// `p < 1e-16`, `p = 2e-5`, `p = 0.31` from a natural-log p-value.
pub fn p_text(ln_p: f64) -> String {
    let log10 = ln_p / std::f64::consts::LN_10;
    if log10 < -16.0 {
        format!("p < 1e-{}", (-log10).floor().min(999.0) as u64)
    } else if log10 < -2.0 {
        format!("p = {:.0e}", ln_p.exp())
    } else {
        format!("p = {:.2}", ln_p.exp())
    }
}

/// ln n!, exact below 64 and by Stirling's series above (relative error below 1e-15).
fn ln_factorial(n: u64) -> f64 {
    if n < 64 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    x * x.ln() - x + 0.5 * (std::f64::consts::TAU * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x.powi(3))
        + 1.0 / (1260.0 * x.powi(5))
}

fn ln_term(j: u64, n: u64, ln_q: f64, ln_1q: f64) -> f64 {
    ln_factorial(n) - ln_factorial(j) - ln_factorial(n - j)
        + j as f64 * ln_q
        + (n - j) as f64 * ln_1q
}

/// ln P(X >= k) for X ~ Binomial(n, q).
pub fn ln_binomial_tail(k: u64, n: u64, q: f64) -> f64 {
    if k == 0 || q >= 1.0 {
        return 0.0;
    }
    if k > n || q <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let (ln_q, ln_1q) = (q.ln(), (-q).ln_1p());
    let odds = q / (1.0 - q);
    if k as f64 > n as f64 * q {
        // Upper tail: terms fall from j = k on.
        let first = ln_term(k, n, ln_q, ln_1q);
        let (mut sum, mut term) = (1.0f64, 1.0f64);
        for j in k..n {
            term *= (n - j) as f64 / (j + 1) as f64 * odds;
            sum += term;
            if term < sum * 1e-17 {
                break;
            }
        }
        first + sum.ln()
    } else {
        // The tail holds the mean: 1 - P(X <= k - 1), whose terms fall from j = k - 1 down.
        let top = k - 1;
        let first = ln_term(top, n, ln_q, ln_1q);
        let (mut sum, mut term) = (1.0f64, 1.0f64);
        for j in (1..=top).rev() {
            term *= j as f64 / (n - j + 1) as f64 / odds;
            sum += term;
            if term < sum * 1e-17 {
                break;
            }
        }
        let lower = (first + sum.ln()).exp().min(1.0);
        (-lower).ln_1p().max(f64::MIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(k: u64, n: u64, q: f64) -> f64 {
        ln_binomial_tail(k, n, q).exp()
    }

    #[test]
    fn binomial_tail_matches_direct_sums() {
        // P(X >= 3), X ~ Bin(10, 0.2) = 1 - (0.8^10 + 10*0.2*0.8^9 + 45*0.04*0.8^8)
        let direct = 1.0 - (0.8f64.powi(10) + 2.0 * 0.8f64.powi(9) + 1.8 * 0.8f64.powi(8));
        assert!((tail(3, 10, 0.2) - direct).abs() < 1e-12);
        assert!((tail(10, 10, 0.5) - 0.5f64.powi(10)).abs() < 1e-15);
        assert_eq!(tail(0, 10, 0.5), 1.0);
        assert_eq!(tail(11, 10, 0.5), 0.0);
        // Symmetry: P(X >= 501 | 1000, 0.5) = (1 - P(X = 500)) / 2.
        let p500 = ln_term(500, 1000, 0.5f64.ln(), 0.5f64.ln()).exp();
        assert!((tail(501, 1000, 0.5) - (1.0 - p500) / 2.0).abs() < 1e-12);
        // Far beyond f64: still ranks.
        assert!(ln_binomial_tail(5000, 10_000, 0.01) < -10_000.0);
        assert!(ln_binomial_tail(5000, 10_000, 0.01) < ln_binomial_tail(4000, 10_000, 0.01));
    }

    #[test]
    fn stirling_joins_the_exact_sum() {
        let exact: f64 = (2..=64u64).map(|i| (i as f64).ln()).sum();
        assert!((ln_factorial(64) - exact).abs() < 1e-10);
    }

    #[test]
    fn a_short_quiet_baseline_is_weak_evidence() {
        // One error in a bucket of ten after fifty clean records: nothing to see.
        let e = Excess::test(1, 10, 0, 50);
        assert!(e.p_value > 0.1, "{e:?}");
        assert!(!e.significant(1e-4, 5));
        // Two random 500s among a thousand requests, against 0.1% before: nothing either.
        assert!(!Excess::test(2, 1000, 20, 20_000).significant(1e-4, 5));
        // Ninety-six errors where 0.2 were expected: overwhelming.
        let e = Excess::test(96, 1000, 4, 20_000);
        assert!((e.expected - 0.2).abs() < 1e-9);
        assert!(e.significant(1e-4, 5) && e.p_value < 1e-100, "{e:?}");
        assert_eq!(
            e.p_text(),
            format!("p < 1e-{}", (-e.ln_p / 10f64.ln()) as u64)
        );
    }
}
