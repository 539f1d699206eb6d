//! Simulated services for Switchyard's tests, benchmarks and demo.
//!
//! [`Backend`] is a real HTTP server on a loopback port whose behaviour a test can flip while it
//! runs (answer another status, slow down). Nothing here is needed by `switchyard serve`; the
//! proxy and the admin API never depend on this crate.

mod backend;
pub mod load;
pub mod loggen;
pub mod shop;

pub use backend::{Backend, BackendControl};
