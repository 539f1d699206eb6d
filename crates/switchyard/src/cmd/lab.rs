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
    /// Deterministic logs of a multi-service shop living through a seed incident: DIR/HOST/app.log
    /// per host, Switchyard's access log in DIR/lb/access.log and DIR/changes.jsonl.
    GenLogs {
        /// Directory to write into (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// Which incident: bad-deploy (a 404-answering inventory member), connection-leak
        /// (frontend-02 runs out of database connections) or mixed (both, plus noise).
        #[arg(long, default_value = "bad-deploy")]
        scenario: switchyard_lab::loggen::Scenario,
        /// Keep generating until the files hold this much, e.g. 1GB, 200MB, 1GiB.
        #[arg(long, value_parser = switchyard_lab::loggen::parse_size)]
        size: Option<u64>,
        /// Seed: the same seed and options give the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Client requests per second across the front ends.
        #[arg(long, default_value_t = 20)]
        rate: u32,
        /// Minutes of logs (at least; --size may need more).
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        /// Minutes from the start to the onset of the incident (default: two thirds of --minutes).
        #[arg(long)]
        onset: Option<u64>,
        /// First timestamp, RFC 3339.
        #[arg(long, default_value = "2025-11-13T10:00:00Z")]
        start: chrono::DateTime<chrono::Utc>,
        /// Front ends write the vague "ERROR: invalid response from server" instead of the
        /// detailed error record.
        #[arg(long)]
        vague: bool,
    },
}

pub fn run(command: Command) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    match command {
        Command::GenLogs {
            dir,
            scenario,
            size,
            seed,
            rate,
            minutes,
            onset,
            start,
            vague,
        } => {
            let options = switchyard_lab::loggen::LogGenOptions {
                scenario,
                start,
                duration: std::time::Duration::from_secs(minutes * 60),
                onset_after: std::time::Duration::from_secs(onset.unwrap_or(minutes * 2 / 3) * 60),
                requests_per_second: rate,
                seed,
                target_bytes: size,
                vague_errors: vague,
            };
            let began = std::time::Instant::now();
            let g = switchyard_lab::loggen::generate(&dir, &options)
                .with_context(|| format!("could not write logs under {}", dir.display()))?;
            let secs = began.elapsed().as_secs_f64();
            println!("scenario:     {scenario}");
            println!("directory:    {}", g.dir.display());
            println!("files:        {}", g.files.len());
            for f in &g.files {
                let len = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
                println!("  {:>12}  {}", len, f.display());
            }
            println!(
                "bytes:        {} ({:.1} MB in {secs:.1} s, {:.0} MB/s)",
                g.bytes,
                g.bytes as f64 / 1e6,
                g.bytes as f64 / 1e6 / secs.max(1e-9)
            );
            println!("onset:        {}", g.onset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            println!("bad server:   {}", g.bad_server.as_deref().unwrap_or("-"));
            println!("bad host:     {}", g.bad_host.as_deref().unwrap_or("-"));
            println!("change file:  {}", g.change_file.display());
            Ok(())
        }
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
