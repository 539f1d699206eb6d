//! Following one request across every service: each record that carries the request id (or
//! names it in its message), in time order.
//!
//! A W3C trace id (32 hex digits) is followed too: records that carry it (OTel logs, access
//! logs of a proxy that exports spans), and every record of the request ids those name, so
//! access-log lines, application lines and OTel records of one trace come out together.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::input::{self, InputError, InputOptions, Record, Sink, SourceInfo};

#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub ts: chrono::DateTime<chrono::Utc>,
    pub host: String,
    pub service: String,
    pub level: Option<crate::record::Level>,
    pub message: String,
    pub details: String,
    pub status: Option<u16>,
    /// Access-log lines: the request and where it went.
    pub method: Option<String>,
    pub path: Option<String>,
    pub pool: Option<String>,
    pub server: Option<String>,
    pub upstream_status: Option<u16>,
    pub duration_ms: Option<f64>,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
    pub file: PathBuf,
    pub line: u64,
}

struct Finder<'a> {
    id: &'a str,
    /// Request ids of records that carry the trace id `id`.
    requests: HashSet<String>,
    hops: Vec<Hop>,
}

/// Whether `id` is a W3C trace id: 32 hex digits, not all zero.
pub fn is_trace_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0')
}

/// Trace ids compare without case and without the `0x` some SDKs print before them.
fn same_trace(written: &str, id: &str) -> bool {
    written
        .strip_prefix("0x")
        .unwrap_or(written)
        .eq_ignore_ascii_case(id)
}

/// First pass for a trace id: the request ids its records name.
struct RequestsOfTrace<'a> {
    id: &'a str,
    requests: HashSet<String>,
}

impl Sink for RequestsOfTrace<'_> {
    fn record(&mut self, _: &SourceInfo, record: &Record<'_>) {
        let line = &record.line;
        if line.trace_id.is_some_and(|t| same_trace(t, self.id)) {
            if let Some(r) = line.request_id.filter(|r| !r.eq_ignore_ascii_case(self.id)) {
                if !self.requests.contains(r) {
                    self.requests.insert(r.to_string());
                }
            }
        }
    }
}

impl Sink for Finder<'_> {
    fn record(&mut self, source: &SourceInfo, record: &Record<'_>) {
        let line = &record.line;
        let matches = line.request_id == Some(self.id)
            || line.trace_id.is_some_and(|t| same_trace(t, self.id))
            || line.request_id.is_some_and(|r| self.requests.contains(r))
            || line.message.contains(self.id)
            || self
                .requests
                .iter()
                .any(|r| line.message.contains(r.as_str()));
        let Some(ts) = line.ts_ms.filter(|_| matches) else {
            return;
        };
        let access = line.access.as_ref();
        self.hops.push(Hop {
            ts: crate::analysis::findings::ms_to_time(ts),
            host: line.host.unwrap_or(&source.host).to_string(),
            service: line.service.unwrap_or(&source.service).to_string(),
            level: line.level,
            message: line.message.to_string(),
            details: record.details.to_string(),
            status: access.map(|a| a.status),
            method: access.and_then(|a| a.method.map(str::to_string)),
            path: access.and_then(|a| a.path.map(str::to_string)),
            pool: access.and_then(|a| a.pool.map(str::to_string)),
            server: access.and_then(|a| a.server.map(str::to_string)),
            upstream_status: access.and_then(|a| a.upstream_status),
            duration_ms: access.and_then(|a| a.duration_ms?.parse().ok()),
            request_id: line.request_id.map(str::to_string),
            trace_id: line.trace_id.map(str::to_string),
            file: source.path.clone(),
            line: record.line_no,
        });
    }
}

impl Hop {
    /// `GET /api/items/7 -> pool api, server api-3: upstream 404 in 3.2ms` for access-log
    /// lines; the message otherwise.
    pub fn describe(&self) -> String {
        if self.method.is_none() && self.pool.is_none() && self.server.is_none() {
            return self.message.clone();
        }
        let mut s = format!(
            "{} {}",
            self.method.as_deref().unwrap_or("-"),
            self.path.as_deref().unwrap_or("-")
        );
        s.push_str(&format!(
            " -> pool {}, server {}",
            self.pool.as_deref().unwrap_or("-"),
            self.server.as_deref().unwrap_or("-")
        ));
        match self.upstream_status {
            Some(u) => s.push_str(&format!(": upstream {u}")),
            None => s.push_str(": no upstream answer"),
        }
        if let Some(d) = self.duration_ms {
            s.push_str(&format!(" in {d}ms"));
        }
        if !self.message.is_empty() {
            s.push_str(&format!(" ({})", self.message));
        }
        s
    }
}

/// Every record of request `id` under `paths`, oldest first. A W3C trace id also brings the
/// records of every request id that its records name.
pub fn trace(paths: &[PathBuf], id: &str, options: &InputOptions) -> Result<Vec<Hop>, InputError> {
    let files = input::expand(paths)?;
    let mut requests = HashSet::new();
    if is_trace_id(id) {
        let mut first = RequestsOfTrace {
            id,
            requests: HashSet::new(),
        };
        for file in &files {
            input::scan_file(file, options, &mut first)?;
        }
        requests = first.requests;
    }
    let mut finder = Finder {
        id,
        requests,
        hops: Vec::new(),
    };
    for file in files {
        input::scan_file(&file, options, &mut finder)?;
    }
    finder
        .hops
        .sort_by(|a, b| a.ts.cmp(&b.ts).then(a.host.cmp(&b.host)));
    Ok(finder.hops)
}
