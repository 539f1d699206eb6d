//! The demo's closing table and its JSON form.

use serde::Serialize;

use crate::cmd::output;

/// One replayed incident, measured from the clients' side.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub error_rate_before: f64,
    pub error_rate_during: f64,
    pub error_rate_after: f64,
    /// From the change or fault until the clients' error rate showed it.
    pub detected_in_s: Option<f64>,
    /// From the fix until the error rate was back to baseline.
    pub recovered_in_s: Option<f64>,
    /// Client requests that reached the faulty server.
    pub bad_server_requests: Option<u64>,
    pub triage_top_concentration: Option<String>,
    pub triage_top_suspect: Option<String>,
    /// Whether a change the step expected to be refused was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<bool>,
}

pub fn json(steps: &[Step]) -> serde_json::Value {
    serde_json::json!({ "steps": steps })
}

pub fn table(steps: &[Step]) -> String {
    let pct = |f: f64| format!("{:.1}%", f * 100.0);
    let secs = |s: Option<f64>| s.map_or_else(|| "-".into(), |s| format!("{s:.1}s"));
    let rows: Vec<Vec<String>> = steps
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                pct(s.error_rate_before),
                pct(s.error_rate_during),
                pct(s.error_rate_after),
                secs(s.detected_in_s),
                secs(s.recovered_in_s),
                s.bad_server_requests
                    .map_or_else(|| "-".into(), |n| n.to_string()),
                s.triage_top_concentration
                    .clone()
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    output::table(
        &[
            "STEP",
            "BEFORE",
            "DURING",
            "AFTER",
            "DETECTED",
            "RECOVERED",
            "BAD-SERVER REQS",
            "TRIAGE: TOP CONCENTRATION",
        ],
        &rows,
    )
}
