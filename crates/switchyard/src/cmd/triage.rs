//! `switchyard triage`: read every service's logs and print an incident report.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use switchyard_triage::analysis::{triage, TriageOptions};
use switchyard_triage::changes::{self, Change};
use switchyard_triage::report::{self, Format};

use super::client::Client;
use super::logs::{input_options, parse_time, InputArgs};
use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Change files: JSON lines (ts, summary, kind, author, target) or `TIMESTAMP text` lines.
    /// A `changes.jsonl` inside a walked directory is read as one without this.
    #[arg(long = "changes", value_name = "FILE")]
    changes: Vec<PathBuf>,
    /// Only records at or after this time (RFC 3339 or `YYYY-MM-DD HH:MM:SS`, UTC).
    #[arg(long)]
    from: Option<String>,
    /// Only records before this time.
    #[arg(long)]
    to: Option<String>,
    /// Width of a time bucket.
    #[arg(long, default_value = "1m")]
    bucket: String,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Write the report here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    Text,
    Json,
    Markdown,
    Html,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    crate::small_pages();
    let bucket = switchyard_config::parse_duration(&args.bucket)
        .map_err(|e| anyhow::anyhow!("--bucket: {e}"))?;
    let all_changes = with_change_files(switchyard_changes(g)?, &args.changes, &args.input.paths)?;
    let options = TriageOptions {
        bucket: bucket.max(Duration::from_secs(1)),
        from: args.from.as_deref().map(parse_time).transpose()?,
        to: args.to.as_deref().map(parse_time).transpose()?,
        input: input_options(&args.input)?,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let bar = progress_bar(&args.input.paths);
    let (findings, _) = triage(&args.input.paths, &all_changes, &options, &|done| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let format = match args.format {
        ReportFormat::Text => Format::Text,
        ReportFormat::Json => Format::Json,
        ReportFormat::Markdown => Format::Markdown,
        ReportFormat::Html => Format::Html,
    };
    let color = args.out.is_none() && format == Format::Text && std::io::stdout().is_terminal();
    let text = report::render(&findings, format, color);
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("could not write the report to {}", path.display()))?,
        None => print!("{}", super::output::clean(&text, color)),
    }
    Ok(())
}

/// `changes` and those of the change files: the ones named, and those found in the walked
/// `paths`, each read once; oldest first.
pub(crate) fn with_change_files(
    mut changes: Vec<Change>,
    files: &[PathBuf],
    paths: &[PathBuf],
) -> anyhow::Result<Vec<Change>> {
    let mut files = files.to_vec();
    files.extend(switchyard_triage::input::change_files(paths));
    let mut seen = std::collections::HashSet::new();
    for file in &files {
        if !seen.insert(std::fs::canonicalize(file).unwrap_or_else(|_| file.clone())) {
            continue;
        }
        let (mut c, _) = changes::read_file(file)?;
        changes.append(&mut c);
    }
    changes.sort_by_key(|c| c.ts);
    Ok(changes)
}

/// Switchyard's versions as changes: from `--admin` when given, else from the state
/// directory when it has a version store; nothing otherwise.
fn switchyard_changes(g: &Global) -> anyhow::Result<Vec<Change>> {
    if g.admin.is_some() {
        let v = Client::new(g)?.get("/events?limit=1000000")?;
        let events: Vec<switchyard_store::Event> =
            serde_json::from_value(v).context("the admin API's events do not parse")?;
        return Ok(changes::from_events(&events));
    }
    stored_changes(&g.state)
}

/// The versions in the state directory `state` as changes; none without a version store.
pub(crate) fn stored_changes(state: &Path) -> anyhow::Result<Vec<Change>> {
    if !state
        .join(switchyard_store::SqliteStore::FILE_NAME)
        .exists()
    {
        return Ok(Vec::new());
    }
    use switchyard_store::Store;
    let store = switchyard_store::SqliteStore::open(state)?;
    Ok(changes::from_events(&store.events(None, 1_000_000)?))
}

/// A byte-count progress bar on a terminal, none in pipes.
fn progress_bar(paths: &[PathBuf]) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = switchyard_triage::input::expand(paths)
        .ok()?
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .ok()?,
    );
    Some(bar)
}
