//! Active health checks: one task per checked server sends `GET path` every `interval`,
//! judges the answer against the pool's expectations, and feeds the result to the server's
//! rise/fall state machine. Tasks follow config swaps: started for new servers, restarted when
//! the check changes, stopped for servers that leave rotation.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use switchyard_config::{body_snippet, describe_statuses, HealthConfig};
use tokio::task::AbortHandle;

use crate::events::ProxyEvent;
use crate::health::{HealthStatus, Transition};
use crate::runtime::Runtime;
use crate::server::ServerState;
use crate::Shared;

/// Most of a health-check body that is read.
const BODY_LIMIT: usize = 64 * 1024;

type Key = (String, String, SocketAddr);

struct Running {
    config: HealthConfig,
    task: AbortHandle,
}

/// The set of running check tasks.
pub(crate) struct HealthChecks {
    client: Client<HttpConnector, Empty<Bytes>>,
    running: Mutex<HashMap<Key, Running>>,
}

impl Default for HealthChecks {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        HealthChecks {
            client,
            running: Mutex::new(HashMap::new()),
        }
    }
}

impl HealthChecks {
    /// Makes the running tasks match `runtime`: one per in-rotation server of every pool with
    /// a health check, with that pool's current check.
    pub fn reconcile(&self, runtime: &Runtime, shared: &Arc<Shared>) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let mut wanted: HashMap<Key, ()> = HashMap::new();
        for (name, pool) in &runtime.pools {
            let Some(hc) = &pool.config.health else {
                continue;
            };
            for server in pool.servers.iter().filter(|s| s.in_rotation) {
                let key = (
                    name.clone(),
                    server.state.name.clone(),
                    server.state.address,
                );
                wanted.insert(key.clone(), ());
                if running.get(&key).is_some_and(|r| &r.config == hc) {
                    continue;
                }
                if let Some(old) = running.remove(&key) {
                    old.task.abort();
                }
                let task = tokio::spawn(check_loop(
                    self.client.clone(),
                    name.clone(),
                    server.state.clone(),
                    hc.clone(),
                    Arc::downgrade(shared),
                ));
                running.insert(
                    key,
                    Running {
                        config: hc.clone(),
                        task: task.abort_handle(),
                    },
                );
            }
        }
        running.retain(|key, r| {
            let keep = wanted.contains_key(key);
            if !keep {
                r.task.abort();
            }
            keep
        });
    }

    pub fn stop_all(&self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        for (_, r) in running.drain() {
            r.task.abort();
        }
    }
}

async fn check_loop(
    client: Client<HttpConnector, Empty<Bytes>>,
    pool: String,
    server: Arc<ServerState>,
    hc: HealthConfig,
    shared: Weak<Shared>,
) {
    let mut tick = tokio::time::interval(hc.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let result = probe(&client, &server, &hc).await;
        let Some(transition) = server.health.record_check(result, hc.rise, hc.fall) else {
            continue;
        };
        server
            .healthy_gauge
            .set(i64::from(transition.to == HealthStatus::Healthy));
        let Some(shared) = shared.upgrade() else {
            return;
        };
        report(&shared, &pool, &server, &hc, &transition);
    }
}

fn report(shared: &Shared, pool: &str, server: &ServerState, hc: &HealthConfig, t: &Transition) {
    let who = server.server_ref();
    let reason = match t.to {
        HealthStatus::Healthy => format!(
            "{who} is healthy after {} passed check{} of GET {}",
            t.streak,
            if t.streak == 1 { "" } else { "s" },
            hc.path
        ),
        _ => format!(
            "{who} is {} after {} failed check{}: {}",
            t.to.as_str(),
            t.streak,
            if t.streak == 1 { "" } else { "s" },
            t.reason.as_deref().unwrap_or("-")
        ),
    };
    shared.events.send(ProxyEvent {
        kind: crate::EventKind::Health,
        pool: pool.to_string(),
        server: Some(server.name.clone()),
        details: serde_json::json!({
            "from": t.from, "to": t.to, "streak": t.streak,
            "reason": reason, "check": t.reason,
        }),
    });
    let runtime = shared.runtime.load();
    let Some(p) = runtime.pools.get(pool) else {
        return;
    };
    if p.any_healthy() {
        p.note_recovered();
    } else {
        p.note_all_down();
    }
}

/// One check: `Ok` when the answer meets every expectation, else what was expected and what
/// came back, e.g. `health check GET /health on inventory-4 (10.0.0.4:8080): expected 200 with
/// content-type application/json, got 404 text/html "Not Found"`.
pub(crate) async fn probe(
    client: &Client<HttpConnector, Empty<Bytes>>,
    server: &ServerState,
    hc: &HealthConfig,
) -> Result<(), String> {
    let fail = |got: String| {
        Err(format!(
            "health check GET {} on {}: expected {}, got {got}",
            hc.path,
            server.server_ref(),
            expectation(hc)
        ))
    };
    // Validation keeps unusable paths out of configs; should one get here anyway, the check
    // fails with the reason instead of taking the checker down.
    let req = match Request::get(format!("http://{}{}", server.address, hc.path))
        .header(USER_AGENT, "switchyard-health-check")
        .body(Empty::new())
    {
        Ok(req) => req,
        Err(e) => return fail(format!("no request: GET {:?} cannot be sent: {e}", hc.path)),
    };
    let answer = tokio::time::timeout(hc.timeout, async {
        let resp = client.request(req).await?;
        let (parts, body) = resp.into_parts();
        Ok::<_, hyper_util::client::legacy::Error>((parts, first_bytes(body, BODY_LIMIT).await))
    })
    .await;
    let (parts, body) = match answer {
        Err(_) => {
            return fail(format!(
                "no answer within {}",
                switchyard_config::format_duration(hc.timeout)
            ))
        }
        Ok(Err(e)) => {
            return fail(crate::upstream::classify(&server.server_ref(), hc.timeout, &e).received())
        }
        Ok(Ok(answer)) => answer,
    };
    let status = parts.status.as_u16();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(no content-type)");
    let text = body
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let got = || format!("{status} {content_type} \"{}\"", body_snippet(&text));
    if !hc.expect_status.iter().any(|r| r.contains(status)) {
        return fail(got());
    }
    for (name, prefix) in &hc.expect_header {
        let value = parts
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok());
        if !value.is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with(&prefix.to_ascii_lowercase())
        }) {
            return fail(got());
        }
    }
    if let Some(needle) = &hc.expect_body {
        if !text.contains(needle.as_str()) {
            return fail(got());
        }
    }
    Ok(())
}

/// The first `limit` bytes of `body` (all of a shorter one); the rest is left unread. `None`
/// when the body failed before `limit` bytes came.
async fn first_bytes<B: http_body::Body + Unpin>(mut body: B, limit: usize) -> Option<Bytes>
where
    B::Data: bytes::Buf,
{
    let mut out = bytes::BytesMut::new();
    while out.len() < limit {
        let Some(frame) = body.frame().await else {
            break;
        };
        if let Ok(mut data) = frame.ok()?.into_data() {
            while bytes::Buf::has_remaining(&data) && out.len() < limit {
                let chunk = bytes::Buf::chunk(&data);
                let take = chunk.len().min(limit - out.len());
                out.extend_from_slice(&chunk[..take]);
                bytes::Buf::advance(&mut data, take);
            }
        }
    }
    Some(out.freeze())
}

/// `200 with content-type application/json and a body containing "ok"`
fn expectation(hc: &HealthConfig) -> String {
    let mut out = describe_statuses(&hc.expect_status);
    for (i, (name, value)) in hc.expect_header.iter().enumerate() {
        out.push_str(if i == 0 { " with " } else { " and " });
        out.push_str(&format!("{name} {value}"));
    }
    if let Some(body) = &hc.expect_body {
        out.push_str(&format!(" and a body containing {body:?}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_first_bytes_of_a_long_body_are_read() {
        let body = http_body_util::Full::new(Bytes::from(vec![b'x'; 100 * 1024]));
        let got = first_bytes(body, BODY_LIMIT).await.unwrap();
        assert_eq!(got.len(), BODY_LIMIT);
        let short = http_body_util::Full::new(Bytes::from_static(b"ok"));
        assert_eq!(first_bytes(short, BODY_LIMIT).await.unwrap(), "ok");
    }
}
