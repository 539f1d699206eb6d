//! Parallel chunks: a file cut anywhere gives the same records, sinks can be structs, and the
//! scan's throughput against `grep` (ignored: a measurement).

use super::*;

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
/// Run with `cargo test --release -p switchyard-triage --test integration input::parallel::throughput_against_grep -- --ignored --nocapture`;
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
