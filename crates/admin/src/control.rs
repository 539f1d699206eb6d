//! The control plane: every change becomes a stored version first and is then swapped into the
//! proxy. Validation and the optimistic-concurrency check happen before anything is written, so
//! a refused change leaves both the history and the running config as they were.
//!
//! Dependencies run one way: the control plane knows nothing of who watches it. Each version
//! that starts running is announced on a channel ([`ControlPlane::subscribe`]); the change guard
//! is one subscriber, and rolls back through [`ControlPlane::rollback`] like an operator.
//! Runtime facts from the proxy are stored as events, and some become webhook notices
//! ([`notify`]).

mod error;
mod follow;
mod local;
pub(crate) mod notify;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use switchyard_config::{Change, ChangeKind, Config, ServerEdit, ServerState};
use switchyard_proxy::{DrainOutcome, ProxyEvent, ProxyHandle};
use switchyard_store::{EventKind, Feed, NewEvent, NewVersion, Store, Version, VersionKind};
use tokio::sync::{broadcast, Mutex};

pub use error::ControlError;
pub use follow::InstanceStatus;
pub use local::{Local, Snapshot, UnknownListener};
use notify::{Notice, NoticeKind, Notifier};

/// Who makes a change and why.
#[derive(Debug, Clone)]
pub struct ChangeMeta {
    pub author: String,
    pub message: String,
    /// Refuse the change unless the current version is this one.
    pub if_version: Option<u64>,
}

/// The outcome of a change.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The new version, or the current one when nothing changed.
    pub version: Version,
    pub changed: bool,
    pub changes: Vec<ChangeView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeView {
    pub scope: String,
    pub change: String,
    pub pool: Option<String>,
    pub server: Option<String>,
    /// `scope: change`
    pub text: String,
}

impl From<&Change> for ChangeView {
    fn from(c: &Change) -> Self {
        ChangeView {
            scope: c.scope.clone(),
            change: c.change.clone(),
            pool: c.pool.clone(),
            server: c.server.clone(),
            text: c.to_string(),
        }
    }
}

/// A version that has started running, as [`ControlPlane::subscribe`] announces it.
#[derive(Debug, Clone)]
pub struct Published {
    pub version: u64,
    /// The version it replaced.
    pub parent: u64,
    pub kind: VersionKind,
    pub old: Arc<Config>,
    pub new: Arc<Config>,
    /// What changed from `old` to `new`.
    pub changes: Arc<[Change]>,
}

pub struct ControlPlane {
    store: Arc<dyn Store>,
    proxy: ProxyHandle,
    /// Orders commit-then-swap so that the proxy always runs the newest version.
    lock: Mutex<()>,
    /// Every version this control plane puts into the proxy, to whoever subscribed.
    published: broadcast::Sender<Published>,
    /// The newest of them (0 before the first).
    newest: AtomicU64,
    notifier: Notifier,
    /// This instance's own settings, applied to every version it runs.
    local: Local,
    /// Changes by other instances and the store's reachability, for a shared store.
    feed: Option<Feed>,
    /// Whether the running version came from the local snapshot, not from the store.
    from_snapshot: AtomicBool,
}

/// How many published versions a slow subscriber may fall behind before it misses some.
pub const PUBLISHED_BACKLOG: usize = 64;

/// How often old events are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Settings that apply live although they sit in `[admin]` or `[runtime]`: retention is read
/// at every pruning, the shutdown timeout at shutdown.
const LIVE_SETTINGS: [(&str, &str); 2] = [
    ("admin", "event_retention"),
    ("runtime", "shutdown_timeout"),
];

/// The changes to `[admin]`, `[runtime]` and `[tracing]` that only take effect at a restart
/// (the admin listener, the access log, the worker threads and the exporter are set up at
/// start), as
/// `admin.bind 127.0.0.1:9901 -> 127.0.0.1:9902`.
pub(crate) fn needs_restart(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter(|c| c.scope == "admin" || c.scope == "runtime" || c.scope == "tracing")
        .filter(|c| match &c.kind {
            ChangeKind::Setting { path } => !LIVE_SETTINGS.contains(&(c.scope.as_str(), path)),
            _ => true,
        })
        .map(|c| format!("{}.{}", c.scope, c.change))
        .collect()
}

/// Label used in error messages for configs sent through the API.
const API_CONFIG: &str = "config";

impl ControlPlane {
    pub fn new(store: Arc<dyn Store>, proxy: ProxyHandle) -> Self {
        ControlPlane {
            proxy,
            lock: Mutex::new(()),
            published: broadcast::channel(PUBLISHED_BACKLOG).0,
            newest: AtomicU64::new(0),
            notifier: Notifier::default(),
            local: Local::default(),
            feed: store.feed(),
            from_snapshot: AtomicBool::new(false),
            store,
        }
    }

    /// This control plane with an instance's own settings.
    pub fn with_local(mut self, local: Local) -> Self {
        self.local = local;
        self
    }

    /// Says which version the proxy started with, and whether it came from the snapshot.
    pub fn started(&self, version: &Version, from_snapshot: bool) {
        self.proxy.set_version(version.version);
        self.newest.store(version.version, Ordering::Release);
        self.from_snapshot.store(from_snapshot, Ordering::Release);
        if !from_snapshot {
            self.keep_snapshot(version);
        }
        self.announce();
    }

    /// Every version put into the proxy from now on, in order (a receiver more than
    /// [`PUBLISHED_BACKLOG`] behind misses the oldest).
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.published.subscribe()
    }

    /// The number of the newest version this control plane put into the proxy.
    pub fn published(&self) -> Option<u64> {
        Some(self.newest.load(Ordering::Acquire)).filter(|&n| n > 0)
    }

    /// POSTs `notice` to the running config's `[notify]` webhook, if it has one, on a task of
    /// its own.
    pub fn notify(&self, notice: Notice) {
        let config = self.proxy.config();
        self.notifier.send(config.notify.as_ref(), notice);
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn proxy(&self) -> &ProxyHandle {
        &self.proxy
    }

    /// Runs a store call off the async threads.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, switchyard_store::StoreError> + Send + 'static,
    ) -> Result<T, ControlError> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || f(store.as_ref())).await??)
    }

    pub async fn head(&self) -> Result<Version, ControlError> {
        self.blocking(|s| s.head())
            .await?
            .ok_or_else(|| ControlError::NotFound {
                what: "any version (the history is empty)".into(),
            })
    }

    pub async fn version(&self, n: u64) -> Result<Version, ControlError> {
        self.blocking(move |s| s.version(n))
            .await?
            .ok_or_else(|| ControlError::NotFound {
                what: format!("version v{n}"),
            })
    }

    /// The checked config of a stored version.
    pub async fn config_of(&self, v: &Version) -> Result<Config, ControlError> {
        let text = v.config.as_deref().unwrap_or_default();
        Config::parse(text, &format!("v{}", v.version)).map_err(|source| {
            ControlError::StoredConfig {
                version: v.version,
                source,
            }
        })
    }

    /// A whole new config from TOML text.
    pub async fn apply(&self, toml: &str, meta: ChangeMeta) -> Result<Applied, ControlError> {
        let config = Config::parse(toml, API_CONFIG).map_err(ControlError::InvalidConfig)?;
        self.change(VersionKind::Apply, meta, serde_json::json!({}), move |_| {
            Ok(config)
        })
        .await
    }

    /// A new version whose config equals version `to`'s.
    pub async fn rollback(&self, to: u64, meta: ChangeMeta) -> Result<Applied, ControlError> {
        let target = self.version(to).await?;
        let config = self.config_of(&target).await?;
        self.change(
            VersionKind::Rollback,
            meta,
            serde_json::json!({ "rollback_to": to }),
            move |_| Ok(config),
        )
        .await
    }

    pub async fn add_server(
        &self,
        pool: &str,
        name: &str,
        address: SocketAddr,
        weight: u32,
        meta: ChangeMeta,
    ) -> Result<Applied, ControlError> {
        let details =
            serde_json::json!({ "pool": pool, "server": name, "address": address.to_string() });
        let (pool, name) = (pool.to_string(), name.to_string());
        self.change(VersionKind::ServerAdd, meta, details, move |current| {
            Ok(current.with_server_added(&pool, &name, address, weight)?)
        })
        .await
    }

    pub async fn set_server_state(
        &self,
        pool: &str,
        name: &str,
        state: ServerState,
        meta: ChangeMeta,
    ) -> Result<Applied, ControlError> {
        let kind = match state {
            ServerState::Removed => VersionKind::ServerRemove,
            ServerState::Active => VersionKind::ServerRestore,
        };
        let details = serde_json::json!({ "pool": pool, "server": name });
        let (pool, name) = (pool.to_string(), name.to_string());
        self.change(kind, meta, details, move |current| {
            Ok(current.with_server_state(&pool, &name, state)?)
        })
        .await
    }

    /// Several edits to servers of `pool` as one version of `kind` (a rollout's step, or its
    /// undoing); `details` are stored with it.
    pub async fn edit_servers(
        &self,
        pool: &str,
        edits: Vec<ServerEdit>,
        kind: VersionKind,
        details: serde_json::Value,
        meta: ChangeMeta,
    ) -> Result<Applied, ControlError> {
        let pool = pool.to_string();
        self.change(kind, meta, details, move |current| {
            Ok(current.with_edits(&pool, &edits)?)
        })
        .await
    }

    /// Stores every runtime fact the proxy reports (health, ejections, saturation) until the
    /// proxy drops its end of the channel, and sends ejections and all-unhealthy pools to the
    /// `[notify]` webhook.
    pub async fn record_events(
        self: Arc<Self>,
        mut events: tokio::sync::mpsc::UnboundedReceiver<ProxyEvent>,
    ) {
        while let Some(e) = events.recv().await {
            if matches!(e.kind, EventKind::Ejection | EventKind::AllUnhealthy) {
                self.notify_event(&e);
            }
            let event = NewEvent {
                kind: e.kind,
                pool: Some(e.pool),
                server: e.server,
                details: self.observed_here(e.details),
            };
            if let Err(err) = self.blocking(move |s| s.record_event(event)).await {
                tracing::warn!("could not record a proxy event: {err}");
            }
        }
    }

    fn notify_event(&self, e: &ProxyEvent) {
        let (kind, reason) = match (e.kind, &e.server) {
            (EventKind::Ejection, Some(server)) => (
                NoticeKind::Ejection,
                format!("{server} ejected from pool {}", e.pool),
            ),
            _ => (
                NoticeKind::AllUnhealthy,
                format!("no healthy server in pool {}", e.pool),
            ),
        };
        let notice = Notice {
            kind,
            version: None,
            pool: Some(e.pool.clone()),
            server: e.server.clone(),
            reason,
            details: e.details.clone(),
            ts: chrono::Utc::now(),
        };
        self.notify(notice);
    }

    /// Deletes runtime events older than the running config's `[admin] event_retention` now and
    /// then every [`PRUNE_EVERY`], for as long as the process runs. Versions are never deleted.
    pub async fn prune_events(self: Arc<Self>) {
        loop {
            if let Err(e) = self.prune_once().await {
                tracing::warn!("could not delete old events: {e}");
            }
            tokio::time::sleep(PRUNE_EVERY).await;
        }
    }

    /// One pruning pass; returns how many events were deleted.
    pub async fn prune_once(&self) -> Result<u64, ControlError> {
        let retention = self.proxy.config().admin.event_retention;
        let before = chrono::Duration::from_std(retention)
            .ok()
            .and_then(|keep| chrono::Utc::now().checked_sub_signed(keep))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let deleted = self.blocking(move |s| s.prune_events(before)).await?;
        if deleted > 0 {
            tracing::info!(
                deleted,
                "deleted {deleted} events older than {} (admin.event_retention); versions are kept",
                switchyard_config::format_duration(retention)
            );
        }
        Ok(deleted)
    }

    /// Waits for a removed server's requests (bounded by `timeout`) and records how it went.
    pub async fn drain(&self, pool: &str, server: &str, timeout: Duration) -> DrainOutcome {
        let outcome = self.proxy.drain(pool, server, timeout).await;
        let event = NewEvent {
            kind: EventKind::Drain,
            pool: Some(pool.to_string()),
            server: Some(server.to_string()),
            details: self.observed_here(serde_json::to_value(&outcome).unwrap_or_default()),
        };
        if let Err(e) = self.blocking(move |s| s.record_event(event)).await {
            tracing::warn!("could not record the drain of {server} in pool {pool}: {e}");
        }
        outcome
    }

    /// The one path every change takes: check, store, swap.
    async fn change(
        &self,
        kind: VersionKind,
        meta: ChangeMeta,
        mut details: serde_json::Value,
        make: impl FnOnce(&Config) -> Result<Config, ControlError>,
    ) -> Result<Applied, ControlError> {
        let _guard = self.lock.lock().await;
        self.check_connected()?;
        let head = self.head().await?;
        if let Some(expected) = meta.if_version {
            if expected != head.version {
                return Err(ControlError::StaleVersion {
                    expected,
                    current: head.version,
                });
            }
        }
        let current = self.config_of(&head).await?;
        let next = make(&current)?;
        let changes = switchyard_config::diff(&current, &next);
        let views: Vec<ChangeView> = changes.iter().map(ChangeView::from).collect();
        if changes.is_empty() {
            return Ok(Applied {
                version: head,
                changed: false,
                changes: views,
            });
        }
        self.proxy.check(&self.local.apply(next.clone()))?;
        let restart = needs_restart(&changes);
        if !restart.is_empty() {
            return Err(ControlError::NeedsRestart {
                detail: restart.join(", "),
            });
        }
        details["changes"] = views.iter().map(|c| c.text.clone()).collect();
        let new = NewVersion {
            author: meta.author,
            kind,
            message: meta.message,
            config: next.to_toml(),
            details,
        };
        let parent = head.version;
        let mut version = self.blocking(move |s| s.commit(new, Some(parent))).await?;
        let next = Arc::new(next);
        self.proxy.apply(self.local.apply(Config::clone(&next)))?;
        self.proxy.set_version(version.version);
        self.newest.store(version.version, Ordering::Release);
        self.keep_snapshot(&version);
        self.announce();
        // Nobody may be subscribed; the version runs all the same.
        let _ = self.published.send(Published {
            version: version.version,
            parent,
            kind,
            old: Arc::new(current),
            new: next,
            changes: changes.into(),
        });
        version.config = None;
        tracing::info!(
            version = version.version,
            kind = %version.kind,
            author = %version.author,
            "v{} ({}) by {}: {}",
            version.version,
            version.kind,
            version.author,
            version.message
        );
        Ok(Applied {
            version,
            changed: true,
            changes: views,
        })
    }
}
