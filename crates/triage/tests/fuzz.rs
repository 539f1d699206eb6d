//! Property tests: every triage parser takes arbitrary bytes without panicking — format
//! detection, each of the five line formats (forced, and detected), gzip input, change files,
//! level words and the template miner.
//!
//! 2,000 cases per property in a normal run; `cargo test -p switchyard-triage --test integration fuzz --
//! --ignored` runs 100,000.

use std::io::Write;

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use switchyard_triage::changes;
use switchyard_triage::input::{self, Format, InputOptions, Record, Sink, SourceInfo};
use switchyard_triage::record::{Detail, Level};
use switchyard_triage::template::TemplateMiner;

/// Arbitrary bytes, and lines that look like each format with random parts.
fn inputs() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        "20[0-9]{2}-[01][0-9]-[0-3][0-9][T ][0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:?[0-9]{2})? (ERROR|WARN|INFO|error|FATAL|debug)?:? [^\n]{0,60}",
        "<[0-9]{1,3}>1 [0-9T:.Z+-]{0,30} [a-z-]{0,10} [a-z]{0,8} [0-9-]{1,5} [A-Z0-9-]{1,5} (-|\\[[^\n]{0,20}\\]) [^\n]{0,40}",
        "(<[0-9]{1,3}>)?[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [a-z0-9-]{0,10} [a-z]{0,8}(\\[[0-9]{1,6}\\])?: [^\n]{0,40}",
        "[0-9.]{7,15} - [a-z-]{1,5} \\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} [+-][0-9]{4}\\] \"[A-Z]{3,6} [^\" ]{0,20} HTTP/[0-9.]{3}\" [0-9]{3} [0-9-]{1,6}( \"[^\"]{0,10}\" \"[^\"]{0,10}\")?",
        "\\{(\"(ts|time|timestamp|level|msg|message|status|host|service|request_id|pool|server|@timestamp|severity)\": ?(\"[^\"\n]{0,25}\"|-?[0-9]{1,14}(\\.[0-9]{1,4})?|null|true|\\{\\}|\\[\\]),? ?){0,8}\\}?",
        "[ \t]{1,4}(at |Caused by: )?[^\n]{0,50}",
        "[^\n]{0,80}",
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        proptest::collection::vec(line, 0..30).prop_map(|lines| lines.join("\n").into_bytes()),
    ]
}

/// Scans `bytes` as a file, in `format` (detected when `None`), and touches every record.
fn scan(bytes: &[u8], format: Option<Format>) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    let options = InputOptions {
        format_hint: format,
        year: 2025,
        ..InputOptions::default()
    };
    let mut sink = |_: &SourceInfo, r: &Record<'_>| {
        let _ = (r.line.is_error(), r.line.message.len(), r.details.len());
    };
    // Unreadable input is an error value, never a panic.
    let _ = input::scan_file(file.path(), &options, &mut sink);
    // The same through the lean parse that triage's counting asks for.
    let _ = input::scan_file(file.path(), &options, &mut CountsOnly);
}

/// A sink that asks for [`Detail::Counts`], as triage's aggregator does.
struct CountsOnly;

impl Sink for CountsOnly {
    fn record(&mut self, _: &SourceInfo, r: &Record<'_>) {
        let _ = (r.line.is_error(), r.line.message.len(), r.details.len());
    }

    fn detail(&self) -> Detail {
        Detail::Counts
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    })
}

fn run_inputs(cases: u32) {
    runner(cases)
        .run(&inputs(), |bytes| {
            let _ = input::detect(&bytes);
            scan(&bytes, None);
            for format in Format::ALL {
                scan(&bytes, Some(format));
            }
            // A gzip header over garbage: the decoder's errors are read errors.
            let mut gz = vec![0x1f, 0x8b, 0x08, 0x00];
            gz.extend_from_slice(&bytes);
            scan(&gz, None);
            Ok(())
        })
        .unwrap();
}

fn run_text(cases: u32) {
    let texts = prop_oneof![
        any::<String>(),
        "([0-9T:. Z+-]{0,25}[ \t,;|]{1,2}(v[0-9]{1,4}|[a-z-]{0,10})[ \t,;|]{0,2}[^\n]{0,40}\n){0,10}",
    ];
    runner(cases)
        .run(&texts, |text| {
            let _ = changes::parse(&text, "fuzz");
            let _ = changes::parse_time(&text);
            for word in text.split_whitespace().take(20) {
                let _ = Level::parse(word);
            }
            let mut miner = TemplateMiner::new();
            for line in text.lines().take(50) {
                miner.add(line);
            }
            miner.add(&text);
            Ok(())
        })
        .unwrap();
}

#[test]
fn input_parsers_never_panic() {
    run_inputs(2_000);
}

#[test]
fn change_files_levels_and_templates_never_panic() {
    run_text(2_000);
}

#[test]
#[ignore = "100,000 cases: run with --ignored"]
fn input_parsers_never_panic_100k() {
    run_inputs(100_000);
}

#[test]
#[ignore = "100,000 cases: run with --ignored"]
fn change_files_levels_and_templates_never_panic_100k() {
    run_text(100_000);
}
