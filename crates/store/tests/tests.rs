//! The SQLite store over real files, one suite per module.
//!
//! One test binary for the crate (`cargo test -p switchyard-store --test integration`),
//! so the suites are linked once.

mod crash;
mod history;
mod retention;
