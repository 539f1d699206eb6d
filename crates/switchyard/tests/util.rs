//! Helpers for running the real `switchyard` binary in a temporary directory, split by job:
//! [`process`] runs one-shot commands, [`serve`] runs and watches `switchyard serve`, [`admin`]
//! talks to its admin API, [`site`] puts all three in front of lab backends, and [`fleet`] runs
//! several instances on one etcd cluster.
//!
//! Every command runs in its own temporary directory, so config files can be named by relative
//! paths and error messages can be matched exactly. When a check fails, the command line, its
//! exit status, stdout and stderr are printed, so the failure can be understood from the test
//! output alone.

#![allow(dead_code)]

mod admin;
mod fleet;
mod pool;
mod process;
mod serve;
mod site;

pub use admin::{assert_fields, http_client, Admin};
pub use fleet::{Fleet, PREFIX};
pub use pool::{Pool, HEALTH};
pub use process::{
    argv, check, command_line, have, run, run_fails, run_ok, run_with_timeout, self_signed_cert,
    stderr, stdout, Dir,
};
pub use serve::{poll, serve_config, Serve};
pub use site::{names, versions, Load, Site};
