//! A self-contained HTML report: the error-rate chart as inline SVG with the onset and the
//! changes marked on it, then the same sections as the text report.

use std::fmt::Write;

use super::{describe, pct};
use crate::analysis::findings::Findings;

const W: f64 = 900.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;

pub fn render(f: &Findings) -> String {
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Switchyard incident report</title><style>body{font:14px/1.45 system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}h1{font-size:22px}h2{font-size:17px;margin-top:1.6em}code,pre{font:13px ui-monospace,monospace;background:#f4f4f4}pre{padding:8px;overflow:auto}.new{color:#b35c00;font-weight:600}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}svg text{font:11px sans-serif}</style></head><body><h1>Incident report</h1>",
    );
    let _ = write!(
        out,
        "<p>{}</p>",
        esc(&match f.onset {
            Some(o) => format!(
                "Errors began at {} UTC: error rate {} → {} ({}).",
                o.format("%Y-%m-%d %H:%M:%S"),
                pct(f.baseline_error_rate),
                pct(f.incident_error_rate),
                f.rate_of
            ),
            None => format!("No onset found; error rate {}.", pct(f.baseline_error_rate)),
        })
    );
    if !f.onset_summary.is_empty() {
        let _ = write!(out, "<p>Evidence: {}.</p>", esc(&f.onset_summary));
    }
    out.push_str(&chart(f));
    out.push_str("<h2>Where the errors are</h2><ul>");
    for c in f.concentration.iter().take(5) {
        let _ = write!(
            out,
            "<li>{}<br><small>{}</small></li>",
            esc(&describe(c)),
            esc(&c.evidence)
        );
    }
    out.push_str("</ul><h2>Error messages</h2><table><tr><th></th><th>count</th><th>template</th><th>hosts</th><th>first seen</th></tr>");
    for t in f.templates.iter().take(10) {
        let _ = write!(
            out,
            "<tr><td class=\"new\">{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            if t.new { "NEW" } else { "" },
            t.count,
            esc(&t.template),
            esc(&t.hosts.join(", ")),
            t.first_seen.format("%H:%M:%S")
        );
    }
    out.push_str("</table>");
    if let Some(t) = f.templates.iter().find(|t| t.new) {
        let _ = write!(
            out,
            "<p>First occurrence of the top new message:</p><pre>{}</pre>",
            esc(&t.example)
        );
    }
    out.push_str("<h2>Changes before the onset</h2>");
    if f.suspect_changes.is_empty() {
        let why = if f.changes_given == 0 {
            super::NO_CHANGES_GIVEN
        } else if f.onset.is_none() {
            "No onset, so no change to line up with it."
        } else {
            "No change in the hours before the onset."
        };
        let _ = write!(out, "<p>{}</p>", esc(why));
    } else {
        out.push_str(
            "<table><tr><th>score</th><th>time</th><th>source</th><th>change</th><th>why</th></tr>",
        );
    }
    for s in f.suspect_changes.iter().take(10) {
        let _ = write!(
            out,
            "<tr><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            s.score,
            s.ts.format("%Y-%m-%d %H:%M:%S"),
            esc(&s.source),
            esc(&s.summary),
            esc(&s.why)
        );
    }
    if !f.suspect_changes.is_empty() {
        out.push_str("</table>");
    }
    if !f.suggestions.is_empty() {
        out.push_str("<h2>Suggestions (check before running)</h2><pre>");
        for s in &f.suggestions {
            let _ = writeln!(out, "$ {}", esc(s));
        }
        out.push_str("</pre>");
    }
    let _ = writeln!(
        out,
        "<p>{} records read; {} lines skipped.</p></body></html>",
        f.records, f.skipped_lines
    );
    out
}

/// The error rate over time, the onset as a red line, changes as blue ticks (hover for what).
fn chart(f: &Findings) -> String {
    let n = f.series.len();
    if n < 2 {
        return String::new();
    }
    let t0 = f.series[0].ts.timestamp_millis() as f64;
    let t1 = f.series[n - 1].ts.timestamp_millis() as f64;
    let max = f
        .series
        .iter()
        .map(|b| b.rate)
        .fold(0.0, f64::max)
        .max(0.001);
    let x = |ms: f64| PAD + (ms - t0) / (t1 - t0).max(1.0) * (W - 2.0 * PAD);
    let y = |r: f64| H - PAD - r / max * (H - 2.0 * PAD);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"error rate over time\"><rect width=\"{W}\" height=\"{H}\" fill=\"#fff\"/>"
    );
    let _ = write!(
        svg,
        "<line x1=\"{PAD}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#999\"/><line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{0}\" stroke=\"#999\"/><text x=\"4\" y=\"{PAD}\">{2}</text><text x=\"4\" y=\"{0}\">0%</text>",
        H - PAD,
        W - PAD,
        pct(max)
    );
    let points: Vec<String> = f
        .series
        .iter()
        .map(|b| format!("{:.1},{:.1}", x(b.ts.timestamp_millis() as f64), y(b.rate)))
        .collect();
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.6\" points=\"{}\"/>",
        points.join(" ")
    );
    for c in &f.suspect_changes {
        let cx = x(c.ts.timestamp_millis() as f64);
        if (PAD..=W - PAD).contains(&cx) {
            let _ = write!(
                svg,
                "<g><title>{}: {}</title><line x1=\"{cx:.1}\" y1=\"{PAD}\" x2=\"{cx:.1}\" y2=\"{}\" stroke=\"#2471a3\" stroke-dasharray=\"3,3\"/><circle cx=\"{cx:.1}\" cy=\"{PAD}\" r=\"4\" fill=\"#2471a3\"/></g>",
                esc(&c.ts.format("%H:%M:%S").to_string()),
                esc(&c.summary),
                H - PAD
            );
        }
    }
    if let Some(o) = f.onset {
        let ox = x(o.timestamp_millis() as f64);
        let _ = write!(
            svg,
            "<line x1=\"{ox:.1}\" y1=\"{}\" x2=\"{ox:.1}\" y2=\"{}\" stroke=\"#c0392b\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{}\" fill=\"#c0392b\">onset {}</text>",
            PAD - 10.0,
            H - PAD,
            ox + 4.0,
            PAD - 14.0,
            o.format("%H:%M")
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{PAD}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text></svg>",
        H - 12.0,
        f.series[0].ts.format("%H:%M"),
        W - PAD,
        H - 12.0,
        f.series[n - 1].ts.format("%H:%M")
    );
    svg
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
