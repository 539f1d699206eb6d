//! What can go wrong reading or writing the store.

use std::path::PathBuf;

/// An error from a [`Store`](crate::Store).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A commit expected a different newest version than the store has; nothing was written.
    /// The caller reloads the current version and retries (admin answers 409).
    #[error(
        "version conflict: expected {}, found {}; reload and retry",
        expected_head(.expected),
        found_head(.actual)
    )]
    Conflict {
        /// The newest version the caller believed in (`None`: an empty history).
        expected: Option<u64>,
        /// The newest version the store actually has (`None`: an empty history).
        actual: Option<u64>,
    },

    /// The store file could not be opened, created or migrated.
    #[error(
        "could not open the Switchyard store {}: {source}; check that its directory exists or \
         can be created and is writable, that the file is a Switchyard SQLite database, and that \
         no other program holds it locked",
        .path.display()
    )]
    Open {
        /// The database file (`DIR/switchyard.db`).
        path: PathBuf,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },

    /// A read or write failed in SQLite after the store was opened.
    #[error("store database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// A shared store could not be reached (or had no quorum) in time; nothing was written.
    /// The admin API answers 503.
    #[error(
        "the store {store} cannot be reached: {source}; this instance keeps serving its last \
         version and refuses changes until the store is back"
    )]
    Unavailable {
        /// The store, as `etcd://HOST:PORT/PREFIX`.
        store: String,
        /// What the client reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A stored version does not check out, e.g. its config no longer matches its digest.
    #[error(
        "version {version} in the store is corrupt: {detail}; the database was changed outside \
         Switchyard or damaged, restore it from a backup"
    )]
    Corrupt {
        /// The version whose record is damaged.
        version: u64,
        /// What did not check out.
        detail: String,
    },
}

impl StoreError {
    /// Whether the write failed for want of disk space (nothing was written).
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DiskFull
        )
    }
}

fn expected_head(head: &Option<u64>) -> String {
    match head {
        Some(n) => format!("current version v{n}"),
        None => "an empty history".to_owned(),
    }
}

fn found_head(head: &Option<u64>) -> String {
    match head {
        Some(n) => format!("v{n}"),
        None => "an empty history".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    #[test]
    fn conflict_messages_name_both_heads() {
        let msg = |expected, actual| StoreError::Conflict { expected, actual }.to_string();
        assert_eq!(
            msg(Some(3), Some(4)),
            "version conflict: expected current version v3, found v4; reload and retry"
        );
        assert_eq!(
            msg(None, Some(1)),
            "version conflict: expected an empty history, found v1; reload and retry"
        );
        assert_eq!(
            msg(Some(2), None),
            "version conflict: expected current version v2, found an empty history; reload and retry"
        );
    }
}
