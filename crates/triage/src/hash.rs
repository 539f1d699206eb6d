//! Hash maps and key compares for the hot paths (template routing, per-key counts): keys are
//! short strings from logs, hashed with foldhash's fast fixed hasher. Not resistant to chosen
//! collisions, which is fine for keys that only group log lines.

/// A hash map with foldhash's fast, fixed-seed hasher (the same keys hash the same in every
/// run, so results do not depend on a random seed).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// The first and last (up to) eight bytes of `s` as two little-endian words, read with
/// loads of a fixed size (no call into `memcpy`); for up to eight bytes the second word is 0.
/// Two strings of at most 16 bytes are equal exactly when their lengths and words are.
#[inline(always)]
pub(crate) fn words(s: &[u8]) -> (u64, u64) {
    let n = s.len();
    let w8 = |at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let w4 = |at: usize| {
        u64::from(u32::from_le_bytes(
            s[at..at + 4].try_into().expect("4 bytes"),
        ))
    };
    let w2 = |at: usize| {
        u64::from(u16::from_le_bytes(
            s[at..at + 2].try_into().expect("2 bytes"),
        ))
    };
    match n {
        9.. => (w8(0), w8(n - 8)),
        8 => (w8(0), 0),
        // Overlapping halves: for each length the same bytes land in the same place.
        4..=7 => (w4(0) | w4(n - 4) << 32, 0),
        2..=3 => (w2(0) | w2(n - 2) << 16, 0),
        1 => (u64::from(s[0]), 0),
        0 => (0, 0),
    }
}

/// `a == b`, without a call into `memcmp` for the short keys logs are full of (host, service,
/// pool and server names): up to 16 bytes are compared as two words.
#[inline(always)]
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    let (ka, kb) = (KeyWords::of(a), KeyWords::of(b));
    ka == kb && (ka.whole() || a == b)
}

/// A key's length and [`words`]: two keys of at most 16 bytes are equal exactly when these
/// are, so a cache can hold them in place of the key and compare without following a pointer.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct KeyWords {
    len: usize,
    words: (u64, u64),
}

impl KeyWords {
    #[inline(always)]
    pub(crate) fn of(key: &str) -> KeyWords {
        KeyWords {
            len: key.len(),
            words: words(key.as_bytes()),
        }
    }

    /// Whether equal words mean equal keys.
    #[inline(always)]
    pub(crate) fn whole(self) -> bool {
        self.len <= 16
    }

    /// A hash for small direct-mapped caches.
    #[inline(always)]
    pub(crate) fn hash(self) -> u64 {
        let (a, b) = self.words;
        (a ^ b.rotate_left(29) ^ (self.len as u64) << 56).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

#[cfg(test)]
mod tests {
    use super::{same_key, words, KeyWords};

    #[test]
    fn same_key_is_equality() {
        let keys = [
            "",
            "a",
            "pool",
            "inventory",
            "inventory-4",
            "inventory-40",
            "frontend-02",
            "frontend-03",
            "a-much-longer-server-name-1",
            "a-much-longer-server-name-2",
            "ab",
            "abc",
            "abd",
            "abcd",
            "abcde",
            "abcdf",
            "abcdefg",
            "abcdefgh",
            "abcdefgi",
            "xbcdefgh",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(same_key(a, b), a == b, "{a} {b}");
                if a.len() <= 16 && b.len() <= 16 && a.len() == b.len() {
                    assert_eq!(
                        words(a.as_bytes()) == words(b.as_bytes()),
                        a == b,
                        "{a} {b}"
                    );
                }
                let (ka, kb) = (KeyWords::of(a), KeyWords::of(b));
                if ka.whole() && kb.whole() {
                    assert_eq!(ka == kb, a == b, "{a} {b}");
                }
                if a == b {
                    assert_eq!(ka.hash(), kb.hash());
                }
            }
        }
    }
}
