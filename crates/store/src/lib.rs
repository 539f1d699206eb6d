//! Switchyard's version history and event log, behind one trait: [`Store`].
//!
//! Every config change is a [`Version`]: a numbered, never rewritten record of who changed what,
//! why, and the full canonical config text it produced. Next to the versions sits an event log
//! ([`Event`]): each version writes one event of kind `"version"`, and runtime facts that are not
//! versioned (health flips, ejections, drains) are recorded as events too, so the dashboard and
//! triage see changes and their effects on one timeline. [`SqliteStore`] keeps both in one SQLite
//! file; [`EtcdStore`] keeps them in etcd, where many instances share one history and learn of
//! each other's changes through a [`Feed`].
//!
//! The store treats a config as an opaque string and never parses it: turning TOML into a checked
//! config and diffing two of them belongs to `switchyard-config`, serving it to `switchyard-proxy`,
//! and exposing history over HTTP to `switchyard-admin`. This crate knows nothing of HTTP.
//!
//! ```
//! use switchyard_store::{NewVersion, SqliteStore, Store, StoreError, VersionKind};
//!
//! let store = SqliteStore::open_in_memory().unwrap();
//! let new = |config: &str| NewVersion {
//!     author: "ops".into(),
//!     kind: VersionKind::Apply,
//!     message: "first pool".into(),
//!     config: config.into(),
//!     details: serde_json::json!({}),
//! };
//! let v1 = store.commit(new("[pools.a]\n"), None).unwrap();
//! assert_eq!((v1.version, v1.parent), (1, None));
//!
//! // Compare-and-swap: a writer that still believes the history is empty loses.
//! let err = store.commit(new("[pools.b]\n"), None).unwrap_err();
//! assert!(matches!(err, StoreError::Conflict { expected: None, actual: Some(1) }));
//! assert_eq!(
//!     err.to_string(),
//!     "version conflict: expected an empty history, found v1; reload and retry"
//! );
//!
//! let v2 = store.commit(new("[pools.b]\n"), Some(1)).unwrap();
//! assert_eq!((v2.version, v2.parent), (2, Some(1)));
//! assert_eq!(store.head().unwrap(), Some(v2));
//! assert_eq!(store.events(None, 10).unwrap().len(), 2);
//! ```
//!
//! # Writing: compare-and-swap on the head
//!
//! [`Store::commit`] takes the version the caller last read (`expected_head`) and appends only if
//! that is still the newest one, so two operators editing at once can never silently overwrite each
//! other: the second gets [`StoreError::Conflict`], reloads, and retries. The store assigns the
//! number (head + 1) and writes the version and its `"version"` event atomically: either both are
//! there or neither is, even if the process dies mid-write.
//!
//! [`EtcdStore`] maps `commit` to one transaction guarded by the head key's `mod_revision` (see
//! its module for the layout). Because the trait speaks only of version numbers, never of
//! connections, rows or revisions, callers are the same for both.
//!
//! # Threads and blocking
//!
//! A [`Store`] is `Send + Sync` and meant to be shared (`Arc<dyn Store>`). Its methods block:
//! [`SqliteStore::commit`](Store::commit) waits for the disk (`synchronous = FULL`), so async
//! callers run them on a blocking thread (`tokio::task::spawn_blocking`).

mod digest;
mod error;
pub mod etcd;
mod feed;
mod instance;
mod kind;
mod model;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use digest::digest;
pub use error::StoreError;
pub use etcd::{EtcdStore, EtcdTarget};
pub use feed::Feed;
pub use instance::Instance;
pub use kind::{EventKind, UnknownKind, VersionKind};
pub use model::{Event, NewEvent, NewVersion, Version};
pub use sqlite::SqliteStore;

use chrono::{DateTime, Utc};

/// Version history and event log. Implemented by [`SqliteStore`] and [`EtcdStore`].
///
/// Reads that return a config ([`head`](Store::head), [`version`](Store::version)) check it against
/// its recorded digest and return [`StoreError::Corrupt`] if the two differ.
pub trait Store: Send + Sync {
    /// The store as messages name it: `SQLite file DIR/switchyard.db`, `etcd://HOST:PORT/PREFIX`.
    fn describe(&self) -> String;

    /// For a store that many instances share: the newest version and the store's reachability
    /// as they change. `None` for a store only this process writes.
    fn feed(&self) -> Option<Feed> {
        None
    }

    /// Records what this instance runs, for the other instances to list, for as long as it
    /// runs (a shared store keeps it under a lease that ends when the instance stops). A store
    /// only this process uses keeps nothing.
    fn announce(&self, _instance: &Instance) {}

    /// Every running instance that announced itself, with when it was last heard from; empty
    /// for a store only this process uses.
    fn instances(&self) -> Result<Vec<Instance>, StoreError> {
        Ok(Vec::new())
    }

    /// The newest version, with its config; `None` for an empty history.
    fn head(&self) -> Result<Option<Version>, StoreError>;

    /// One version with its config; `None` if there is no version `n`.
    fn version(&self, n: u64) -> Result<Option<Version>, StoreError>;

    /// Versions newest first, without config (`config` is `None`); at most `limit`.
    fn versions(&self, limit: usize) -> Result<Vec<Version>, StoreError>;

    /// Appends a version whose parent is `expected_head`, and returns it with its config.
    ///
    /// Compare-and-swap: if the newest version is not `expected_head` (`None` = empty store),
    /// nothing is written and [`StoreError::Conflict`] `{ expected, actual }` is returned. The
    /// store numbers the version (head + 1) and stamps `created_at` and `digest`.
    ///
    /// The version and its event are written in one transaction. The event has kind `"version"`,
    /// the version's `created_at` as its `ts`, `pool`/`server` taken from `new.details["pool"]` /
    /// `new.details["server"]` when those are strings, and as details the object
    /// `{"version", "kind", "author", "message", "digest"}` merged with `new.details` (on a
    /// clash the version's own fields win; details that are not an object are kept under
    /// `"details"`).
    fn commit(&self, new: NewVersion, expected_head: Option<u64>) -> Result<Version, StoreError>;

    /// Appends an event stamped with the current time, and returns it with its id.
    fn record_event(&self, event: NewEvent) -> Result<Event, StoreError>;

    /// Events oldest first (by `ts`, then `id`), with `ts >= since` when given; the newest `limit`
    /// of them.
    fn events(&self, since: Option<DateTime<Utc>>, limit: usize) -> Result<Vec<Event>, StoreError>;

    /// The newest [`EventKind::Version`] event of version kind `version_kind` (say
    /// [`VersionKind::ServerRemove`])
    /// about `server` in `pool`, found through an index, never by reading the log.
    fn last_version_event(
        &self,
        pool: &str,
        server: &str,
        version_kind: VersionKind,
    ) -> Result<Option<Event>, StoreError>;

    /// Deletes events older than `before`, except those of kind `"version"`: versions and their
    /// events are never deleted. Returns how many were deleted.
    fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
