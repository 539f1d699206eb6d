//! Versions and events through the `Store` trait, on SQLite in memory and on disk.

use std::sync::Arc;
use std::thread;

use chrono::Utc;
use serde_json::json;
use switchyard_store::{
    digest, Event, EventKind, NewEvent, SqliteStore, Store, StoreError, Version, VersionKind,
};

use crate::support::{new_version, race};

fn health(server: &str) -> NewEvent {
    NewEvent {
        kind: EventKind::Health,
        pool: Some("inventory".into()),
        server: Some(server.into()),
        details: json!({"healthy": false, "reason": "expected 200, got 404"}),
    }
}

/// Commits `configs` in order, each on top of the last.
fn commit_all(store: &dyn Store, configs: &[&str]) -> Vec<Version> {
    let mut head = store.head().unwrap().map(|v| v.version);
    configs
        .iter()
        .map(|config| {
            let v = store.commit(new_version(config), head).unwrap();
            head = Some(v.version);
            v
        })
        .collect()
}

fn all_events(store: &dyn Store) -> Vec<Event> {
    store.events(None, usize::MAX).unwrap()
}

#[test]
fn empty_store_has_no_history() {
    let store = SqliteStore::open_in_memory().unwrap();
    assert_eq!(store.head().unwrap(), None);
    assert_eq!(store.version(1).unwrap(), None);
    assert!(store.versions(10).unwrap().is_empty());
    assert!(all_events(&store).is_empty());
}

#[test]
fn commits_are_numbered_from_one_with_parents_and_read_back_whole() {
    let store = SqliteStore::open_in_memory().unwrap();
    let before = Utc::now() - chrono::Duration::milliseconds(1);
    let made = commit_all(&store, &["a = 1\n", "a = 2\n", "a = 3\n"]);

    for (i, v) in made.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(v.version, n);
        assert_eq!(v.parent, n.checked_sub(1).filter(|&p| p > 0));
        assert_eq!(v.author, "ops");
        assert_eq!(v.kind, VersionKind::Apply);
        assert_eq!(v.digest, digest(v.config.as_deref().unwrap()));
        assert!(v.created_at >= before && v.created_at <= Utc::now());
        assert_eq!(store.version(n).unwrap().as_ref(), Some(v), "version {n}");
    }
    assert_eq!(made[2].config.as_deref(), Some("a = 3\n"));
    assert_eq!(store.head().unwrap().as_ref(), Some(&made[2]));
    assert_eq!(store.version(4).unwrap(), None);
    assert_eq!(store.version(0).unwrap(), None);
    assert_eq!(store.version(u64::MAX).unwrap(), None);
}

#[test]
fn listings_are_newest_first_limited_and_without_config() {
    let store = SqliteStore::open_in_memory().unwrap();
    let made = commit_all(&store, &["a", "b", "c", "d"]);

    let listed = store.versions(10).unwrap();
    let numbers: Vec<u64> = listed.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [4, 3, 2, 1]);
    for v in &listed {
        assert_eq!(v.config, None);
        let full = &made[v.version as usize - 1];
        assert_eq!(
            &Version {
                config: full.config.clone(),
                ..v.clone()
            },
            full
        );
    }
    let numbers: Vec<u64> = store
        .versions(2)
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(numbers, [4, 3]);
    assert!(store.versions(0).unwrap().is_empty());
}

#[test]
fn each_commit_writes_its_event() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut new = new_version("[pools.inventory]\n");
    new.kind = VersionKind::ServerAdd;
    new.details =
        json!({"pool": "inventory", "server": "inventory-3", "address": "127.0.0.1:9103"});
    let v = store.commit(new, None).unwrap();

    let events = all_events(&store);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.kind, EventKind::Version);
    assert_eq!(event.ts, v.created_at);
    assert_eq!(event.pool.as_deref(), Some("inventory"));
    assert_eq!(event.server.as_deref(), Some("inventory-3"));
    assert_eq!(
        event.details,
        json!({
            "version": 1, "kind": "server-add", "author": "ops",
            "message": "set [pools.inventory]\n", "digest": v.digest,
            "pool": "inventory", "server": "inventory-3", "address": "127.0.0.1:9103",
        })
    );
}

#[test]
fn recorded_events_round_trip_oldest_first() {
    let store = SqliteStore::open_in_memory().unwrap();
    let a = store.record_event(health("inventory-1")).unwrap();
    commit_all(&store, &["a"]);
    let b = store
        .record_event(NewEvent {
            kind: EventKind::Drain,
            pool: None,
            server: None,
            details: json!(null),
        })
        .unwrap();

    let events = all_events(&store);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0], a);
    assert_eq!(events[2], b);
    assert_eq!(events[1].kind, EventKind::Version);
    assert!(a.id < events[1].id && events[1].id < b.id);
    assert_eq!(a.pool.as_deref(), Some("inventory"));
    assert_eq!(a.details["reason"], "expected 200, got 404");
}

#[test]
fn events_keep_the_newest_limit_and_filter_by_since() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut recorded = Vec::new();
    for i in 0..6 {
        recorded.push(store.record_event(health(&format!("s{i}"))).unwrap());
        // Distinct milliseconds, so that `since` can split them.
        thread::sleep(std::time::Duration::from_millis(3));
    }

    assert_eq!(store.events(None, 2).unwrap(), recorded[4..]);
    assert_eq!(store.events(None, 100).unwrap(), recorded);
    assert!(store.events(None, 0).unwrap().is_empty());

    let since = recorded[3].ts;
    assert_eq!(store.events(Some(since), 100).unwrap(), recorded[3..]);
    assert_eq!(store.events(Some(since), 1).unwrap(), recorded[5..]);
    // Half a millisecond after an event excludes it.
    let just_after = since + chrono::Duration::microseconds(500);
    assert_eq!(store.events(Some(just_after), 100).unwrap(), recorded[4..]);
    let future = Utc::now() + chrono::Duration::hours(1);
    assert!(store.events(Some(future), 100).unwrap().is_empty());
}

#[test]
fn stale_expected_head_conflicts_and_writes_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    commit_all(&store, &["a", "b", "c"]);
    let events_before = all_events(&store);

    for (expected, actual) in [(Some(2), Some(3)), (None, Some(3)), (Some(9), Some(3))] {
        let err = store.commit(new_version("stale"), expected).unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { expected: e, actual: a } if e == expected && a == actual),
            "{err:?}"
        );
    }
    let err = store.commit(new_version("stale"), Some(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "version conflict: expected current version v2, found v3; reload and retry"
    );
    assert_eq!(store.head().unwrap().unwrap().version, 3);
    assert_eq!(store.versions(100).unwrap().len(), 3);
    assert_eq!(all_events(&store), events_before);

    let empty = SqliteStore::open_in_memory().unwrap();
    let err = empty.commit(new_version("a"), Some(1)).unwrap_err();
    assert!(matches!(
        err,
        StoreError::Conflict {
            expected: Some(1),
            actual: None
        }
    ));
    assert_eq!(empty.head().unwrap(), None);
    assert!(all_events(&empty).is_empty());
}

#[test]
fn racing_commits_on_the_same_head_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    commit_all(store.as_ref(), &["base"]);

    for round in 0..5u64 {
        let head = Some(round + 1);
        let writers = vec![Arc::clone(&store); 8];
        let results = race(&writers, head, &format!("round {round} thread"));

        let winners: Vec<&Version> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        assert_eq!(winners[0].parent, head);
        for err in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                matches!(err, StoreError::Conflict { expected, actual: Some(_) } if *expected == head),
                "round {round}: {err:?}"
            );
        }
    }
    assert_eq!(store.head().unwrap().unwrap().version, 6);
    assert_eq!(all_events(store.as_ref()).len(), 6);
}

#[test]
fn racing_stores_on_one_file_have_one_winner() {
    // Two handles on the same file stand in for two processes: SQLite's lock, not the mutex,
    // keeps the compare-and-swap honest.
    let dir = tempfile::tempdir().unwrap();
    let first: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let second: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let results = race(&[first.clone(), second.clone()], None, "writer");
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(first.head().unwrap(), second.head().unwrap());
    assert_eq!(all_events(first.as_ref()).len(), 1);
}

#[test]
fn a_reopened_file_store_keeps_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state/nested");
    let (made, event) = {
        let store = SqliteStore::open(&state).unwrap();
        let made = commit_all(&store, &["a", "b"]);
        let event = store.record_event(health("inventory-2")).unwrap();
        (made, event)
    };
    assert!(state.join(SqliteStore::FILE_NAME).is_file());

    let store = SqliteStore::open(&state).unwrap();
    assert_eq!(store.head().unwrap().as_ref(), Some(&made[1]));
    assert_eq!(store.version(1).unwrap().as_ref(), Some(&made[0]));
    let events = all_events(&store);
    assert_eq!(events.len(), 3);
    assert_eq!(events[2], event);

    let v3 = store.commit(new_version("c"), Some(2)).unwrap();
    assert_eq!((v3.version, v3.parent), (3, Some(2)));
}

#[test]
fn a_config_changed_on_disk_is_reported_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    commit_all(&store, &["a = 1\n", "a = 2\n"]);

    let raw = rusqlite::Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
    raw.execute(
        "UPDATE versions SET config = 'a = 666\n' WHERE version = 1",
        [],
    )
    .unwrap();
    drop(raw);

    let err = store.version(1).unwrap_err();
    match &err {
        StoreError::Corrupt { version: 1, detail } => {
            assert!(detail.contains(&digest("a = 666\n")), "{detail}");
            assert!(detail.contains(&digest("a = 1\n")), "{detail}");
        }
        other => panic!("expected Corrupt for version 1, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("version 1 in the store is corrupt: "),
        "{err}"
    );
    // Untouched versions still read, and listings (which carry no config) still work.
    assert_eq!(store.version(2).unwrap().unwrap().version, 2);
    assert_eq!(store.versions(10).unwrap().len(), 2);

    let raw = rusqlite::Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
    raw.execute(
        "UPDATE versions SET digest = 'sha256:00' WHERE version = 2",
        [],
    )
    .unwrap();
    assert!(matches!(
        store.head(),
        Err(StoreError::Corrupt { version: 2, .. })
    ));
}

#[test]
fn open_names_the_file_it_could_not_open() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the directory should be.
    let blocker = dir.path().join("state");
    std::fs::write(&blocker, "not a directory").unwrap();
    let err = SqliteStore::open(&blocker).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&blocker.join("switchyard.db").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("could not create directory"), "{msg}");

    // A file that is not a database.
    let garbage = dir.path().join("garbage");
    std::fs::create_dir(&garbage).unwrap();
    std::fs::write(garbage.join("switchyard.db"), [0x42u8; 4096]).unwrap();
    let err = SqliteStore::open(&garbage).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("not a database"), "{err}");
}
