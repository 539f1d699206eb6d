//! Parsing, validation and diffs of configs, one suite per module.
//!
//! One test binary for the crate (`cargo test -p switchyard-config --test integration`),
//! so the suites are linked once.

#[macro_use]
mod fixture;

mod diff;
mod fuzz;
mod hardening;
mod health;
mod validate;
