//! `switchyard logs errors|trace|templates`: the pieces of triage, one question at a time.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::json;
use switchyard_triage::analysis::breakdown::{breakdown, By};
use switchyard_triage::analysis::{scan, TriageOptions};
use switchyard_triage::input::{self, Format, InputOptions, Record, Sink, SourceInfo};
use switchyard_triage::template::TemplateMiner;

use super::output::{self, Output};
use crate::Global;

/// The log files to read, and how.
#[derive(clap::Args)]
pub struct InputArgs {
    /// Files, directories (walked; DIR/HOST/NAME.log names host and service) or globs; .gz is read too.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Read every file as this format instead of detecting it.
    #[arg(long, value_enum)]
    pub format_hint: Option<Hint>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Hint {
    Plain,
    Json,
    Combined,
    Syslog,
    Syslog5424,
    /// OTLP/JSON lines (the OpenTelemetry Collector's file exporter).
    Otlp,
}

pub fn format_hint(hint: Option<Hint>) -> anyhow::Result<Option<Format>> {
    Ok(hint.map(|h| match h {
        Hint::Plain => Format::Plain,
        Hint::Json => Format::Json,
        Hint::Combined => Format::Combined,
        Hint::Syslog => Format::Syslog3164,
        Hint::Syslog5424 => Format::Syslog5424,
        Hint::Otlp => Format::Otlp,
    }))
}

pub fn input_options(args: &InputArgs) -> anyhow::Result<InputOptions> {
    Ok(InputOptions {
        format_hint: format_hint(args.format_hint)?,
        roots: args.paths.clone(),
        ..InputOptions::default()
    })
}

/// RFC 3339 or `YYYY-MM-DD HH:MM[:SS]` (UTC).
pub fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    switchyard_triage::changes::parse_time(text).ok_or_else(|| {
        anyhow::anyhow!(
            "{text:?} is not a time; write it like 2025-11-13T10:23:00Z or \"2025-11-13 10:23:00\""
        )
    })
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Error counts per server, host, service, pool, template or minute.
    Errors {
        #[command(flatten)]
        input: InputArgs,
        #[arg(long, value_enum, default_value_t = By::Server)]
        by: By,
    },
    /// One request across every service, in time order. ID is a request id or a W3C trace id
    /// (32 hex digits), which joins access-log lines, application lines and OTel records of
    /// that trace.
    Trace {
        #[arg(value_name = "ID")]
        request_id: String,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Message templates with counts.
    Templates {
        #[command(flatten)]
        input: InputArgs,
        /// Read each line as a bare message (no timestamp or level to strip).
        #[arg(long)]
        message_only: bool,
        /// Print, per input line in order, {"line": N, "template_id": ID, "template": "..."}.
        #[arg(long)]
        assign: bool,
    },
}

pub fn run(command: Command, g: &Global) -> anyhow::Result<()> {
    crate::small_pages();
    match command {
        Command::Errors { input, by } => errors(&input, by, g),
        Command::Trace { request_id, input } => trace(&request_id, &input, g),
        Command::Templates {
            input,
            message_only,
            assign,
        } => templates(&input, message_only, assign, g),
    }
}

fn errors(input: &InputArgs, by: By, g: &Global) -> anyhow::Result<()> {
    let options = TriageOptions {
        bucket: std::time::Duration::from_secs(60),
        from: None,
        to: None,
        input: input_options(input)?,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let scan = scan(&input.paths, &options, &|_| {})?;
    let rows = breakdown(&scan, by);
    if g.output == Output::Json {
        output::json(&serde_json::to_value(&rows)?);
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let share = r.total.filter(|t| *t > 0).map_or_else(
                || "-".into(),
                |t| format!("{:.1}%", r.errors as f64 / t as f64 * 100.0),
            );
            vec![
                r.errors.to_string(),
                r.total.map_or_else(|| "-".into(), |t| t.to_string()),
                share,
                r.key.clone(),
            ]
        })
        .collect();
    println!(
        "{}",
        output::table(&["ERRORS", "OF", "RATE", "KEY"], &table)
    );
    Ok(())
}

fn trace(id: &str, input: &InputArgs, g: &Global) -> anyhow::Result<()> {
    let hops = switchyard_triage::trace::trace(&input.paths, id, &input_options(input)?)?;
    if g.output == Output::Json {
        output::json(&serde_json::to_value(&hops)?);
        return Ok(());
    }
    if hops.is_empty() {
        if switchyard_triage::trace::is_trace_id(id) {
            anyhow::bail!("no record carries trace {id:?} or mentions it under the given paths");
        }
        anyhow::bail!("no record mentions request {id:?} under the given paths");
    }
    for h in &hops {
        let status = h.status.map(|s| format!(" [{s}]")).unwrap_or_default();
        let level = h
            .level
            .map(|l| format!(" {l:?}").to_uppercase())
            .unwrap_or_default();
        println!(
            "{}  {:<14} {}{level}{status}: {}",
            h.ts.format("%Y-%m-%d %H:%M:%S%.3f"),
            h.host,
            output::clean_line(&h.service),
            output::clean_line(&h.describe())
        );
        for d in h.details.lines() {
            println!("{:>42}{}", "", output::clean_line(d));
        }
    }
    Ok(())
}

/// Every record's message goes through one miner.
struct Mine {
    miner: TemplateMiner,
    assign: Option<Vec<(u64, u32)>>,
}

impl Sink for Mine {
    fn record(&mut self, _: &SourceInfo, record: &Record<'_>) {
        let id = self.miner.add(record.line.message);
        if let Some(a) = &mut self.assign {
            a.push((record.line_no, id));
        }
    }
}

fn templates(
    input: &InputArgs,
    message_only: bool,
    assign: bool,
    g: &Global,
) -> anyhow::Result<()> {
    let mut options = input_options(input)?;
    options.message_only = message_only;
    let mut mine = Mine {
        miner: TemplateMiner::new(),
        assign: assign.then(Vec::new),
    };
    for file in input::expand(&input.paths)? {
        input::scan_file(&file, &options, &mut mine)?;
    }
    if let Some(assigned) = &mine.assign {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for (line, id) in assigned {
            let v = json!({ "line": line, "template_id": id, "template": mine.miner.template(*id).text });
            std::io::Write::write_all(&mut out, format!("{v}\n").as_bytes())?;
        }
        return Ok(());
    }
    let mut templates: Vec<_> = mine.miner.templates().to_vec();
    templates.sort_by_key(|t| std::cmp::Reverse(t.count));
    if g.output == Output::Json {
        output::json(&serde_json::to_value(&templates)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = templates
        .iter()
        .map(|t| vec![t.count.to_string(), t.id.to_string(), t.text.clone()])
        .collect();
    println!("{}", output::table(&["COUNT", "ID", "TEMPLATE"], &rows));
    Ok(())
}
