//! Following the head: a task that tells the instance which version is newest in etcd, and
//! whether etcd can be reached at all.
//!
//! It reads the head, then watches the head key from just after that read. Every change is sent
//! on the feed's `head` channel (a later version replaces an earlier one not yet seen: each
//! version is a whole config). Once a second it also reads the head with a linearizable get,
//! which needs a quorum: when that read fails, or the watch ends or is cancelled (by a
//! compaction among others), etcd counts as lost until a fresh read and a new watch succeed.
//! Each such start is a full resync: the head is read again, so nothing written meanwhile is
//! missed.

use std::time::Duration;

use etcd_client::{Client, WatchOptions};
use tokio::sync::watch;

use super::{head_number, EtcdTarget, CALL_TIMEOUT};

/// How often the head is read to check that etcd still has a quorum.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long to wait before trying again after losing etcd.
const RETRY_AFTER: Duration = Duration::from_millis(300);

/// Runs until the store is dropped.
pub(super) async fn run(
    client: Client,
    target: EtcdTarget,
    head: watch::Sender<Option<u64>>,
    connected: watch::Sender<bool>,
) {
    let key = format!("{}/head", target.prefix);
    loop {
        let reason = match follow_once(client.clone(), &key, &head, &connected).await {
            Ok(reason) | Err(reason) => reason,
        };
        if connected.send_replace(false) {
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

/// One resync and watch, until something goes wrong; returns what did.
async fn follow_once(
    mut client: Client,
    key: &str,
    head: &watch::Sender<Option<u64>>,
    connected: &watch::Sender<bool>,
) -> Result<String, String> {
    let (newest, revision) = read_head(&mut client, key).await?;
    send_head(head, newest);
    let options = WatchOptions::new().with_start_revision(revision + 1);
    let mut stream = tokio::time::timeout(CALL_TIMEOUT, client.watch(key, Some(options)))
        .await
        .map_err(|_| format!("no watch within {CALL_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    if !connected.send_replace(true) {
        tracing::info!(
            "store reachable: following the history from v{}",
            newest.unwrap_or(0)
        );
    }
    let mut probe = tokio::time::interval(PROBE_EVERY);
    probe.tick().await;
    loop {
        tokio::select! {
            message = stream.message() => {
                let resp = match message {
                    Ok(Some(resp)) => resp,
                    Ok(None) => return Err("the watch ended".into()),
                    Err(e) => return Err(format!("the watch failed: {e}")),
                };
                if resp.compact_revision() > 0 {
                    tracing::warn!(
                        compacted = resp.compact_revision(),
                        "the head watch was cancelled by a compaction at revision {}: resyncing",
                        resp.compact_revision()
                    );
                    return Ok("the watch was cancelled by a compaction".into());
                }
                if resp.canceled() {
                    return Ok(format!("the watch was cancelled: {}", resp.cancel_reason()));
                }
                for event in resp.events() {
                    if let Some(Ok(n)) = event.kv().filter(|kv| !kv.value().is_empty()).map(head_number) {
                        send_head(head, Some(n));
                    }
                }
            }
            _ = probe.tick() => {
                let (newest, _) = read_head(&mut client, key).await?;
                send_head(head, newest);
            }
        }
    }
}

async fn read_head(client: &mut Client, key: &str) -> Result<(Option<u64>, i64), String> {
    let resp = tokio::time::timeout(CALL_TIMEOUT, client.get(key, None))
        .await
        .map_err(|_| format!("no answer within {CALL_TIMEOUT:?}"))?
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
