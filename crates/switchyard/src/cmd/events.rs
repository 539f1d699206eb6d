//! `switchyard events`: versions, drains and (later) health changes on one timeline.

use super::client::Client;
use super::output::{self, Output};
use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Only events at or after this time (RFC 3339, e.g. 2026-11-25T10:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// At most this many (the newest).
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let mut path = format!("/events?limit={}", args.limit);
    if let Some(since) = &args.since {
        path.push_str(&format!("&since={}", encode(since)));
    }
    let events = Client::new(g)?.get(&path)?;
    if g.output == Output::Json {
        output::json(&events);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = events
        .as_array()
        .map_or(&[][..], |v| v)
        .iter()
        .map(|e| {
            vec![
                output::time(&e["ts"]),
                output::s(&e["kind"]),
                output::s(&e["pool"]),
                output::s(&e["server"]),
                summary(&e["details"]),
            ]
        })
        .collect();
    println!(
        "{}",
        output::table(&["TIME (UTC)", "KIND", "POOL", "SERVER", "DETAILS"], &rows)
    );
    Ok(())
}

/// `v3 apply by alice: why` for versions, the reason for health events, `drained in 0.4s`
/// for drains, compact JSON otherwise.
fn summary(d: &serde_json::Value) -> String {
    if let Some(n) = d["version"].as_u64() {
        return format!(
            "v{n} {} by {}: {}",
            output::s(&d["kind"]),
            output::s(&d["author"]),
            output::s(&d["message"])
        );
    }
    if let Some(reason) = d["reason"].as_str() {
        return output::clean_line(reason);
    }
    if let Some(drained) = d["drained"].as_bool() {
        let secs = d["waited_ms"].as_f64().unwrap_or(0.0) / 1000.0;
        return if drained {
            format!("drained in {secs:.1}s")
        } else {
            format!(
                "drain timed out after {secs:.1}s; {} request(s) cut",
                d["cut"]
            )
        };
    }
    d.to_string()
}

fn encode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
