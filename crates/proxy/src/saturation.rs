//! Saturation: once a second every server's in-flight count is compared with its limit; a
//! server at or above 90% for most of the last 10 seconds is saturated, and the start and end
//! of that are reported.

use std::sync::Weak;
use std::time::Duration;

use crate::events::ProxyEvent;
use crate::Shared;

pub(crate) async fn sample_loop(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let runtime = shared.runtime.load();
        for (name, pool) in &runtime.pools {
            for s in pool.servers.iter().filter(|s| s.in_rotation) {
                let in_use = s.state.in_flight();
                let busy = in_use as u64 * 10 >= s.limit as u64 * 9;
                let Some(saturated) = s.state.health.sample_saturation(busy) else {
                    continue;
                };
                let reason = if saturated {
                    format!(
                        "{} saturated: at least 90% of its limit in use for most of the last 10 s ({in_use}/{} in use now)",
                        s.state.server_ref(),
                        s.limit
                    )
                } else {
                    format!(
                        "{} no longer saturated ({in_use}/{} in use)",
                        s.state.server_ref(),
                        s.limit
                    )
                };
                shared.events.send(ProxyEvent {
                    kind: crate::EventKind::Saturation,
                    pool: name.clone(),
                    server: Some(s.state.name.clone()),
                    details: serde_json::json!({
                        "saturated": saturated, "in_use": in_use, "limit": s.limit, "reason": reason,
                    }),
                });
            }
        }
    }
}
