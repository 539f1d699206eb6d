//! `switchyard demo`: a simulated e-commerce site behind Switchyard, steady load, and the seed
//! incidents replayed end to end: the bad pool member (found by triage, fixed by rollback, then
//! kept out by a health check) and the leaking front end (found by triage, drained out); and, on
//! its own, the deploy pipeline (a rollout stopped by a flaky server, a refused decommission).

mod rollout;
mod serve;
mod steps;
mod summary;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use switchyard_lab::load::{LoadGen, LoadOptions};
use switchyard_lab::shop::{Lab, LabOptions};

use crate::cmd::Output;
use crate::Global;
use serve::Switchyard;

/// Requests per second the demo's clients send.
const RATE: f64 = 150.0;

#[derive(clap::Args)]
pub struct Args {
    /// Which incident to replay.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    scenario: Scenario,
    /// Leave everything running at the end (until Ctrl-C) and print where to look.
    #[arg(long)]
    keep_running: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    BadDeploy,
    ConnectionLeak,
    /// The bad deploy under the change guard, which rolls it back by itself.
    Guard,
    /// A rollout of three inventory servers whose third is flaky, and a decommission of two
    /// front ends with the refusal below min_servers.
    Rollout,
    /// Every scenario above but the rollout.
    All,
}

/// Prints the story: to stdout, or to stderr when stdout carries the JSON summary.
pub struct Narrator {
    json: bool,
    color: bool,
}

impl Narrator {
    fn out(&self) -> Box<dyn Write> {
        if self.json {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    }

    pub fn step(&self, title: &str) {
        let _ = writeln!(
            self.out(),
            "\n{}",
            self.paint("1;34", &format!("== {title}"))
        );
    }

    pub fn say(&self, text: &str) {
        let _ = writeln!(self.out(), "{text}");
    }

    pub fn command(&self, cmd: &str) {
        let _ = writeln!(self.out(), "{}", self.paint("1", &format!("$ {cmd}")));
    }

    pub fn output(&self, text: &str) {
        let mut out = self.out();
        for line in text.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let json = g.output == Output::Json;
    let say = Narrator {
        json,
        color: !json && std::io::stdout().is_terminal(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::Builder::new()
        .prefix("switchyard-demo-")
        .tempdir()?;
    let result = rt.block_on(demo(&args, &say, dir.path()));
    if args.keep_running && result.is_ok() {
        // Everything was already stopped by the time we get here unless keep_running held it.
        let _ = dir.keep();
    }
    let steps = result?;
    if json {
        crate::cmd::output::json(&summary::json(&steps));
    } else {
        say.step("Summary");
        say.say(&summary::table(&steps));
    }
    Ok(())
}

async fn demo(args: &Args, say: &Narrator, dir: &Path) -> anyhow::Result<Vec<summary::Step>> {
    let logs = dir.join("logs");
    std::fs::create_dir_all(logs.join("lb"))?;
    let lab = Lab::start(LabOptions::new(&logs)).await?;
    let v1 = format!(
        "[admin]\nbind = \"127.0.0.1:0\"\naccess_log = \"{}\"\n\n[runtime]\nworkers = 1\n\n[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:0\"\n{}",
        logs.join("lb/access.log").display(),
        // Least connections: round robin in lockstep on two tiers would tie each front end
        // to one inventory server.
        lab.switchyard_toml()
            .replace("[pools.inventory]\n", "[pools.inventory]\nbalance = \"least_conn\"\n")
    );
    let config = dir.join("switchyard.toml");
    std::fs::write(&config, &v1)?;
    say.step("Starting the shop");
    say.say(&format!(
        "{} services on loopback (front ends, inventory, billing, auth), each logging to {}/HOST/app.log",
        lab.hosts().len() - 1 - switchyard_lab::shop::SPARE_INVENTORY.len(),
        logs.display()
    ));
    let sy = Switchyard::start(&config, &dir.join("state"), &dir.join("switchyard.log"))
        .context("starting Switchyard")?;
    lab.set_gateway(sy.gateway);
    say.say(&format!(
        "Switchyard on http://{} (admin http://{}), config v1; clients send {RATE} requests/s",
        sy.gateway, sy.admin
    ));
    let load = LoadGen::start(
        sy.gateway,
        LoadOptions {
            rate: RATE,
            ..LoadOptions::default()
        },
    );
    let mut ctx = steps::Ctx {
        say,
        lab: &lab,
        sy: &sy,
        load: &load,
        logs: &logs,
        v1: &v1,
        dir,
    };
    let mut done = Vec::new();
    if matches!(args.scenario, Scenario::BadDeploy | Scenario::All) {
        done.extend(steps::bad_deploy(&mut ctx).await?);
    }
    if matches!(args.scenario, Scenario::ConnectionLeak | Scenario::All) {
        done.push(steps::connection_leak(&mut ctx).await?);
    }
    if args.scenario == Scenario::All || args.scenario == Scenario::Guard {
        done.push(steps::guarded_change(&mut ctx).await?);
    }
    if args.scenario == Scenario::Rollout {
        done.extend(rollout::rollout(&mut ctx).await?);
    }
    if args.keep_running {
        say.step("Still running (Ctrl-C stops everything)");
        let token = std::fs::read_to_string(sy.state.join("admin.token")).unwrap_or_default();
        say.say(&format!(
            "site http://{}   admin API http://{} (token in {}/admin.token)\ndashboard http://{}/#token={}\nlab control http://{}   logs {}",
            sy.gateway,
            sy.admin,
            sy.state.display(),
            sy.admin,
            token.trim(),
            lab.control_addr(),
            logs.display()
        ));
        tokio::signal::ctrl_c().await?;
    }
    load.stop().await;
    sy.stop();
    lab.shutdown().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(done)
}
