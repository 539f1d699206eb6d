//! Incident triage: reads the logs of every service, finds when errors began, where they
//! concentrate, which message templates are new, and which change lines up with the onset.
//!
//! The pipeline is streaming and never holds the whole input:
//! - [`input`] finds the files (paths, directories, globs, `.gz`), detects each file's format
//!   and turns lines into [`record::Line`]s (plain application logs with continuation lines,
//!   JSON lines including Switchyard's access log, nginx/Apache combined, syslog), counting what
//!   it cannot read instead of stopping;
//! - [`template`] groups messages into templates with their variable parts masked;
//! - [`analysis`] buckets error rates per host, service, pool and server, finds the onset and
//!   the concentration, and ranks suspect changes;
//! - [`report`] renders the findings as text, Markdown, HTML with an SVG chart, or JSON.
//!
//! This crate does not depend on the proxy: it reads logs and change histories, nothing live.

pub mod analysis;
pub mod changes;
mod hash;
pub mod input;
pub mod record;
pub mod report;
pub mod template;
pub mod trace;
