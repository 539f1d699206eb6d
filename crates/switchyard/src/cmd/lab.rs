//! `switchyard lab ...`: simulated services for trying Switchyard out by hand.

use std::net::SocketAddr;

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
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Backend { bind, name } => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let backend = switchyard_lab::Backend::bind(&name, bind).await?;
                eprintln!("backend {name} listening on http://{}", backend.addr);
                tokio::signal::ctrl_c().await?;
                Ok(())
            })
        }
    }
}
