//! Health settings of a pool: active checks (`[pools.P.health]`), passive outlier ejection
//! (`[pools.P.outlier]`), and what to do when no server is healthy.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::duration::ser_duration;

/// Default time between checks of one server.
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(2);
/// Default time a check may take.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// Default consecutive passes that make a server healthy.
pub const DEFAULT_RISE: u32 = 2;
/// Default consecutive failures that make a server unhealthy.
pub const DEFAULT_FALL: u32 = 3;

/// An active health check: `GET path` on every server each `interval`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthConfig {
    pub path: String,
    #[serde(serialize_with = "ser_duration")]
    pub interval: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub timeout: Duration,
    /// Statuses that pass. Default: 200-299.
    pub expect_status: Vec<StatusRange>,
    /// Response headers that must start with the given values (names lowercase).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub expect_header: BTreeMap<String, String>,
    /// A substring the body must contain (only the first 64 KiB are read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_body: Option<String>,
    pub rise: u32,
    pub fall: u32,
}

/// `200` or `200-299`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    pub low: u16,
    pub high: u16,
}

impl StatusRange {
    pub fn contains(&self, status: u16) -> bool {
        (self.low..=self.high).contains(&status)
    }

    /// `200`, or `200-299`.
    pub fn describe(&self) -> String {
        if self.low == self.high {
            self.low.to_string()
        } else {
            format!("{}-{}", self.low, self.high)
        }
    }

    /// Parses `200` or `200-299`.
    pub fn parse(text: &str) -> Option<StatusRange> {
        let (low, high) = match text.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let n = text.trim().parse().ok()?;
                (n, n)
            }
        };
        ((100..=599).contains(&low) && (low..=599).contains(&high))
            .then_some(StatusRange { low, high })
    }
}

impl Serialize for StatusRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.low == self.high {
            s.serialize_u16(self.low)
        } else {
            s.serialize_str(&self.describe())
        }
    }
}

/// `200`, `200 or 204`, `200-299 or 404`
pub fn describe_statuses(ranges: &[StatusRange]) -> String {
    ranges
        .iter()
        .map(StatusRange::describe)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The start of a body as text, the way health checks quote it: tags dropped, whitespace
/// collapsed, at most 60 characters (then `...`).
pub fn body_snippet(body: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() > 60 {
        format!("{}...", joined.chars().take(60).collect::<String>())
    } else {
        joined
    }
}

/// What a pool does when every server in rotation is unhealthy or ejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenAllUnhealthy {
    /// Answer 503 naming each server and why it is out.
    Reject,
    /// Ignore health and spread over every server in rotation (Envoy's panic mode).
    FailOpen,
}

impl WhenAllUnhealthy {
    pub const NAMES: &'static [&'static str] = &["reject", "fail_open"];
}

/// A number setting, comparable for equality like the rest of the config.
macro_rules! number_setting {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name(pub f64);

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.to_bits() == other.0.to_bits()
            }
        }

        impl Eq for $name {}

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_f64(self.0)
            }
        }
    };
}

number_setting!(
    /// A fraction between 0 and 1.
    Fraction
);
number_setting!(
    /// A factor of 1 or more.
    Factor
);

/// Passive health: servers whose real traffic fails are ejected for a while.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutlierConfig {
    /// Eject after this many failures in a row. Default 5.
    pub consecutive_failures: u32,
    /// Or when this share of requests failed over `window`... Default 0.5.
    pub failure_rate: Fraction,
    /// ...measured over this window (at most 60s). Default 10s.
    #[serde(serialize_with = "ser_duration")]
    pub window: Duration,
    /// ...once it saw this many requests. Default 20.
    pub min_requests: u32,
    /// Statuses that count as failures, besides connect errors, timeouts and invalid
    /// responses, which always do. Default 500-599.
    pub failure_statuses: Vec<StatusRange>,
    /// First ejection; each repeat doubles it. Default 30s.
    #[serde(serialize_with = "ser_duration")]
    pub base_ejection: Duration,
    /// Longest ejection. Default 300s.
    #[serde(serialize_with = "ser_duration")]
    pub max_ejection: Duration,
    /// At most this share of a pool's servers is ejected at once. Default 50.
    pub max_ejected_percent: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ranges() {
        assert_eq!(
            StatusRange::parse("200"),
            Some(StatusRange {
                low: 200,
                high: 200
            })
        );
        assert_eq!(
            StatusRange::parse("200-299"),
            Some(StatusRange {
                low: 200,
                high: 299
            })
        );
        assert_eq!(StatusRange::parse("299-200"), None);
        assert_eq!(StatusRange::parse("99"), None);
        assert_eq!(StatusRange::parse("abc"), None);
        let r = [
            StatusRange {
                low: 200,
                high: 299,
            },
            StatusRange {
                low: 404,
                high: 404,
            },
        ];
        assert_eq!(describe_statuses(&r), "200-299 or 404");
    }

    #[test]
    fn body_snippets_read_like_text() {
        assert_eq!(
            body_snippet("<html><h1>Not Found</h1>\n</html>"),
            "Not Found"
        );
        assert_eq!(
            body_snippet("{\"status\":\"down\"}"),
            "{\"status\":\"down\"}"
        );
        assert_eq!(body_snippet(&"x".repeat(100)).len(), 63);
        assert_eq!(body_snippet(&"y".repeat(80)).chars().count(), 63);
    }
}
