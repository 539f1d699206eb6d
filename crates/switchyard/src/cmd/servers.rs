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
        /// Wait until the server has passed the pool's health checks and is in rotation.
        #[arg(long)]
        wait_healthy: bool,
        /// How long --wait-healthy waits.
        #[arg(long, default_value = "60s")]
        timeout: String,
        /// Follow the guard's bake of the new version; fail if the guard rolls it back.
        #[arg(long)]
        watch: bool,
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
        /// Follow the guard's bake of the new version; fail if the guard rolls it back.
        #[arg(long)]
        watch: bool,
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
                Output::Text => {
                    // Health is observed per instance: with a shared store, say whose view this is.
                    let me = client.get("/instance")?;
                    if me["store"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("etcd://"))
                    {
                        println!(
                            "health as seen by instance {} (running {})",
                            output::s(&me["instance"]),
                            output::v(&me["version"])
                        );
                    }
                    println!("{}", list(&pools))
                }
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
            wait_healthy,
            timeout,
            watch,
        } => {
            let timeout = switchyard_config::parse_duration(&timeout)
                .map_err(|e| anyhow::anyhow!("--timeout: {e}"))?;
            let body = json!({
                "name": name, "address": address.to_string(), "weight": weight,
                "message": message, "author": author, "if_version": if_version,
            });
            let applied = client.post(&format!("/pools/{pool}/servers"), &body)?;
            report(&applied, g, &format!("added {name} to pool {pool}"))?;
            if wait_healthy {
                wait_until_healthy(&client, &pool, &name, timeout, g)?;
            }
            if watch {
                super::watch::follow(&client, &applied, g)?;
            }
            Ok(())
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
            watch,
        } => {
            let body = json!({ "message": message, "author": author, "if_version": if_version });
            let applied = client.post(&format!("/pools/{pool}/servers/{name}/restore"), &body)?;
            report(&applied, g, &format!("restored {name} in pool {pool}"))?;
            if watch {
                super::watch::follow(&client, &applied, g)?;
            }
            Ok(())
        }
    }
}

/// Polls the server's status until it is in rotation, or fails with the last check's reason.
fn wait_until_healthy(
    client: &Client,
    pool: &str,
    name: &str,
    timeout: std::time::Duration,
    g: &Global,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    loop {
        let pools = client.get(&format!("/pools?pool={pool}"))?;
        let server = pools[0]["servers"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name))
            .cloned()
            .unwrap_or_default();
        if server["state"] == "active" {
            if g.output == Output::Text {
                let how = match server["health"].as_str() {
                    Some("unchecked") => {
                        "pool has no health check; it took traffic at once".to_string()
                    }
                    _ => "passed its health checks".to_string(),
                };
                println!(
                    "{name} is in rotation ({how}) after {:.1}s",
                    started.elapsed().as_secs_f64()
                );
            }
            return Ok(());
        }
        if started.elapsed() >= timeout {
            anyhow::bail!(
                "{name} did not become healthy within {}; it is {}; it stays out of rotation (take it out with `switchyard servers remove {name} --pool {pool}`)",
                switchyard_config::format_duration(timeout),
                server["health_reason"].as_str().unwrap_or("no check finished")
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
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
            } else if let Some(reason) = s["health_reason"].as_str() {
                reason.to_string()
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
                output::s(&s["health"]),
                format!(
                    "{}/{}{}",
                    s["in_flight"],
                    s["limit"],
                    if s["saturated"] == true {
                        " saturated"
                    } else {
                        ""
                    }
                ),
                output::s(&s["requests_1m"]),
                format!("{:.1}%", s["error_rate_1m"].as_f64().unwrap_or(0.0) * 100.0),
                format!(
                    "{:.1}%",
                    s["client_error_rate_1m"].as_f64().unwrap_or(0.0) * 100.0
                ),
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
            "HEALTH",
            "IN-FLIGHT",
            "REQ/1M",
            "ERR/1M",
            "4XX/1M",
            "WHY / LAST ERROR",
        ],
        &rows,
    )
}
