//! `switchyard apply` and `switchyard rollback`: changes that make a new version.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{json, Value};

use super::client::Client;
use super::output::{self, Output};
use crate::Global;

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// The config file to apply.
    #[arg(long, short)]
    config: PathBuf,
    /// Why: recorded with the version.
    #[arg(long, short)]
    message: String,
    /// Refuse unless the current version is N.
    #[arg(long, value_name = "N")]
    if_version: Option<u64>,
    /// Follow the guard's bake of the new version; fail if the guard rolls it back.
    #[arg(long)]
    watch: bool,
}

#[derive(clap::Args)]
pub struct RollbackArgs {
    /// The version whose config to go back to.
    #[arg(long, value_name = "N")]
    to: u64,
    /// Why: recorded with the version.
    #[arg(long, short)]
    message: String,
    /// Refuse unless the current version is N.
    #[arg(long, value_name = "N")]
    if_version: Option<u64>,
}

pub fn apply(args: ApplyArgs, g: &Global) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("could not read {}", args.config.display()))?;
    let body = json!({
        "config": text,
        "message": args.message,
        "author": crate::state::author(g.author.as_deref()),
        "if_version": args.if_version,
    });
    let client = Client::new(g)?;
    let applied = client
        .post("/apply", &body)
        .map_err(|e| relabel(e, &args.config))?;
    report(&applied, g, "applied")?;
    if args.watch {
        super::watch::follow(&client, &applied, g)?;
    }
    Ok(())
}

pub fn rollback(args: RollbackArgs, g: &Global) -> anyhow::Result<()> {
    let body = json!({
        "to": args.to,
        "message": args.message,
        "author": crate::state::author(g.author.as_deref()),
        "if_version": args.if_version,
    });
    let applied = Client::new(g)?.post("/rollback", &body)?;
    report(
        &applied,
        g,
        &format!("rolled back to v{}'s config", args.to),
    )
}

/// Config problems come back located in "config"; name the file the operator gave instead.
fn relabel(e: anyhow::Error, file: &std::path::Path) -> anyhow::Error {
    let text = e
        .to_string()
        .replace("\nconfig:", &format!("\n{}:", file.display()));
    anyhow::anyhow!(text)
}

/// Prints the outcome of a change: the new version and what it changed.
pub fn report(applied: &Value, g: &Global, verb: &str) -> anyhow::Result<()> {
    if g.output == Output::Json {
        output::json(applied);
        return Ok(());
    }
    let v = &applied["version"];
    if applied["changed"] == false {
        println!(
            "no change: {} already has this config",
            output::v(&v["version"])
        );
        return Ok(());
    }
    let changes = applied["changes"].as_array().cloned().unwrap_or_default();
    println!(
        "{verb} as {} ({} change{})",
        output::v(&v["version"]),
        changes.len(),
        if changes.len() == 1 { "" } else { "s" }
    );
    for c in changes {
        println!(
            "  {}",
            output::clean_line(c["text"].as_str().unwrap_or_default())
        );
    }
    Ok(())
}
