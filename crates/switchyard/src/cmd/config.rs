//! `switchyard config show` and `switchyard config diff`.

use super::client::Client;
use super::output::{self, Output};
use crate::Global;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print a version's full config (default: the current version).
    Show {
        #[arg(long)]
        version: Option<u64>,
    },
    /// What changed from version A to version B (default: the current version).
    Diff {
        a: u64,
        b: Option<u64>,
        /// A unified diff of the TOML instead of the semantic changes.
        #[arg(long)]
        text: bool,
    },
}

pub fn run(command: Command, g: &Global) -> anyhow::Result<()> {
    let client = Client::new(g)?;
    match command {
        Command::Show { version } => {
            let v = match version {
                Some(n) => client.get(&format!("/versions/{n}"))?,
                None => {
                    let head = client.get("/version")?;
                    client.get(&format!("/versions/{}", head["version"]))?
                }
            };
            match g.output {
                Output::Json => output::json(&v),
                Output::Text => print!(
                    "{}",
                    output::clean(v["config"].as_str().unwrap_or_default(), false)
                ),
            }
        }
        Command::Diff { a, b, text } => {
            let to = b.map(|b| format!("&to={b}")).unwrap_or_default();
            let d = client.get(&format!("/diff?from={a}{to}"))?;
            match (g.output, text) {
                (Output::Json, _) => output::json(&d),
                (Output::Text, true) => print!(
                    "{}",
                    output::clean(d["text"].as_str().unwrap_or_default(), false)
                ),
                (Output::Text, false) => {
                    let changes = d["changes"].as_array().cloned().unwrap_or_default();
                    if changes.is_empty() {
                        println!("v{} and v{} have the same config", d["from"], d["to"]);
                    }
                    for c in changes {
                        println!(
                            "{}",
                            output::clean_line(c["text"].as_str().unwrap_or_default())
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
