//! A front end's simulated database: a bounded connection pool with a wait timeout, and queries
//! that hold a connection for a few milliseconds.
//!
//! The pool may hold [`DbOptions::pool_size`] connections, but the database accepts only
//! [`DbOptions::server_limit`] from one front end. Normal load needs a handful, so the limit
//! never shows; a front end that leaks connections runs into it and stalls at `95/100
//! connections in use`, the figure the seed incident's logs quote, because the last five cannot
//! be opened.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// The simulated database behind each front end. Defaults: a pool of 100, a database limit of
/// 95 connections per front end, a 200 ms wait for a connection, queries of 1-4 ms.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub pool_size: usize,
    pub server_limit: usize,
    pub wait: Duration,
    pub query_time: (Duration, Duration),
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            pool_size: 100,
            server_limit: 95,
            wait: Duration::from_millis(200),
            query_time: (Duration::from_millis(1), Duration::from_millis(4)),
        }
    }
}

/// No connection became free within the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbTimeout {
    pub(crate) in_use: usize,
    pub(crate) pool_size: usize,
    pub(crate) wait: Duration,
}

pub(crate) struct DbPool {
    options: DbOptions,
    /// One permit per connection that can be open at once.
    connections: Semaphore,
    capacity: usize,
    leaked: AtomicUsize,
}

impl DbPool {
    pub(crate) fn new(options: DbOptions) -> Arc<DbPool> {
        let capacity = options.pool_size.min(options.server_limit);
        Arc::new(DbPool {
            connections: Semaphore::new(capacity),
            capacity,
            options,
            leaked: AtomicUsize::new(0),
        })
    }

    pub(crate) fn pool_size(&self) -> usize {
        self.options.pool_size
    }

    /// Connections checked out now, leaked ones included.
    pub(crate) fn in_use(&self) -> usize {
        self.capacity - self.connections.available_permits()
    }

    pub(crate) fn leaked(&self) -> usize {
        self.leaked.load(Ordering::Relaxed)
    }

    /// Runs one query: waits up to the pool's wait for a connection, holds it for the query's
    /// duration, returns it. On success, the connections in use when it got one.
    pub(crate) async fn query(&self) -> Result<usize, DbTimeout> {
        let wait = self.options.wait;
        let permit = match tokio::time::timeout(wait, self.connections.acquire()).await {
            Ok(Ok(permit)) => permit,
            _ => {
                return Err(DbTimeout {
                    in_use: self.in_use(),
                    pool_size: self.options.pool_size,
                    wait,
                })
            }
        };
        let in_use = self.in_use();
        let (low, high) = self.options.query_time;
        let span = high.saturating_sub(low).as_micros() as u64;
        let hold = low + Duration::from_micros(fastrand::u64(0..=span));
        tokio::time::sleep(hold).await;
        drop(permit);
        Ok(in_use)
    }

    /// Takes one connection for good, if one is free. Returns whether it did.
    pub(crate) fn leak_one(&self) -> bool {
        match self.connections.try_acquire() {
            Ok(permit) => {
                permit.forget();
                self.leaked.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }
}

/// Leaks `per_second` connections from `pool` until aborted.
pub(crate) async fn leak(pool: Arc<DbPool>, per_second: f64) {
    let period = Duration::from_secs_f64(1.0 / per_second.max(0.001));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        pool.leak_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> DbOptions {
        DbOptions {
            pool_size: 10,
            server_limit: 8,
            wait: Duration::from_millis(200),
            query_time: (Duration::from_millis(1), Duration::from_millis(2)),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn queries_return_their_connection() {
        let pool = DbPool::new(small());
        for _ in 0..20 {
            pool.query().await.unwrap();
        }
        assert_eq!(pool.in_use(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_leaking_pool_stalls_at_the_database_limit_and_times_out() {
        let pool = DbPool::new(small());
        let task = tokio::spawn(leak(pool.clone(), 10.0));
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        task.abort();
        assert_eq!(pool.leaked(), 8);
        let timeout = pool.query().await.unwrap_err();
        assert_eq!(
            timeout,
            DbTimeout {
                in_use: 8,
                pool_size: 10,
                wait: Duration::from_millis(200)
            }
        );
    }
}
