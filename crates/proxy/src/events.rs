//! Runtime facts the proxy reports for the event log: health transitions, ejections, pools
//! with no healthy server, saturation. The proxy never writes them anywhere itself; whoever
//! built it (the binary) drains the channel into the version store.

use serde::Serialize;
pub use switchyard_store::EventKind;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// One runtime fact.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProxyEvent {
    /// One of the runtime kinds: health, ejection, return, all-unhealthy, recovered, saturation.
    pub kind: EventKind,
    pub pool: String,
    pub server: Option<String>,
    pub details: serde_json::Value,
}

/// Where events go; cheap to clone. Sending never blocks the data path.
#[derive(Debug, Clone, Default)]
pub struct EventSink {
    tx: Option<UnboundedSender<ProxyEvent>>,
}

impl EventSink {
    /// Events are dropped.
    pub fn none() -> Self {
        EventSink { tx: None }
    }

    /// A sink and the receiver to drain it.
    pub fn channel() -> (Self, UnboundedReceiver<ProxyEvent>) {
        let (tx, rx) = unbounded_channel();
        (EventSink { tx: Some(tx) }, rx)
    }

    pub(crate) fn send(&self, event: ProxyEvent) {
        let server = event.server.as_deref().unwrap_or("-");
        tracing::info!(
            kind = event.kind.as_str(),
            pool = %event.pool,
            server,
            details = %event.details,
            "{} {} {}: {}",
            event.kind,
            event.pool,
            server,
            event.details["reason"].as_str().unwrap_or("")
        );
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }
}
