//! `--watch` of `apply` and the server verbs: follows the guard's bake of the new version and
//! fails when the guard rolled it back.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use switchyard_admin::Verdict;

use super::client::Client;
use super::output::{self, Output};
use crate::Global;

/// How often the bake's state is read.
const POLL: Duration = Duration::from_millis(250);
/// Without a terminal, one progress line per this long.
const LINE_EVERY: Duration = Duration::from_secs(3);
/// How long after its end a bake may take to give its verdict.
const GRACE: Duration = Duration::from_secs(30);

/// Follows the bake of the version `applied` made; an error if the guard rolled it back.
pub fn follow(client: &Client, applied: &Value, g: &Global) -> anyhow::Result<()> {
    if applied["changed"] == false {
        return Ok(());
    }
    let version = applied["version"]["version"].as_u64().unwrap_or_default();
    let say = |line: String| {
        if g.output == Output::Text {
            println!("{}", output::clean(&line, false));
        } else {
            eprintln!("{}", output::clean(&line, false));
        }
    };
    let first = client.get("/guard")?;
    if first["enabled"] != true {
        say("no guard: the config has no [guard] section, so there is no bake to watch".into());
        return Ok(());
    }
    let started = Instant::now();
    let mut progress = Progress::new(g.output == Output::Text);
    loop {
        let view = client.get("/guard")?;
        let bake = &view["bake"];
        let baked = bake["version"].as_u64();
        if baked != Some(version) {
            progress.clear();
            match baked {
                Some(newer) if newer > version => say(format!(
                    "v{version} is no longer guarded: v{newer} replaced it during the bake"
                )),
                _ => say(format!(
                    "v{version} is not guarded: it changed no pool or route the guard watches"
                )),
            }
            return Ok(());
        }
        let verdict = serde_json::from_value::<Verdict>(bake["verdict"].clone()).ok();
        let reason = bake["reason"].as_str().unwrap_or_default();
        match verdict {
            Some(Verdict::Baking) => progress.show(version, bake),
            Some(Verdict::Kept) => {
                progress.clear();
                say(reason.to_string());
                return Ok(());
            }
            Some(Verdict::RolledBack) => {
                progress.clear();
                anyhow::bail!(
                    "v{version} was rolled back as v{} by the guard: {reason}",
                    bake["rollback_version"]
                );
            }
            Some(Verdict::Failed) => {
                progress.clear();
                anyhow::bail!(
                    "v{version} crossed the guard's limits (auto_rollback is off): {reason}"
                );
            }
            _ => {
                progress.clear();
                say(format!("v{version} is no longer guarded: {reason}"));
                return Ok(());
            }
        }
        let until = time(&bake["until"]).zip(time(&bake["started"]));
        let bake_len = until.map_or(Duration::ZERO, |(u, s)| {
            (u - s).to_std().unwrap_or_default()
        });
        if started.elapsed() > bake_len + GRACE {
            progress.clear();
            anyhow::bail!(
                "the guard gave no verdict on v{version} within {bake_len:?} + {GRACE:?}"
            );
        }
        std::thread::sleep(POLL);
    }
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()?.parse().ok()
}

/// A bar on a terminal, a line every few seconds elsewhere.
struct Progress {
    bar: Option<ProgressBar>,
    last_line: Option<Instant>,
    /// Lines go to stdout, unless stdout carries JSON.
    to_stdout: bool,
}

impl Progress {
    fn new(to_stdout: bool) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(1000);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            last_line: None,
            to_stdout,
        }
    }

    fn show(&mut self, version: u64, bake: &Value) {
        let text = format!(
            "baking v{version} ({}): {} requests, error rate {:.1}% (baseline {:.1}%)",
            bake["pools"]
                .as_array()
                .map(|p| p
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            bake["requests"].as_u64().unwrap_or_default(),
            bake["rate"].as_f64().unwrap_or_default() * 100.0,
            bake["baseline"].as_f64().unwrap_or_default() * 100.0,
        );
        let done = match (time(&bake["started"]), time(&bake["until"])) {
            (Some(s), Some(u)) if u > s => {
                let total = (u - s).num_milliseconds() as f64;
                ((Utc::now() - s).num_milliseconds() as f64 / total).clamp(0.0, 1.0)
            }
            _ => 0.0,
        };
        match &self.bar {
            Some(bar) => {
                bar.set_position((done * 1000.0) as u64);
                bar.set_message(text);
            }
            None => {
                if self.last_line.is_none_or(|t| t.elapsed() >= LINE_EVERY) {
                    if self.to_stdout {
                        println!("{}", output::clean(&text, false));
                    } else {
                        eprintln!("{}", output::clean(&text, false));
                    }
                    self.last_line = Some(Instant::now());
                }
            }
        }
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
