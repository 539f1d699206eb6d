//! Each format read from a real file: plain multi-line records, time zones, JSON lines,
//! combined access logs, syslog, a format hint, and detection per file.

use super::*;

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
