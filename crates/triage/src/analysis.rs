//! Counting and concluding: records land in time buckets per host, service, pool and server
//! ([`aggregate`]); error messages are grouped ([`templates`]); the onset is found on the rate
//! series ([`onset`], tested with [`stats`]) and combined across series by evidence
//! ([`evidence`]); keys are tested for [`concentration`]; changes become [`suspects`]; and
//! [`findings`] turns it all into conclusions.

pub mod aggregate;
pub mod breakdown;
pub mod concentration;
pub mod evidence;
pub mod findings;
pub mod onset;
pub mod run;
pub mod series;
pub mod stats;
pub mod suspects;
pub mod templates;

pub use aggregate::Dim;
pub use findings::Findings;
pub use run::{scan, triage, Scan, TriageOptions};
