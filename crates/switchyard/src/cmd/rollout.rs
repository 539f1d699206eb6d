//! `switchyard rollout` (start one and follow it), `rollout status`, `rollout abort`, and
//! `switchyard decommission`. The rollout itself runs in the serve process; this verb only asks
//! for it and follows it, so closing the terminal does not stop it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use switchyard_admin::{RolloutState, RolloutView};

use super::client::Client;
use super::output::{self, Output};
use crate::Global;

/// How often a followed rollout is read.
const POLL: Duration = Duration::from_millis(250);

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    start: Start,
}

/// Add servers to a pool step by step (or replace some), each step health-gated and baked
/// against the existing servers; a bad step takes every added server out again.
#[derive(clap::Args)]
struct Start {
    #[arg(long)]
    pool: Option<String>,
    /// A new server, NAME=IP:PORT; repeat for several.
    #[arg(long, value_name = "NAME=ADDR")]
    add: Vec<String>,
    /// OLD=NEW: NEW (given with --add) takes OLD's place by weight steps; then OLD is drained
    /// and removed.
    #[arg(long, value_name = "OLD=NEW")]
    replace: Vec<String>,
    /// Servers per step: 1, N, or a share such as 25%.
    #[arg(long, default_value = "1")]
    step: String,
    /// How long each step bakes (default: [guard] bake, else 60s).
    #[arg(long)]
    bake: Option<String>,
    /// A path each new server must answer 2xx on before it joins the pool.
    #[arg(long, value_name = "PATH")]
    check: Option<String>,
    /// How long a step may wait for the pool's health checks.
    #[arg(long, default_value = "60s")]
    health_timeout: String,
    /// remove: a failure takes every added server out; stop: only the failed step's.
    #[arg(long, default_value = "remove", value_parser = ["remove", "stop"])]
    on_failure: String,
    /// A replacement's weight steps, in percent of the old server's weight.
    #[arg(long, value_delimiter = ',', default_value = "10,50,100")]
    weights: Vec<u32>,
    #[arg(long, short)]
    message: Option<String>,
    /// Start the rollout and return at once; follow it with `rollout status`.
    #[arg(long)]
    detach: bool,
}

#[derive(clap::Subcommand)]
enum Command {
    /// A pool's rollouts, or one of them (the newest without an ID); --follow waits for it.
    Status {
        #[arg(long)]
        pool: String,
        id: Option<u64>,
        #[arg(long)]
        follow: bool,
    },
    /// Stop a pool's running rollout (or rollout ID); it takes the servers it added out again.
    Abort {
        #[arg(long)]
        pool: String,
        id: Option<u64>,
    },
}

#[derive(clap::Args)]
pub struct DecommissionArgs {
    #[arg(long)]
    pool: String,
    /// Take out this many servers, the last in the pool's order first.
    #[arg(long, conflicts_with = "servers")]
    count: Option<usize>,
    /// Or these servers.
    #[arg(required_unless_present = "count")]
    servers: Vec<String>,
    #[arg(long, short)]
    message: String,
    /// How long requests in flight get.
    #[arg(long, default_value = "30s")]
    drain_timeout: String,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let client = Client::new(g)?;
    match args.command {
        Some(Command::Status { pool, id, follow }) => {
            let view = match id {
                Some(id) => client.get(&format!("/pools/{pool}/rollouts/{id}"))?,
                None => {
                    let all = client.get(&format!("/pools/{pool}/rollouts"))?;
                    match all.as_array().and_then(|a| a.first()) {
                        Some(v) => v.clone(),
                        None => anyhow::bail!("pool {pool} has had no rollout since serve started"),
                    }
                }
            };
            let view: RolloutView = serde_json::from_value(view)?;
            if follow {
                return self::follow(&client, view, g);
            }
            show(&view, g, true);
            Ok(())
        }
        Some(Command::Abort { pool, id }) => {
            let id = match id {
                Some(id) => id,
                None => running(&client, &pool)?,
            };
            let view = client.post(&format!("/pools/{pool}/rollouts/{id}/abort"), &json!({}))?;
            let view: RolloutView = serde_json::from_value(view)?;
            show(&view, g, true);
            Ok(())
        }
        None => start(&client, args.start, g),
    }
}

/// The id of `pool`'s running rollout.
fn running(client: &Client, pool: &str) -> anyhow::Result<u64> {
    let all: Vec<RolloutView> =
        serde_json::from_value(client.get(&format!("/pools/{pool}/rollouts"))?)?;
    all.iter()
        .find(|v| v.state == RolloutState::Running)
        .map(|v| v.id)
        .ok_or_else(|| anyhow::anyhow!("pool {pool} has no rollout running; `switchyard rollout status --pool {pool}` shows the last one"))
}

fn start(client: &Client, a: Start, g: &Global) -> anyhow::Result<()> {
    let Some(pool) = a.pool else {
        anyhow::bail!("rollout needs --pool POOL, --add NAME=ADDR (one or more) and -m MESSAGE");
    };
    let Some(message) = a.message else {
        anyhow::bail!("rollout needs -m MESSAGE: why these servers join pool {pool}");
    };
    let mut add = Vec::new();
    for spec in &a.add {
        let Some((name, address)) = spec.split_once('=') else {
            anyhow::bail!("--add {spec:?}: write NAME=IP:PORT, such as inventory-4=10.0.0.14:8080");
        };
        add.push(json!({ "name": name, "address": address }));
    }
    let mut replace = Vec::new();
    for spec in &a.replace {
        let Some((old, new)) = spec.split_once('=') else {
            anyhow::bail!(
                "--replace {spec:?}: write OLD=NEW, and give NEW's address with --add NEW=IP:PORT"
            );
        };
        let Some(i) = add.iter().position(|s| s["name"] == new) else {
            anyhow::bail!("--replace {spec}: give {new}'s address with --add {new}=IP:PORT");
        };
        replace.push(json!({ "old": old, "new": add.remove(i) }));
    }
    let body = json!({
        "add": add, "replace": replace, "step": a.step, "bake": a.bake, "check": a.check,
        "health_timeout": a.health_timeout, "on_failure": a.on_failure, "weights": a.weights,
        "message": message, "author": crate::state::author(g.author.as_deref()),
    });
    let view: RolloutView =
        serde_json::from_value(client.post(&format!("/pools/{pool}/rollouts"), &body)?)?;
    let hint = format!(
        "rollout {} of pool {pool} started in {} step{}; it runs in the serve process: `switchyard rollout status --pool {pool}` follows it, `switchyard rollout abort --pool {pool}` stops it",
        view.id,
        view.steps.len(),
        if view.steps.len() == 1 { "" } else { "s" }
    );
    if g.output == Output::Text {
        println!("{hint}");
    } else {
        eprintln!("{hint}");
    }
    if a.detach {
        if g.output == Output::Json {
            output::json(&serde_json::to_value(&view)?);
        }
        return Ok(());
    }
    follow(client, view, g)
}

/// Follows a rollout until it ends: a bar on a terminal, a line per phase elsewhere. An error
/// when it did not succeed.
fn follow(client: &Client, mut view: RolloutView, g: &Global) -> anyhow::Result<()> {
    let path = format!("/pools/{}/rollouts/{}", view.pool, view.id);
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(view.steps.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:20} step {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let mut last = String::new();
    while view.state == RolloutState::Running {
        // Between two steps there is nothing new to say.
        let Some(line) = progress(&view) else {
            std::thread::sleep(POLL);
            view = serde_json::from_value(client.get(&path)?)?;
            continue;
        };
        match &bar {
            Some(bar) => {
                let done = view
                    .steps
                    .iter()
                    .filter(|s| s.phase == switchyard_admin::Phase::Passed)
                    .count();
                bar.set_position(done as u64);
                bar.set_message(line);
            }
            None => {
                // One line per step and phase, not per poll.
                let key = line.split(':').next().unwrap_or_default().to_string();
                if key != last && g.output == Output::Text {
                    println!("{}", output::clean_line(&line));
                }
                last = key;
            }
        }
        std::thread::sleep(POLL);
        view = serde_json::from_value(client.get(&path)?)?;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    // A failure's summary is the error line; a success's is printed here.
    show(&view, g, view.state == RolloutState::Succeeded);
    match view.state {
        RolloutState::Succeeded => Ok(()),
        _ => anyhow::bail!(
            "{}",
            view.summary
                .clone()
                .unwrap_or_else(|| format!("rollout {} ended {:?}", view.id, view.state))
        ),
    }
}

/// `step 2/3 (inventory-5) baking: inventory-5 0.0% of 120, p90 2.1 ms; existing 0.0% of 410,
/// p90 1.9 ms`, while a step is under way.
fn progress(v: &RolloutView) -> Option<String> {
    let step = v.steps.iter().find(|s| {
        !matches!(
            s.phase,
            switchyard_admin::Phase::Passed | switchyard_admin::Phase::Pending
        )
    })?;
    let phase = serde_json::to_value(step.phase).unwrap_or_default();
    let mut line = format!(
        "step {}/{} ({}) {}",
        step.step,
        v.steps.len(),
        step.servers.join(", "),
        phase.as_str().unwrap_or_default()
    );
    if let Some(b) = &step.bake {
        line.push_str(": ");
        line.push_str(&bake_numbers(b));
    }
    Some(line)
}

/// `inventory-5 0.0% of 120, p90 2.1 ms; existing 0.0% of 410, p90 1.9 ms`: each new server's
/// error rate and latency beside the existing servers'.
fn bake_numbers(b: &switchyard_admin::BakeNumbers) -> String {
    let one = |n: &switchyard_admin::ServerNumbers| {
        let p90 = n.p90_ms.map_or(String::new(), |ms| {
            format!(", p90 {}", switchyard_config::format_millis(ms))
        });
        format!(
            "{} {:.1}% of {}{p90}",
            n.server,
            n.error_rate * 100.0,
            n.requests
        )
    };
    let new: Vec<String> = b.new.iter().map(one).collect();
    format!("{}; {}", new.join(", "), one(&b.existing))
}

/// The rollout and its steps as a table, and with `summary` the line on how it ended.
fn show(v: &RolloutView, g: &Global, summary: bool) {
    if g.output == Output::Json {
        output::json(&serde_json::to_value(v).unwrap_or_default());
        return;
    }
    let state = serde_json::to_value(v.state).unwrap_or_default();
    println!(
        "rollout {} of pool {} by {}: {} ({})",
        v.id,
        output::clean_line(&v.pool),
        output::clean_line(&v.author),
        state.as_str().unwrap_or_default(),
        output::clean_line(&v.message)
    );
    let rows: Vec<Vec<String>> = v
        .steps
        .iter()
        .map(|s| {
            let phase = serde_json::to_value(s.phase).unwrap_or_default();
            let bake = s.bake.as_ref().map_or("-".into(), bake_numbers);
            vec![
                s.step.to_string(),
                s.servers.join(", "),
                s.weight_percent.map_or("-".into(), |p| format!("{p}%")),
                phase.as_str().unwrap_or_default().to_string(),
                s.version.map_or("-".into(), |n| format!("v{n}")),
                bake,
            ]
        })
        .collect();
    println!(
        "{}",
        output::table(
            &[
                "STEP",
                "SERVERS",
                "WEIGHT",
                "PHASE",
                "VERSION",
                "BAKE: ERRORS, P90 (NEW; EXISTING)"
            ],
            &rows
        )
    );
    if let Some(text) = v.summary.as_ref().filter(|_| summary) {
        println!("{}", output::clean_line(text));
    }
}

pub fn decommission(a: DecommissionArgs, g: &Global) -> anyhow::Result<()> {
    switchyard_config::parse_duration(&a.drain_timeout)
        .map_err(|e| anyhow::anyhow!("--drain-timeout: {e}"))?;
    let body = json!({
        "count": a.count, "servers": a.servers, "message": a.message,
        "drain_timeout": a.drain_timeout, "author": crate::state::author(g.author.as_deref()),
    });
    let done = Client::new(g)?.post(&format!("/pools/{}/decommission", a.pool), &body)?;
    if g.output == Output::Json {
        output::json(&done);
        return Ok(());
    }
    let names: Vec<&str> = done["removed"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let cut: u64 = done["drains"]
        .as_array()
        .map(|d| d.iter().filter_map(|d| d["cut"].as_u64()).sum())
        .unwrap_or_default();
    println!(
        "decommissioned {} from pool {} as {}; {} server{} remain in rotation; drained{}",
        output::clean_line(&names.join(", ")),
        output::clean_line(&a.pool),
        output::v(&done["version"]["version"]),
        done["remaining"],
        if done["remaining"] == 1 { "" } else { "s" },
        if cut == 0 {
            String::new()
        } else {
            format!(" ({cut} request(s) cut at the drain timeout)")
        }
    );
    Ok(())
}
