//! Helpers the store suites share: a version to commit, and writers racing on one head.

use std::sync::{Arc, Barrier};
use std::thread;

use serde_json::json;
use switchyard_store::{NewVersion, Store, StoreError, Version, VersionKind};

/// An apply of `config` by "ops".
pub fn new_version(config: &str) -> NewVersion {
    NewVersion {
        author: "ops".into(),
        kind: VersionKind::Apply,
        message: format!("set {config}"),
        config: config.into(),
        details: json!({}),
    }
}

/// Commits through every one of `stores` at once (each on its own thread, released together),
/// all expecting `head`, each with its own config (`"{label} {i}"`); the results in store order.
pub fn race(
    stores: &[Arc<dyn Store>],
    head: Option<u64>,
    label: &str,
) -> Vec<Result<Version, StoreError>> {
    let barrier = Arc::new(Barrier::new(stores.len()));
    let handles: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let (store, barrier) = (Arc::clone(store), Arc::clone(&barrier));
            let config = format!("{label} {i}");
            thread::spawn(move || {
                barrier.wait();
                store.commit(new_version(&config), head)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}
