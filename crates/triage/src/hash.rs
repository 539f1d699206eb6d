//! Hash maps for the hot paths (template routing, per-key counts): keyed by short strings
//! from logs, hashed with foldhash's fast fixed hasher. Not resistant to chosen collisions,
//! which is fine for keys that only group log lines.

/// A hash map with foldhash's fast, fixed-seed hasher (the same keys hash the same in every
/// run, so results do not depend on a random seed).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
