//! One triage run: the files are split into units of work (whole files, or byte ranges of big
//! plain files), scanned on every core, and the per-thread counts merged.

use std::collections::VecDeque;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::analysis::aggregate::{Aggregator, Window};
use crate::analysis::findings::{self, Findings};
use crate::analysis::templates::TemplateBook;
use crate::changes::Change;
use crate::input::{self, InputError, InputOptions, Skipped};

/// Files larger than this are scanned in parallel byte ranges of about this size (at least
/// two per thread), so that no thread is left with a long range when the others are done.
const RANGE_BYTES: u64 = 32 * 1024 * 1024;

pub struct TriageOptions {
    /// Width of a time bucket. Default one minute.
    pub bucket: Duration,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub input: InputOptions,
    /// Scanning threads; default one per core.
    pub threads: usize,
}

/// The counts of a run, before conclusions.
pub struct Scan {
    pub aggregate: Aggregator,
    pub templates: TemplateBook,
    pub skipped: Skipped,
    pub files: usize,
    pub bytes: u64,
    pub bucket_ms: i64,
}

enum Unit {
    File(PathBuf),
    Range(PathBuf, Range<u64>),
}

/// Reads every file under `paths`. `progress` is called with the bytes read so far.
pub fn scan(
    paths: &[PathBuf],
    options: &TriageOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Scan, InputError> {
    let files = input::expand(paths)?;
    let threads = options.threads.max(1);
    // (bytes, unit), read largest first: the small units at the end fill the gaps.
    let mut units = Vec::new();
    let mut bytes = 0;
    for f in &files {
        let size = file_size(f);
        bytes += size;
        let compressed = f.extension().is_some_and(|e| e == "gz");
        if size > 2 * RANGE_BYTES
            && !compressed
            && threads > 1
            && options.input.format_hint.is_none()
        {
            let n = (size / RANGE_BYTES).max(threads as u64 * 2) as usize;
            if let Ok(ranges) = input::chunks(f, n) {
                for r in ranges {
                    units.push((r.end - r.start, Unit::Range(f.clone(), r)));
                }
                continue;
            }
        }
        units.push((size, Unit::File(f.clone())));
    }
    // Stable: units of the same size keep the walk's order.
    units.sort_by_key(|u| std::cmp::Reverse(u.0));
    let units: VecDeque<Unit> = units.into_iter().map(|(_, u)| u).collect();
    let bucket_ms = (options.bucket.as_millis() as i64).max(1000);
    let window = Window {
        bucket_ms,
        from_ms: options.from.map(|t| t.timestamp_millis()),
        to_ms: options.to.map(|t| t.timestamp_millis()),
    };
    let book = Arc::new(Mutex::new(TemplateBook::default()));
    let queue = Mutex::new(units);
    let done = AtomicU64::new(0);
    let results: Vec<Result<(Aggregator, Skipped), InputError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let book = book.clone();
                let (queue, done) = (&queue, &done);
                scope.spawn(move || {
                    let mut agg = Aggregator::new(window, book);
                    let mut skipped = Skipped::default();
                    loop {
                        let unit = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                        let Some(unit) = unit else { break };
                        let (path, size, result) = match unit {
                            Unit::File(p) => {
                                let size = file_size(&p);
                                let r = input::scan_file(&p, &options.input, &mut agg);
                                (p, size, r)
                            }
                            Unit::Range(p, r) => {
                                let size = r.end - r.start;
                                let res = input::scan_range(&p, r, &options.input, &mut agg);
                                (p, size, res)
                            }
                        };
                        match result {
                            Ok(s) => skipped.add(&s),
                            Err(e) if is_unreadable(&e) => {
                                skipped.unreadable_files += 1;
                                let _ = path;
                            }
                            Err(e) => return Err(e),
                        }
                        progress(done.fetch_add(size, Ordering::Relaxed) + size);
                    }
                    agg.finish();
                    Ok((agg, skipped))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a scanning thread panicked"))
            .collect()
    });
    let mut merged: Option<Aggregator> = None;
    let mut skipped = Skipped::default();
    for r in results {
        let (agg, s) = r?;
        skipped.add(&s);
        match &mut merged {
            None => merged = Some(agg),
            Some(m) => m.merge(agg),
        }
    }
    let aggregate = merged.unwrap_or_else(|| {
        let mut empty = Aggregator::new(window, book.clone());
        empty.finish();
        empty
    });
    let templates = Arc::try_unwrap(book)
        .ok()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_default();
    Ok(Scan {
        aggregate,
        templates,
        skipped,
        files: files.len(),
        bytes,
        bucket_ms,
    })
}

/// The whole walk: scan, then conclude with `changes` on the same timeline.
pub fn triage(
    paths: &[PathBuf],
    changes: &[Change],
    options: &TriageOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Findings, Scan), InputError> {
    let scan = scan(paths, options, progress)?;
    let findings = findings::build(
        &scan.aggregate,
        &scan.templates,
        changes,
        scan.skipped.clone(),
        scan.bucket_ms,
    );
    Ok((findings, scan))
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Errors about one file, which cost that file and not the run.
fn is_unreadable(e: &InputError) -> bool {
    matches!(e, InputError::Open { .. } | InputError::Read { .. })
}
