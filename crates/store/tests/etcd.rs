//! The etcd store against a real single-member etcd on loopback: the same promises as the SQLite
//! store (numbering, compare-and-swap, events), plus the feed that tells instances of each other's
//! changes, and a clear refusal when etcd is gone.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_store::testing::EtcdCluster;
use switchyard_store::{EtcdStore, EventKind, NewEvent, Store, StoreError, VersionKind};

use crate::support::{new_version, race};

/// A one-member cluster and a store on a prefix of its own; `None` (with a message) when the
/// etcd binaries are not installed.
fn etcd() -> Option<(tempfile::TempDir, EtcdCluster)> {
    if !EtcdCluster::available() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let cluster = EtcdCluster::start(dir.path(), 1);
    Some((dir, cluster))
}

fn store(cluster: &EtcdCluster, prefix: &str) -> EtcdStore {
    EtcdStore::connect(cluster.target(prefix)).unwrap()
}

#[test]
fn history_events_and_index_round_trip() {
    let Some((_dir, cluster)) = etcd() else {
        return;
    };
    let store = store(&cluster, "/shop");
    assert_eq!(store.head().unwrap(), None);
    assert_eq!(store.describe(), cluster.url("/shop"));

    let v1 = store.commit(new_version("a = 1\n"), None).unwrap();
    let mut add = new_version("a = 2\n");
    add.kind = VersionKind::ServerAdd;
    add.details = json!({"pool": "inventory", "server": "inventory-3"});
    let v2 = store.commit(add, Some(1)).unwrap();
    assert_eq!(
        (v1.version, v1.parent, v2.version, v2.parent),
        (1, None, 2, Some(1))
    );
    assert_eq!(store.head().unwrap().as_ref(), Some(&v2));
    assert_eq!(store.version(1).unwrap().as_ref(), Some(&v1));
    assert_eq!(store.version(3).unwrap(), None);
    let listed: Vec<u64> = store
        .versions(10)
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, [2, 1]);
    assert!(store
        .versions(1)
        .unwrap()
        .iter()
        .all(|v| v.config.is_none()));

    thread::sleep(Duration::from_millis(3));
    let health = store
        .record_event(NewEvent {
            kind: EventKind::Health,
            pool: Some("inventory".into()),
            server: Some("inventory-3".into()),
            details: json!({"healthy": false}),
        })
        .unwrap();
    let events = store.events(None, 100).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2], health);
    assert!(events[0].id < events[1].id && events[1].id < events[2].id);
    assert_eq!(events[1].details["server"], "inventory-3");
    assert_eq!(store.events(None, 1).unwrap(), events[2..]);
    assert_eq!(store.events(Some(health.ts), 100).unwrap(), events[2..]);

    let last = store
        .last_version_event("inventory", "inventory-3", VersionKind::ServerAdd)
        .unwrap()
        .unwrap();
    assert_eq!(last, events[1]);
    assert_eq!(
        store
            .last_version_event("inventory", "inventory-3", VersionKind::ServerRemove)
            .unwrap(),
        None
    );

    // Pruning keeps versions' events.
    let deleted = store
        .prune_events(chrono::Utc::now() + chrono::Duration::seconds(1))
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(store.events(None, 100).unwrap(), events[..2]);

    // Another prefix is another history.
    assert_eq!(self::store(&cluster, "/other").head().unwrap(), None);
}

#[test]
fn racing_instances_on_one_head_have_one_winner() {
    let Some((_dir, cluster)) = etcd() else {
        return;
    };
    let stores: Vec<Arc<dyn Store>> = (0..4)
        .map(|_| Arc::new(store(&cluster, "/race")) as Arc<dyn Store>)
        .collect();
    stores[0].commit(new_version("base"), None).unwrap();
    for round in 0..3u64 {
        let head = Some(round + 1);
        let results = race(&stores, head, &format!("round {round} instance"));
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: {results:?}");
        for err in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                matches!(err, StoreError::Conflict { expected, actual: Some(_) } if *expected == head),
                "{err:?}"
            );
        }
    }
    assert_eq!(stores[1].head().unwrap().unwrap().version, 4);
    assert_eq!(stores[2].events(None, 100).unwrap().len(), 4);
}

#[test]
fn the_feed_follows_heads_written_elsewhere_and_reports_a_lost_etcd() {
    let Some((_dir, mut cluster)) = etcd() else {
        return;
    };
    let follower = store(&cluster, "/feed");
    let writer = store(&cluster, "/feed");
    let feed = follower.feed().unwrap();
    wait_until("connected", || *feed.connected.borrow());
    writer.commit(new_version("a"), None).unwrap();
    writer.commit(new_version("b"), Some(1)).unwrap();
    wait_until("head v2", || *feed.head.borrow() == Some(2));

    cluster.kill_all();
    wait_until("disconnected", || !*feed.connected.borrow());
    let err = writer.commit(new_version("c"), Some(2)).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&cluster.url("/feed")), "{text}");
    assert!(
        text.contains("refuses changes until the store is back"),
        "{text}"
    );

    cluster.restart_all();
    wait_until("reconnected", || *feed.connected.borrow());
    writer.commit(new_version("c"), Some(2)).unwrap();
    wait_until("head v3", || *feed.head.borrow() == Some(3));
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}
