//! `switchyard servers list|add|remove|restore`.

use std::net::SocketAddr;

use serde_json::{json, Value};

use super::apply::report;
use super::client::Client;
use super::output::{self, Output};
use crate::Global;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Every server with its state, load, error rate and last error.
    List {
        #[arg(long)]
        pool: Option<String>,
    },
    /// Add a server to a pool (a new version).
    Add {
        /// IP:PORT of the server.
        address: SocketAddr,
        #[arg(long)]
        pool: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 1)]
        weight: u32,
        #[arg(long, short)]
        message: String,
        #[arg(long, value_name = "N")]
        if_version: Option<u64>,
    },
    /// Take a server out of rotation (a new version), then let its requests finish.
    Remove {
        name: String,
        #[arg(long)]
        pool: String,
        #[arg(long, short)]
        message: String,
        /// How long requests in flight get before their connections are closed.
        #[arg(long, default_value = "30s")]
        drain_timeout: String,
        #[arg(long, value_name = "N")]
        if_version: Option<u64>,
    },
    /// Put a removed server back into rotation (a new version).
    Restore {
        name: String,
        #[arg(long)]
        pool: String,
        #[arg(long, short, default_value = "")]
        message: String,
        #[arg(long, value_name = "N")]
        if_version: Option<u64>,
    },
}

pub fn run(command: Command, g: &Global) -> anyhow::Result<()> {
    let client = Client::new(g)?;
    let author = crate::state::author(g.author.as_deref());
    match command {
        Command::List { pool } => {
            let path = match &pool {
                Some(p) => format!("/pools?pool={p}"),
                None => "/pools".into(),
            };
            let pools = client.get(&path)?;
            match g.output {
                Output::Json => output::json(&pools),
                Output::Text => println!("{}", list(&pools)),
            }
            Ok(())
        }
        Command::Add {
            address,
            pool,
            name,
            weight,
            message,
            if_version,
        } => {
            let body = json!({
                "name": name, "address": address.to_string(), "weight": weight,
                "message": message, "author": author, "if_version": if_version,
            });
            let applied = client.post(&format!("/pools/{pool}/servers"), &body)?;
            report(&applied, g, &format!("added {name} to pool {pool}"))
        }
        Command::Remove {
            name,
            pool,
            message,
            drain_timeout,
            if_version,
        } => {
            switchyard_config::parse_duration(&drain_timeout)
                .map_err(|e| anyhow::anyhow!("--drain-timeout: {e}"))?;
            let body = json!({
                "message": message, "author": author, "if_version": if_version,
                "drain_timeout": drain_timeout, "wait": true,
            });
            let removed = client.post(&format!("/pools/{pool}/servers/{name}/remove"), &body)?;
            report(&removed, g, &format!("removed {name} from pool {pool}"))?;
            if g.output == Output::Text {
                let d = &removed["drain"];
                if d["drained"] == true {
                    println!(
                        "drained in {:.1}s",
                        d["waited_ms"].as_f64().unwrap_or(0.0) / 1000.0
                    );
                } else if d.is_object() {
                    println!(
                        "drain timed out after {drain_timeout}: {} request(s) still in flight were cut",
                        d["cut"]
                    );
                }
            }
            Ok(())
        }
        Command::Restore {
            name,
            pool,
            message,
            if_version,
        } => {
            let body = json!({ "message": message, "author": author, "if_version": if_version });
            let applied = client.post(&format!("/pools/{pool}/servers/{name}/restore"), &body)?;
            report(&applied, g, &format!("restored {name} in pool {pool}"))
        }
    }
}

fn list(pools: &Value) -> String {
    let mut rows = Vec::new();
    for p in pools.as_array().map_or(&[][..], |v| v) {
        for s in p["servers"].as_array().map_or(&[][..], |v| v) {
            let note = if s["removed_by"].is_string() {
                format!(
                    "removed by {} at {} in {}: {}",
                    output::s(&s["removed_by"]),
                    output::time(&s["removed_at"]),
                    output::v(&s["removed_in"]),
                    output::s(&s["removed_reason"])
                )
            } else if let Some(reason) = s["last_error"]["reason"].as_str() {
                format!("{} ({})", reason, output::time(&s["last_error"]["at"]))
            } else {
                "-".into()
            };
            rows.push(vec![
                output::s(&p["name"]),
                output::s(&s["name"]),
                output::s(&s["address"]),
                output::s(&s["state"]),
                format!("{}/{}", s["in_flight"], s["limit"]),
                output::s(&s["requests_1m"]),
                format!("{:.1}%", s["error_rate_1m"].as_f64().unwrap_or(0.0) * 100.0),
                note,
            ]);
        }
    }
    output::table(
        &[
            "POOL",
            "SERVER",
            "ADDRESS",
            "STATE",
            "IN-FLIGHT",
            "REQ/1M",
            "ERR/1M",
            "LAST ERROR / REMOVAL",
        ],
        &rows,
    )
}
