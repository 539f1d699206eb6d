//! A small seeded PRNG (wyrand): fast, and the same sequence for a seed on every platform and
//! every version of Switchyard, which is what makes generated logs reproducible byte for byte.

/// Seeded pseudo-random numbers; not for anything secret.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        // Spread small seeds (0, 1, 2...) over the state space.
        Rng(seed ^ 0x2545_f491_4f6c_dd1d)
    }

    /// A new generator whose sequence is independent of this one's from here on.
    pub(crate) fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items`, uniformly.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A request id as Switchyard makes one: a random (version 4) UUID in its 32-hex-digit form.
    pub(crate) fn request_id(&mut self, out: &mut [u8; 32]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let hi = (self.next_u64() & !0xf000) | 0x4000;
        let lo = (self.next_u64() & !(0xc << 60)) | (0x8 << 60);
        for (i, byte) in out.iter_mut().enumerate() {
            let word = if i < 16 { hi } else { lo };
            let shift = 60 - 4 * (i % 16);
            *byte = HEX[((word >> shift) & 0xf) as usize];
        }
    }

    /// A latency in microseconds: mostly `lo..hi` ms, with a long tail (1 in 100 up to 8x).
    pub(crate) fn latency_us(&mut self, lo_ms: u64, hi_ms: u64) -> u64 {
        let base = self.range(lo_ms * 1000, hi_ms * 1000);
        if self.below(100) == 0 {
            base * self.range(2, 8)
        } else {
            base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_bounds_hold() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let x = a.range(3, 9);
            assert!((3..=9).contains(&x));
            b.range(3, 9);
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
