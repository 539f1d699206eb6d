//! Rendering findings for people and programs: a terminal report (colour on a tty, a
//! sparkline), Markdown, a self-contained HTML page with an SVG chart, and JSON.

mod html;
mod text;

use crate::analysis::findings::{Concentration, Findings};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
    Html,
}

/// Renders `findings`; `color` adds ANSI colours to text.
pub fn render(findings: &Findings, format: Format, color: bool) -> String {
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(findings).expect("findings serialize");
            s.push('\n');
            s
        }
        Format::Text => text::render(findings, color, false),
        Format::Markdown => text::render(findings, false, true),
        Format::Html => html::render(findings),
    }
}

/// `98.0% of errors on server inventory-4 (pool inventory), which carried 24.0% of requests`
pub fn describe(c: &Concentration) -> String {
    let what = match c.dimension {
        crate::analysis::Dim::Server | crate::analysis::Dim::Pool => "requests",
        _ => "records",
    };
    let pool = c
        .pool
        .as_ref()
        .map(|p| format!(" (pool {p})"))
        .unwrap_or_default();
    format!(
        "{} of errors on {} {}{pool}, which carried {} of {what}",
        pct(c.share_of_errors),
        c.dimension.as_str(),
        c.key,
        pct(c.share_of_traffic)
    )
}

/// What to say when no change was given at all, and how to give them.
pub const NO_CHANGES_GIVEN: &str = "No changes were given, so none can be lined up with the onset. Pass a change file with --changes FILE (JSON lines with ts and summary, or `TIMESTAMP text` lines such as git log output), or let triage read Switchyard's own versions with --state DIR or --admin URL.";

pub fn pct(f: f64) -> String {
    if f > 0.0 && f < 0.01 {
        format!("{:.2}%", f * 100.0)
    } else {
        format!("{:.1}%", f * 100.0)
    }
}

/// `▁▂▃▅▇` for a series of rates.
pub fn sparkline(rates: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = rates.iter().copied().fold(0.0, f64::max);
    rates
        .iter()
        .map(|r| {
            if max <= 0.0 {
                BARS[0]
            } else {
                BARS[((r / max) * 7.0).round() as usize]
            }
        })
        .collect()
}
