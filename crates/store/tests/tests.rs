//! The SQLite store over real files and the etcd store over a real etcd, one suite per module.
//!
//! One test binary for the crate (`cargo test -p switchyard-store --test integration`),
//! so the suites are linked once.

mod support;

mod crash;
mod etcd;
mod history;
mod retention;
