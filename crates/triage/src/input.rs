//! Log input: finding the files, telling each one's format, and turning its lines into
//! [`Record`]s for a [`Sink`].
//!
//! - [`expand`] turns PATH arguments (files, directories, globs) into files; `.gz` files are
//!   read transparently. [`source_info`] names a file's host and service from the layout.
//! - [`detect`] tells a file's [`Format`] from its first lines; [`InputOptions::format_hint`]
//!   forces one.
//! - [`scan_file`] reads a file and hands every record to a [`Sink`]; [`chunks`] and
//!   [`scan_range`] split a large file so that several threads can read it at once.
//!
//! Parsing borrows from the read buffer: a record that is not an error costs no allocation.
//! Garbage (binary, invalid UTF-8, unparsable or truncated lines, lines before a file's first
//! record) never stops a scan; it is counted in [`Skipped`].
//!
//! What a record means (error rates, templates, onsets) belongs to the rest of the crate.
//!
//! ```no_run
//! use switchyard_triage::input::{self, InputOptions, Record, SourceInfo};
//!
//! let roots = vec!["logs".into()];
//! let options = InputOptions { roots: roots.clone(), ..InputOptions::default() };
//! let mut errors = 0;
//! let mut sink = |_: &SourceInfo, r: &Record<'_>| errors += r.line.is_error() as u64;
//! for path in input::expand(&roots)? {
//!     let skipped = input::scan_file(&path, &options, &mut sink)?;
//!     eprintln!("{}: {} lines skipped", path.display(), skipped.total());
//! }
//! # Ok::<(), input::InputError>(())
//! ```

mod bytes;
mod combined;
mod detect;
mod error;
mod files;
mod json;
mod level;
mod open;
mod otlp;
mod plain;
mod scan;
mod syslog;
mod time;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use error::InputError;

use crate::record::{Detail, Line, Request};
use open::Opened;
use scan::{Parser, Scanner};

/// How a file's lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Application logs: `2025-11-13 10:23:15 ERROR: message`, with continuation lines.
    Plain,
    /// JSON lines, Switchyard's access and stderr logs among them.
    Json,
    /// nginx/Apache access logs, combined or common.
    Combined,
    /// Syslog as RFC 3164 and traditional files write it: `Nov 13 10:23:15 host app[1]: msg`.
    Syslog3164,
    /// Syslog RFC 5424: `<34>1 2025-11-13T10:23:15.003Z host app 123 ID47 - msg`.
    Syslog5424,
    /// OpenTelemetry logs as the Collector's file exporter writes them: OTLP/JSON lines of
    /// `resourceLogs`, each holding many records.
    Otlp,
}

impl Format {
    /// Every format, in the order [`Format::name`]s are listed to a person.
    pub const ALL: [Format; 6] = [
        Format::Plain,
        Format::Json,
        Format::Combined,
        Format::Syslog3164,
        Format::Syslog5424,
        Format::Otlp,
    ];

    /// The name `--format-hint` takes: `plain`, `json`, `combined`, `syslog3164`, `syslog5424`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Json => "json",
            Format::Combined => "combined",
            Format::Syslog3164 => "syslog3164",
            Format::Syslog5424 => "syslog5424",
            Format::Otlp => "otlp",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of [`Format::name`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format {0:?}: use one of plain, json, combined (also common, nginx, apache), syslog3164 (rfc3164, syslog), syslog5424 (rfc5424), otlp (otel)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Reads [`Format::name`]s and a few other names people use (`rfc3164`, `nginx`, ...).
    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "plain" | "text" | "app" => Format::Plain,
            "json" | "jsonl" | "ndjson" => Format::Json,
            "combined" | "common" | "clf" | "nginx" | "apache" => Format::Combined,
            "syslog3164" | "rfc3164" | "syslog" | "bsd" => Format::Syslog3164,
            "syslog5424" | "rfc5424" => Format::Syslog5424,
            "otlp" | "otel" | "opentelemetry" => Format::Otlp,
            _ => return Err(UnknownFormat(s.to_string())),
        })
    }
}

/// Where records come from: a file, the host and service its place in the layout names, and
/// its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub path: PathBuf,
    /// From the layout (see [`source_info`]); a record that names its own host overrides it
    /// through [`Line::host`].
    pub host: String,
    /// From the file name (see [`source_info`]); overridden per record by [`Line::service`].
    pub service: String,
    pub format: Format,
}

/// One record: its first line parsed, plus continuation lines (indented details, stack traces).
/// `details` holds the continuation text joined with '\n' and is filled ONLY when
/// `line.is_error()` (to keep the common path free).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub line: Line<'a>,
    /// Continuation lines as written (indentation kept), without empty or garbage lines.
    pub details: &'a str,
    /// 1-based number of the record's first line, counted from the start of what was
    /// scanned: the file for [`scan_file`] and for ranges that start at 0; the range's first
    /// line otherwise.
    pub line_no: u64,
}

/// Where records go. Closures `FnMut(&SourceInfo, &Record)` are sinks too.
pub trait Sink {
    /// Takes one record of `source`. Records of one file arrive in file order.
    fn record(&mut self, source: &SourceInfo, record: &Record<'_>);

    /// Takes a record that is a request, not an error, read only as far as counting needs
    /// (only a sink that asks for [`Detail::Counts`] gets these). Default: the same as the
    /// record it stands for, without details.
    fn request(&mut self, source: &SourceInfo, request: &Request<'_>, line_no: u64) {
        let record = Record {
            line: request.line(),
            details: "",
            line_no,
        };
        self.record(source, &record);
    }

    /// What of each line this sink reads (see [`Detail`]); the rest may be left out of the
    /// records it gets. Default: everything.
    fn detail(&self) -> Detail {
        Detail::Full
    }

    /// Called before the records of `source`: the records that follow, up to the next call,
    /// come from it. Default: nothing.
    fn source(&mut self, _source: &SourceInfo) {}
}

impl<F: FnMut(&SourceInfo, &Record<'_>)> Sink for F {
    fn record(&mut self, source: &SourceInfo, record: &Record<'_>) {
        self(source, record)
    }
}

/// Lines that were not read as records, by reason.
#[derive(Default, Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Lines that are not valid UTF-8.
    pub invalid_utf8: u64,
    /// Lines with NUL bytes (binary chunks, zero-filled blocks after a crash).
    pub binary: u64,
    /// Lines before the first record of a file.
    pub no_timestamp: u64,
    /// Lines that looked like a record's start but did not parse (a truncated JSON line, an
    /// access-log line without a status; continuation lines after one go with it uncounted),
    /// and lines longer than 16 MiB.
    pub unparsable: u64,
    /// Files that could not be opened or read to the end. [`scan_file`] reports those as
    /// errors; callers count them here.
    pub unreadable_files: u64,
}

impl Skipped {
    /// All skipped lines (unreadable files are not lines and are left out).
    pub fn total(&self) -> u64 {
        self.invalid_utf8 + self.binary + self.no_timestamp + self.unparsable
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Skipped) {
        self.invalid_utf8 += other.invalid_utf8;
        self.binary += other.binary;
        self.no_timestamp += other.no_timestamp;
        self.unparsable += other.unparsable;
        self.unreadable_files += other.unreadable_files;
    }
}

/// How to read input files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputOptions {
    /// Read every file in this format instead of detecting it. Default: detect per file.
    pub format_hint: Option<Format>,
    /// Every line is a bare message: no header stripping, no timestamps, no continuation.
    /// Default: false.
    pub message_only: bool,
    /// The year of timestamps that leave it out (RFC 3164 syslog, `Nov 13 10:23:15`).
    /// Default: the current year (UTC). A file that spans New Year gets one year for all.
    pub year: i32,
    /// The PATH arguments the files came from, for [`source_info`]'s layout rules.
    /// Default: none (each file's host is its service).
    pub roots: Vec<PathBuf>,
}

impl Default for InputOptions {
    fn default() -> Self {
        use chrono::Datelike;
        InputOptions {
            format_hint: None,
            message_only: false,
            year: chrono::Utc::now().year(),
            roots: Vec::new(),
        }
    }
}

impl InputOptions {
    /// Whether a file's format is detected: no hint, and lines are not bare messages.
    pub(crate) fn needs_detect(&self) -> bool {
        self.format_hint.is_none() && !self.message_only
    }
}

/// Expands PATHs: files, directories (walked, following the layout rules), globs; `.gz` read transparently.
///
/// Directories are walked recursively in name order, following symlinks, leaving out hidden
/// files and directories and files that are surely not logs (images, non-gzip archives,
/// databases). A file listed twice is returned once. A PATH that does not exist, or a glob
/// that matches nothing, is an error.
///
/// A `changes.jsonl` met while walking a directory is a change history, not a log: it is left
/// out here and found by [`change_files`].
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    files::expand(paths)
}

/// The `changes.jsonl` files inside the directories of `paths`, for reading as changes.
pub fn change_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    files::walked_change_files(paths)
}

/// host/service from the layout: DIR/HOST/NAME.log -> (HOST, NAME); DIR/NAME.log -> (NAME, NAME).
/// Record-level host/service (JSON host/server fields, syslog hostname/app) override per record via Line.host/service.
///
/// DIR is the PATH argument (`roots`) the file was found under: a directory, a file's own
/// directory, or a glob's leading literal directories; deeper layouts take the first
/// directory below DIR as the host. NAME drops `.gz`, rotation numbers and dates, and
/// `.log`-like extensions (`inventory.log.2.gz` is `inventory`).
pub fn source_info(path: &Path, roots: &[PathBuf], format: Format) -> SourceInfo {
    files::source_info(path, roots, format)
}

/// Tells a file's format from its first lines (up to 200); plain when nothing fits.
pub fn detect(sample: &[u8]) -> Format {
    detect::detect(sample)
}

/// Reads one file and feeds every record to `sink`, in file order.
///
/// A read that fails part way returns [`InputError::Read`] after the records before the
/// failure have been handed on.
pub fn scan_file(
    path: &Path,
    options: &InputOptions,
    sink: &mut impl Sink,
) -> Result<Skipped, InputError> {
    scan_range(path, 0..u64::MAX, options, sink)
}

/// Bytes of a file's start that [`detect`] looks at.
const SAMPLE: usize = 64 * 1024;
/// The smallest range [`chunks`] makes.
const MIN_CHUNK: u64 = 1024 * 1024;
/// How far past a split point [`chunks`] looks for a record start.
const ALIGN_WINDOW: usize = 256 * 1024;

/// Splits a large uncompressed file into up to `n` byte ranges that start at record
/// boundaries (of the format [`detect`] finds); [`scan_range`] reads one.
///
/// Ranges are at least 1 MiB; a smaller or compressed file is one range. Scanning every
/// range gives the same records as scanning the file, whatever the boundaries: a record that
/// starts in a range is read to its end even past the range, and a range's leading
/// continuation lines are left to the range before it.
pub fn chunks(path: &Path, n: usize) -> io::Result<Vec<Range<u64>>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if n <= 1 || len < 2 * MIN_CHUNK || is_gzip(&mut file)? {
        return Ok(std::iter::once(0..len).collect());
    }
    let n = n.min((len / MIN_CHUNK) as usize) as u64;
    let mut head = Vec::new();
    (&mut file).take(SAMPLE as u64).read_to_end(&mut head)?;
    let format = detect(&head);
    if format == Format::Otlp {
        // Read whole: one line holds many records.
        return Ok(std::iter::once(0..len).collect());
    }
    let mut is_start = starts_record(format);
    let mut starts = vec![0u64];
    let mut window = vec![0u8; ALIGN_WINDOW];
    for i in 1..n {
        let target = len * i / n;
        file.seek(SeekFrom::Start(target - 1))?;
        let got = read_full(&mut file, &mut window)?;
        let Some(first) = memchr::memchr(b'\n', &window[..got]) else {
            continue;
        };
        let mut at = first + 1;
        let mut boundary = target + first as u64;
        while let Some(nl) = memchr::memchr(b'\n', &window[at..got]) {
            let line = &window[at..at + nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.contains(&0)
                && std::str::from_utf8(line).is_ok_and(|l| !l.is_empty() && is_start(l))
            {
                boundary = target - 1 + at as u64;
                break;
            }
            at += nl + 1;
        }
        if boundary > *starts.last().unwrap_or(&0) && boundary < len {
            starts.push(boundary);
        }
    }
    let mut ranges: Vec<Range<u64>> = starts.windows(2).map(|w| w[0]..w[1]).collect();
    ranges.push(*starts.last().unwrap_or(&0)..len);
    Ok(ranges)
}

/// Reads the records that start in `range` of a file (`line` by its first byte) and feeds
/// them to `sink`; the last one is read to its end past `range.end`.
///
/// `range` may start anywhere: a line cut by `range.start` belongs to the range before. The
/// format is detected from the start of the file, not of the range. Compressed files can
/// only be read whole (`range.start` 0; the end is ignored).
pub fn scan_range(
    path: &Path,
    range: Range<u64>,
    options: &InputOptions,
    sink: &mut impl Sink,
) -> Result<Skipped, InputError> {
    let mut file = File::open(path).map_err(|source| InputError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let gz = is_gzip(&mut file).map_err(|source| InputError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    if gz && range.start > 0 {
        return Err(InputError::CompressedRange {
            path: path.to_path_buf(),
        });
    }
    let read_error = |offset, source| InputError::Read {
        path: path.to_path_buf(),
        offset,
        source,
    };
    let Opened {
        mut reader,
        head,
        format,
        failure,
    } = if range.start == 0 {
        Opened::at_start(file, gz, options, read_error)
    } else {
        Opened::within(file, range.start, options, read_error)?
    };
    let source = source_info(path, &options.roots, format);
    sink.source(&source);
    if format == Format::Otlp && !options.message_only {
        if range.start > 0 {
            return Ok(Skipped::default());
        }
        let start = io::Cursor::new(head.buf[..head.filled].to_vec());
        let reader = io::BufReader::with_capacity(scan::BLOCK, start.chain(reader));
        return otlp::scan(reader, &source, sink).map_err(|e| read_error(0, e));
    }
    let count_lead = range.start == 0;
    let end = if gz { u64::MAX } else { range.end };

    macro_rules! scan_with {
        ($parser:expr) => {{
            let mut scanner = Scanner::new($parser, &source, sink, count_lead);
            let result = scanner.run(path, &mut *reader, head, end, failure);
            result.map(|()| scanner.skipped)
        }};
    }
    let year = options.year;
    let detail = sink.detail();
    if options.message_only {
        return scan_with!(plain::MessageOnly);
    }
    match format {
        Format::Plain => scan_with!(plain::Plain::new(year)),
        Format::Json => scan_with!(json::Json::new(year).with_detail(detail)),
        Format::Combined => scan_with!(combined::Combined::new(year)),
        Format::Syslog3164 => scan_with!(syslog::Syslog3164::new(year)),
        Format::Syslog5424 => scan_with!(syslog::Syslog5424::new(year)),
        // Read above.
        Format::Otlp => scan_with!(json::Json::new(year).with_detail(detail)),
    }
}

/// Whether a line starts a record in `format`.
fn starts_record(format: Format) -> Box<dyn FnMut(&str) -> bool> {
    fn boxed<P: Parser + 'static>(mut p: P) -> Box<dyn FnMut(&str) -> bool> {
        Box::new(move |line| p.start(line).is_some())
    }
    let year = 2000;
    match format {
        Format::Plain => boxed(plain::Plain::new(year)),
        Format::Json => boxed(json::Json::new(year)),
        Format::Combined => boxed(combined::Combined::new(year)),
        Format::Syslog3164 => boxed(syslog::Syslog3164::new(year)),
        Format::Syslog5424 => boxed(syslog::Syslog5424::new(year)),
        Format::Otlp => Box::new(otlp::is_export),
    }
}

/// Whether the file starts with the gzip magic; leaves it positioned at its start.
fn is_gzip(file: &mut File) -> io::Result<bool> {
    let mut magic = [0u8; 2];
    let got = read_full(file, &mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(got == 2 && magic == [0x1f, 0x8b])
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(reader: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
