//! [`SqliteStore`]: the history and event log in one SQLite file.

mod rows;
mod schema;

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use rusqlite::{ffi, params, Connection, OptionalExtension, TransactionBehavior};

pub(crate) use self::rows::{since_text, ts_text};
use self::rows::{RawVersion, EVENT_COLUMNS, VERSION_COLUMNS};
use crate::{model, Event, NewEvent, NewVersion, Store, StoreError, Version, VersionKind};

/// A [`Store`] in one SQLite file, `DIR/switchyard.db`.
///
/// One connection serves all threads, behind a mutex; other processes may open the same file
/// (writes are serialized by SQLite's lock, and a commit's compare-and-swap still holds across
/// them). The file is in WAL mode with `synchronous = FULL`: a crash or power loss at any moment
/// leaves every version that `commit` reported, each with its event, and nothing half written.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// The database's file name inside the directory given to [`open`](SqliteStore::open).
    pub const FILE_NAME: &'static str = "switchyard.db";

    /// Opens `dir/switchyard.db`, creating `dir` and the file if needed, and brings the schema
    /// up to date. The file is made mode 0600 whatever the umask (SQLite gives its WAL and
    /// shared-memory files the same mode): it holds every config, webhook URLs included. Fails with [`StoreError::Open`] naming the file.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        let path = dir.join(Self::FILE_NAME);
        let failed = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| {
            failed(rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_CANTOPEN),
                Some(format!("could not create directory {}: {e}", dir.display())),
            ))
        })?;
        private_file(&path).map_err(|e| {
            failed(rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_CANTOPEN),
                Some(format!(
                    "could not make {} private (mode 0600): {e}",
                    path.display()
                )),
            ))
        })?;
        let mut conn = Connection::open(&path).map_err(failed)?;
        schema::configure_file(&conn).map_err(failed)?;
        schema::migrate(&mut conn).map_err(failed)?;
        Ok(SqliteStore::from_connection(conn))
    }

    /// A store that lives in memory and vanishes when dropped; for tests.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let mut conn = Connection::open_in_memory()?;
        schema::migrate(&mut conn)?;
        Ok(SqliteStore::from_connection(conn))
    }

    fn from_connection(conn: Connection) -> SqliteStore {
        SqliteStore {
            conn: Mutex::new(conn),
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A thread that panicked while holding the lock cannot have left a transaction open
        // (rusqlite rolls back on drop), so the connection is still good.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read_version(&self, sql: &str, n: Option<i64>) -> Result<Option<Version>, StoreError> {
        let conn = self.conn();
        let raw = match n {
            Some(n) => conn.query_row(sql, [n], |row| RawVersion::from_row(row, true)),
            None => conn.query_row(sql, [], |row| RawVersion::from_row(row, true)),
        };
        raw.optional()?.map(RawVersion::check).transpose()
    }
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        let conn = self.conn();
        match conn.path().filter(|p| !p.is_empty()) {
            Some(path) => format!("SQLite file {path}"),
            None => "SQLite in memory".to_string(),
        }
    }

    fn head(&self) -> Result<Option<Version>, StoreError> {
        let sql =
            format!("SELECT {VERSION_COLUMNS}, config FROM versions ORDER BY version DESC LIMIT 1");
        self.read_version(&sql, None)
    }

    fn version(&self, n: u64) -> Result<Option<Version>, StoreError> {
        let Ok(n) = i64::try_from(n) else {
            return Ok(None);
        };
        let sql = format!("SELECT {VERSION_COLUMNS}, config FROM versions WHERE version = ?1");
        self.read_version(&sql, Some(n))
    }

    fn versions(&self, limit: usize) -> Result<Vec<Version>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions ORDER BY version DESC LIMIT ?1"
        ))?;
        let raws = stmt
            .query_map([limit_param(limit)], |row| RawVersion::from_row(row, false))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawVersion::check).collect()
    }

    fn commit(&self, new: NewVersion, expected_head: Option<u64>) -> Result<Version, StoreError> {
        let mut conn = self.conn();
        // IMMEDIATE takes the write lock before reading the head, so no other process can
        // commit between the check and the insert.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let actual: Option<u64> =
            tx.query_row("SELECT MAX(version) FROM versions", [], |row| row.get(0))?;
        if actual != expected_head {
            // Dropping `tx` rolls back; nothing was written.
            return Err(StoreError::Conflict {
                expected: expected_head,
                actual,
            });
        }
        let (version, event) = new.into_version(actual);
        tx.execute(
            "INSERT INTO versions
                 (version, parent, created_at, author, kind, message, digest, config)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                version.version,
                version.parent,
                rows::ts_text(version.created_at),
                version.author,
                version.kind.as_str(),
                version.message,
                version.digest,
                version.config,
            ],
        )?;
        insert_event(&tx, version.created_at, event)?;
        tx.commit()?;
        Ok(version)
    }

    fn record_event(&self, event: NewEvent) -> Result<Event, StoreError> {
        let conn = self.conn();
        Ok(insert_event(&conn, model::now(), event)?)
    }

    fn events(&self, since: Option<DateTime<Utc>>, limit: usize) -> Result<Vec<Event>, StoreError> {
        let conn = self.conn();
        // The newest `limit` at or after `since`, then turned back to oldest first.
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM (
                 SELECT {EVENT_COLUMNS} FROM events WHERE ts >= ?1
                 ORDER BY ts DESC, id DESC LIMIT ?2
             ) ORDER BY ts, id"
        ))?;
        // Every stored timestamp sorts after the empty string.
        let since = since.map(rows::since_text).unwrap_or_default();
        let events = stmt
            .query_map(params![since, limit_param(limit)], rows::event)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(events)
    }

    fn last_version_event(
        &self,
        pool: &str,
        server: &str,
        version_kind: VersionKind,
    ) -> Result<Option<Event>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!("{LAST_VERSION_EVENT} LIMIT 1"))?;
        Ok(stmt
            .query_row(params![pool, server, version_kind.as_str()], rows::event)
            .optional()?)
    }

    fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let conn = self.conn();
        let deleted = conn.execute(
            "DELETE FROM events WHERE ts < ?1 AND kind != 'version'",
            [rows::ts_text(before)],
        )?;
        Ok(deleted as u64)
    }
}

/// A server's newest version event of one kind; walks `events_by_server` backwards.
const LAST_VERSION_EVENT: &str = "SELECT id, ts, kind, pool, server, details FROM events
     WHERE pool = ?1 AND server = ?2 AND kind = 'version'
       AND json_extract(details, '$.kind') = ?3
     ORDER BY id DESC";

/// Creates `path` with mode 0600 if it is missing, and takes group and other access away if not.
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

fn insert_event(conn: &Connection, ts: DateTime<Utc>, event: NewEvent) -> rusqlite::Result<Event> {
    conn.execute(
        "INSERT INTO events (ts, kind, pool, server, details) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            rows::ts_text(ts),
            event.kind.as_str(),
            event.pool,
            event.server,
            event.details.to_string(),
        ],
    )?;
    let id = conn.last_insert_rowid();
    Ok(Event {
        id: u64::try_from(id).expect("SQLite rowids of AUTOINCREMENT tables are positive"),
        ts,
        kind: event.kind,
        pool: event.pool,
        server: event.server,
        details: event.details,
    })
}

/// SQLite's LIMIT takes a signed integer; anything past it means "all".
fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_removal_is_found_through_the_index() {
        let store = SqliteStore::open_in_memory().unwrap();
        let conn = store.conn();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {LAST_VERSION_EVENT}"))
            .unwrap()
            .query_map(params!["p", "s", "server-remove"], |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("USING INDEX events_by_server")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|step| step.contains("SCAN")), "{plan:?}");
    }
}
