//! A load generator for the lab's shop: a steady request rate over keep-alive HTTP/1.1
//! connections, mostly `GET /products/{id}` and some `POST /checkout`, each with a fresh
//! `x-request-id`, and the count of requests and errors for every second.
//!
//! Requests go out on a schedule: one slot every `1 / rate` seconds, taken by whichever of the
//! `concurrency` workers is free. A slot nobody was free for is skipped, not made up later, so
//! the generator never goes above its rate (it falls below it when every worker is waiting for
//! an answer). A request counts in the second it was sent; it is an error if it got no answer
//! within the timeout or a status of 400 or more. Figures are kept in 100 ms slots for the last
//! [`LoadOptions::history`], so memory stays bounded however long it runs.
//!
//! ```no_run
//! # async fn demo(gateway: std::net::SocketAddr) {
//! use switchyard_lab::load::{LoadGen, LoadOptions};
//!
//! let load = LoadGen::start(gateway, LoadOptions { rate: 200.0, ..LoadOptions::default() });
//! let before = std::time::Instant::now();
//! tokio::time::sleep(std::time::Duration::from_secs(5)).await;
//! let rate = load.error_rate_between(before, std::time::Instant::now());
//! println!("error rate {:.1}%", rate.unwrap_or(0.0) * 100.0);
//! let totals = load.stop().await;
//! println!("{} requests, {} errors", totals.requests, totals.errors);
//! # }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Figures are kept per slot of this length.
const SLOT: Duration = Duration::from_millis(100);
const SLOTS_PER_SECOND: u64 = 10;

/// How to generate load. Defaults: 200 requests/s, 32 connections, 10% checkouts over product
/// ids 1-1000, a 5 s timeout, 10 minutes of history.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Requests per second; never exceeded.
    pub rate: f64,
    /// Requests in flight at most (and keep-alive connections open at most).
    pub concurrency: usize,
    /// Share of requests that are `POST /checkout` (0.0 - 1.0).
    pub checkout_share: f64,
    /// Product ids are drawn from `1..=products`.
    pub products: u32,
    /// A request without a complete answer after this long counts as an error.
    pub timeout: Duration,
    /// How far back [`LoadGen::snapshot`] and [`LoadGen::error_rate_between`] can see.
    pub history: Duration,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            rate: 200.0,
            concurrency: 32,
            checkout_share: 0.1,
            products: 1000,
            timeout: Duration::from_secs(5),
            history: Duration::from_secs(600),
        }
    }
}

/// Requests sent and errors in one whole second since the generator started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondStats {
    /// Seconds since [`LoadGen::started`]: 0 is the first second.
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
}

impl SecondStats {
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

/// Totals since the start and the seconds still in the history.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSnapshot {
    pub elapsed: Duration,
    pub requests: u64,
    pub errors: u64,
    /// Requests that got no answer (connection failed or timed out).
    pub no_answer: u64,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Whole seconds, oldest first, up to the last complete one. Errors of the last second or
    /// two may still grow by requests that were in flight.
    pub seconds: Vec<SecondStats>,
}

impl LoadSnapshot {
    /// The last `n` whole seconds.
    pub fn last(&self, n: usize) -> &[SecondStats] {
        &self.seconds[self.seconds.len().saturating_sub(n)..]
    }

    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

/// A running load generator; stops on [`stop`](LoadGen::stop) or drop.
pub struct LoadGen {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
}

struct Shared {
    target: SocketAddr,
    options: LoadOptions,
    started: Instant,
    /// The rate in requests per second, as `f64` bits.
    rate: AtomicU64,
    /// When the next request may go out.
    next_slot: Mutex<Instant>,
    stats: Mutex<Stats>,
}

impl LoadGen {
    /// Starts `options.concurrency` workers sending to `target` (Switchyard's listener). Needs a
    /// Tokio runtime.
    pub fn start(target: SocketAddr, options: LoadOptions) -> LoadGen {
        let concurrency = options.concurrency.max(1);
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(concurrency)
            .build(connector);
        let started = Instant::now();
        let max_slots = (options.history.as_millis() / SLOT.as_millis()).max(10) as usize;
        let shared = Arc::new(Shared {
            target,
            rate: AtomicU64::new(options.rate.to_bits()),
            options,
            started,
            next_slot: Mutex::new(started),
            stats: Mutex::new(Stats::new(max_slots)),
        });
        let (stop, stopped) = watch::channel(false);
        let workers = (0..concurrency)
            .map(|_| tokio::spawn(worker(shared.clone(), client.clone(), stopped.clone())))
            .collect();
        LoadGen {
            shared,
            stop,
            workers,
        }
    }

    pub fn started(&self) -> Instant {
        self.shared.started
    }

    pub fn rate(&self) -> f64 {
        f64::from_bits(self.shared.rate.load(Ordering::Relaxed))
    }

    /// Changes the rate from the next request on (0 pauses).
    pub fn set_rate(&self, rate: f64) {
        self.shared
            .rate
            .store(rate.max(0.0).to_bits(), Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> LoadSnapshot {
        let elapsed = self.shared.started.elapsed();
        let now_slot = (elapsed.as_millis() / SLOT.as_millis()) as u64;
        self.shared
            .stats()
            .snapshot(elapsed, now_slot / SLOTS_PER_SECOND)
    }

    /// Errors over requests sent from `from` until `to` (to the nearest 100 ms, within the
    /// history); `None` if none were sent.
    pub fn error_rate_between(&self, from: Instant, to: Instant) -> Option<f64> {
        let (requests, errors) = self.counts_between(from, to);
        (requests > 0).then(|| errors as f64 / requests as f64)
    }

    /// Requests sent from `from` until `to`, and how many of them failed.
    pub fn counts_between(&self, from: Instant, to: Instant) -> (u64, u64) {
        let slot = |t: Instant| {
            (t.saturating_duration_since(self.shared.started).as_millis() / SLOT.as_millis()) as u64
        };
        self.shared.stats().counts(slot(from), slot(to))
    }

    /// Stops sending, lets requests in flight finish (up to the timeout), and returns the
    /// final figures.
    pub async fn stop(mut self) -> LoadSnapshot {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + self.shared.options.timeout;
        for worker in self.workers.drain(..) {
            let abort = worker.abort_handle();
            if tokio::time::timeout_at(deadline, worker).await.is_err() {
                abort.abort();
            }
        }
        self.snapshot()
    }
}

impl Drop for LoadGen {
    fn drop(&mut self) {
        for worker in &self.workers {
            worker.abort();
        }
    }
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The time the next request goes out, or `None` while the rate is 0.
    fn claim_slot(&self) -> Option<Instant> {
        let rate = f64::from_bits(self.rate.load(Ordering::Relaxed));
        if rate <= 0.0 || !rate.is_finite() {
            return None;
        }
        let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (*next).max(Instant::now());
        *next = slot + Duration::from_secs_f64(1.0 / rate);
        Some(slot)
    }

    fn slot_index(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.started).as_millis() / SLOT.as_millis()) as u64
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let o = &self.options;
        let product = fastrand::u32(1..=o.products.max(1));
        let builder = Request::builder()
            .header("x-request-id", format!("{:032x}", fastrand::u128(..)))
            .header(USER_AGENT, "switchyard-lab-load");
        if fastrand::f64() < o.checkout_share {
            let order = format!(
                "{{\"product_id\":{product},\"quantity\":{}}}",
                fastrand::u8(1..=3)
            );
            builder
                .method(Method::POST)
                .uri(format!("http://{}/checkout", self.target))
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(order)))
        } else {
            builder
                .method(Method::GET)
                .uri(format!("http://{}/products/{product}", self.target))
                .body(Full::new(Bytes::new()))
        }
        .expect("valid request")
    }
}

async fn worker(
    shared: Arc<Shared>,
    client: Client<HttpConnector, Full<Bytes>>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let Some(slot) = shared.claim_slot() else {
            tokio::select! {
                _ = tokio::time::sleep(SLOT) => continue,
                _ = stopped.wait_for(|stop| *stop) => return,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(slot.into()) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        let index = shared.slot_index(slot);
        shared.stats().sent(index);
        let answer = tokio::time::timeout(shared.options.timeout, async {
            let response = client.request(shared.request()).await.ok()?;
            let status = response.status().as_u16();
            // Read the whole answer so the connection can carry the next request.
            response.into_body().collect().await.ok()?;
            Some(status)
        })
        .await
        .ok()
        .flatten();
        shared.stats().answered(index, answer);
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    requests: u32,
    errors: u32,
}

/// Per-slot figures for the last `max_slots` slots, and totals.
struct Stats {
    /// Index of `slots[0]`.
    first: u64,
    slots: VecDeque<Slot>,
    max_slots: usize,
    requests: u64,
    errors: u64,
    no_answer: u64,
    statuses: BTreeMap<u16, u64>,
}

impl Stats {
    fn new(max_slots: usize) -> Stats {
        Stats {
            first: 0,
            slots: VecDeque::with_capacity(max_slots.min(1024)),
            max_slots,
            requests: 0,
            errors: 0,
            no_answer: 0,
            statuses: BTreeMap::new(),
        }
    }

    fn slot(&mut self, index: u64) -> Option<&mut Slot> {
        if index < self.first {
            return None;
        }
        while self.first + self.slots.len() as u64 <= index {
            self.slots.push_back(Slot::default());
        }
        while self.slots.len() > self.max_slots {
            self.slots.pop_front();
            self.first += 1;
        }
        let offset = index.checked_sub(self.first)?;
        self.slots.get_mut(offset as usize)
    }

    fn sent(&mut self, index: u64) {
        self.requests += 1;
        if let Some(slot) = self.slot(index) {
            slot.requests += 1;
        }
    }

    fn answered(&mut self, index: u64, status: Option<u16>) {
        let failed = match status {
            Some(code) => {
                *self.statuses.entry(code).or_default() += 1;
                code >= 400
            }
            None => {
                self.no_answer += 1;
                true
            }
        };
        if failed {
            self.errors += 1;
            if let Some(slot) = self.slot(index) {
                slot.errors += 1;
            }
        }
    }

    /// Requests and errors in slots `from..to`.
    fn counts(&self, from: u64, to: u64) -> (u64, u64) {
        let from = from.max(self.first);
        let to = to.min(self.first + self.slots.len() as u64);
        (from..to).fold((0, 0), |(r, e), index| {
            let slot = self.slots[(index - self.first) as usize];
            (r + u64::from(slot.requests), e + u64::from(slot.errors))
        })
    }

    fn snapshot(&self, elapsed: Duration, current_second: u64) -> LoadSnapshot {
        let first_second = self.first.div_ceil(SLOTS_PER_SECOND);
        let seconds = (first_second..current_second)
            .map(|second| {
                let (requests, errors) =
                    self.counts(second * SLOTS_PER_SECOND, (second + 1) * SLOTS_PER_SECOND);
                SecondStats {
                    second,
                    requests,
                    errors,
                }
            })
            .collect();
        LoadSnapshot {
            elapsed,
            requests: self.requests,
            errors: self.errors,
            no_answer: self.no_answer,
            statuses: self.statuses.clone(),
            seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_add_up_their_slots_and_history_is_bounded() {
        let mut stats = Stats::new(50);
        for index in 0..100 {
            stats.sent(index);
            stats.answered(index, Some(if index % 4 == 0 { 500 } else { 200 }));
        }
        stats.sent(100);
        stats.answered(100, None);
        assert_eq!(stats.slots.len(), 50);
        assert_eq!(
            (stats.requests, stats.errors, stats.no_answer),
            (101, 26, 1)
        );
        let snapshot = stats.snapshot(Duration::from_secs(10), 10);
        // Slots 51..=100 are kept: seconds 6..=9 are whole.
        assert_eq!(snapshot.seconds.len(), 4);
        assert_eq!(
            snapshot.seconds[0],
            SecondStats {
                second: 6,
                requests: 10,
                errors: 3
            }
        );
        assert_eq!(snapshot.last(1)[0].second, 9);
        assert_eq!(stats.counts(0, 60), (9, 2));
        assert_eq!(snapshot.statuses[&500], 25);
    }

    #[test]
    fn old_answers_do_not_grow_the_history() {
        let mut stats = Stats::new(10);
        stats.sent(100);
        stats.answered(3, Some(500));
        assert_eq!(stats.slots.len(), 10);
        assert_eq!(stats.errors, 1);
        assert_eq!(stats.counts(0, 200), (1, 0));
    }

    #[test]
    fn slots_are_spaced_by_the_rate_and_missed_ones_are_skipped() {
        let started = Instant::now();
        let shared = Shared {
            target: "127.0.0.1:1".parse().unwrap(),
            options: LoadOptions::default(),
            started,
            rate: AtomicU64::new(100.0f64.to_bits()),
            next_slot: Mutex::new(started),
            stats: Mutex::new(Stats::new(10)),
        };
        let a = shared.claim_slot().unwrap();
        let b = shared.claim_slot().unwrap();
        assert_eq!(b - a, Duration::from_millis(10));
        // Nobody took the slots of the last second: they are gone, not owed.
        *shared.next_slot.lock().unwrap() = Instant::now() - Duration::from_secs(1);
        let before = Instant::now();
        assert!(shared.claim_slot().unwrap() >= before);
        shared.rate.store(0f64.to_bits(), Ordering::Relaxed);
        assert!(shared.claim_slot().is_none());
    }
}
