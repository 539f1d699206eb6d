//! Following one request across every service: each record that carries the request id (or
//! names it in its message), in time order.

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
    pub server: Option<String>,
    pub file: PathBuf,
    pub line: u64,
}

struct Finder<'a> {
    id: &'a str,
    hops: Vec<Hop>,
}

impl Sink for Finder<'_> {
    fn record(&mut self, source: &SourceInfo, record: &Record<'_>) {
        let line = &record.line;
        let matches = line.request_id == Some(self.id) || line.message.contains(self.id);
        let Some(ts) = line.ts_ms.filter(|_| matches) else {
            return;
        };
        self.hops.push(Hop {
            ts: crate::analysis::findings::ms_to_time(ts),
            host: line.host.unwrap_or(&source.host).to_string(),
            service: line.service.unwrap_or(&source.service).to_string(),
            level: line.level,
            message: line.message.to_string(),
            details: record.details.to_string(),
            status: line.access.as_ref().map(|a| a.status),
            server: line
                .access
                .as_ref()
                .and_then(|a| a.server.map(str::to_string)),
            file: source.path.clone(),
            line: record.line_no,
        });
    }
}

/// Every record of request `id` under `paths`, oldest first.
pub fn trace(paths: &[PathBuf], id: &str, options: &InputOptions) -> Result<Vec<Hop>, InputError> {
    let mut finder = Finder {
        id,
        hops: Vec::new(),
    };
    for file in input::expand(paths)? {
        input::scan_file(&file, options, &mut finder)?;
    }
    finder
        .hops
        .sort_by(|a, b| a.ts.cmp(&b.ts).then(a.host.cmp(&b.host)));
    Ok(finder.hops)
}
