//! Parsing, validation and diffs of configs, one suite per module.
//!
//! One test binary for the crate (`cargo test -p switchyard-config --test integration`),
//! so the suites are linked once.

mod diff;
mod fuzz;
mod hardening;
mod health;
mod validate;
