//! `GET /api/v1/series?minutes=15`: each pool's answers in 10-second buckets (requests, 5xx
//! and failures, 4xx), each server's over the last minute (all a server keeps), and the events
//! of the same window that the charts mark on their time axis.

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use switchyard_store::{Event, EventKind};

use crate::error::ApiError;
use crate::AdminState;

/// Seconds per bucket.
const BUCKET_S: u64 = 10;
/// The proxy keeps 15 minutes of history.
const MAX_MINUTES: u64 = 15;

#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    /// Minutes back from now, 1 to 15; default 15.
    minutes: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Series {
    /// Unix seconds of the first bucket's start.
    from: u64,
    /// Unix seconds of the end of the window (now).
    to: u64,
    bucket_s: u64,
    pools: Vec<PoolSeries>,
    markers: Vec<Marker>,
}

#[derive(Debug, Serialize)]
pub struct PoolSeries {
    name: String,
    /// Every bucket of the window, oldest first, empty ones included.
    buckets: Vec<Bucket>,
    /// Each server's buckets over the last minute, in config order.
    servers: Vec<ServerSeries>,
}

#[derive(Debug, Serialize)]
pub struct ServerSeries {
    name: String,
    /// Unix seconds of the first bucket's start (a server keeps only the last minute).
    from: u64,
    buckets: Vec<Bucket>,
}

/// Seconds a server keeps.
const SERVER_SECONDS: u64 = 60;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Bucket {
    /// Unix seconds of the bucket's start.
    t: u64,
    requests: u64,
    errors: u64,
    client_errors: u64,
}

/// One event drawn on the time axis.
#[derive(Debug, Serialize)]
pub struct Marker {
    ts: DateTime<Utc>,
    /// `version`, `auto-rollback`, `health`, `ejection`, `rollout` or `decommission`.
    kind: &'static str,
    pool: Option<String>,
    server: Option<String>,
    version: Option<u64>,
    /// The version's kind (`apply`, `rollback`, ...), when a version.
    change: Option<String>,
    author: Option<String>,
    /// What happened, in one line.
    text: String,
}

pub(crate) async fn series(
    State(s): State<AdminState>,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<Series>, ApiError> {
    let minutes = q.minutes.unwrap_or(MAX_MINUTES);
    if minutes == 0 || minutes > MAX_MINUTES {
        return Err(ApiError::BadRequest(format!(
            "minutes={minutes}: the proxy keeps 1 to {MAX_MINUTES} minutes of history"
        )));
    }
    let to = Utc::now().timestamp().max(0) as u64;
    let from = (to - minutes * 60) / BUCKET_S * BUCKET_S;
    let proxy = s.control.proxy();
    let server_from = (to + 1 - SERVER_SECONDS) / BUCKET_S * BUCKET_S;
    let pools = proxy
        .status()
        .into_iter()
        .map(|p| PoolSeries {
            buckets: buckets(
                &proxy.history(&p.name, from, to).unwrap_or_default(),
                from,
                to,
            ),
            servers: proxy
                .server_history(&p.name, server_from, to)
                .unwrap_or_default()
                .into_iter()
                .map(|(name, seconds)| ServerSeries {
                    name,
                    from: server_from,
                    buckets: buckets(&seconds, server_from, to),
                })
                .collect(),
            name: p.name,
        })
        .collect();
    let since = Utc.timestamp_opt(from as i64, 0).single();
    let events = s
        .control
        .blocking(move |st| st.events(since, 10_000))
        .await?;
    let markers = events.iter().filter_map(marker).collect();
    Ok(Json(Series {
        from,
        to,
        bucket_s: BUCKET_S,
        pools,
        markers,
    }))
}

fn buckets(seconds: &[switchyard_proxy::Second], from: u64, to: u64) -> Vec<Bucket> {
    let n = ((to - from) / BUCKET_S + 1) as usize;
    let mut out: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            t: from + i as u64 * BUCKET_S,
            ..Bucket::default()
        })
        .collect();
    for s in seconds {
        if let Some(b) = s
            .second
            .checked_sub(from)
            .and_then(|d| out.get_mut((d / BUCKET_S) as usize))
        {
            b.requests += u64::from(s.requests);
            b.errors += u64::from(s.errors);
            b.client_errors += u64::from(s.client_errors);
        }
    }
    out
}

fn marker(e: &Event) -> Option<Marker> {
    let d = &e.details;
    let str_of = |k: &str| d[k].as_str().map(str::to_string);
    let author = str_of("author");
    let guard = e.kind == EventKind::Guard || author.as_deref() == Some(crate::GUARD_AUTHOR);
    let (kind, text) = match e.kind {
        EventKind::Version => {
            let n = d["version"].as_u64().unwrap_or_default();
            let what = format!(
                "v{n} {} by {}: {}",
                d["kind"].as_str().unwrap_or("change"),
                author.as_deref().unwrap_or("unknown"),
                d["message"].as_str().unwrap_or("")
            );
            (if guard { "auto-rollback" } else { "version" }, what)
        }
        EventKind::Guard => (
            "auto-rollback",
            format!(
                "guard: {}",
                str_of("message")
                    .or_else(|| str_of("reason"))
                    .unwrap_or_else(|| d.to_string())
            ),
        ),
        EventKind::Health => (
            "health",
            format!(
                "{} {} -> {}: {}",
                e.server.as_deref().unwrap_or("-"),
                d["from"].as_str().unwrap_or("?"),
                d["to"].as_str().unwrap_or("?"),
                d["reason"].as_str().unwrap_or("")
            ),
        ),
        EventKind::Ejection => (
            "ejection",
            str_of("reason").unwrap_or_else(|| {
                format!("{} ejected", e.server.as_deref().unwrap_or("a server"))
            }),
        ),
        EventKind::Rollout => (
            "rollout",
            str_of("summary").unwrap_or_else(|| {
                format!(
                    "rollout {} started by {}: {}",
                    d["id"],
                    author.as_deref().unwrap_or("unknown"),
                    d["message"].as_str().unwrap_or("")
                )
            }),
        ),
        EventKind::Decommission => (
            "decommission",
            str_of("refused").unwrap_or_else(|| {
                format!(
                    "decommission of {} in v{}: {}",
                    d["servers"]
                        .as_array()
                        .map(|s| s
                            .iter()
                            .filter_map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default(),
                    d["version"],
                    d["message"].as_str().unwrap_or("")
                )
            }),
        ),
        _ => return None,
    };
    Some(Marker {
        ts: e.ts,
        kind,
        pool: e.pool.clone(),
        server: e.server.clone(),
        version: d["version"].as_u64(),
        change: str_of("kind"),
        author,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_proxy::Second;

    #[test]
    fn seconds_fall_into_ten_second_buckets_and_gaps_stay_zero() {
        let s = |second, requests, errors| Second {
            second,
            requests,
            errors,
            client_errors: 1,
        };
        let b = buckets(&[s(100, 5, 1), s(109, 5, 0), s(125, 2, 2)], 100, 130);
        assert_eq!(b.len(), 4);
        assert_eq!((b[0].t, b[0].requests, b[0].errors), (100, 10, 1));
        assert_eq!(b[0].client_errors, 2);
        assert_eq!(b[1].requests, 0);
        assert_eq!((b[2].t, b[2].requests, b[2].errors), (120, 2, 2));
    }

    #[test]
    fn rollouts_and_decommissions_are_marked() {
        let event = |kind, details| Event {
            id: 1,
            ts: Utc::now(),
            kind,
            pool: Some("inventory".into()),
            server: None,
            details,
        };
        let started = event(
            EventKind::Rollout,
            serde_json::json!({"id": 2, "author": "ops", "message": "more", "summary": null}),
        );
        assert_eq!(
            marker(&started).unwrap().text,
            "rollout 2 started by ops: more"
        );
        let ended = event(
            EventKind::Rollout,
            serde_json::json!({"id": 2, "author": "ops", "summary": "rollout 2 failed"}),
        );
        assert_eq!(marker(&ended).unwrap().text, "rollout 2 failed");
        let done = event(
            EventKind::Decommission,
            serde_json::json!({"servers": ["f-3", "f-4"], "version": 7, "message": "shrink"}),
        );
        let m = marker(&done).unwrap();
        assert_eq!(
            (m.kind, m.text.as_str()),
            ("decommission", "decommission of f-3, f-4 in v7: shrink")
        );
    }

    #[test]
    fn guard_versions_are_auto_rollbacks() {
        let e = Event {
            id: 1,
            ts: Utc::now(),
            kind: EventKind::Version,
            pool: None,
            server: None,
            details: serde_json::json!({"version": 3, "kind": "rollback",
                "author": "switchyard-guard", "message": "auto-rollback of v2"}),
        };
        let m = marker(&e).unwrap();
        assert_eq!(m.kind, "auto-rollback");
        assert_eq!(m.version, Some(3));
        assert!(m.text.contains("auto-rollback of v2"), "{}", m.text);
    }
}
