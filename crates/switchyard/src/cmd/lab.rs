//! `switchyard lab ...`: simulated services for trying Switchyard out by hand and for benchmarks.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Subcommand)]
pub enum Command {
    /// A small HTTP backend that answers "NAME\n" (plus /echo, /sleep/MS, /bytes/N, /status/CODE).
    Backend {
        /// Address to listen on.
        #[arg(long)]
        bind: SocketAddr,
        /// Name it answers with.
        #[arg(long)]
        name: String,
    },
    /// Many backends on free loopback ports, and a Switchyard config with all of them in one
    /// pool (for benchmarks); runs until Ctrl-C.
    Fleet {
        /// How many backends.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Where to write the config.
        #[arg(long)]
        write_config: PathBuf,
        /// Health-check interval to put in the config; "off" for no checks.
        #[arg(long, default_value = "1s")]
        health_interval: String,
    },
}

pub fn run(command: Command) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    match command {
        Command::Backend { bind, name } => rt.block_on(async {
            let backend = switchyard_lab::Backend::bind(&name, bind).await?;
            eprintln!("backend {name} listening on http://{}", backend.addr);
            tokio::signal::ctrl_c().await?;
            Ok(())
        }),
        Command::Fleet {
            count,
            write_config,
            health_interval,
        } => rt.block_on(async {
            let mut backends = Vec::with_capacity(count);
            for i in 1..=count {
                backends.push(switchyard_lab::Backend::start(&format!("server-{i}")).await?);
            }
            let mut toml = String::from(
                "[admin]\nbind = \"127.0.0.1:0\"\naccess_log = \"off\"\n\n[runtime]\nworkers = 1\n\n[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:0\"\n\n[[routes]]\npool = \"fleet\"\n\n[pools.fleet]\n",
            );
            if health_interval != "off" {
                write!(
                    toml,
                    "\n[pools.fleet.health]\npath = \"/health\"\ninterval = \"{health_interval}\"\ntimeout = \"{health_interval}\"\n"
                )?;
            }
            for b in &backends {
                write!(toml, "\n[[pools.fleet.servers]]\nname = \"{}\"\naddress = \"{}\"\n", b.name, b.addr)?;
            }
            std::fs::write(&write_config, toml)
                .with_context(|| format!("could not write {}", write_config.display()))?;
            eprintln!("{count} backends up; config in {}", write_config.display());
            let mut report = tokio::time::interval(std::time::Duration::from_secs(5));
            let mut last = 0;
            loop {
                tokio::select! {
                    _ = report.tick() => {
                        let total: u64 = backends.iter().map(|b| b.control.requests()).sum();
                        eprintln!("requests to the fleet: {total} (+{} in 5 s)", total - last);
                        last = total;
                    }
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            }
        }),
    }
}
