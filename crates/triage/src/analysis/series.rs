//! Counts per time bucket, stored densely from the first bucket seen: adding a record is an
//! index and three increments.

use serde::Serialize;

/// What one bucket of one key saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Records (log records, or requests for access logs).
    pub total: u64,
    /// Error records: error-or-worse levels, 5xx.
    pub errors: u64,
    /// 4xx answers (access logs only); they become errors when their rate jumps at the onset.
    pub client_errors: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.total += other.total;
        self.errors += other.errors;
        self.client_errors += other.client_errors;
    }
}

/// Buckets `start..start + counts.len()`.
#[derive(Debug, Clone, Default)]
pub struct Series {
    start: i64,
    counts: Vec<Counts>,
}

impl Series {
    #[inline]
    pub fn slot(&mut self, bucket: i64) -> &mut Counts {
        // Nearly every record lands in a bucket that exists already.
        let i = bucket.wrapping_sub(self.start) as u64;
        if i < self.counts.len() as u64 {
            return &mut self.counts[i as usize];
        }
        self.grow(bucket)
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, bucket: i64) -> &mut Counts {
        if self.counts.is_empty() {
            self.start = bucket;
        } else if bucket < self.start {
            let grow = (self.start - bucket) as usize;
            self.counts
                .splice(0..0, std::iter::repeat_n(Counts::default(), grow));
            self.start = bucket;
        }
        let i = (bucket - self.start) as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, Counts::default());
        }
        &mut self.counts[i]
    }

    pub fn merge(&mut self, other: &Series) {
        for (i, c) in other.counts.iter().enumerate() {
            if c.total > 0 || c.client_errors > 0 {
                self.slot(other.start + i as i64).add(c);
            }
        }
    }

    /// The counts of `bucket` (zero outside the range seen).
    pub fn get(&self, bucket: i64) -> Counts {
        if bucket < self.start {
            return Counts::default();
        }
        self.counts
            .get((bucket - self.start) as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Sum over buckets in `range` (half-open).
    pub fn sum(&self, range: std::ops::Range<i64>) -> Counts {
        let mut out = Counts::default();
        for b in range {
            out.add(&self.get(b));
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// First and one-past-last bucket.
    pub fn span(&self) -> Option<(i64, i64)> {
        (!self.counts.is_empty()).then(|| (self.start, self.start + self.counts.len() as i64))
    }

    pub fn total(&self) -> Counts {
        let mut out = Counts::default();
        for c in &self.counts {
            out.add(c);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_both_ways_and_merges() {
        let mut s = Series::default();
        s.slot(10).total += 1;
        s.slot(8).errors += 1;
        s.slot(12).total += 2;
        assert_eq!(s.span(), Some((8, 13)));
        assert_eq!(s.get(8).errors, 1);
        assert_eq!(s.get(100), Counts::default());
        let mut t = Series::default();
        t.slot(12).total += 1;
        t.merge(&s);
        assert_eq!(t.get(12).total, 3);
        assert_eq!(t.sum(0..20).total, 4);
    }
}
