//! One module per command-line verb.

pub mod apply;
pub mod check;
mod client;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod events;
pub mod history;
pub mod instances;
pub mod lab;
pub mod logs;
pub mod output;
pub mod rollout;
pub mod serve;
pub mod servers;
pub mod triage;
mod watch;

pub use output::Output;

use std::path::Path;

use anyhow::Context;
use switchyard_config::Config;

/// Reads and validates a config file; errors list every problem with file:line:col.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "could not read config {}: pass --config FILE with a readable TOML file",
            path.display()
        )
    })?;
    Config::parse(&text, &path.display().to_string()).map_err(|errors| {
        let n = errors.0.len();
        anyhow::anyhow!(
            "{n} problem{} in {}:\n{errors}",
            if n == 1 { "" } else { "s" },
            path.display()
        )
    })
}
