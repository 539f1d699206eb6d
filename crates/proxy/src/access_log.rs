//! JSON access log: one line per request, written by a background thread so that a slow disk
//! never stalls the data path. Lines that do not fit in the queue are dropped and counted.

use std::io::Write;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use prometheus_client::metrics::counter::Counter;
use serde::Serialize;

use crate::metrics::Metrics;

/// Lines buffered between the data path and the writer thread.
const QUEUE_LINES: usize = 64 * 1024;

/// One request as the access log records it.
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

enum Message {
    Line(String),
    Flush(mpsc::Sender<()>),
}

/// Handle to the access log; cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    tx: Option<SyncSender<Message>>,
    dropped: Counter,
}

impl AccessLog {
    /// An access log that records nothing.
    pub fn off() -> Self {
        AccessLog {
            tx: None,
            dropped: Counter::default(),
        }
    }

    /// Writes lines to `out` from a background thread.
    pub fn to_writer(out: Box<dyn Write + Send>, metrics: &Metrics) -> Self {
        let dropped = metrics.access_log_dropped.clone();
        let (tx, rx) = mpsc::sync_channel(QUEUE_LINES);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_loop(rx, out))
            .expect("spawning the access-log thread");
        AccessLog {
            tx: Some(tx),
            dropped,
        }
    }

    pub fn is_on(&self) -> bool {
        self.tx.is_some()
    }

    pub fn log(&self, record: &AccessRecord) {
        let Some(tx) = &self.tx else { return };
        let mut line = serde_json::to_string(record).expect("records always serialize");
        line.push('\n');
        if let Err(TrySendError::Full(_)) = tx.try_send(Message::Line(line)) {
            self.dropped.inc();
        }
    }

    /// Waits until every line logged so far is written out.
    pub fn flush(&self) {
        let Some(tx) = &self.tx else { return };
        let (done_tx, done_rx) = mpsc::channel();
        if tx.send(Message::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv();
        }
    }
}

fn write_loop(rx: Receiver<Message>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Message::Line(line) => {
                    let _ = out.write_all(line.as_bytes());
                }
                Message::Flush(done) => {
                    let _ = out.flush();
                    let _ = done.send(());
                }
            }
            next = rx.try_recv().ok();
        }
        let _ = out.flush();
    }
}
