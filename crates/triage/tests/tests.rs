//! Triage over real files, one suite per module: the input side, property tests of every
//! parser, and the template miner's grouping accuracy on LogHub samples.
//!
//! One test binary for the crate (`cargo test -p switchyard-triage --test integration`), so the
//! suites are linked once.

mod fuzz;
mod input;
mod loghub_ga;
mod loghub_loo;
