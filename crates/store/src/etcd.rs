//! [`EtcdStore`]: the history and event log in etcd, shared by every instance that names the
//! same members and prefix.
//!
//! Layout under the prefix `P`:
//!
//! ```text
//! P/head                         the newest version number, as decimal text
//! P/versions/<20-digit n>        a version, with its config (JSON)
//! P/events/<ts>-<random>         an event (JSON); its id is the key's create revision
//! P/index/<["pool","server","kind"]>  the newest version event of a kind about a server
//! P/instances/<name>             a running instance (JSON), under a lease it keeps alive
//! ```
//!
//! A commit reads `P/head` and writes the version, its event, the index entry and the new head
//! in one transaction guarded by the head's `mod_revision` (or, for an empty history, by the
//! head not existing), so of two writers that read the same head exactly one lands.
//!
//! The store's calls block the calling thread: they run on a small runtime of the store's own,
//! each bounded by [`CALL_TIMEOUT`], so a lost etcd turns into [`StoreError::Unavailable`]
//! rather than a hang. A task on the same runtime follows the head (see [`follow`]).

mod follow;
mod target;

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, KeyValue, SortOrder, SortTarget, Txn,
    TxnOp, TxnOpResponse, TxnResponse,
};
use serde_json::Value;
use tokio::sync::watch;

pub use target::{BadTarget, EtcdTarget, DEFAULT_PREFIX};

use crate::{
    digest, model, Event, EventKind, Feed, Instance, NewEvent, NewVersion, Store, StoreError,
    Version, VersionKind,
};

/// How long one call to etcd may take before it counts as unreachable.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause before a call that could not reach a member is tried again.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// A [`Store`] in etcd. See the module docs for the layout.
pub struct EtcdStore {
    target: EtcdTarget,
    client: Client,
    /// Drives the client; shut down in the background when the store is dropped.
    runtime: Option<tokio::runtime::Runtime>,
    feed: Feed,
    /// What this instance announced, for the follow task to keep under a lease.
    announced: watch::Sender<Option<Instance>>,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("target", &self.target)
            .finish()
    }
}

impl EtcdStore {
    /// Sets up a client for `target`. Succeeds while etcd is down (the connection is made at the
    /// first call, and again after each loss), so an instance can start from a snapshot.
    pub fn connect(target: EtcdTarget) -> Result<EtcdStore, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("etcd-store")
            .enable_all()
            .build()
            .map_err(|e| unavailable(&target, e))?;
        let options = ConnectOptions::new()
            .with_connect_timeout(CALL_TIMEOUT)
            .with_keep_alive(Duration::from_secs(1), CALL_TIMEOUT)
            .with_keep_alive_while_idle(true);
        let endpoints = target.endpoints();
        let client = runtime
            .block_on(Client::connect(endpoints, Some(options)))
            .map_err(|e| unavailable(&target, e))?;
        let (head_tx, head) = watch::channel(None);
        let (connected_tx, connected) = watch::channel(false);
        let (announced, announced_rx) = watch::channel(None);
        runtime.spawn(follow::run(
            client.clone(),
            target.clone(),
            follow::Channels {
                head: head_tx,
                connected: connected_tx,
                announced: announced_rx,
            },
        ));
        Ok(EtcdStore {
            target,
            client,
            runtime: Some(runtime),
            feed: Feed { head, connected },
            announced,
        })
    }

    /// Where this store lives.
    pub fn target(&self) -> &EtcdTarget {
        &self.target
    }

    /// Runs one call on the store's runtime and waits for it (see [`with_retries`]).
    fn call<T, F>(&self, f: impl Fn(Client) -> F + Send + Sync + 'static) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let client = self.client.clone();
        let target = self.target.clone();
        self.runtime().spawn(async move {
            let result = with_retries(|| f(client.clone())).await;
            let _ = tx.send(result.map_err(|e| unavailable(&target, e)));
        });
        rx.recv()
            .unwrap_or_else(|_| Err(unavailable(&self.target, "the store's runtime stopped")))
    }

    /// The key-values a get of `key` with `options` returns.
    fn get(&self, key: String, options: Option<GetOptions>) -> Result<Vec<KeyValue>, StoreError> {
        self.call(move |mut c| {
            let (key, options) = (key.clone(), options.clone());
            async move { Ok(c.get(key, options).await?.kvs().to_vec()) }
        })
    }

    fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError> {
        self.call(move |mut c| {
            let txn = txn.clone();
            async move { c.txn(txn).await }
        })
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("set until drop")
    }

    fn key(&self, rest: &str) -> String {
        format!("{}/{rest}", self.target.prefix)
    }

    fn get_version(&self, key: String) -> Result<Option<Version>, StoreError> {
        let kvs = self.get(key, None)?;
        kvs.first().map(|kv| parse_version(kv, true)).transpose()
    }
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Store for EtcdStore {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    fn feed(&self) -> Option<Feed> {
        Some(self.feed.clone())
    }

    fn announce(&self, instance: &Instance) {
        self.announced.send_replace(Some(instance.clone()));
    }

    fn instances(&self) -> Result<Vec<Instance>, StoreError> {
        let kvs = self.get(
            self.key("instances/"),
            Some(GetOptions::new().with_prefix()),
        )?;
        let mut instances = Vec::new();
        for kv in kvs {
            let Ok(mut instance) = serde_json::from_slice::<Instance>(kv.value()) else {
                continue;
            };
            let lease = kv.lease();
            let ttl = self.call(move |mut c| async move {
                let live = c.lease_time_to_live(lease, None).await?;
                Ok((live.granted_ttl(), live.ttl()))
            })?;
            // A keep-alive resets the lease to its full time: the time it has lost since is
            // the time since the instance was last heard from.
            let (granted, left) = ttl;
            instance.last_seen =
                Some(Utc::now() - chrono::Duration::seconds((granted - left).max(0)));
            instances.push(instance);
        }
        Ok(instances)
    }

    fn head(&self) -> Result<Option<Version>, StoreError> {
        let (head, _) = self.read_head()?;
        match head {
            None => Ok(None),
            Some(n) => self.version(n),
        }
    }

    fn version(&self, n: u64) -> Result<Option<Version>, StoreError> {
        self.get_version(self.key(&version_key(n)))
    }

    fn versions(&self, limit: usize) -> Result<Vec<Version>, StoreError> {
        let key = self.key("versions/");
        let opts = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Key, SortOrder::Descend)
            .with_limit(limit_param(limit));
        let kvs = self.get(key, Some(opts))?;
        kvs.iter().map(|kv| parse_version(kv, false)).collect()
    }

    fn commit(&self, new: NewVersion, expected_head: Option<u64>) -> Result<Version, StoreError> {
        let (actual, head_rev) = self.read_head()?;
        if actual != expected_head {
            return Err(StoreError::Conflict {
                expected: expected_head,
                actual,
            });
        }
        let (version, event) = new.into_version(actual);
        let head_key = self.key("head");
        let guard = match head_rev {
            0 => Compare::create_revision(head_key.clone(), CompareOp::Equal, 0),
            rev => Compare::mod_revision(head_key.clone(), CompareOp::Equal, rev),
        };
        let mut puts = vec![
            TxnOp::put(
                self.key(&version_key(version.version)),
                to_json(&version),
                None,
            ),
            TxnOp::put(
                self.event_key(version.created_at),
                event_json(&event, version.created_at),
                None,
            ),
            TxnOp::put(head_key.clone(), version.version.to_string(), None),
        ];
        if let (Some(pool), Some(server)) = (&event.pool, &event.server) {
            puts.push(TxnOp::put(
                self.key(&index_key(pool, server, version.kind)),
                event_json(&event, version.created_at),
                None,
            ));
        }
        let txn = Txn::new()
            .when([guard])
            .and_then(puts)
            .or_else([TxnOp::get(head_key, None)]);
        let resp = self.txn(txn)?;
        if !resp.succeeded() {
            let actual = resp.op_responses().into_iter().find_map(|r| match r {
                TxnOpResponse::Get(get) => Some(get.kvs().first().map(head_number)),
                _ => None,
            });
            let actual = actual.flatten().transpose()?;
            // A transaction tried again after its answer was lost (a member died mid-call)
            // finds its own version as the head: it did land.
            if actual == Some(version.version)
                && self.version(version.version)?.as_ref() == Some(&version)
            {
                return Ok(version);
            }
            return Err(StoreError::Conflict {
                expected: expected_head,
                actual,
            });
        }
        Ok(version)
    }

    fn record_event(&self, event: NewEvent) -> Result<Event, StoreError> {
        let ts = model::now();
        let key = self.event_key(ts);
        let value = event_json(&event, ts);
        // Guarded by absence: an event is appended, never overwritten.
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value, None)]);
        let revision = self.txn(txn)?.header().map_or(0, |h| h.revision());
        Ok(Event {
            id: u64::try_from(revision).unwrap_or_default(),
            ts,
            kind: event.kind,
            pool: event.pool,
            server: event.server,
            details: event.details,
        })
    }

    fn events(&self, since: Option<DateTime<Utc>>, limit: usize) -> Result<Vec<Event>, StoreError> {
        let from = self.key(&format!(
            "events/{}",
            since.map(crate::sqlite::since_text).unwrap_or_default()
        ));
        let end = prefix_end(&self.key("events/"));
        let opts = GetOptions::new()
            .with_range(end)
            .with_sort(SortTarget::Key, SortOrder::Descend)
            .with_limit(limit_param(limit));
        let kvs = self.get(from, Some(opts))?;
        let mut events = kvs
            .iter()
            .map(|kv| parse_event(kv, kv.create_revision()))
            .collect::<Result<Vec<_>, _>>()?;
        events.sort_by_key(|e| (e.ts, e.id));
        Ok(events)
    }

    fn last_version_event(
        &self,
        pool: &str,
        server: &str,
        version_kind: VersionKind,
    ) -> Result<Option<Event>, StoreError> {
        let key = self.key(&index_key(pool, server, version_kind));
        let kvs = self.get(key, None)?;
        // The index entry is written in the same transaction as the event itself.
        kvs.first()
            .map(|kv| parse_event(kv, kv.mod_revision()))
            .transpose()
    }

    fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let from = self.key("events/");
        let end = self.key(&format!("events/{}", crate::sqlite::ts_text(before)));
        let kvs = self.get(from, Some(GetOptions::new().with_range(end)))?;
        let doomed: Vec<Vec<u8>> = kvs
            .iter()
            .filter(|kv| parse_event(kv, 0).is_ok_and(|e| e.kind != EventKind::Version))
            .map(|kv| kv.key().to_vec())
            .collect();
        let deleted = doomed.len() as u64;
        for chunk in doomed.chunks(64) {
            let ops: Vec<TxnOp> = chunk
                .iter()
                .map(|k| TxnOp::delete(k.clone(), None))
                .collect();
            self.txn(Txn::new().and_then(ops))?;
        }
        Ok(deleted)
    }
}

impl EtcdStore {
    /// The newest version number and the head key's `mod_revision` (0: no head yet).
    fn read_head(&self) -> Result<(Option<u64>, i64), StoreError> {
        let key = self.key("head");
        match self.get(key, None)?.first() {
            None => Ok((None, 0)),
            Some(kv) => Ok((Some(head_number(kv)?), kv.mod_revision())),
        }
    }

    /// A fresh event key: time first, so key order is time order, then a random tail.
    fn event_key(&self, ts: DateTime<Utc>) -> String {
        self.key(&format!(
            "events/{}-{:016x}",
            crate::sqlite::ts_text(ts),
            fastrand::u64(..)
        ))
    }
}

fn version_key(n: u64) -> String {
    format!("versions/{n:020}")
}

fn index_key(pool: &str, server: &str, kind: VersionKind) -> String {
    format!("index/{}", serde_json::json!([pool, server, kind.as_str()]))
}

/// The first key after every key that starts with `prefix`.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    *end.last_mut().expect("prefixes are not empty") += 1;
    end
}

fn limit_param(limit: usize) -> i64 {
    // etcd reads 0 as "no limit".
    i64::try_from(limit).unwrap_or(0)
}

fn unavailable(
    target: &EtcdTarget,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> StoreError {
    StoreError::Unavailable {
        store: target.to_string(),
        source: source.into(),
    }
}

/// Why a call to etcd failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error(transparent)]
    Etcd(#[from] etcd_client::Error),
    #[error("no answer within {CALL_TIMEOUT:?}")]
    Timeout,
}

/// Runs `f` until it succeeds, fails for good, or [`CALL_TIMEOUT`] has passed; a failure to
/// reach a member (connection refused, no leader yet) is tried again after [`RETRY_PAUSE`],
/// when the client picks another member.
pub(crate) async fn with_retries<T, F>(mut f: impl FnMut() -> F) -> Result<T, CallError>
where
    F: Future<Output = Result<T, etcd_client::Error>>,
{
    let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, f()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) if retryable(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(CallError::Timeout),
        }
    }
}

/// Whether a failed call may be tried again: it could not reach a member, or the member had no
/// leader. (A commit tried again after it did land finds its own head and reports a conflict:
/// nothing is written twice.)
fn retryable(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) => true,
        etcd_client::Error::GRpcStatus(s) => {
            matches!(s.code(), tonic::Code::Unavailable | tonic::Code::Unknown)
        }
        _ => false,
    }
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("versions and events serialize")
}

fn event_json(event: &NewEvent, ts: DateTime<Utc>) -> String {
    to_json(&serde_json::json!({
        "ts": ts,
        "kind": event.kind,
        "pool": event.pool,
        "server": event.server,
        "details": event.details,
    }))
}

pub(crate) fn head_number(kv: &KeyValue) -> Result<u64, StoreError> {
    let text = String::from_utf8_lossy(kv.value());
    text.trim().parse().map_err(|_| StoreError::Corrupt {
        version: 0,
        detail: format!("the head key holds {text:?}, not a version number"),
    })
}

fn parse_version(kv: &KeyValue, with_config: bool) -> Result<Version, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        version: 0,
        detail: format!("{}: {detail}", String::from_utf8_lossy(kv.key())),
    };
    let mut version: Version =
        serde_json::from_slice(kv.value()).map_err(|e| corrupt(e.to_string()))?;
    if with_config {
        let actual = digest(version.config.as_deref().unwrap_or_default());
        if actual != version.digest {
            return Err(StoreError::Corrupt {
                version: version.version,
                detail: format!("its config has digest {actual}, not {}", version.digest),
            });
        }
    } else {
        version.config = None;
    }
    Ok(version)
}

fn parse_event(kv: &KeyValue, id: i64) -> Result<Event, StoreError> {
    let mut value: Value = serde_json::from_slice(kv.value()).map_err(|e| StoreError::Corrupt {
        version: 0,
        detail: format!("event {}: {e}", String::from_utf8_lossy(kv.key())),
    })?;
    value["id"] = Value::from(u64::try_from(id).unwrap_or_default());
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt {
        version: 0,
        detail: format!("event {}: {e}", String::from_utf8_lossy(kv.key())),
    })
}
