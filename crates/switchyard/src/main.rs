//! `switchyard`: the command line. Parses arguments and hands off to one module per verb.

mod cmd;
mod logging;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Load balancer and incident toolkit for multi-service systems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the load balancer.
    Serve(cmd::serve::Args),
    /// Validate a config file without serving; prints every problem with file:line:col.
    Check(cmd::check::Args),
    /// Simulated services for trying Switchyard out.
    #[command(subcommand)]
    Lab(cmd::lab::Command),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Lab(command) => cmd::lab::run(command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
