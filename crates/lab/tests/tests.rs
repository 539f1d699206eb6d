//! The lab over real sockets, one suite per module.
//!
//! One test binary for the crate (`cargo test -p switchyard-lab --test integration`), so the
//! suites are linked once.

mod shop;
