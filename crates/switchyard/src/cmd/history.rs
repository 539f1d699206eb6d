//! `switchyard version` and `switchyard history`.

use serde_json::Value;

use super::client::Client;
use super::output::{self, Output};
use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Show at most this many versions.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

pub fn version(g: &Global) -> anyhow::Result<()> {
    let v = Client::new(g)?.get("/version")?;
    match g.output {
        Output::Json => output::json(&v),
        Output::Text => println!("{}", describe(&v)),
    }
    Ok(())
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let list = Client::new(g)?.get(&format!("/versions?limit={}", args.limit))?;
    match g.output {
        Output::Json => output::json(&list),
        Output::Text => println!("{}", table(list.as_array().map_or(&[][..], |v| v))),
    }
    Ok(())
}

/// One version in a few lines.
pub fn describe(v: &Value) -> String {
    format!(
        "{} ({}) by {} at {}: {}\nparent {}, digest {}",
        output::v(&v["version"]),
        output::s(&v["kind"]),
        output::s(&v["author"]),
        output::time(&v["created_at"]),
        output::s(&v["message"]),
        output::v(&v["parent"]),
        output::s(&v["digest"]),
    )
}

fn table(versions: &[Value]) -> String {
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                output::v(&v["version"]),
                output::v(&v["parent"]),
                output::time(&v["created_at"]),
                output::s(&v["author"]),
                output::s(&v["kind"]),
                output::s(&v["message"]),
            ]
        })
        .collect();
    output::table(
        &[
            "VERSION",
            "PARENT",
            "CREATED (UTC)",
            "AUTHOR",
            "KIND",
            "MESSAGE",
        ],
        &rows,
    )
}
