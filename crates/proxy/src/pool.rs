//! A pool at run time: its servers, how to pick one, and the bounded queue of requests that
//! wait when every server is at its connection limit.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use prometheus_client::metrics::histogram::Histogram;
use switchyard_config::PoolConfig;
use tokio::sync::Notify;

use crate::error::ProxyError;
use crate::select::Selector;
use crate::server::{Lease, Server};
use crate::upstream::Upstream;

/// Requests waiting for a free server; shared across config versions of the same pool.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    pub wakeup: Arc<Notify>,
    waiting: AtomicU32,
}

struct Waiting<'a>(&'a AtomicU32);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(crate) struct Pool {
    pub config: PoolConfig,
    pub servers: Vec<Server>,
    pub selector: Selector,
    pub queue: Arc<Queue>,
    pub upstream: Upstream,
    /// This pool's `switchyard_request_duration_seconds`.
    pub duration: Histogram,
}

impl Pool {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// A slot on a server not in `tried`, waiting in the queue (bounded in size and time) when
    /// every such server is at its limit.
    pub async fn acquire(&self, tried: &[usize]) -> Result<(usize, Lease), ProxyError> {
        if !self
            .servers
            .iter()
            .enumerate()
            .any(|(i, s)| s.in_rotation && !tried.contains(&i))
        {
            let in_rotation = self.servers.iter().filter(|s| s.in_rotation).count();
            let detail = if in_rotation == 0 {
                format!(
                    "all {} servers of pool {} are removed from rotation",
                    self.servers.len(),
                    self.name()
                )
            } else {
                format!(
                    "all {in_rotation} servers in rotation in pool {} were tried",
                    self.name()
                )
            };
            return Err(ProxyError::NoServer { detail });
        }
        if let Some(found) = self.try_acquire(tried) {
            return Ok(found);
        }
        let queue = &self.queue;
        let limit = self.config.queue;
        let mut waiting = queue.waiting.load(Ordering::Acquire);
        loop {
            if waiting >= limit {
                return Err(ProxyError::QueueFull {
                    usage: self.usage(tried),
                    waiting,
                    queue: limit,
                });
            }
            match queue.waiting.compare_exchange_weak(
                waiting,
                waiting + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => waiting = actual,
            }
        }
        let _waiting = Waiting(&queue.waiting);
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + self.config.queue_timeout);
        loop {
            let notified = queue.wakeup.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = self.try_acquire(tried) {
                return Ok(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(ProxyError::QueueTimeout {
                    usage: self.usage(tried),
                    waited: started.elapsed(),
                });
            }
        }
    }

    fn try_acquire(&self, tried: &[usize]) -> Option<(usize, Lease)> {
        self.selector
            .order(&self.servers)
            .filter(|i| !tried.contains(i))
            .find_map(|i| {
                self.servers[i]
                    .try_lease(&self.queue.wakeup)
                    .map(|l| (i, l))
            })
    }

    /// `inventory-1 100/100 in use, inventory-2 100/100 in use`
    fn usage(&self, tried: &[usize]) -> String {
        self.servers
            .iter()
            .enumerate()
            .filter(|(i, s)| s.in_rotation && !tried.contains(i))
            .map(|(_, s)| s.usage())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
