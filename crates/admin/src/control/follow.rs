//! Following a shared store: versions made through other instances are swapped in here as they
//! appear, and changes are refused while the store cannot be reached.
//!
//! A followed version is not announced to [`ControlPlane::subscribe`]: the instance that made a
//! change is the one that bakes it and sends its notices, so the guard and the webhooks act once
//! per change, not once per instance.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use switchyard_store::{Instance, Version};

use super::{ControlError, ControlPlane, Snapshot};

/// How long to wait before trying a failed follow again.
const RETRY_AFTER: Duration = Duration::from_millis(300);

/// What one instance serves and what it knows of its store.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceStatus {
    /// The instance's name.
    pub instance: String,
    /// The version it runs.
    pub version: Option<u64>,
    /// The store, as `etcd://...` or `SQLite file ...`.
    pub store: String,
    /// Whether the store can be reached now (always true for a local file).
    pub store_connected: bool,
    /// Whether the running version came from the local snapshot because the store could not
    /// be reached at start, and nothing newer has been read since.
    pub from_snapshot: bool,
}

impl ControlPlane {
    /// Whether the store can be reached now.
    pub fn store_connected(&self) -> bool {
        self.feed.as_ref().is_none_or(|f| *f.connected.borrow())
    }

    /// What this instance serves and what it knows of its store.
    pub fn status(&self) -> InstanceStatus {
        InstanceStatus {
            instance: self.local.instance.clone(),
            version: self.published(),
            store: self.store.describe(),
            store_connected: self.store_connected(),
            from_snapshot: self.from_snapshot.load(Ordering::Acquire),
        }
    }

    /// This instance as the instances sharing its store list it.
    fn record(&self) -> Instance {
        Instance {
            name: self.local.instance.clone(),
            admin_url: self.local.admin_url.clone(),
            version: self.published(),
            started_at: self.local.started_at,
            last_seen: None,
        }
    }

    /// Tells the store what this instance runs now.
    pub(super) fn announce(&self) {
        self.store.announce(&self.record());
    }

    /// Every running instance on this store: the ones it lists, or this one alone for a store
    /// only this process uses.
    pub async fn instances(&self) -> Result<Vec<Instance>, ControlError> {
        let mut listed = self.blocking(|s| s.instances()).await?;
        if self.feed.is_none() {
            let mut me = self.record();
            me.last_seen = Some(chrono::Utc::now());
            listed.push(me);
        }
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listed)
    }

    /// `details` of a runtime fact, with this instance's name when the store is shared: health
    /// and drains are observed per instance, and all of them write to one event log.
    pub(super) fn observed_here(&self, mut details: serde_json::Value) -> serde_json::Value {
        if let (Some(_), serde_json::Value::Object(map)) = (&self.feed, &mut details) {
            map.insert("instance".into(), self.local.instance.clone().into());
        }
        details
    }

    /// Refuses a change while the store cannot be reached.
    pub(super) fn check_connected(&self) -> Result<(), ControlError> {
        if self.store_connected() {
            return Ok(());
        }
        Err(ControlError::StoreUnavailable {
            store: self.store.describe(),
            serving: self.published().unwrap_or(0),
        })
    }

    /// Runs every version the shared store announces, for as long as the process runs; returns
    /// at once for a store that only this instance writes.
    pub async fn follow_store(self: Arc<Self>) {
        let Some(feed) = self.feed.clone() else {
            return;
        };
        let mut head = feed.head;
        loop {
            let newest = *head.borrow_and_update();
            if let Some(n) = newest {
                if let Err(e) = self.follow(n).await {
                    tracing::warn!("could not run v{n} from the store: {e}; retrying");
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            }
            if head.changed().await.is_err() {
                return;
            }
        }
    }

    /// Runs version `n` if it is newer than the running one; returns whether it did.
    pub async fn follow(&self, n: u64) -> Result<bool, ControlError> {
        let _guard = self.lock.lock().await;
        if self.published().is_some_and(|running| running >= n) {
            self.from_snapshot.store(false, Ordering::Release);
            return Ok(false);
        }
        let version = self.version(n).await?;
        let config = self.config_of(&version).await?;
        self.proxy.apply(self.local.apply(config))?;
        self.proxy.set_version(n);
        self.newest.store(n, Ordering::Release);
        self.from_snapshot.store(false, Ordering::Release);
        self.keep_snapshot(&version);
        self.announce();
        tracing::info!(
            version = n,
            kind = %version.kind,
            author = %version.author,
            "running v{n} ({}) by {} from the shared history: {}",
            version.kind,
            version.author,
            version.message
        );
        Ok(true)
    }

    /// Writes `version` (with its config) as this instance's snapshot, if it keeps one.
    pub(super) fn keep_snapshot(&self, version: &Version) {
        let Some(path) = &self.local.snapshot else {
            return;
        };
        let snapshot = Snapshot {
            store: self.store.describe(),
            version: version.clone(),
        };
        if let Err(e) = snapshot.write(path) {
            tracing::warn!(
                "could not write the snapshot {}: {e}; a restart while the store is down would not find v{}",
                path.display(),
                version.version
            );
        }
    }
}
