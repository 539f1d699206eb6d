//! Connection settings, and the schema with its migrations, tracked in `PRAGMA user_version`.

use std::time::Duration;

use rusqlite::{ffi, Connection, TransactionBehavior};

/// How long a statement waits for another process's write lock before failing with "database
/// is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migration `i` takes the schema from `user_version` `i` to `i + 1`. Append only: a migration
/// that has shipped is never edited.
const MIGRATIONS: &[&str] = &[
    // 1: versions and the event log.
    "CREATE TABLE versions (
        version    INTEGER PRIMARY KEY,
        parent     INTEGER,
        created_at TEXT NOT NULL,
        author     TEXT NOT NULL,
        kind       TEXT NOT NULL,
        message    TEXT NOT NULL,
        digest     TEXT NOT NULL,
        config     TEXT NOT NULL
    ) STRICT;
    CREATE TABLE events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        ts      TEXT NOT NULL,
        kind    TEXT NOT NULL,
        pool    TEXT,
        server  TEXT,
        details TEXT NOT NULL
    ) STRICT;
    CREATE INDEX events_by_ts ON events (ts, id);",
    // 2: a server's events, newest first (who removed it, when, why) without a scan.
    "CREATE INDEX events_by_server ON events (pool, server, kind, id);",
];

/// Settings for a file store.
///
/// WAL lets readers proceed while a commit is written, and a transaction is either wholly in
/// the file or not at all after a crash at any point. `synchronous = FULL` also syncs the WAL on
/// every commit, so a version that `commit` reported is still there after a power loss, not only
/// after a process crash; commits are rare enough that the extra sync costs nothing that matters.
pub(super) fn configure_file(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Returns the mode in force: a file system that cannot do WAL keeps its rollback journal,
    // which is just as safe.
    let _mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    conn.pragma_update(None, "synchronous", "FULL")
}

/// Brings the schema up to date, in one write transaction so that two processes opening the
/// same new file do not both create it.
pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len();
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > known {
        return Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_ERROR),
            Some(format!(
                "its schema is version {current}, newer than the {known} this Switchyard knows; \
                 upgrade Switchyard"
            )),
        ));
    }
    if current == known {
        return Ok(());
    }
    for sql in &MIGRATIONS[current..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", known as i64)?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn migrates_once_and_records_the_schema_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn), MIGRATIONS.len() as i64);
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn), MIGRATIONS.len() as i64);
    }

    #[test]
    fn file_connections_use_wal_full_sync_and_a_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("switchyard.db")).unwrap();
        configure_file(&conn).unwrap();
        let pragma = |name| -> String {
            conn.pragma_query_value(None, name, |row| row.get::<_, rusqlite::types::Value>(0))
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), r#"Text("wal")"#);
        assert_eq!(pragma("synchronous"), "Integer(2)", "2 is FULL");
        assert_eq!(pragma("busy_timeout"), "Integer(5000)");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(err.contains("schema is version 99"), "{err}");
    }
}
