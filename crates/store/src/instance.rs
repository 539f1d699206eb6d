//! [`Instance`]: one running Switchyard as the instances sharing a store list each other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A running instance: what it announces of itself, and when the store last heard from it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Instance {
    /// `--instance`, by default the host name.
    pub name: String,
    /// Where its admin API listens.
    pub admin_url: String,
    /// The version it runs.
    pub version: Option<u64>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When the store last heard from it (filled in when listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
}
