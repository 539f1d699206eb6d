//! `switchyard check --config FILE`: validate without serving.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Config file to validate.
    #[arg(long, short)]
    config: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = super::load_config(&args.config)?;
    let servers: usize = config.pools.values().map(|p| p.servers.len()).sum();
    println!(
        "{}: ok ({} listener{}, {} route{}, {} pool{}, {} server{})",
        args.config.display(),
        config.listeners.len(),
        plural(config.listeners.len()),
        config.routes.len(),
        plural(config.routes.len()),
        config.pools.len(),
        plural(config.pools.len()),
        servers,
        plural(servers)
    );
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
