//! [`Feed`]: what a store that many instances share says about itself as it goes.

use tokio::sync::watch;

/// The newest version in a shared store, and whether the store can be reached, as both change.
/// A store that one instance owns (a local file) has none: see [`Store::feed`](crate::Store::feed).
#[derive(Debug, Clone)]
pub struct Feed {
    /// The newest version number written by any instance; only ever rises.
    pub head: watch::Receiver<Option<u64>>,
    /// Whether the store answers (with a quorum) right now.
    pub connected: watch::Receiver<bool>,
}
