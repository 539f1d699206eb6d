//! The input side of triage over real files: formats, multi-line records, time zones,
//! garbage, `.gz`, directory layouts, globs and parallel chunks.

mod damage;
mod files;
mod formats;
mod parallel;

use std::io::Write;
use std::path::{Path, PathBuf};

use switchyard_triage::input::{
    self, chunks, detect, expand, scan_file, scan_range, source_info, Format, InputError,
    InputOptions, Record, Skipped, SourceInfo,
};
use switchyard_triage::record::Level;

/// A record with everything owned, to compare across scans.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    host: String,
    service: String,
    format: Format,
    ts: Option<i64>,
    level: Option<Level>,
    message: String,
    record_host: Option<String>,
    record_service: Option<String>,
    request_id: Option<String>,
    status: Option<u16>,
    upstream_status: Option<u16>,
    method: Option<String>,
    path: Option<String>,
    pool: Option<String>,
    server: Option<String>,
    error: Option<String>,
    details: String,
    line_no: u64,
}

impl Rec {
    fn new(source: &SourceInfo, r: &Record<'_>) -> Rec {
        let s = |o: Option<&str>| o.map(str::to_string);
        let a = r.line.access.as_ref();
        Rec {
            host: source.host.clone(),
            service: source.service.clone(),
            format: source.format,
            ts: r.line.ts_ms,
            level: r.line.level,
            message: r.line.message.to_string(),
            record_host: s(r.line.host),
            record_service: s(r.line.service),
            request_id: s(r.line.request_id),
            status: a.map(|a| a.status),
            upstream_status: a.and_then(|a| a.upstream_status),
            method: s(a.and_then(|a| a.method)),
            path: s(a.and_then(|a| a.path)),
            pool: s(a.and_then(|a| a.pool)),
            server: s(a.and_then(|a| a.server)),
            error: s(a.and_then(|a| a.error)),
            details: r.details.to_string(),
            line_no: r.line_no,
        }
    }
}

fn opts() -> InputOptions {
    InputOptions {
        year: 2025,
        ..InputOptions::default()
    }
}

fn scan(path: &Path, options: &InputOptions) -> (Vec<Rec>, Skipped) {
    let mut out = Vec::new();
    let skipped = scan_file(path, options, &mut |s: &SourceInfo, r: &Record<'_>| {
        out.push(Rec::new(s, r))
    })
    .unwrap_or_else(|e| panic!("scanning {}: {e}", path.display()));
    (out, skipped)
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    path
}

fn gzip(content: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(content).unwrap();
    enc.finish().unwrap()
}

/// 2025-11-13T10:23:15Z
const T0: i64 = 1_763_029_395_000;

const SEED_FRONTEND: &str = "\
2025-11-13 10:23:14 INFO: request served in 12ms
2025-11-13 10:23:15 ERROR: Database connection timeout
  Server: frontend-02
  Query: SELECT * FROM orders WHERE user_id = 42
  Connection pool: 95/100 connections in use
2025-11-13 10:23:16 WARN: retrying
  attempt: 2
2025-11-13 10:23:17 ERROR: Database connection timeout
Server: frontend-02
Connection pool: 96/100 connections in use
";

/// A deterministic plain log: multi-line errors, a garbage prefix and some garbage lines.
fn generated_log(records: usize) -> Vec<u8> {
    let mut out = b"header line without a timestamp\n".to_vec();
    let mut x: u64 = 42;
    for i in 0..records {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let ms = i as i64 * 37;
        let (s, m) = (ms / 1000 % 60, ms / 60_000 % 60);
        let level = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"][(x % 6) as usize];
        out.extend_from_slice(
            format!(
                "2025-11-13 10:{m:02}:{s:02}.{:03} {level} svc: request {} done\n",
                ms % 1000,
                x % 100_000
            )
            .as_bytes(),
        );
        match x % 11 {
            0 => out.extend_from_slice(
                b"  Server: frontend-02\n  Connection pool: 95/100 connections in use\n",
            ),
            1 => out.extend_from_slice(b"\tat com.shop.Db.query(Db.java:42)\n\n"),
            2 if i % 7 == 0 => out.extend_from_slice(b"  \xff broken bytes\n"),
            3 if i % 13 == 0 => out.extend_from_slice(b"\x00\x00\x00\n"),
            _ => {}
        }
    }
    out
}
