//! The records a store keeps: versions and events, as written and as read back.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{EventKind, VersionKind};

/// One entry of the config history. History is only ever appended to: a rollback is a new
/// version carrying an older one's config.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Version {
    /// The version number: 1, 2, 3, ... with no gaps.
    pub version: u64,
    /// The version that was current when this one was made (`None` for version 1).
    pub parent: Option<u64>,
    /// When the version was committed, to the millisecond; serialized as RFC 3339.
    pub created_at: DateTime<Utc>,
    /// Who made the change.
    pub author: String,
    /// What made it.
    pub kind: VersionKind,
    /// Why, in the author's words.
    pub message: String,
    /// `"sha256:<hex>"` of the config text (see [`digest`](crate::digest())).
    pub digest: String,
    /// The full canonical TOML config; `None` in listings.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub config: Option<String>,
}

/// A version to append with [`Store::commit`](crate::Store::commit); the store assigns the
/// number, parent, time and digest.
#[derive(Clone, Debug, PartialEq)]
pub struct NewVersion {
    /// Who makes the change.
    pub author: String,
    /// What makes it.
    pub kind: VersionKind,
    /// Why.
    pub message: String,
    /// The full canonical TOML config; stored as given, never parsed.
    pub config: String,
    /// Extra event details merged into the version's event (e.g. `{"pool": "inventory",
    /// "server": "inventory-3", "rollback_to": 4}`); `Value::Null` or `{}` for none.
    pub details: Value,
}

impl NewVersion {
    /// The version this makes on top of `parent`, numbered and stamped now, and the event that
    /// records it: what every store writes in a commit.
    pub(crate) fn into_version(self, parent: Option<u64>) -> (Version, NewEvent) {
        let version = Version {
            version: parent.map_or(1, |head| head + 1),
            parent,
            created_at: now(),
            author: self.author,
            kind: self.kind,
            message: self.message,
            digest: crate::digest(&self.config),
            config: Some(self.config),
        };
        let event = version_event(&version, self.details);
        (version, event)
    }
}

/// One entry of the event log: a version being made, or a runtime fact such as a health change.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Event {
    /// Assigned by the store, increasing in the order events were written.
    pub id: u64,
    /// When the event was recorded, to the millisecond; serialized as RFC 3339.
    pub ts: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
    /// The pool it concerns, if one.
    pub pool: Option<String>,
    /// The server it concerns, if one.
    pub server: Option<String>,
    /// Everything else, as JSON.
    pub details: Value,
}

/// An event to append with [`Store::record_event`](crate::Store::record_event); the store
/// assigns the id and time.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// What happened.
    pub kind: EventKind,
    /// The pool it concerns, if one.
    pub pool: Option<String>,
    /// The server it concerns, if one.
    pub server: Option<String>,
    /// Everything else, as JSON.
    pub details: Value,
}

/// The current time at the precision the store keeps, so that what `commit` returns equals what
/// a later read gives back.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// The event every committed version writes beside itself (see [`Store::commit`](crate::Store::commit)).
pub(crate) fn version_event(version: &Version, extra: Value) -> NewEvent {
    let mut details = Map::new();
    details.insert("version".into(), version.version.into());
    details.insert("kind".into(), version.kind.as_str().into());
    details.insert("author".into(), version.author.clone().into());
    details.insert("message".into(), version.message.clone().into());
    details.insert("digest".into(), version.digest.clone().into());
    match extra {
        Value::Null => {}
        Value::Object(extra) => {
            for (key, value) in extra {
                details.entry(key).or_insert(value);
            }
        }
        other => {
            details.entry("details").or_insert(other);
        }
    }
    let text = |key: &str| details.get(key).and_then(Value::as_str).map(str::to_owned);
    NewEvent {
        kind: EventKind::Version,
        pool: text("pool"),
        server: text("server"),
        details: Value::Object(details),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn version() -> Version {
        Version {
            version: 7,
            parent: Some(6),
            created_at: "2026-11-25T11:10:53.367Z".parse().unwrap(),
            author: "ops".into(),
            kind: VersionKind::ServerAdd,
            message: "more capacity".into(),
            digest: crate::digest("x"),
            config: Some("x".into()),
        }
    }

    #[test]
    fn version_event_merges_details_and_lifts_pool_and_server() {
        let event = version_event(
            &version(),
            json!({"pool": "inventory", "server": "inventory-3", "version": 99, "address": "10.0.0.5:80"}),
        );
        assert_eq!(event.kind, EventKind::Version);
        assert_eq!(event.pool.as_deref(), Some("inventory"));
        assert_eq!(event.server.as_deref(), Some("inventory-3"));
        assert_eq!(
            event.details,
            json!({
                "version": 7, "kind": "server-add", "author": "ops", "message": "more capacity",
                "digest": crate::digest("x"), "pool": "inventory", "server": "inventory-3",
                "address": "10.0.0.5:80",
            })
        );
    }

    #[test]
    fn version_event_ignores_non_string_pool_and_keeps_non_object_details() {
        let event = version_event(&version(), json!({"pool": 3}));
        assert_eq!(event.pool, None);
        assert_eq!(event.details["pool"], 3);
        let event = version_event(&version(), json!(["a"]));
        assert_eq!(event.details["details"], json!(["a"]));
        let event = version_event(&version(), Value::Null);
        assert_eq!(event.details.as_object().unwrap().len(), 5);
    }

    #[test]
    fn version_json_shape() {
        let mut v = version();
        let text = serde_json::to_value(&v).unwrap();
        assert_eq!(text["created_at"], "2026-11-25T11:10:53.367Z");
        assert_eq!(text["config"], "x");
        v.config = None;
        let listed = serde_json::to_value(&v).unwrap();
        assert!(listed.get("config").is_none());
        assert_eq!(serde_json::from_value::<Version>(listed).unwrap(), v);
    }
}
