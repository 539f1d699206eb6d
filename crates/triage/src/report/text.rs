//! The terminal and Markdown report: the same story, told top-down.

use std::fmt::Write;

use super::{describe, pct, sparkline};
use crate::analysis::findings::Findings;

/// At most this many buckets in the sparkline.
const SPARK_WIDTH: usize = 72;

pub fn render(f: &Findings, color: bool, markdown: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let h = |title: &str| {
        if markdown {
            format!("\n## {title}\n\n")
        } else {
            format!("\n{}\n", paint("1", title))
        }
    };
    let mut out = String::new();
    if markdown {
        out.push_str("# Incident report\n\n");
    }
    match f.onset {
        Some(onset) => {
            let _ = writeln!(
                out,
                "{} errors began at {} UTC: error rate {} -> {} ({}).",
                paint("1;31", "Onset:"),
                onset.format("%Y-%m-%d %H:%M:%S"),
                pct(f.baseline_error_rate),
                pct(f.incident_error_rate),
                f.rate_of
            );
        }
        None => {
            let _ = writeln!(
                out,
                "{} the error rate stays at {} ({}); no onset found.",
                paint("1;32", "No onset:"),
                pct(f.baseline_error_rate),
                f.rate_of
            );
        }
    }
    if !f.onset_summary.is_empty() {
        let _ = writeln!(out, "Evidence: {}.", f.onset_summary);
    }
    if let Some(c) = &f.client_error_rate {
        let _ = writeln!(
            out,
            "4xx answers jumped at the onset too ({} -> {} of requests); they count as errors below.",
            pct(c.baseline),
            pct(c.incident)
        );
    }
    let rates: Vec<f64> = f.series.iter().map(|b| b.rate).collect();
    if !rates.is_empty() {
        let step = rates.len().div_ceil(SPARK_WIDTH).max(1);
        let folded: Vec<f64> = rates
            .chunks(step)
            .map(|c| c.iter().copied().fold(0.0, f64::max))
            .collect();
        let line = format!(
            "error rate per {}s: {}  (max {})",
            f.bucket_seconds * step as u64,
            sparkline(&folded),
            pct(folded.iter().copied().fold(0.0, f64::max))
        );
        if markdown {
            let _ = writeln!(out, "\n`{line}`");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }

    out.push_str(&h("Where the errors are"));
    if f.concentration.is_empty() {
        out.push_str(
            "Errors are spread like the traffic: no host, service, pool or server stands out.\n",
        );
    }
    for (i, c) in f.concentration.iter().take(5).enumerate() {
        let text = describe(c);
        let line = if i == 0 { paint("1", &text) } else { text };
        let _ = writeln!(out, "{} {line}", if markdown { "-" } else { " " });
        let _ = writeln!(
            out,
            "{}{}",
            if markdown { "  " } else { "    " },
            c.evidence
        );
    }

    out.push_str(&h("Error messages"));
    if f.templates.is_empty() {
        out.push_str("No error messages in the logs.\n");
    }
    for t in f.templates.iter().take(6) {
        let mark = if t.new {
            paint("1;33", "NEW ")
        } else {
            String::new()
        };
        let hosts = if t.hosts.len() > 4 {
            format!("{} hosts", t.hosts.len())
        } else {
            t.hosts.join(", ")
        };
        let _ = writeln!(
            out,
            "{} {mark}{} x {}  [{}; {} .. {}]",
            if markdown { "-" } else { " " },
            t.count,
            if markdown {
                format!("`{}`", t.template)
            } else {
                t.template.clone()
            },
            hosts,
            t.first_seen.format("%H:%M:%S"),
            t.last_seen.format("%H:%M:%S")
        );
    }
    if let Some(t) = f.templates.iter().find(|t| t.new) {
        if markdown {
            let _ = writeln!(
                out,
                "\nFirst occurrence of the top new message:\n\n```text\n{}\n```",
                t.example
            );
        } else {
            let _ = writeln!(out, "  first occurrence of the top new message:");
            for l in t.example.lines().take(8) {
                let _ = writeln!(out, "    | {l}");
            }
        }
    }

    out.push_str(&h("Changes before the onset"));
    if f.suspect_changes.is_empty() {
        if f.changes_given == 0 {
            out.push_str(super::NO_CHANGES_GIVEN);
            out.push('\n');
        } else if f.onset.is_none() {
            out.push_str("No onset, so no change to line up with it.\n");
        } else {
            out.push_str("No change in the hours before the onset.\n");
        }
    }
    for s in f.suspect_changes.iter().take(5) {
        let _ = writeln!(
            out,
            "{} {:.2}  {} [{}] {}\n      {}",
            if markdown { "-" } else { " " },
            s.score,
            s.ts.format("%Y-%m-%d %H:%M:%S"),
            s.source,
            s.summary,
            s.why
        );
    }

    if !f.suggestions.is_empty() {
        out.push_str(&h("Suggestions (check before running)"));
        for s in &f.suggestions {
            if markdown {
                let _ = writeln!(out, "- `{s}`");
            } else {
                let _ = writeln!(out, "  $ {}", paint("36", s));
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} records read; {} lines skipped (unreadable, binary or without a timestamp).",
        f.records, f.skipped_lines
    );
    out
}
