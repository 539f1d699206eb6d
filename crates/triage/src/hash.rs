//! Hash maps and key compares for the hot paths (template routing, per-key counts): keys are
//! short strings from logs, hashed with foldhash's fast fixed hasher. Not resistant to chosen
//! collisions, which is fine for keys that only group log lines.

/// A hash map with foldhash's fast, fixed-seed hasher (the same keys hash the same in every
/// run, so results do not depend on a random seed).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// `a == b`, without a call into `memcmp` for the short keys logs are full of (host, service,
/// pool and server names): up to 16 bytes are compared as two overlapping words.
#[inline]
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    match n {
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::same_key;

    #[test]
    fn same_key_is_equality() {
        let words = [
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
        ];
        for a in words {
            for b in words {
                assert_eq!(same_key(a, b), a == b, "{a} {b}");
            }
        }
    }
}
