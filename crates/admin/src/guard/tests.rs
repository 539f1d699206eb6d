//! Bakes on paused tokio time: a real proxy and an in-memory store behind a control plane, a
//! guard subscribed to it, and a clock that follows tokio's. No traffic flows, so every bake
//! that runs to its end is kept for want of requests; what is tested is when verdicts come and
//! which versions bake.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchyard_config::{Config, ServerState};
use switchyard_proxy::{AccessLog, EventSink, Metrics, Proxy, ProxyOptions};
use switchyard_store::{EventKind, NewVersion, SqliteStore, Store, VersionKind};

use super::{BakeView, Clock, Guard, Verdict};
use crate::control::{ChangeMeta, ControlPlane};

/// Wall-clock time that moves with tokio's (paused) clock.
struct TokioClock {
    wall: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        self.wall + self.start.elapsed()
    }
}

const CONFIG: &str = r#"
guard = { bake = "60s" }
listeners = [{ name = "web", bind = "127.0.0.1:0" }]
routes = [{ pool = "inventory" }]
pools.inventory.servers = [{ name = "inventory-1", address = "127.0.0.1:9" }]
"#;

struct Setup {
    control: Arc<ControlPlane>,
    guard: Guard,
    _proxy: Proxy,
}

async fn setup() -> Setup {
    let config = Config::parse(CONFIG, "test.toml").unwrap();
    let store = SqliteStore::open_in_memory().unwrap();
    let first = NewVersion {
        author: "ops".into(),
        kind: VersionKind::Apply,
        message: "first".into(),
        config: config.to_toml(),
        details: serde_json::json!({}),
    };
    store.commit(first, None).unwrap();
    let mut registry = prometheus_client::registry::Registry::default();
    let options = ProxyOptions {
        metrics: Metrics::register(&mut registry),
        access_log: AccessLog::off(),
        tls: Default::default(),
        events: EventSink::none(),
        release_memory: None,
    };
    let proxy = Proxy::start(config, options).await.unwrap();
    let control = Arc::new(ControlPlane::new(Arc::new(store), proxy.handle()));
    let clock = TokioClock {
        wall: Utc::now(),
        start: tokio::time::Instant::now(),
    };
    let guard = Guard::spawn(control.clone(), None, Arc::new(clock));
    Setup {
        control,
        guard,
        _proxy: proxy,
    }
}

fn meta() -> ChangeMeta {
    ChangeMeta {
        author: "ops".into(),
        message: "test".into(),
        if_version: None,
    }
}

impl Setup {
    /// Adds server `inventory-N` (at port N of a dead address); returns the new version.
    async fn add(&self, n: u16) -> u64 {
        let name = format!("inventory-{n}");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], n));
        let applied = self.control.add_server("inventory", &name, addr, 1, meta());
        applied.await.unwrap().version.version
    }

    async fn bake(&self) -> BakeView {
        let published = self.control.published();
        self.guard.view(published).await.expect("a bake")
    }
}

#[tokio::test(start_paused = true)]
async fn a_bake_runs_for_its_whole_time_and_is_kept_without_requests() {
    let s = setup().await;
    let v = s.add(2).await;
    let bake = s.bake().await;
    assert_eq!((bake.version, bake.verdict), (v, Verdict::Baking));
    assert_eq!(bake.pools, ["inventory"]);
    assert_eq!(bake.until - bake.started, chrono::Duration::seconds(60));

    tokio::time::sleep(Duration::from_secs(59)).await;
    assert_eq!(s.bake().await.verdict, Verdict::Baking);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bake = s.bake().await;
    assert_eq!(bake.verdict, Verdict::Kept, "{bake:?}");
    let reason = bake.reason.unwrap();
    assert!(reason.contains("fewer than min_requests"), "{reason}");

    // The verdict is recorded as an event.
    let mut recorded = None;
    for _ in 0..100 {
        let events = s.control.blocking(|st| st.events(None, 100)).await.unwrap();
        recorded = events.into_iter().find(|e| e.kind == EventKind::Guard);
        if recorded.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let event = recorded.expect("a guard event");
    assert_eq!(event.details["verdict"], "kept");
    assert_eq!(event.details["version"], v);
}

#[tokio::test(start_paused = true)]
async fn a_newer_version_supersedes_the_bake_at_once() {
    let s = setup().await;
    let first = s.add(2).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    // Taking a server out is not guarded: the older bake ends, none starts.
    let state = ServerState::Removed;
    let removed = s
        .control
        .set_server_state("inventory", "inventory-1", state, meta());
    removed.await.unwrap();
    let bake = s.bake().await;
    assert_eq!((bake.version, bake.verdict), (first, Verdict::Superseded));

    // A guarded version starts a bake of its own.
    let second = s.add(3).await;
    let bake = s.bake().await;
    assert_eq!((bake.version, bake.verdict), (second, Verdict::Baking));
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(s.bake().await.verdict, Verdict::Kept);
}

#[tokio::test(start_paused = true)]
async fn a_rollback_is_not_baked() {
    let s = setup().await;
    s.add(2).await;
    s.control.rollback(1, meta()).await.unwrap();
    let bake = s.bake().await;
    assert_eq!((bake.version, bake.verdict), (2, Verdict::Superseded));
}
