//! `switchyard`: the command line. Parses arguments and hands off to one module per verb.

mod cmd;
mod logging;
mod state;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Gives the memory this thread freed back to the system now: mimalloc otherwise returns it
/// only while the thread keeps allocating, and an idle proxy worker does not.
pub(crate) fn release_memory() {
    // SAFETY: mi_collect only walks and purges the calling thread's own heap.
    unsafe { libmimalloc_sys::mi_collect(false) }
}

/// Asks the kernel for small pages from here on. A command that reads logs and exits has a
/// small, short-lived heap: each 2 MiB page the allocator's arenas would be given is cleared
/// whole on first use for the few kilobytes used of it (2-4 % of `triage`'s time in
/// `bench/triage`). Best effort: a kernel without the setting keeps its default.
pub(crate) fn small_pages() {
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Load balancer and incident toolkit for multi-service systems"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every verb understands.
#[derive(clap::Args)]
pub struct Global {
    /// State directory: version store, admin token, admin address.
    #[arg(long, global = true, env = "SWITCHYARD_STATE", default_value = state::DEFAULT_DIR)]
    pub state: std::path::PathBuf,
    /// Admin API URL, e.g. http://127.0.0.1:9901 (default: from the state directory).
    #[arg(long, global = true, env = "SWITCHYARD_ADMIN")]
    pub admin: Option<String>,
    /// Admin token (default: from the state directory).
    #[arg(long, global = true, env = "SWITCHYARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Who makes a change (default: SWITCHYARD_AUTHOR, else the OS user).
    #[arg(long, global = true)]
    pub author: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = cmd::Output::Text)]
    pub output: cmd::Output,
}

#[derive(Subcommand)]
enum Command {
    /// Run the load balancer.
    Serve(cmd::serve::Args),
    /// Show the current config version.
    Version,
    /// List the instances sharing this one's store: name, admin URL, version, last seen.
    Instances,
    /// List config versions, newest first.
    History(cmd::history::Args),
    /// Show or compare config versions.
    #[command(subcommand)]
    Config(cmd::config::Command),
    /// Apply a config file as a new version.
    Apply(cmd::apply::ApplyArgs),
    /// Make a new version with an earlier version's config.
    Rollback(cmd::apply::RollbackArgs),
    /// List, add, remove and restore servers.
    #[command(subcommand)]
    Servers(cmd::servers::Command),
    /// Add servers to a pool step by step, health-gated and canary-baked; `rollout status`,
    /// `rollout abort`.
    Rollout(cmd::rollout::Args),
    /// Take servers out of a pool (drained first), refused below min_servers or capacity.
    Decommission(cmd::rollout::DecommissionArgs),
    /// Print the dashboard's URL, with the admin token in its fragment.
    Dashboard(cmd::dashboard::Args),
    /// List events: versions, drains, health changes.
    Events(cmd::events::Args),
    /// Read every service's logs: when errors began, where they concentrate, what changed.
    Triage(cmd::triage::Args),
    /// Error counts, one request's trace, message templates.
    #[command(subcommand)]
    Logs(cmd::logs::Command),
    /// A simulated shop behind Switchyard replaying the seed incidents end to end.
    Demo(cmd::demo::Args),
    /// Validate a config file without serving; prints every problem with file:line:col.
    Check(cmd::check::Args),
    /// Simulated services for trying Switchyard out.
    #[command(subcommand)]
    Lab(cmd::lab::Command),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let g = &cli.global;
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args, g),
        Command::Version => cmd::history::version(g),
        Command::History(args) => cmd::history::run(args, g),
        Command::Instances => cmd::instances::run(g),
        Command::Config(command) => cmd::config::run(command, g),
        Command::Apply(args) => cmd::apply::apply(args, g),
        Command::Rollback(args) => cmd::apply::rollback(args, g),
        Command::Servers(command) => cmd::servers::run(command, g),
        Command::Rollout(args) => cmd::rollout::run(args, g),
        Command::Decommission(args) => cmd::rollout::decommission(args, g),
        Command::Dashboard(args) => cmd::dashboard::run(args, g),
        Command::Events(args) => cmd::events::run(args, g),
        Command::Triage(args) => cmd::triage::run(args, g),
        Command::Logs(command) => cmd::logs::run(command, g),
        Command::Demo(args) => cmd::demo::run(args, g),
        Command::Check(args) => cmd::check::run(args),
        Command::Lab(command) => cmd::lab::run(command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "switchyard: {}",
                cmd::output::clean(&format!("{e:#}"), false)
            );
            std::process::ExitCode::FAILURE
        }
    }
}
