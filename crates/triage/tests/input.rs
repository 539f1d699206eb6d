//! The input side of triage over real files: formats, multi-line records, time zones,
//! garbage, `.gz`, directory layouts, globs and parallel chunks.

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

#[test]
fn plain_multi_line_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "frontend.log", SEED_FRONTEND.as_bytes());
    let (recs, skipped) = scan(&path, &opts());
    assert_eq!(skipped, Skipped::default());
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[0].format, Format::Plain);
    assert_eq!(
        (recs[0].ts, recs[0].level, recs[0].message.as_str()),
        (Some(T0 - 1000), Some(Level::Info), "request served in 12ms")
    );
    assert_eq!(
        (recs[1].ts, recs[1].level, recs[1].line_no),
        (Some(T0), Some(Level::Error), 2)
    );
    assert_eq!(recs[1].message, "Database connection timeout");
    assert_eq!(
        recs[1].details,
        "  Server: frontend-02\n  Query: SELECT * FROM orders WHERE user_id = 42\n  Connection pool: 95/100 connections in use"
    );
    // Details are kept for errors only.
    assert_eq!(
        (recs[2].level, recs[2].details.as_str(), recs[2].line_no),
        (Some(Level::Warn), "", 6)
    );
    // Unindented lines without a timestamp continue the record too.
    assert_eq!(
        recs[3].details,
        "Server: frontend-02\nConnection pool: 96/100 connections in use"
    );
    assert_eq!(recs[3].line_no, 8);
}

#[test]
fn time_zones_and_fractions_land_at_the_right_utc_millisecond() {
    let dir = tempfile::tempdir().unwrap();
    let content = "\
2025-11-13T12:23:15+02:00 ERROR: two hours east
2025-11-13T05:23:15-0500 ERROR: five hours west
2025-11-13 10:23:15,250 INFO comma fraction
2025-11-13T10:23:15.123456789Z INFO nanoseconds
2025/11/13 10:23:15 [error] 7#0: nginx error log
[2025-11-13 10:23:15.5 +0000] [warn] bracketed
";
    let path = write(dir.path(), "zones.log", content.as_bytes());
    let (recs, skipped) = scan(&path, &opts());
    assert_eq!(skipped, Skipped::default());
    let ts: Vec<_> = recs.iter().map(|r| r.ts.unwrap()).collect();
    assert_eq!(ts, [T0, T0, T0 + 250, T0 + 123, T0, T0 + 500]);
    assert_eq!(recs[4].message, "7#0: nginx error log");
    assert_eq!(recs[5].level, Some(Level::Warn));
}

#[test]
fn json_lines_switchyard_logs_and_epoch_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let content = concat!(
        r#"{"ts":"2025-11-13T10:23:15.003Z","level":"info","msg":"listening","listener":"main"}"#,
        "\n",
        r#"{"ts":"2025-11-13T10:23:15.123Z","request_id":"r-1","client":"10.0.0.9:5123","listener":"main","method":"GET","path":"/api/inventory/42","host":"shop.example","protocol":"HTTP/1.1","status":500,"pool":"inventory","server":"inventory-4","server_address":"192.168.1.45:8080","upstream_status":404,"duration_ms":3.25,"bytes_sent":120,"attempts":1,"error":"upstream answered 404"}"#,
        "\n",
        r#"{"ts":"2025-11-13T10:23:15.200Z","level":"error","msg":"health check failed","pool":"inventory","server":"inventory-4","request_id":null}"#,
        "\n",
        r#"{"time":1763029395,"level":"ERROR","message":"epoch seconds","hostname":"web-1","app":"cart","trace_id":"t1"}"#,
        "\n",
        "Traceback (most recent call last):\n  File \"x.py\", line 1\n",
        r#"{"timestamp":1763029395250,"severity":"warning","message":"epoch millis"}"#,
        "\n",
        r#"{"@timestamp":"2025-11-13T12:23:15+02:00","lvl":"e","msg":"cut in the mid"#,
    );
    let path = write(dir.path(), "lb.log", content.as_bytes());
    let (recs, skipped) = scan(&path, &opts());
    assert_eq!(
        skipped,
        Skipped {
            unparsable: 1,
            ..Skipped::default()
        },
        "the truncated last line"
    );
    assert_eq!(recs.len(), 5);
    assert!(recs.iter().all(|r| r.format == Format::Json));
    let access = &recs[1];
    assert_eq!(
        (access.status, access.upstream_status),
        (Some(500), Some(404))
    );
    assert_eq!(
        (access.pool.as_deref(), access.server.as_deref()),
        (Some("inventory"), Some("inventory-4"))
    );
    assert_eq!(
        (access.method.as_deref(), access.path.as_deref()),
        (Some("GET"), Some("/api/inventory/42"))
    );
    assert_eq!(
        access.record_host, None,
        "the access log's host is the Host header"
    );
    assert_eq!(access.request_id.as_deref(), Some("r-1"));
    assert_eq!(access.ts, Some(T0 + 123));
    let stderr = &recs[2];
    assert_eq!(
        (stderr.level, stderr.record_host.as_deref(), stderr.status),
        (Some(Level::Error), Some("inventory-4"), None)
    );
    let epoch = &recs[3];
    assert_eq!(
        (
            epoch.ts,
            epoch.record_host.as_deref(),
            epoch.record_service.as_deref()
        ),
        (Some(T0), Some("web-1"), Some("cart"))
    );
    assert_eq!(epoch.request_id.as_deref(), Some("t1"));
    assert_eq!(
        epoch.details,
        "Traceback (most recent call last):\n  File \"x.py\", line 1"
    );
    assert_eq!(
        (recs[4].ts, recs[4].level),
        (Some(T0 + 250), Some(Level::Warn))
    );
}

#[test]
fn combined_access_logs() {
    let dir = tempfile::tempdir().unwrap();
    let content = "\
10.0.0.1 - - [13/Nov/2025:10:23:15 +0000] \"GET /api/inventory/1 HTTP/1.1\" 200 512 \"-\" \"curl/8.0\"
10.0.0.2 - bob [13/Nov/2025:12:23:16 +0200] \"POST /api/cart HTTP/1.1\" 502 0 \"https://shop/\" \"Mozilla/5.0\"
10.0.0.3 - - [13/Nov/2025:10:23:17 +0000] \"GET /missing HTTP/1.1\" 404 12
not an access line at all
";
    let path = write(dir.path(), "access.log", content.as_bytes());
    let (recs, skipped) = scan(&path, &opts());
    assert_eq!(skipped.unparsable, 1);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0].format, Format::Combined);
    let st: Vec<_> = recs
        .iter()
        .map(|r| {
            (
                r.ts.unwrap() - T0,
                r.status.unwrap(),
                r.method.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        st,
        [
            (0, 200, "GET".into()),
            (1000, 502, "POST".into()),
            (2000, 404, "GET".into())
        ]
    );
    assert_eq!(recs[2].path.as_deref(), Some("/missing"));
}

#[test]
fn syslog_files() {
    let dir = tempfile::tempdir().unwrap();
    let rfc3164 = "\
<11>Nov 13 10:23:15 frontend-02 shop[311]: db timeout
<14>Nov 13 10:23:16 frontend-02 shop[311]: request served
Nov 13 10:23:17 frontend-01 kernel: ERROR: disk full
";
    let path = write(dir.path(), "syslog", rfc3164.as_bytes());
    let (recs, _) = scan(&path, &opts());
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0].format, Format::Syslog3164);
    assert_eq!((recs[0].ts, recs[0].level), (Some(T0), Some(Level::Error)));
    assert_eq!(
        (
            recs[0].record_host.as_deref(),
            recs[0].record_service.as_deref()
        ),
        (Some("frontend-02"), Some("shop"))
    );
    assert_eq!(recs[1].level, Some(Level::Info));
    assert_eq!(
        (recs[2].level, recs[2].message.as_str()),
        (Some(Level::Error), "disk full")
    );
    // The year comes from the options.
    let (recs, _) = scan(
        &path,
        &InputOptions {
            year: 2024,
            ..opts()
        },
    );
    assert_eq!(recs[0].ts, Some(1_731_493_395_000));

    let rfc5424 = "\
<34>1 2025-11-13T10:23:15.003Z mymachine su - ID47 - 'su root' failed on /dev/pts/8
<165>1 2025-11-13T12:23:16+02:00 web-1 evntslog - ID47 [exampleSDID@32473 iut=\"3\"] An application event
";
    let path = write(dir.path(), "rfc5424.log", rfc5424.as_bytes());
    let (recs, _) = scan(&path, &opts());
    assert_eq!(recs[0].format, Format::Syslog5424);
    assert_eq!(
        (recs[0].ts, recs[0].level, recs[0].record_host.as_deref()),
        (Some(T0 + 3), Some(Level::Fatal), Some("mymachine"))
    );
    assert_eq!(
        (recs[1].ts, recs[1].level, recs[1].message.as_str()),
        (Some(T0 + 1000), Some(Level::Notice), "An application event")
    );
}

#[test]
fn garbage_is_counted_and_never_stops_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Vec::new();
    content.extend_from_slice(b"starting the service (no timestamp yet)\n  still starting\n");
    content.extend_from_slice(b"2025-11-13 10:23:15 ERROR: first\n");
    content.extend_from_slice(b"  detail one\n");
    content.extend_from_slice(b"\x00\x00\x00\x00binary\x00\n\x00\x00\n"); // two binary lines
    content.extend_from_slice(b"  bad \xff\xfe utf-8\n"); // invalid UTF-8
    content.extend_from_slice(b"  detail two\n\n");
    content.extend_from_slice(b"2025-11-13 10:23:16 \xc3\x28 INFO: invalid start line\n"); // invalid UTF-8
    content.extend_from_slice(b"2025-11-13 10:23:17 INFO: caf\xc3\xa9 is fine\r\n");
    content.extend_from_slice(b"2025-11-13 10:23:18 ERROR: truncated last line without newline");
    let path = write(dir.path(), "garbage.log", &content);
    let (recs, skipped) = scan(&path, &opts());
    assert_eq!(
        skipped,
        Skipped {
            invalid_utf8: 2,
            binary: 2,
            no_timestamp: 2,
            unparsable: 0,
            unreadable_files: 0
        },
        "{recs:#?}"
    );
    let msgs: Vec<_> = recs.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "first",
            "café is fine",
            "truncated last line without newline"
        ]
    );
    assert_eq!(recs[0].details, "  detail one\n  detail two");
    assert_eq!(recs[2].level, Some(Level::Error));
    assert_eq!(
        recs.iter().map(|r| r.line_no).collect::<Vec<_>>(),
        [3, 11, 12]
    );

    // A file of nothing but binary.
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = write(dir.path(), "noise.bin", &noise);
    let (recs, skipped) = scan(&path, &opts());
    assert!(recs.is_empty());
    assert!(skipped.binary + skipped.invalid_utf8 > 0, "{skipped:?}");
    // A byte order mark does not hide the first record.
    let path = write(
        dir.path(),
        "bom.log",
        b"\xef\xbb\xbf2025-11-13 10:23:15 ERROR: after a BOM\n",
    );
    let (recs, skipped) = scan(&path, &opts());
    assert_eq!((recs.len(), skipped), (1, Skipped::default()));
    // An empty file.
    let path = write(dir.path(), "empty.log", b"");
    assert_eq!(scan(&path, &opts()), (vec![], Skipped::default()));
}

#[test]
fn a_record_longer_than_a_block_is_handed_on_and_the_next_ones_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = String::from("2025-11-13 10:23:15 ERROR: huge stack trace\n");
    for i in 0..40_000 {
        content.push_str(&format!("    at frame {i:06} (SomeClass.java:{i})\n"));
    }
    content.push_str("2025-11-13 10:23:16 INFO: after the trace\n");
    // One line of 2 MiB, longer than a block.
    content.push_str("2025-11-13 10:23:17 WARN: ");
    content.push_str(&"x".repeat(2 << 20));
    content.push('\n');
    content.push_str("2025-11-13 10:23:18 INFO: last\n");
    let path = write(dir.path(), "long.log", content.as_bytes());
    let (recs, skipped) = scan(&path, &opts());
    assert_eq!(skipped, Skipped::default());
    let msgs: Vec<_> = recs
        .iter()
        .map(|r| &r.message[..r.message.len().min(16)])
        .collect();
    assert_eq!(
        msgs,
        [
            "huge stack trace",
            "after the trace",
            "xxxxxxxxxxxxxxxx",
            "last"
        ]
    );
    assert!(recs[0]
        .details
        .starts_with("    at frame 000000 (SomeClass.java:0)\n"));
    assert!(recs[0].details.len() > 100_000, "kept what fits in a block");
    assert_eq!(recs[1].line_no, 40_002);
    assert_eq!(recs[2].message.len(), 2 << 20);
}

#[test]
fn message_only_and_format_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "messages.txt",
        b"2025-11-13 10:23:15 ERROR: kept whole\n  indented\n\nlast\n",
    );
    let (recs, skipped) = scan(
        &path,
        &InputOptions {
            message_only: true,
            ..opts()
        },
    );
    assert_eq!(skipped, Skipped::default());
    let got: Vec<_> = recs
        .iter()
        .map(|r| (r.line_no, r.message.as_str(), r.ts, r.level))
        .collect();
    assert_eq!(
        got,
        [
            (1, "2025-11-13 10:23:15 ERROR: kept whole", None, None),
            (2, "  indented", None, None),
            (4, "last", None, None)
        ]
    );

    // A JSON file read as plain: no line has a timestamp at its start.
    let path = write(
        dir.path(),
        "forced.log",
        br#"{"ts":"2025-11-13T10:23:15Z","msg":"x"}"#,
    );
    let (recs, skipped) = scan(
        &path,
        &InputOptions {
            format_hint: Some(Format::Plain),
            ..opts()
        },
    );
    assert!(recs.is_empty());
    assert_eq!(skipped.no_timestamp, 1);
    assert_eq!("rfc5424".parse::<Format>(), Ok(Format::Syslog5424));
    assert!("csv"
        .parse::<Format>()
        .unwrap_err()
        .to_string()
        .contains("plain, json"));
}

#[test]
fn gz_files_are_read_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(
        dir.path(),
        "logs/frontend-02/app.log",
        SEED_FRONTEND.as_bytes(),
    );
    let gz = write(
        dir.path(),
        "logs/frontend-02/app.log.1.gz",
        &gzip(SEED_FRONTEND.as_bytes()),
    );
    // Two gzip members back to back, as `cat a.gz b.gz` makes.
    let mut two = gzip(b"2025-11-13 10:23:15 INFO: first member\n");
    two.extend(gzip(b"2025-11-13 10:23:16 ERROR: second member\n"));
    let multi = write(dir.path(), "logs/frontend-02/multi.log.gz", &two);
    let roots = vec![dir.path().join("logs")];
    let options = InputOptions { roots, ..opts() };
    let (a, _) = scan(&plain, &options);
    let (b, _) = scan(&gz, &options);
    assert_eq!(a, b);
    assert_eq!(
        (b[0].host.as_str(), b[0].service.as_str()),
        ("frontend-02", "app")
    );
    let (m, _) = scan(&multi, &options);
    assert_eq!(
        m.iter().map(|r| r.message.as_str()).collect::<Vec<_>>(),
        ["first member", "second member"]
    );
    let gz_len = std::fs::metadata(&gz).unwrap().len();
    assert_eq!(
        chunks(&gz, 4).unwrap(),
        std::iter::once(0..gz_len).collect::<Vec<_>>()
    );
    assert!(matches!(
        scan_range(
            &gz,
            10..20,
            &options,
            &mut |_: &SourceInfo, _: &Record<'_>| {}
        ),
        Err(InputError::CompressedRange { .. })
    ));

    // A truncated .gz: the records before the cut are read, then the error names the file.
    let whole = gzip(&generated_log(5_000));
    let cut = write(dir.path(), "cut.log.gz", &whole[..whole.len() / 2]);
    let mut n = 0;
    let err = scan_file(&cut, &options, &mut |_: &SourceInfo, _: &Record<'_>| n += 1).unwrap_err();
    assert!(n > 0);
    assert!(matches!(err, InputError::Read { .. }), "{err}");
    assert!(err.is_unreadable_file());
    assert!(err.to_string().contains("cut.log.gz"), "{err}");
}

#[test]
fn directories_and_globs_follow_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in [
        "incident/frontend-01/app.log",
        "incident/frontend-02/app.log",
        "incident/frontend-02/app.log.1.gz",
        "incident/lb.log",
    ] {
        write(d, f, b"2025-11-13 10:23:15 INFO: x\n");
    }
    write(d, "incident/.hidden.log", b"x\n");
    write(d, "incident/.git/config", b"x\n");
    write(d, "incident/frontend-01/screenshot.png", b"\x89PNG");
    let root = d.join("incident");
    let files = expand(std::slice::from_ref(&root)).unwrap();
    let rel: Vec<_> = files
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        rel,
        [
            "frontend-01/app.log",
            "frontend-02/app.log",
            "frontend-02/app.log.1.gz",
            "lb.log"
        ]
    );
    let named: Vec<_> = files
        .iter()
        .map(|p| {
            let s = source_info(p, std::slice::from_ref(&root), Format::Plain);
            (s.host, s.service)
        })
        .collect();
    let pair = |h: &str, s: &str| (h.to_string(), s.to_string());
    assert_eq!(
        named,
        [
            pair("frontend-01", "app"),
            pair("frontend-02", "app"),
            pair("frontend-02", "app"),
            pair("lb", "lb")
        ]
    );

    // A glob, with the layout read below its literal part; a file given twice is read once.
    let pattern = d.join("incident/*/app.log");
    let files = expand(&[pattern.clone(), d.join("incident/frontend-01/app.log")]).unwrap();
    assert_eq!(
        files,
        [
            d.join("incident/frontend-01/app.log"),
            d.join("incident/frontend-02/app.log")
        ]
    );
    let options = InputOptions {
        roots: vec![pattern.clone()],
        ..opts()
    };
    let (recs, _) = scan(&files[1], &options);
    assert_eq!(
        (recs[0].host.as_str(), recs[0].service.as_str()),
        ("frontend-02", "app")
    );

    // Errors name the path and say what to do.
    let missing = expand(&[d.join("nope.log")]).unwrap_err();
    assert!(
        matches!(missing, InputError::NotFound { .. }) && missing.to_string().contains("nope.log"),
        "{missing}"
    );
    let nothing = expand(&[d.join("incident/*.json")]).unwrap_err();
    assert!(
        matches!(nothing, InputError::NoMatch { .. }) && nothing.to_string().contains("*.json"),
        "{nothing}"
    );
    assert!(!missing.is_unreadable_file());
    let open = scan_file(
        &d.join("gone.log"),
        &opts(),
        &mut |_: &SourceInfo, _: &Record<'_>| {},
    )
    .unwrap_err();
    assert!(
        open.to_string()
            .starts_with(&format!("could not open {}", d.join("gone.log").display())),
        "{open}"
    );
}

#[test]
fn detection_per_file() {
    let samples: [(&str, Format); 5] = [
        (SEED_FRONTEND, Format::Plain),
        (
            "{\"ts\":\"2025-11-13T10:23:15Z\",\"msg\":\"x\"}\n",
            Format::Json,
        ),
        (
            "1.2.3.4 - - [13/Nov/2025:10:23:15 +0000] \"GET / HTTP/1.1\" 200 5\n",
            Format::Combined,
        ),
        ("Nov 13 10:23:15 host app[1]: x\n", Format::Syslog3164),
        (
            "<34>1 2025-11-13T10:23:15.003Z host app 1 ID - x\n",
            Format::Syslog5424,
        ),
    ];
    for (sample, want) in samples {
        assert_eq!(detect(sample.as_bytes()), want, "{sample}");
    }
    // Mixed: garbage and a few foreign lines do not outvote the file's own format.
    let mut mixed = b"\x00\x01\x02 binary header\n\xff\xfe\n".to_vec();
    mixed.extend_from_slice(b"Nov 13 10:23:15 host app[1]: x\n");
    for i in 0..20 {
        mixed.extend_from_slice(
            format!("2025-11-13 10:23:{i:02} INFO [main] c.Y: m {i}\n    at x\n").as_bytes(),
        );
    }
    assert_eq!(detect(&mixed), Format::Plain);
}

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

fn without_line_no(mut v: Vec<Rec>) -> Vec<Rec> {
    v.iter_mut().for_each(|r| r.line_no = 0);
    v
}

#[test]
fn chunks_never_split_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "big.log", &generated_log(90_000));
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 4 << 20, "{len}");
    let (whole, whole_skipped) = scan(&path, &opts());
    assert!(whole.len() == 90_000 && whole_skipped.no_timestamp == 1);
    for n in [2, 3, 4] {
        let ranges = chunks(&path, n).unwrap();
        assert_eq!(ranges.len(), n);
        assert_eq!((ranges[0].start, ranges[n - 1].end), (0, len));
        let bytes = std::fs::read(&path).unwrap();
        for w in ranges.windows(2) {
            assert_eq!(w[0].end, w[1].start);
            assert!(
                bytes[w[1].start as usize..].starts_with(b"2025-11-13 "),
                "a range starts at a record"
            );
        }
        let (recs, skipped) = scan_ranges(&path, &ranges);
        assert_eq!(skipped, whole_skipped, "n = {n}");
        assert_eq!(
            without_line_no(recs),
            without_line_no(whole.clone()),
            "n = {n}"
        );
    }
}

fn scan_ranges(path: &Path, ranges: &[std::ops::Range<u64>]) -> (Vec<Rec>, Skipped) {
    let mut recs = Vec::new();
    let mut skipped = Skipped::default();
    for r in ranges {
        let s = scan_range(
            path,
            r.clone(),
            &opts(),
            &mut |s: &SourceInfo, r: &Record<'_>| recs.push(Rec::new(s, r)),
        )
        .unwrap();
        skipped.add(&s);
    }
    (recs, skipped)
}

#[test]
fn any_cut_points_give_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let content = generated_log(400);
    let path = write(dir.path(), "small.log", &content);
    let (whole, whole_skipped) = scan(&path, &opts());
    let len = content.len() as u64;
    // Cuts in the middle of lines, at line starts, inside garbage and at the very ends.
    let mut x: u64 = 7;
    for round in 0..30 {
        let mut cuts: Vec<u64> = (0..round % 6 + 1)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (x >> 33) % (len + 1)
            })
            .collect();
        cuts.extend([0, len]);
        cuts.sort_unstable();
        cuts.dedup();
        let ranges: Vec<_> = cuts.windows(2).map(|w| w[0]..w[1]).collect();
        let (recs, skipped) = scan_ranges(&path, &ranges);
        assert_eq!(skipped, whole_skipped, "cuts {cuts:?}");
        assert_eq!(
            without_line_no(recs),
            without_line_no(whole.clone()),
            "cuts {cuts:?}"
        );
    }
}

#[test]
fn sinks_can_be_structs() {
    struct Errors(u64);
    impl input::Sink for Errors {
        fn record(&mut self, _: &SourceInfo, record: &Record<'_>) {
            self.0 += record.line.is_error() as u64;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "f.log", SEED_FRONTEND.as_bytes());
    let mut errors = Errors(0);
    scan_file(&path, &opts(), &mut errors).unwrap();
    assert_eq!(errors.0, 2);
}

/// Throughput of `scan_file` against `grep -c ERROR` on the same file, page cache warm.
/// Run with `cargo test --release -p switchyard-triage --test input -- --ignored --nocapture`;
/// `SWITCHYARD_SCAN_FILE=PATH` measures an existing file instead of a generated one.
#[test]
#[ignore]
fn throughput_against_grep() {
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let path = match std::env::var_os("SWITCHYARD_SCAN_FILE") {
        Some(p) => PathBuf::from(p),
        None => {
            let path = dir.path().join("bench.log");
            let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            let mut size = 0;
            while size < 200 << 20 {
                let chunk = generated_log(100_000);
                size += chunk.len();
                f.write_all(&chunk).unwrap();
            }
            f.flush().unwrap();
            path
        }
    };
    let len = std::fs::metadata(&path).unwrap().len() as f64;
    let mb = len / 1e6;
    std::fs::read(&path).unwrap(); // warm the page cache
    let best = |f: &mut dyn FnMut()| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let mut records = 0u64;
    let scan_s = best(&mut || {
        records = 0;
        scan_file(&path, &opts(), &mut |_: &SourceInfo, _: &Record<'_>| {
            records += 1
        })
        .unwrap();
    });
    let ranges = chunks(&path, 2).unwrap();
    let two_s = best(&mut || {
        std::thread::scope(|s| {
            for r in &ranges {
                let (path, r) = (&path, r.clone());
                s.spawn(move || {
                    scan_range(path, r, &opts(), &mut |_: &SourceInfo, _: &Record<'_>| {}).unwrap()
                });
            }
        });
    });
    let grep_s = best(&mut || {
        let out = std::process::Command::new("grep")
            .arg("-c")
            .arg("ERROR")
            .arg(&path)
            .output()
            .unwrap();
        // grep exits 1 when it counts no match.
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    });
    println!("file: {} ({mb:.0} MB, {records} records)", path.display());
    println!(
        "scan_file, 1 thread:  {scan_s:.3} s  {:.0} MB/s",
        mb / scan_s
    );
    println!("scan_range, 2 chunks: {two_s:.3} s  {:.0} MB/s", mb / two_s);
    println!(
        "grep -c ERROR:        {grep_s:.3} s  {:.0} MB/s",
        mb / grep_s
    );
    println!(
        "ratio scan_file / grep: {:.2}; 2 chunks / grep: {:.2}",
        scan_s / grep_s,
        two_s / grep_s
    );
}
