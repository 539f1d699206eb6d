//! Bounded growth: runtime events past their retention are deleted while versions and their
//! events stay, a server's last removal is found without reading the log, and the file is
//! private whatever the umask.

use std::os::unix::fs::PermissionsExt;

use chrono::{Duration, Utc};
use serde_json::json;
use switchyard_store::{EventKind, NewEvent, NewVersion, SqliteStore, Store, VersionKind};

fn version(kind: VersionKind, details: serde_json::Value) -> NewVersion {
    NewVersion {
        author: "ops".into(),
        kind,
        message: format!("{kind} message"),
        config: format!("# {kind} {details}\n"),
        details,
    }
}

fn health(server: &str) -> NewEvent {
    NewEvent {
        kind: EventKind::Health,
        pool: Some("inventory".into()),
        server: Some(server.into()),
        details: json!({"to": "unhealthy"}),
    }
}

#[test]
fn pruning_deletes_old_runtime_events_and_never_versions() {
    let store = SqliteStore::open_in_memory().unwrap();
    store
        .commit(version(VersionKind::Apply, json!({})), None)
        .unwrap();
    for _ in 0..50 {
        store.record_event(health("inventory-1")).unwrap();
    }
    let remove = json!({"pool": "inventory", "server": "inventory-1"});
    store
        .commit(version(VersionKind::ServerRemove, remove), Some(1))
        .unwrap();
    assert_eq!(store.events(None, 1000).unwrap().len(), 52);

    // Nothing is older than an hour ago.
    assert_eq!(
        store.prune_events(Utc::now() - Duration::hours(1)).unwrap(),
        0
    );
    let deleted = store
        .prune_events(Utc::now() + Duration::seconds(1))
        .unwrap();
    assert_eq!(deleted, 50);
    let left = store.events(None, 1000).unwrap();
    assert_eq!(left.len(), 2);
    assert!(
        left.iter().all(|e| e.kind == EventKind::Version),
        "{left:?}"
    );
    assert_eq!(store.versions(10).unwrap().len(), 2);
    assert!(store.version(1).unwrap().unwrap().config.is_some());
}

#[test]
fn the_last_removal_of_a_server_is_its_newest_server_remove_version_event() {
    let store = SqliteStore::open_in_memory().unwrap();
    let at = |s: &str| json!({"pool": "inventory", "server": s});
    store
        .commit(version(VersionKind::Apply, json!({})), None)
        .unwrap();
    store
        .commit(
            version(VersionKind::ServerRemove, at("inventory-1")),
            Some(1),
        )
        .unwrap();
    store
        .commit(
            version(VersionKind::ServerRestore, at("inventory-1")),
            Some(2),
        )
        .unwrap();
    store
        .commit(
            version(VersionKind::ServerRemove, at("inventory-1")),
            Some(3),
        )
        .unwrap();
    store
        .commit(
            version(VersionKind::ServerRemove, at("inventory-2")),
            Some(4),
        )
        .unwrap();
    store.record_event(health("inventory-1")).unwrap();

    let last = store
        .last_version_event("inventory", "inventory-1", VersionKind::ServerRemove)
        .unwrap()
        .unwrap();
    assert_eq!(last.details["version"], 4);
    assert_eq!(last.details["author"], "ops");
    let other = store
        .last_version_event("inventory", "inventory-2", VersionKind::ServerRemove)
        .unwrap()
        .unwrap();
    assert_eq!(other.details["version"], 5);
    assert!(store
        .last_version_event("inventory", "inventory-3", VersionKind::ServerRemove)
        .unwrap()
        .is_none());
    assert!(store
        .last_version_event("frontend", "inventory-1", VersionKind::ServerRemove)
        .unwrap()
        .is_none());
}

#[test]
fn the_database_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SqliteStore::FILE_NAME);
    // An older file made under a lax umask is tightened on open.
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store
        .commit(version(VersionKind::Apply, json!({})), None)
        .unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", entry.path().display());
    }
}
