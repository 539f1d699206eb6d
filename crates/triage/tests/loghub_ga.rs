//! Grouping accuracy of the template miner on the twelve labelled LogHub 2k samples.
//!
//! For each dataset, one miner with the default settings reads the `Content` column of
//! `<name>_2k.log_structured.csv` in order; its template ids are scored against the labelled
//! `EventId`s with [`grouping_accuracy`]. The test prints a table and fails if the average is
//! below 0.90. A second test does the same with each sample's lines shuffled, so that no rule
//! depends on which message comes first. An ignored test measures throughput.
//!
//! The samples live in `shared/loghub/` beside the workspace (`<workspace>/../shared/loghub`);
//! `LOGHUB_DIR` points elsewhere. `LOGHUB_DETAIL=<name>` also prints, for that dataset, every
//! labelled event whose messages were not grouped exactly, with the templates they went to.
//!
//! Run: `cargo test -p switchyard-triage --release --test integration loghub_ga -- --nocapture`

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use switchyard_triage::template::{grouping_accuracy, TemplateMiner};

pub(crate) const DATASETS: [&str; 12] = [
    "Apache",
    "BGL",
    "HDFS",
    "HPC",
    "Hadoop",
    "HealthApp",
    "Linux",
    "OpenSSH",
    "OpenStack",
    "Spark",
    "Windows",
    "Zookeeper",
];

const AVERAGE_BAR: f64 = 0.90;

pub(crate) fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LOGHUB_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/loghub")
}

/// Parses RFC 4180 CSV: quoted fields may hold commas, line breaks and doubled quotes.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            _ => field.push(c),
        }
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    rows
}

pub(crate) struct Sample {
    pub(crate) contents: Vec<String>,
    pub(crate) events: Vec<String>,
}

pub(crate) fn load(dir: &Path, name: &str) -> Sample {
    let path = dir.join(name).join(format!("{name}_2k.log_structured.csv"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("could not read LogHub sample {}: {e}", path.display()));
    let mut rows = parse_csv(&text).into_iter();
    let header = rows
        .next()
        .unwrap_or_else(|| panic!("{}: empty file", path.display()));
    let col = |want: &str| {
        header.iter().position(|h| h == want).unwrap_or_else(|| {
            panic!(
                "{}: no `{want}` column in header {header:?}",
                path.display()
            )
        })
    };
    let (content, event) = (col("Content"), col("EventId"));
    let mut sample = Sample {
        contents: Vec::new(),
        events: Vec::new(),
    };
    for (i, row) in rows.enumerate() {
        assert_eq!(
            row.len(),
            header.len(),
            "{}: row {} has {} fields, header has {}",
            path.display(),
            i + 2,
            row.len(),
            header.len()
        );
        sample.contents.push(row[content].clone());
        sample.events.push(row[event].clone());
    }
    sample
}

/// The labelled events whose messages were not grouped exactly, with where they went.
fn detail_of(name: &str, sample: &Sample, ids: &[u32], miner: &TemplateMiner) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut by_event: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut by_id: HashMap<u32, usize> = HashMap::new();
    for (i, (e, id)) in sample.events.iter().zip(ids).enumerate() {
        by_event.entry(e).or_default().push(i);
        *by_id.entry(*id).or_default() += 1;
    }
    let _ = writeln!(out, "\n{name}: events not grouped exactly");
    for (event, lines) in by_event {
        let found: HashSet<u32> = lines.iter().map(|&i| ids[i]).collect();
        if found.len() == 1 && by_id[&ids[lines[0]]] == lines.len() {
            continue;
        }
        let _ = writeln!(
            out,
            "  {event} ({} lines) e.g. {}",
            lines.len(),
            sample.contents[lines[0]]
        );
        let mut found: Vec<u32> = found.into_iter().collect();
        found.sort_unstable();
        for id in found {
            let mine = lines.iter().filter(|&&i| ids[i] == id).count();
            let _ = writeln!(
                out,
                "      {mine:>4} of {:>4} -> #{id} {}",
                by_id[&id],
                miner.template(id).text
            );
        }
    }
    out.push('\n');
    out
}

/// How the lines of a sample are fed to the miner.
#[derive(Clone, Copy)]
enum Order {
    /// As in the file.
    AsLogged,
    /// Shuffled with this seed: rules must not depend on which message comes first.
    Shuffled(u64),
}

/// A small xorshift generator, so that runs are repeatable without a dependency.
fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    seed |= 1;
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// Scores every dataset, prints the table (in one piece, tests run in parallel), returns the
/// average GA.
fn score_all(order: Order) -> f64 {
    let dir = data_dir();
    assert!(
        dir.is_dir(),
        "LogHub samples not found at {} (expected shared/loghub beside the workspace, or set LOGHUB_DIR)",
        dir.display()
    );
    let detail = std::env::var("LOGHUB_DETAIL").unwrap_or_default();

    let mut table = format!(
        "{:<10} {:>6} {:>6} {:>6} {:>7}\n",
        "dataset", "lines", "true", "found", "GA"
    );
    let mut total = 0.0;
    for name in DATASETS {
        let mut sample = load(&dir, name);
        if let Order::Shuffled(seed) = order {
            let mut next = xorshift(seed);
            for i in (1..sample.contents.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                sample.contents.swap(i, j);
                sample.events.swap(i, j);
            }
        }
        let mut miner = TemplateMiner::new();
        let ids: Vec<u32> = sample.contents.iter().map(|c| miner.add(c)).collect();
        let ga = grouping_accuracy(&ids, &sample.events);
        let true_templates = sample.events.iter().collect::<HashSet<_>>().len();
        table += &format!(
            "{name:<10} {:>6} {:>6} {:>6} {ga:>7.4}\n",
            ids.len(),
            true_templates,
            miner.len()
        );
        if detail.eq_ignore_ascii_case(name) || detail == "all" {
            table += &detail_of(name, &sample, &ids, &miner);
        }
        total += ga;
    }
    let average = total / DATASETS.len() as f64;
    table += &format!(
        "{:<10} {:>6} {:>6} {:>6} {average:>7.4}\n",
        "average", "", "", ""
    );
    let heading = match order {
        Order::AsLogged => "lines in logged order".to_string(),
        Order::Shuffled(seed) => format!("lines shuffled (seed {seed:#x})"),
    };
    print!("\nGrouping accuracy on LogHub 2k samples, {heading}:\n{table}");
    average
}

#[test]
fn loghub_grouping_accuracy() {
    let average = score_all(Order::AsLogged);
    assert!(
        average >= AVERAGE_BAR,
        "average grouping accuracy {average:.4} is below {AVERAGE_BAR}"
    );
}

#[test]
fn loghub_grouping_accuracy_in_shuffled_order() {
    let average = score_all(Order::Shuffled(0x5eed));
    assert!(
        average >= AVERAGE_BAR,
        "average grouping accuracy {average:.4} with the lines shuffled is below {AVERAGE_BAR}"
    );
}

#[test]
fn csv_fields_with_quotes_commas_and_line_breaks() {
    let rows = parse_csv("a,b,c\n1,\"x, \"\"y\"\"\",3\r\n2,\"two\nlines\",\n");
    assert_eq!(
        rows,
        vec![
            vec!["a", "b", "c"],
            vec!["1", "x, \"y\"", "3"],
            vec!["2", "two\nlines", ""],
        ]
    );
}

/// Throughput, not a check: every sample's messages, with their digits shuffled so that
/// values keep changing, fed to one miner `LOGHUB_REPEAT` times (default 50, about 1.2 M
/// messages). Run with `--release --ignored --nocapture`.
#[test]
#[ignore = "benchmark; run explicitly"]
fn loghub_throughput() {
    let dir = data_dir();
    let repeat: usize = std::env::var("LOGHUB_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let mut base = Vec::new();
    for name in DATASETS {
        base.extend(load(&dir, name).contents);
    }
    // Interleave the datasets as one mixed stream would.
    let mut order: Vec<usize> = (0..base.len()).collect();
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    for i in (1..order.len()).rev() {
        order.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    let mut messages = Vec::with_capacity(base.len() * repeat);
    for _ in 0..repeat {
        for &i in &order {
            let m: String = base[i]
                .chars()
                .map(|c| {
                    if c.is_ascii_digit() {
                        char::from(b'0' + (next() % 10) as u8)
                    } else {
                        c
                    }
                })
                .collect();
            messages.push(m);
        }
    }
    let bytes: usize = messages.iter().map(|m| m.len()).sum();
    let mut miner = TemplateMiner::new();
    let start = std::time::Instant::now();
    let mut sum = 0u64;
    for m in &messages {
        sum += u64::from(miner.add(m));
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} messages ({:.1} MB) in {secs:.3} s: {:.0} messages/s, {:.1} MB/s; {} templates (checksum {sum})",
        messages.len(),
        bytes as f64 / 1e6,
        messages.len() as f64 / secs,
        bytes as f64 / 1e6 / secs,
        miner.len()
    );
}
