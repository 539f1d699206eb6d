//! Following the head: a task that tells the instance which version is newest in etcd, and
//! whether etcd can be reached at all.
//!
//! It reads the head, then watches the head key from just after that read. Every change is sent
//! on the feed's `head` channel (a later version replaces an earlier one not yet seen: each
//! version is a whole config). Once a second it also reads the head with a linearizable get,
//! which needs a quorum. A watch cancelled by a compaction is followed by a full resync: the head
//! is read again and a new watch starts after it. When a read fails, or the watch ends or fails,
//! etcd counts as lost until a fresh read and a new watch succeed, which is the same resync, so
//! nothing written meanwhile is missed.
//!
//! The same task keeps this instance's record (see [`Store::announce`](crate::Store::announce))
//! under `P/instances/NAME` with a lease of [`LEASE_TTL`], kept alive at every probe: when the
//! instance stops, or loses etcd for longer than that, the record goes.

use std::time::Duration;

use etcd_client::{
    Client, LeaseKeepAliveStream, LeaseKeeper, PutOptions, WatchOptions, WatchStream,
};
use tokio::sync::watch;

use super::{head_number, with_retries, EtcdTarget};
use crate::Instance;

/// How long an instance's record outlives its last keep-alive, in seconds.
pub const LEASE_TTL: i64 = 5;

/// What the task reports, and what it is told.
pub(super) struct Channels {
    pub head: watch::Sender<Option<u64>>,
    pub connected: watch::Sender<bool>,
    pub announced: watch::Receiver<Option<Instance>>,
}

/// An instance record in etcd and the lease that keeps it.
struct Held {
    keeper: LeaseKeeper,
    answers: LeaseKeepAliveStream,
    lease: i64,
    written: Instance,
}

/// How often the head is read to check that etcd still has a quorum.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long to wait before trying again after losing etcd.
const RETRY_AFTER: Duration = Duration::from_millis(300);

/// Runs until the store is dropped.
pub(super) async fn run(client: Client, target: EtcdTarget, mut channels: Channels) {
    let key = format!("{}/head", target.prefix);
    loop {
        let reason = match follow_once(client.clone(), &target, &key, &mut channels).await {
            Ok(reason) | Err(reason) => reason,
        };
        if channels.connected.send_replace(false) {
            tracing::warn!(
                store = %target,
                "lost the store {target}: {reason}; serving the last version, refusing changes until it is back"
            );
        } else {
            tracing::debug!(store = %target, "store {target} still unreachable: {reason}");
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

/// Resyncs and watches until something goes wrong; returns what did. A watch cancelled by a
/// compaction is not a loss: the head is read again and a new watch starts after it.
async fn follow_once(
    mut client: Client,
    target: &EtcdTarget,
    key: &str,
    channels: &mut Channels,
) -> Result<String, String> {
    let Channels {
        head,
        connected,
        announced,
    } = channels;
    let mut held = None;
    let mut probe = tokio::time::interval(PROBE_EVERY);
    loop {
        let (newest, revision) = read_head(&mut client, key).await?;
        send_head(head, newest);
        let mut stream = open_watch(&client, key, revision + 1).await?;
        if !connected.send_replace(true) {
            tracing::info!(
                "store reachable: following the history from v{}",
                newest.unwrap_or(0)
            );
        }
        loop {
            tokio::select! {
                change = next_head(&mut stream) => match change? {
                    Watched::Head(n) => send_head(head, Some(n)),
                    Watched::Nothing => {}
                    Watched::Compacted(at) => {
                        tracing::warn!(
                            compacted = at,
                            "the head watch was cancelled by a compaction at revision {at}: resyncing"
                        );
                        break;
                    }
                },
                _ = probe.tick() => {
                    let (newest, _) = read_head(&mut client, key).await?;
                    send_head(head, newest);
                    keep_record(&mut client, target, announced, &mut held).await?;
                }
                Ok(()) = announced.changed() => {
                    keep_record(&mut client, target, announced, &mut held).await?;
                }
            }
        }
    }
}

/// A watch of `key` from `revision` on.
async fn open_watch(client: &Client, key: &str, revision: i64) -> Result<WatchStream, String> {
    let options = WatchOptions::new().with_start_revision(revision);
    with_retries(|| {
        let (mut c, key, options) = (client.clone(), key.to_string(), options.clone());
        async move { c.watch(key, Some(options)).await }
    })
    .await
    .map_err(|e| e.to_string())
}

/// What one message of the head watch says.
#[derive(Debug, PartialEq)]
enum Watched {
    /// The head is now this version.
    Head(u64),
    /// Nothing about the head (the watch's confirmation, a progress notice).
    Nothing,
    /// The watch was cancelled: its start was compacted away at this revision.
    Compacted(i64),
}

/// The next message of the head watch; an error when the watch ends or fails.
async fn next_head(stream: &mut WatchStream) -> Result<Watched, String> {
    let resp = match stream.message().await {
        Ok(Some(resp)) => resp,
        Ok(None) => return Err("the watch ended".into()),
        Err(e) => return Err(format!("the watch failed: {e}")),
    };
    if resp.compact_revision() > 0 {
        return Ok(Watched::Compacted(resp.compact_revision()));
    }
    if resp.canceled() {
        return Err(format!("the watch was cancelled: {}", resp.cancel_reason()));
    }
    let newest = resp
        .events()
        .iter()
        .filter_map(|e| e.kv())
        .filter(|kv| !kv.value().is_empty())
        .filter_map(|kv| head_number(kv).ok())
        .max();
    Ok(newest.map_or(Watched::Nothing, Watched::Head))
}

/// Writes the announced record if it changed, under a lease granted the first time, and keeps
/// that lease alive.
async fn keep_record(
    client: &mut Client,
    target: &EtcdTarget,
    announced: &mut watch::Receiver<Option<Instance>>,
    held: &mut Option<Held>,
) -> Result<(), String> {
    let Some(record) = announced.borrow_and_update().clone() else {
        return Ok(());
    };
    if held.is_none() {
        let lease = with_retries(|| {
            let mut c = client.clone();
            async move { c.lease_grant(LEASE_TTL, None).await }
        })
        .await
        .map_err(|e| e.to_string())?
        .id();
        let (keeper, answers) = with_retries(|| {
            let mut c = client.clone();
            async move { c.lease_keep_alive(lease).await }
        })
        .await
        .map_err(|e| e.to_string())?;
        *held = Some(Held {
            keeper,
            answers,
            lease,
            written: record.clone(),
        });
        put_record(client, target, &record, lease).await?;
        return Ok(());
    }
    let h = held.as_mut().expect("checked");
    if h.written != record {
        put_record(client, target, &record, h.lease).await?;
        h.written = record;
    }
    h.keeper.keep_alive().await.map_err(|e| e.to_string())?;
    let answer = tokio::time::timeout(super::CALL_TIMEOUT, h.answers.message())
        .await
        .map_err(|_| "no answer to a keep-alive".to_string())?
        .map_err(|e| e.to_string())?;
    if answer.is_none_or(|a| a.ttl() <= 0) {
        // The lease ran out (etcd was away too long): take a new one at the next probe.
        *held = None;
    }
    Ok(())
}

async fn put_record(
    client: &mut Client,
    target: &EtcdTarget,
    record: &Instance,
    lease: i64,
) -> Result<(), String> {
    let key = format!("{}/instances/{}", target.prefix, record.name);
    let value = serde_json::to_string(record).map_err(|e| e.to_string())?;
    let options = PutOptions::new().with_lease(lease);
    with_retries(|| {
        let (mut c, key, value) = (client.clone(), key.clone(), value.clone());
        let options = options.clone();
        async move { c.put(key, value, Some(options)).await }
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

async fn read_head(client: &mut Client, key: &str) -> Result<(Option<u64>, i64), String> {
    let resp = with_retries(|| {
        let (mut c, key) = (client.clone(), key.to_string());
        async move { c.get(key, None).await }
    })
    .await
    .map_err(|e| e.to_string())?;
    let revision = resp.header().map_or(0, |h| h.revision());
    let newest = match resp.kvs().first() {
        Some(kv) => Some(head_number(kv).map_err(|e| e.to_string())?),
        None => None,
    };
    Ok((newest, revision))
}

/// Sends `newest` unless an equal or newer head was already sent.
fn send_head(head: &watch::Sender<Option<u64>>, newest: Option<u64>) {
    head.send_if_modified(|current| {
        if newest > *current {
            *current = newest;
            true
        } else {
            false
        }
    });
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::EtcdCluster;

    /// A watch that starts before a compaction is cancelled, and says so: the follow loop
    /// then reads the head again instead of counting etcd as lost.
    #[tokio::test]
    async fn a_watch_from_before_a_compaction_reports_it() {
        if !EtcdCluster::available() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let cluster = EtcdCluster::start(dir.path(), 1);
        let mut client = Client::connect(cluster.target("/c").endpoints(), None)
            .await
            .unwrap();
        let first = client.put("/c/head", "1", None).await.unwrap();
        let old = first.header().unwrap().revision();
        client.put("/c/head", "2", None).await.unwrap();
        let last = client.put("/c/head", "3", None).await.unwrap();
        let mut stream = open_watch(&client, "/c/head", old).await.unwrap();
        let mut heads = Vec::new();
        while heads.last() != Some(&Watched::Head(3)) && heads.len() < 5 {
            heads.push(next_head(&mut stream).await.unwrap());
        }
        assert_eq!(heads.last(), Some(&Watched::Head(3)), "{heads:?}");

        client
            .compact(last.header().unwrap().revision(), None)
            .await
            .unwrap();
        let mut stream = open_watch(&client, "/c/head", old).await.unwrap();
        let mut seen = next_head(&mut stream).await;
        if seen == Ok(Watched::Nothing) {
            seen = next_head(&mut stream).await;
        }
        assert!(matches!(seen, Ok(Watched::Compacted(_))), "{seen:?}");
    }
}
