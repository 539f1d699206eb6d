//! The per-thread side of a triage run: every record lands in its time bucket overall and per
//! host, service, pool and server; error messages are queued for the shared template book.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::analysis::series::Series;
use crate::analysis::templates::TemplateBook;
use crate::hash::{same_key, FastMap, KeyWords};
use crate::input::{Record, Sink, SourceInfo};
use crate::record::{Detail, Request};

/// What a key is: the machine, the program, or (from access logs) the pool and server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dim {
    Host,
    Service,
    Pool,
    Server,
}

impl Dim {
    pub const ALL: [Dim; 4] = [Dim::Host, Dim::Service, Dim::Pool, Dim::Server];

    pub fn as_str(self) -> &'static str {
        match self {
            Dim::Host => "host",
            Dim::Service => "service",
            Dim::Pool => "pool",
            Dim::Server => "server",
        }
    }
}

/// Error messages are handed to the template book in batches of at least this many, so
/// threads rarely meet on its lock.
const BATCH: usize = 256;
/// While another thread holds the template book, error messages queue up to this many before
/// a thread waits for it.
const MAX_PENDING: usize = 64 * BATCH;

/// Error messages waiting for the template book, their text kept in one buffer.
#[derive(Default)]
struct Pending {
    /// Time, and where the host, message and details end in `text`.
    entries: Vec<(i64, [usize; 3])>,
    text: String,
}

impl Pending {
    fn push(&mut self, ts_ms: i64, parts: [&str; 3]) {
        let ends = parts.map(|part| {
            self.text.push_str(part);
            self.text.len()
        });
        self.entries.push((ts_ms, ends));
    }

    /// Each entry as (time, host, message, details), then none.
    fn drain(&mut self, mut each: impl FnMut(i64, &str, &str, &str)) {
        let mut from = 0;
        for &(ts_ms, [host, message, details]) in &self.entries {
            let t = &self.text;
            each(
                ts_ms,
                &t[from..host],
                &t[host..message],
                &t[message..details],
            );
            from = details;
        }
        self.entries.clear();
        self.text.clear();
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Time filter and bucket size of a run.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub bucket_ms: i64,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// Entries of a dimension's key cache (a power of two).
const CACHE: usize = 256;

/// One dimension's series while a thread scans. A key is looked for first in a small
/// direct-mapped cache indexed by a hash of its first and last bytes, which holds those bytes
/// too (the hosts, services, pools and servers of a run are few, so nearly every lookup ends
/// there, with no pointer to follow), then in a map with a fast hash.
#[derive(Default)]
struct KeyIndex {
    slots: FastMap<Box<str>, usize>,
    series: Vec<(Box<str>, Series)>,
    cache: Cache,
}

/// Per entry: the key's words, and its slot + 1 (0 for none).
struct Cache([(KeyWords, u32); CACHE]);

impl Default for Cache {
    fn default() -> Self {
        Cache([(KeyWords::default(), 0); CACHE])
    }
}

impl KeyIndex {
    /// The slot of `key`, made if new.
    #[inline(always)]
    fn slot(&mut self, key: &str) -> usize {
        let words = KeyWords::of(key);
        let at = (words.hash() >> (64 - CACHE.trailing_zeros())) as usize;
        let (cached_words, cached) = self.cache.0[at];
        if cached > 0
            && cached_words == words
            && (words.whole() || same_key(&self.series[cached as usize - 1].0, key))
        {
            return cached as usize - 1;
        }
        self.slot_slow(key, words, at)
    }

    #[cold]
    #[inline(never)]
    fn slot_slow(&mut self, key: &str, words: KeyWords, at: usize) -> usize {
        let i = match self.slots.get(key) {
            Some(&i) => i,
            None => {
                let i = self.series.len();
                self.series.push((key.into(), Series::default()));
                self.slots.insert(key.into(), i);
                i
            }
        };
        self.cache.0[at] = (words, u32::try_from(i + 1).unwrap_or(0));
        i
    }
}

/// The file whose records are arriving: a file's records nearly all name no host or service
/// of their own, so those are counted once, in the file's own series, and added to its host's
/// and service's series (and to `logs` or `requests`) when the file is done. Set afresh by
/// [`Sink::source`], which comes before each file's (or range's) records.
#[derive(Default)]
struct Current {
    /// The slots of the file's host and service, once a record used them.
    host: Option<usize>,
    service: Option<usize>,
    /// Its host and service are in `access_sources`.
    access_source: bool,
    /// Its application-log records and its requests that name no host or service.
    logs: Series,
    requests: Series,
}

pub struct Aggregator {
    window: Window,
    /// Application-log records (all of them: the traffic of log lines).
    pub logs: Series,
    /// Access-log records (requests).
    pub requests: Series,
    /// Per dimension: key -> series. Host and service count every record; pool and server
    /// count access-log requests. Filled by [`Aggregator::finish`].
    pub keys: [HashMap<String, Series>; 4],
    /// server -> pool, from access logs. Filled by [`Aggregator::finish`].
    pub server_pools: HashMap<String, String>,
    /// The series while scanning, per dimension.
    index: [KeyIndex; 4],
    /// Per server slot, the pool it was first seen in.
    pool_of_server: Vec<Option<Box<str>>>,
    /// Hosts and services that wrote access-log records: they are compared with each other,
    /// not with the hosts and services of application logs (requests are not log lines).
    pub access_sources: [HashSet<String>; 2],
    /// The last (host, service) added to `access_sources`: a file's records share them, so
    /// this spares two set lookups per request.
    last_access_source: Option<(String, String)>,
    current: Option<Current>,
    /// The last bucket a record fell in, and its first millisecond: records come in time
    /// order, so most skip the division.
    last_bucket: Option<(i64, i64)>,
    pending: Pending,
    book: Option<Arc<Mutex<TemplateBook>>>,
}

impl Aggregator {
    pub fn new(window: Window, book: Arc<Mutex<TemplateBook>>) -> Self {
        Aggregator {
            window,
            logs: Series::default(),
            requests: Series::default(),
            keys: Default::default(),
            server_pools: HashMap::new(),
            index: Default::default(),
            pool_of_server: Vec::new(),
            access_sources: Default::default(),
            last_access_source: Default::default(),
            current: None,
            last_bucket: None,
            pending: Pending::default(),
            book: Some(book),
        }
    }

    #[inline(always)]
    fn series(&mut self, dim: Dim, key: &str) -> &mut Series {
        let index = &mut self.index[dim as usize];
        let i = index.slot(key);
        &mut index.series[i].1
    }

    /// Hands queued error messages to the template book.
    pub fn flush(&mut self) {
        self.hand_over(true);
    }

    /// Hands queued error messages to the template book; unless `wait`, only if no other
    /// thread holds it.
    fn hand_over(&mut self, wait: bool) {
        if self.pending.len() == 0 {
            return;
        }
        let Some(book) = &self.book else { return };
        let mut book = match book.try_lock() {
            Ok(book) => book,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) if !wait => return,
            Err(std::sync::TryLockError::WouldBlock) => {
                book.lock().unwrap_or_else(|e| e.into_inner())
            }
        };
        self.pending.drain(|ts_ms, host, message, details| {
            book.add(ts_ms, host, message, details);
        });
    }

    /// Adds the counts of the file that was arriving to its host's and service's series.
    fn end_file(&mut self) {
        let Some(file) = self.current.take() else {
            return;
        };
        for (series, kind) in [
            (&file.logs, &mut self.logs),
            (&file.requests, &mut self.requests),
        ] {
            if series.is_empty() {
                continue;
            }
            kind.merge(series);
            for (dim, slot) in [(Dim::Host, file.host), (Dim::Service, file.service)] {
                if let Some(slot) = slot {
                    self.index[dim as usize].series[slot].1.merge(series);
                }
            }
        }
    }

    /// Hands over the last queued messages, lets go of the template book and fills
    /// [`Aggregator::keys`] and [`Aggregator::server_pools`].
    pub fn finish(&mut self) {
        self.flush();
        self.book = None;
        // The slots it names are about to go.
        self.end_file();
        for (dim, index) in self.index.iter_mut().enumerate() {
            let index = std::mem::take(index);
            if dim == Dim::Server as usize {
                for ((server, _), pool) in index.series.iter().zip(&self.pool_of_server) {
                    if let Some(pool) = pool {
                        self.server_pools
                            .entry(server.to_string())
                            .or_insert_with(|| pool.to_string());
                    }
                }
            }
            for (key, series) in index.series {
                self.keys[dim].entry(key.into()).or_default().merge(&series);
            }
        }
        self.pool_of_server.clear();
    }

    /// Adds another thread's counts to these.
    pub fn merge(&mut self, other: Aggregator) {
        self.logs.merge(&other.logs);
        self.requests.merge(&other.requests);
        for (dim, map) in other.keys.into_iter().enumerate() {
            for (key, series) in map {
                self.keys[dim].entry(key).or_default().merge(&series);
            }
        }
        self.server_pools.extend(other.server_pools);
        for (mine, theirs) in self.access_sources.iter_mut().zip(other.access_sources) {
            mine.extend(theirs);
        }
    }
}

/// Where one record is counted: its bucket, and whether it is an error and a 4xx.
#[derive(Clone, Copy)]
struct Tally {
    bucket: i64,
    error: bool,
    client_error: bool,
}

impl Tally {
    #[inline(always)]
    fn bump(self, s: &mut Series) {
        let c = s.slot(self.bucket);
        c.total += 1;
        c.errors += u64::from(self.error);
        c.client_errors += u64::from(self.client_error);
    }
}

impl Aggregator {
    /// The bucket of `ts`, or `None` outside the window.
    #[inline(always)]
    fn bucket(&mut self, ts: i64) -> Option<i64> {
        let w = self.window;
        if w.from_ms.is_some_and(|f| ts < f) || w.to_ms.is_some_and(|t| ts >= t) {
            return None;
        }
        Some(match self.last_bucket {
            Some((from, bucket))
                if ts
                    .checked_sub(from)
                    .is_some_and(|d| (0..w.bucket_ms).contains(&d)) =>
            {
                bucket
            }
            _ => {
                let bucket = ts.div_euclid(w.bucket_ms);
                self.last_bucket = Some((bucket * w.bucket_ms, bucket));
                bucket
            }
        })
    }

    /// Counts a record (a request when `request`) under its host and service, and overall.
    /// One that names neither (`own`) is counted once, in its file's series.
    #[inline(always)]
    fn count(&mut self, tally: Tally, own: bool, (host, service): (&str, &str), request: bool) {
        match (&mut self.current, own) {
            (Some(file), true) => {
                // Counted once here and added to the host's and service's series later.
                if file.host.is_none() {
                    file.host = Some(self.index[Dim::Host as usize].slot(host));
                }
                if file.service.is_none() {
                    file.service = Some(self.index[Dim::Service as usize].slot(service));
                }
                tally.bump(match request {
                    true => &mut file.requests,
                    false => &mut file.logs,
                });
            }
            // Without a `source` call first, nothing is kept from one record to the next.
            _ => {
                tally.bump(self.series(Dim::Host, host));
                tally.bump(self.series(Dim::Service, service));
                tally.bump(match request {
                    true => &mut self.requests,
                    false => &mut self.logs,
                });
            }
        }
    }

    /// Counts a request under its pool and server, and notes where access logs come from.
    #[inline(always)]
    fn count_access(
        &mut self,
        tally: Tally,
        own: bool,
        (host, service): (&str, &str),
        pool: Option<&str>,
        server: Option<&str>,
    ) {
        let known = own && self.current.as_ref().is_some_and(|f| f.access_source);
        if !known {
            let seen = self
                .last_access_source
                .as_ref()
                .is_some_and(|(h, s)| same_key(h, host) && same_key(s, service));
            if !seen {
                self.last_access_source = Some((host.to_string(), service.to_string()));
                for (set, key) in self.access_sources.iter_mut().zip([host, service]) {
                    if !set.contains(key) {
                        set.insert(key.to_string());
                    }
                }
            }
            if let Some(file) = &mut self.current {
                file.access_source |= own;
            }
        }
        if let Some(pool) = pool {
            tally.bump(self.series(Dim::Pool, pool));
        }
        if let Some(server) = server {
            let index = &mut self.index[Dim::Server as usize];
            let i = index.slot(server);
            tally.bump(&mut index.series[i].1);
            if i >= self.pool_of_server.len() {
                self.pool_of_server.resize(i + 1, None);
            }
            if let (None, Some(pool)) = (&self.pool_of_server[i], pool) {
                self.pool_of_server[i] = Some(pool.into());
            }
        }
    }
}

impl Sink for Aggregator {
    fn detail(&self) -> Detail {
        Detail::Counts
    }

    fn source(&mut self, _source: &SourceInfo) {
        self.end_file();
        self.current = Some(Current::default());
    }

    fn record(&mut self, source: &SourceInfo, record: &Record<'_>) {
        let line = &record.line;
        let Some(ts) = line.ts_ms else { return };
        let Some(bucket) = self.bucket(ts) else {
            return;
        };
        let error = line.is_error();
        let tally = Tally {
            bucket,
            error,
            client_error: line
                .access
                .as_ref()
                .is_some_and(|a| (400..500).contains(&a.status)),
        };
        let own = line.host.is_none() && line.service.is_none();
        let host = line.host.unwrap_or(&source.host);
        let service = line.service.unwrap_or(&source.service);
        self.count(tally, own, (host, service), line.access.is_some());
        if let Some(access) = &line.access {
            self.count_access(tally, own, (host, service), access.pool, access.server);
        } else if error {
            self.pending.push(ts, [host, line.message, record.details]);
            if self.pending.len().is_multiple_of(BATCH) {
                self.hand_over(self.pending.len() >= MAX_PENDING);
            }
        }
    }

    // Kept out of the scanner's loop, which stays small enough for the parsers to be inlined.
    #[inline(never)]
    fn request(&mut self, source: &SourceInfo, request: &Request<'_>, _line_no: u64) {
        let Some(bucket) = self.bucket(request.ts_ms) else {
            return;
        };
        let tally = Tally {
            bucket,
            error: false,
            client_error: (400..500).contains(&request.status),
        };
        let names = (source.host.as_str(), source.service.as_str());
        self.count(tally, true, names, true);
        self.count_access(tally, true, names, request.pool, request.server);
    }
}
