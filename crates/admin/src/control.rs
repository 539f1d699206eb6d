//! The control plane: every change becomes a stored version first and is then swapped into the
//! proxy. Validation and the optimistic-concurrency check happen before anything is written, so
//! a refused change leaves both the history and the running config as they were.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use switchyard_config::{Change, Config, ServerState};
use switchyard_proxy::{DrainOutcome, ProxyEvent, ProxyHandle};
use switchyard_store::{NewEvent, NewVersion, Store, Version};
use tokio::sync::Mutex;

use crate::error::ApiError;
use crate::guard::Guard;
use crate::notify::Notice;

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

pub struct ControlPlane {
    store: Arc<dyn Store>,
    proxy: ProxyHandle,
    /// Orders commit-then-swap so that the proxy always runs the newest version.
    lock: Mutex<()>,
    /// Watches new versions while they bake (see [`crate::guard`]).
    pub(crate) guard: Guard,
    /// The proxy's metrics, where the guard reads each server's answers.
    registry: Option<Arc<prometheus_client::registry::Registry>>,
}

/// How often old events are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Settings that apply live although they sit in `[admin]` or `[runtime]`: retention is read
/// at every pruning, the shutdown timeout at shutdown.
const LIVE_SETTINGS: [&str; 2] = ["admin.event_retention", "runtime.shutdown_timeout"];

/// The changes to `[admin]` and `[runtime]` that only take effect at a restart (the admin
/// listener, the access log and the worker threads are set up at start), as
/// `admin.bind 127.0.0.1:9901 -> 127.0.0.1:9902`.
pub(crate) fn needs_restart(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter(|c| c.scope == "admin" || c.scope == "runtime" || c.scope == "tracing")
        .map(|c| format!("{}.{}", c.scope, c.change))
        .filter(|text| {
            !LIVE_SETTINGS
                .iter()
                .any(|live| text.starts_with(&format!("{live} ")))
        })
        .collect()
}

/// Label used in error messages for configs sent through the API.
const API_CONFIG: &str = "config";

impl ControlPlane {
    pub fn new(store: Arc<dyn Store>, proxy: ProxyHandle) -> Self {
        ControlPlane {
            store,
            proxy,
            lock: Mutex::new(()),
            guard: Guard::default(),
            registry: None,
        }
    }

    /// Lets the guard read each server's answers from the proxy's metrics; without them it
    /// never counts 4xx answers.
    pub fn with_metrics(mut self, registry: Arc<prometheus_client::registry::Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    pub(crate) fn registry(&self) -> Option<&prometheus_client::registry::Registry> {
        self.registry.as_deref()
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
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(ApiError::from)
    }

    pub async fn head(&self) -> Result<Version, ApiError> {
        self.blocking(|s| s.head())
            .await?
            .ok_or_else(|| ApiError::NotFound {
                what: "any version (the history is empty)".into(),
            })
    }

    pub async fn version(&self, n: u64) -> Result<Version, ApiError> {
        self.blocking(move |s| s.version(n))
            .await?
            .ok_or_else(|| ApiError::NotFound {
                what: format!("version v{n}"),
            })
    }

    /// The checked config of a stored version.
    pub async fn config_of(&self, v: &Version) -> Result<Config, ApiError> {
        let text = v.config.as_deref().unwrap_or_default();
        Config::parse(text, &format!("v{}", v.version))
            .map_err(|e| ApiError::Internal(format!("stored v{} does not parse: {e}", v.version)))
    }

    /// A whole new config from TOML text.
    pub async fn apply(&self, toml: &str, meta: ChangeMeta) -> Result<Applied, ApiError> {
        let config = Config::parse(toml, API_CONFIG).map_err(ApiError::InvalidConfig)?;
        self.change("apply", meta, serde_json::json!({}), move |_| Ok(config))
            .await
    }

    /// A new version whose config equals version `to`'s.
    pub async fn rollback(&self, to: u64, meta: ChangeMeta) -> Result<Applied, ApiError> {
        let target = self.version(to).await?;
        let config = self.config_of(&target).await?;
        self.change(
            "rollback",
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
    ) -> Result<Applied, ApiError> {
        let details =
            serde_json::json!({ "pool": pool, "server": name, "address": address.to_string() });
        let (pool, name) = (pool.to_string(), name.to_string());
        self.change("server-add", meta, details, move |current| {
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
    ) -> Result<Applied, ApiError> {
        let kind = match state {
            ServerState::Removed => "server-remove",
            ServerState::Active => "server-restore",
        };
        let details = serde_json::json!({ "pool": pool, "server": name });
        let (pool, name) = (pool.to_string(), name.to_string());
        self.change(kind, meta, details, move |current| {
            Ok(current.with_server_state(&pool, &name, state)?)
        })
        .await
    }

    /// Stores every runtime fact the proxy reports (health, ejections, saturation) until the
    /// proxy drops its end of the channel, and sends ejections and all-unhealthy pools to the
    /// `[notify]` webhook. Also lets the guard roll bad versions back from now on.
    pub async fn record_events(
        self: Arc<Self>,
        mut events: tokio::sync::mpsc::UnboundedReceiver<ProxyEvent>,
    ) {
        self.guard.attach(&self);
        while let Some(e) = events.recv().await {
            if matches!(e.kind, "ejection" | "all-unhealthy") {
                self.notify_event(&e);
            }
            let event = NewEvent {
                kind: e.kind.to_string(),
                pool: Some(e.pool),
                server: e.server,
                details: e.details,
            };
            if let Err(err) = self.blocking(move |s| s.record_event(event)).await {
                tracing::warn!("could not record a proxy event: {err}");
            }
        }
    }

    fn notify_event(&self, e: &ProxyEvent) {
        let config = self.proxy.config();
        let Some(notify) = config.notify.as_ref() else {
            return;
        };
        let reason = match (e.kind, &e.server) {
            ("ejection", Some(server)) => format!("{server} ejected from pool {}", e.pool),
            _ => format!("no healthy server in pool {}", e.pool),
        };
        let notice = Notice {
            kind: e.kind.to_string(),
            version: None,
            pool: Some(e.pool.clone()),
            server: e.server.clone(),
            reason,
            details: e.details.clone(),
            ts: chrono::Utc::now(),
        };
        self.guard.notifier.send(Some(notify), notice);
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
    pub async fn prune_once(&self) -> Result<u64, ApiError> {
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
            kind: "drain".into(),
            pool: Some(pool.to_string()),
            server: Some(server.to_string()),
            details: serde_json::to_value(&outcome).unwrap_or_default(),
        };
        if let Err(e) = self.blocking(move |s| s.record_event(event)).await {
            tracing::warn!("could not record the drain of {server} in pool {pool}: {e}");
        }
        outcome
    }

    /// The one path every change takes: check, store, swap.
    async fn change(
        &self,
        kind: &str,
        meta: ChangeMeta,
        mut details: serde_json::Value,
        make: impl FnOnce(&Config) -> Result<Config, ApiError>,
    ) -> Result<Applied, ApiError> {
        let _guard = self.lock.lock().await;
        let head = self.head().await?;
        if let Some(expected) = meta.if_version {
            if expected != head.version {
                return Err(ApiError::StaleVersion {
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
        self.proxy.check(&next)?;
        let restart = needs_restart(&changes);
        if !restart.is_empty() {
            return Err(ApiError::NeedsRestart {
                detail: restart.join(", "),
            });
        }
        let touched = crate::guard::touched(&current, &next, &changes);
        let guard = next.guard.clone();
        details["changes"] = views.iter().map(|c| c.text.clone()).collect();
        let new = NewVersion {
            author: meta.author,
            kind: kind.to_string(),
            message: meta.message,
            config: next.to_toml(),
            details,
        };
        let parent = head.version;
        let mut version = self.blocking(move |s| s.commit(new, Some(parent))).await?;
        self.proxy.apply(next)?;
        self.proxy.set_version(version.version);
        self.guard
            .on_version(kind, version.version, parent, guard, touched);
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
