//! The `switchyard` binary end to end, one suite per module: each runs the real binary in a
//! temporary directory, over real sockets (helpers in [`util`]).
//!
//! One test binary for the crate (`cargo test -p switchyard --test integration`),
//! so the suites are linked once.

mod util;

mod admin_limits;
mod admin_tls;
mod auth;
mod check;
mod client_errors;
mod crash_apply;
mod dashboard;
mod demo;
mod full_disk;
mod guard;
mod guard_clients;
mod hardening;
mod health_cli;
mod incident_bad_member;
mod live_changes;
mod many_instances;
mod operator;
mod otel_logs;
mod otel_serve;
mod rollout;
mod rollout_control;
mod serve;
mod serve_state;
mod shutdown;
mod shutdown_tls;
mod triage;
mod triage_matrix;
