//! JSON access log: one line per request, formatted on the request's thread into a per-thread
//! buffer and handed to a writer thread in batches of tens of kilobytes, so the data path makes
//! no write and wakes no thread per line. The writer also sweeps the buffers every
//! [`FLUSH_EVERY`], so a line reaches the file within that time on a quiet proxy (nginx's
//! `buffer=`/`flush=`). Batches that do not fit in the queue are dropped and counted.

use std::cell::RefCell;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use serde::Serialize;

use crate::metrics::Metrics;

/// A thread's buffer is handed to the writer once it holds this much.
const BATCH_BYTES: usize = 32 * 1024;
/// Batches queued for the writer before new ones are dropped.
const QUEUE_BATCHES: usize = 512;
/// Longest time a line waits in a buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Buffers, one per thread slot.
const SHARDS: usize = 16;

/// One request as the access log records it; fields in the order they are written.
#[derive(Debug, Clone, Serialize)]
pub struct AccessRecord {
    /// RFC 3339 with milliseconds, UTC.
    pub ts: String,
    pub request_id: String,
    pub client: String,
    pub listener: String,
    pub method: String,
    pub path: String,
    pub host: String,
    pub protocol: &'static str,
    pub status: u16,
    pub pool: Option<String>,
    pub server: Option<String>,
    pub server_address: Option<String>,
    pub upstream_status: Option<u16>,
    /// From receiving the request to the end of the response body.
    pub duration_ms: f64,
    pub bytes_sent: u64,
    pub attempts: u32,
    /// Short reason when the proxy failed the request or the transfer broke off.
    pub error: Option<&'static str>,
}

/// The same line with borrowed fields, as the HTTP/1 engine writes it without copying.
#[derive(Debug, Serialize)]
pub(crate) struct Entry<'a> {
    pub ts: Timestamp,
    pub request_id: &'a str,
    pub client: std::net::SocketAddr,
    pub listener: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub host: &'a str,
    pub protocol: &'static str,
    pub status: u16,
    pub pool: Option<&'a str>,
    pub server: Option<&'a str>,
    pub server_address: Option<std::net::SocketAddr>,
    pub upstream_status: Option<u16>,
    pub duration_ms: f64,
    pub bytes_sent: u64,
    pub attempts: u32,
    pub error: Option<&'static str>,
    /// Written only when spans are exported (`[tracing]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
}

/// A W3C trace id, written as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TraceId(pub u128);

impl Serialize for TraceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex = crate::otel::trace_hex(self.0);
        s.serialize_str(std::str::from_utf8(&hex).unwrap_or_default())
    }
}

/// A wall-clock instant in milliseconds, written as RFC 3339 UTC with milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timestamp(pub u64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        )
    }
}

thread_local! {
    /// The second last formatted and its `YYYY-MM-DDTHH:MM:SS.` prefix.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (secs, millis) = (self.0 / 1000, self.0 % 1000);
        SECOND.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != secs {
                let t = chrono::DateTime::from_timestamp(secs as i64, 0).unwrap_or_default();
                cache.1 = t.format("%Y-%m-%dT%H:%M:%S.").to_string();
                cache.0 = secs;
            }
            let mut text = [0u8; 32];
            let prefix = cache.1.as_bytes();
            text[..prefix.len()].copy_from_slice(prefix);
            let n = prefix.len();
            text[n] = b'0' + (millis / 100) as u8;
            text[n + 1] = b'0' + (millis / 10 % 10) as u8;
            text[n + 2] = b'0' + (millis % 10) as u8;
            text[n + 3] = b'Z';
            s.serialize_str(std::str::from_utf8(&text[..n + 4]).unwrap_or_default())
        })
    }
}

impl AccessRecord {
    /// The start time of this record in RFC 3339, as [`Entry`] writes it.
    pub(crate) fn timestamp(at: Timestamp) -> String {
        serde_json::to_value(at)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

enum Message {
    Batch(Vec<u8>),
    Flush(mpsc::Sender<()>),
}

#[derive(Default)]
struct Shard {
    buf: Vec<u8>,
    lines: u64,
}

struct Inner {
    tx: SyncSender<Message>,
    shards: Vec<Mutex<Shard>>,
    dropped: Counter,
}

/// Handle to the access log; cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    inner: Option<Arc<Inner>>,
}

static NEXT_THREAD: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's shard; worker threads get distinct ones.
    static SHARD: usize = (NEXT_THREAD.fetch_add(1, Ordering::Relaxed) as usize) % SHARDS;
}

impl AccessLog {
    /// An access log that records nothing.
    pub fn off() -> Self {
        AccessLog { inner: None }
    }

    /// Writes lines to `out` from a background thread.
    pub fn to_writer(out: Box<dyn Write + Send>, metrics: &Metrics) -> Self {
        let (tx, rx) = mpsc::sync_channel(QUEUE_BATCHES);
        let inner = Arc::new(Inner {
            tx,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            dropped: metrics.access_log_dropped.clone(),
        });
        let weak = Arc::downgrade(&inner);
        let write_errors = metrics.access_log_write_errors.clone();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_loop(rx, out, weak, write_errors))
            .expect("spawning the access-log thread");
        AccessLog { inner: Some(inner) }
    }

    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Appends one line for `entry`.
    pub(crate) fn write(&self, entry: &Entry<'_>) {
        self.append(entry);
    }

    /// Appends one line for an owned record.
    pub fn log(&self, record: &AccessRecord) {
        self.append(record);
    }

    fn append<T: Serialize>(&self, line: &T) {
        let Some(inner) = &self.inner else { return };
        let shard = SHARD.with(|s| *s);
        let full = {
            let mut shard = inner.shards[shard]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let before = shard.buf.len();
            if serde_json::to_writer(&mut shard.buf, line).is_err() {
                shard.buf.truncate(before);
                return;
            }
            shard.buf.push(b'\n');
            shard.lines += 1;
            (shard.buf.len() >= BATCH_BYTES).then(|| take(&mut shard))
        };
        if let Some((batch, lines)) = full {
            inner.send(batch, lines);
        }
    }

    /// Waits until every line logged so far is written out.
    pub fn flush(&self) {
        let Some(inner) = &self.inner else { return };
        inner.sweep();
        let (done_tx, done_rx) = mpsc::channel();
        if inner.tx.send(Message::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv();
        }
    }
}

fn take(shard: &mut Shard) -> (Vec<u8>, u64) {
    let lines = std::mem::take(&mut shard.lines);
    (
        std::mem::replace(&mut shard.buf, Vec::with_capacity(BATCH_BYTES + 1024)),
        lines,
    )
}

impl Inner {
    fn send(&self, batch: Vec<u8>, lines: u64) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(Message::Batch(batch)) {
            self.dropped.inc_by(lines);
        }
    }

    /// Hands every non-empty buffer to the writer.
    fn sweep(&self) {
        for shard in &self.shards {
            let batch = {
                let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
                (!shard.buf.is_empty()).then(|| {
                    let lines = std::mem::take(&mut shard.lines);
                    (std::mem::take(&mut shard.buf), lines)
                })
            };
            if let Some((batch, lines)) = batch {
                self.send(batch, lines);
            }
        }
    }
}

fn write_loop(
    rx: Receiver<Message>,
    mut out: Box<dyn Write + Send>,
    inner: Weak<Inner>,
    write_errors: Counter,
) {
    let mut write = |bytes: &[u8]| {
        if out.write_all(bytes).is_err() {
            write_errors.inc();
        }
    };
    loop {
        match rx.recv_timeout(FLUSH_EVERY) {
            Ok(Message::Batch(batch)) => write(&batch),
            Ok(Message::Flush(done)) => {
                let _ = done.send(());
            }
            Err(RecvTimeoutError::Timeout) => match inner.upgrade() {
                Some(inner) => inner.sweep(),
                None => return,
            },
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn entry(ts: u64) -> Entry<'static> {
        Entry {
            ts: Timestamp(ts),
            request_id: "id\"1",
            client: "127.0.0.1:5000".parse().unwrap(),
            listener: "web",
            method: "GET",
            path: "/a",
            host: "example.com",
            protocol: "HTTP/1.1",
            status: 200,
            pool: Some("p"),
            server: None,
            server_address: None,
            upstream_status: Some(200),
            duration_ms: 1.5,
            bytes_sent: 12,
            attempts: 1,
            error: None,
            trace_id: None,
        }
    }

    #[test]
    fn lines_are_batched_and_flushed() {
        let sink = Sink::default();
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = Metrics::register(&mut registry);
        let log = AccessLog::to_writer(Box::new(sink.clone()), &metrics);
        log.write(&entry(1_764_550_967_042));
        assert!(sink.0.lock().unwrap().is_empty(), "one line stays buffered");
        log.flush();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "{\"ts\":\"2025-12-01T01:02:47.042Z\",\"request_id\":\"id\\\"1\",\"client\":\"127.0.0.1:5000\",\"listener\":\"web\",\"method\":\"GET\",\"path\":\"/a\",\"host\":\"example.com\",\"protocol\":\"HTTP/1.1\",\"status\":200,\"pool\":\"p\",\"server\":null,\"server_address\":null,\"upstream_status\":200,\"duration_ms\":1.5,\"bytes_sent\":12,\"attempts\":1,\"error\":null}\n"
        );
    }

    #[test]
    fn the_writer_sweeps_on_its_own() {
        let sink = Sink::default();
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = Metrics::register(&mut registry);
        let log = AccessLog::to_writer(Box::new(sink.clone()), &metrics);
        log.write(&entry(0));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "line never written");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
