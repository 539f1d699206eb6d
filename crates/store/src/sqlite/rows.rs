//! Rows to records and back: column lists, timestamp text, digest checks.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use rusqlite::types::Type;
use rusqlite::Row;

use crate::{digest, Event, StoreError, Version, VersionKind};

/// Version columns in the order [`RawVersion::from_row`] reads them; `config` last, optional.
pub(super) const VERSION_COLUMNS: &str =
    "version, parent, created_at, author, kind, message, digest";

/// Event columns in the order [`event`] reads them.
pub(super) const EVENT_COLUMNS: &str = "id, ts, kind, pool, server, details";

/// Timestamps are stored as fixed-width RFC 3339 text in UTC with milliseconds
/// (`2026-11-25T11:10:53.367Z`), so text order is time order.
pub(crate) fn ts_text(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The lower bound for `ts >= since` on millisecond text: `since` rounded up to a millisecond,
/// so that an event stored as `.000` is not taken for one at `.000500`.
pub(crate) fn since_text(since: DateTime<Utc>) -> String {
    let floor = since.trunc_subsecs(3);
    let ceil = if floor < since {
        floor + Duration::milliseconds(1)
    } else {
        floor
    };
    ts_text(ceil)
}

fn parse_ts(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|ts| ts.with_timezone(&Utc))
}

/// A version row as stored, before its timestamp is parsed and its config checked.
pub(super) struct RawVersion {
    version: u64,
    parent: Option<u64>,
    created_at: String,
    author: String,
    kind: String,
    message: String,
    digest: String,
    config: Option<String>,
}

impl RawVersion {
    /// Reads [`VERSION_COLUMNS`], then `config` if `with_config`.
    pub(super) fn from_row(row: &Row<'_>, with_config: bool) -> rusqlite::Result<RawVersion> {
        Ok(RawVersion {
            version: row.get(0)?,
            parent: row.get(1)?,
            created_at: row.get(2)?,
            author: row.get(3)?,
            kind: row.get(4)?,
            message: row.get(5)?,
            digest: row.get(6)?,
            config: if with_config { Some(row.get(7)?) } else { None },
        })
    }

    /// Parses the timestamp and, when the config was read, checks it against the digest.
    pub(super) fn check(self) -> Result<Version, StoreError> {
        let created_at = parse_ts(&self.created_at).map_err(|e| StoreError::Corrupt {
            version: self.version,
            detail: format!(
                "created_at {:?} is not an RFC 3339 time: {e}",
                self.created_at
            ),
        })?;
        let kind: VersionKind = self.kind.parse().map_err(|e| StoreError::Corrupt {
            version: self.version,
            detail: format!("{e}"),
        })?;
        if let Some(config) = &self.config {
            let actual = digest(config);
            if actual != self.digest {
                return Err(StoreError::Corrupt {
                    version: self.version,
                    detail: format!(
                        "its config hashes to {actual} but its recorded digest is {}",
                        self.digest
                    ),
                });
            }
        }
        Ok(Version {
            version: self.version,
            parent: self.parent,
            created_at,
            author: self.author,
            kind,
            message: self.message,
            digest: self.digest,
            config: self.config,
        })
    }
}

/// Reads [`EVENT_COLUMNS`].
pub(super) fn event(row: &Row<'_>) -> rusqlite::Result<Event> {
    let invalid = |column, e: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(column, Type::Text, e)
    };
    let ts: String = row.get(1)?;
    let kind: String = row.get(2)?;
    let details: String = row.get(5)?;
    Ok(Event {
        id: row.get(0)?,
        ts: parse_ts(&ts).map_err(|e| invalid(1, e.into()))?,
        kind: kind
            .parse()
            .map_err(|e: crate::UnknownKind| invalid(2, e.into()))?,
        pool: row.get(3)?,
        server: row.get(4)?,
        details: serde_json::from_str(&details).map_err(|e| invalid(5, e.into()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_millisecond_text() {
        let ts: DateTime<Utc> = "2026-11-25T11:10:53Z".parse().unwrap();
        assert_eq!(ts_text(ts), "2026-11-25T11:10:53.000Z");
        assert_eq!(parse_ts(&ts_text(ts)).unwrap(), ts);
    }

    #[test]
    fn since_rounds_up_to_the_next_millisecond() {
        let exact: DateTime<Utc> = "2026-11-25T11:10:53.367Z".parse().unwrap();
        assert_eq!(since_text(exact), "2026-11-25T11:10:53.367Z");
        let between: DateTime<Utc> = "2026-11-25T11:10:53.367400Z".parse().unwrap();
        assert_eq!(since_text(between), "2026-11-25T11:10:53.368Z");
    }
}
