//! The proxy over real sockets, one suite per module: lab backends behind a proxy on a free
//! loopback port (helpers in [`support`]).
//!
//! One test binary for the crate (`cargo test -p switchyard-proxy --test integration`),
//! so the suites are linked once.

mod support;

mod failures;
mod framing;
mod h2_floods;
mod health;
mod health_probe;
mod large_bodies;
mod limits;
mod otel;
mod parking;
mod protocols;
mod routing;
mod saturation;
mod streaming;
