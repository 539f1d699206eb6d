//! Throughput of the JSON scanners on Switchyard's access-log lines, one thread, in one run:
//! the general hand-written scan, the known-order walk, a whole record (`Json::parse`, which
//! also reads the timestamp and builds the line), and, with `--features json-bench`, the
//! SIMD JSON crates fetching the same keys lazily (sonic-rs `get_many`, simd-json's tape).
//!
//! Run: `cargo test -p switchyard-triage --release --features json-bench --lib json_scanners -- --ignored --nocapture`

use std::time::Instant;

use super::{known_order, scan, Fields, Json};
use crate::input::scan::Parser;

/// Access-log lines as the proxy writes them, with values that vary.
pub(super) fn access_lines(n: usize) -> Vec<String> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pools = ["inventory", "billing", "auth", "frontend"];
    let methods = ["GET", "GET", "GET", "POST", "PUT"];
    (0..n)
        .map(|i| {
            let r = next();
            let pool = pools[(r % 4) as usize];
            let status = [200, 200, 200, 404, 502][(r >> 8) as usize % 5];
            let error = if status == 502 {
                "\"upstream connect failed\"".to_string()
            } else {
                "null".to_string()
            };
            format!(
                concat!(
                    r#"{{"ts":"2025-11-13T10:{:02}:{:02}.{:03}Z","request_id":"{:032x}","client":"10.0.1.{}:{}","#,
                    r#""listener":"main","method":"{}","path":"/{}/items/{}","host":"{}.shop.internal","#,
                    r#""protocol":"HTTP/1.1","status":{},"pool":"{}","server":"{}-{}","#,
                    r#""server_address":"10.0.3.{}:8080","upstream_status":{},"duration_ms":{}.{:03},"#,
                    r#""bytes_sent":{},"attempts":1,"error":{}}}"#
                ),
                (i / 60_000) % 60,
                (i / 1000) % 60,
                i % 1000,
                u128::from(r) << 64 | u128::from(next()),
                r % 250,
                1024 + r % 60_000,
                methods[(r >> 12) as usize % 5],
                pool,
                r % 10_000,
                pool,
                status,
                pool,
                pool,
                1 + r % 4,
                10 + r % 90,
                status,
                r % 40,
                r % 1000,
                100 + r % 5000,
                error,
            )
        })
        .collect()
}

/// Lines in the sample: about 256 KB, one block of a scan.
const LINES: usize = 650;
/// Times each round reads the sample.
const PASSES: usize = 300;

/// Best of three rounds, in MB/s; `f` returns something to keep the work alive. Each round
/// reads the lines [`PASSES`] times: they take about as much memory as one block of a scan,
/// so, as there, they are read from the CPU's cache rather than from memory.
fn measure(name: &str, lines: &[String], mut f: impl FnMut(&str) -> usize) -> f64 {
    let bytes: usize = PASSES * lines.iter().map(|l| l.len() + 1).sum::<usize>();
    let mut best = f64::MAX;
    let mut check = 0;
    for _ in 0..3 {
        let start = Instant::now();
        for _ in 0..PASSES {
            check = lines.iter().map(|l| f(l)).sum::<usize>();
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    let mbs = bytes as f64 / 1e6 / best;
    println!(
        "{name:<44} {mbs:>8.0} MB/s  ({} lines, check {check})",
        lines.len()
    );
    mbs
}

/// Sum of the value lengths a scan found, so that nothing is optimised away.
fn found(f: &Fields) -> usize {
    f.iter().flatten().map(|v| v.end - v.start).sum()
}

#[test]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
fn json_scanners() {
    let lines = access_lines(LINES);
    println!();
    let general = measure("hand-written, general scan", &lines, |l| {
        let mut f: Fields = [None; 16];
        scan(l.as_bytes(), &mut f).map_or(0, |()| found(&f))
    });
    let known = measure("hand-written, known key order", &lines, |l| {
        let mut f: Fields = [None; 16];
        known_order::scan(l.as_bytes(), &mut f).map_or(0, |()| found(&f))
    });
    measure("the access-log walk alone", &lines, |l| {
        let mut f: Fields = [None; 16];
        super::access::exact(l.as_bytes(), &mut f).map_or(0, |()| found(&f))
    });
    let mut json = Json::new(2025);
    let mut scratch = String::new();
    measure("whole record (Json::parse, known order)", &lines, |l| {
        scratch.clear();
        json.parse(l, (), &mut scratch).map_or(0, |line| {
            line.message.len() + line.ts_ms.unwrap_or(0) as usize
        })
    });
    let mut json = Json::new(2025).with_detail(crate::record::Detail::Counts);
    measure("whole record, counting (as triage reads)", &lines, |l| {
        scratch.clear();
        json.parse(l, (), &mut scratch).map_or(0, |line| {
            line.message.len() + line.ts_ms.unwrap_or(0) as usize
        })
    });
    #[cfg(feature = "json-bench")]
    simd_crates(&lines, known.max(general));
    assert!(known > 0.0 && general > 0.0);
}

/// The keys triage reads from an access-log line.
#[cfg(feature = "json-bench")]
const KEYS: [&str; 10] = [
    "ts",
    "request_id",
    "method",
    "path",
    "status",
    "pool",
    "server",
    "upstream_status",
    "duration_ms",
    "error",
];

#[cfg(feature = "json-bench")]
fn simd_crates(lines: &[String], hand_written: f64) {
    let mut tree = sonic_rs::PointerTree::new();
    for k in KEYS {
        tree.add_path([k]);
    }
    let sonic = measure("sonic-rs get_many (validating)", lines, |l| {
        sonic_rs::get_many(l, &tree).map_or(0, |vs| {
            vs.iter().flatten().map(|v| v.as_raw_str().len()).sum()
        })
    });
    let sonic_unchecked = measure("sonic-rs get_many_unchecked", lines, |l| {
        // SAFETY: every line is one complete JSON object written above.
        unsafe { sonic_rs::get_many_unchecked(l, &tree) }.map_or(0, |vs| {
            vs.iter().flatten().map(|v| v.as_raw_str().len()).sum()
        })
    });
    let mut buffers = simd_json::Buffers::new(1024);
    let mut copy = Vec::new();
    let simd = measure("simd-json tape, keys by one pass", lines, |l| {
        use simd_json::prelude::*;
        // simd-json parses in place, so each line is copied first, as it would be in a scan.
        copy.clear();
        copy.extend_from_slice(l.as_bytes());
        let Ok(tape) = simd_json::to_tape_with_buffers(&mut copy, &mut buffers) else {
            return 0;
        };
        let value = tape.as_value();
        let Some(object) = value.as_object() else {
            return 0;
        };
        object
            .iter()
            .filter(|(k, _)| KEYS.contains(k))
            .map(|(_, v)| v.as_str().map_or(1, str::len))
            .sum()
    });
    let best = sonic.max(sonic_unchecked).max(simd);
    println!(
        "hand-written / best SIMD crate: {:.2}x ({})",
        hand_written / best,
        if hand_written > best {
            "the hand-written scanner stays"
        } else {
            "a SIMD crate is faster"
        }
    );
}
