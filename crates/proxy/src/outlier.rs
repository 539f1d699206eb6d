//! Passive health: every answered request counts toward its server's record, and a server
//! whose real traffic keeps failing is ejected for a while (longer each time), never more than
//! `max_ejected_percent` of a pool at once.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::events::ProxyEvent;
use crate::pool::Pool;
use crate::stats::now_second;

impl Pool {
    /// Whether a response with `status` counts as a failure for outlier ejection.
    pub fn is_outlier_failure(&self, status: u16) -> bool {
        self.config
            .outlier
            .as_ref()
            .is_some_and(|o| o.failure_statuses.iter().any(|r| r.contains(status)))
    }

    /// Records the outcome of one request to server `i` (`failure` says why it failed) and
    /// ejects the server when its record crosses the pool's limits.
    pub fn observe(&self, i: usize, failure: Option<String>) {
        let Some(cfg) = &self.config.outlier else {
            return;
        };
        let server = &self.servers[i];
        let h = &server.state.health;
        let now = now_second();
        h.outlier_window.record(now, failure.is_some(), false);
        let Some(last) = failure else {
            h.consecutive_failures.store(0, Ordering::Release);
            return;
        };
        let consecutive = h.consecutive_failures.fetch_add(1, Ordering::AcqRel) + 1;
        let window = cfg.window.as_secs().max(1);
        let totals = h.outlier_window.totals(now, window);
        let (requests, failures) = (totals.requests, totals.errors);
        let rate = failures as f64 / requests.max(1) as f64;
        let by_consecutive = consecutive >= cfg.consecutive_failures;
        let by_rate = requests >= cfg.min_requests as u64 && rate >= cfg.failure_rate.0;
        if !(by_consecutive || by_rate) || h.ejection_left().is_some() {
            return;
        }
        let in_rotation = self.servers.iter().filter(|s| s.in_rotation).count() as u64;
        let ejected = self
            .servers
            .iter()
            .filter(|s| s.in_rotation && s.state.health.ejection_left().is_some())
            .count() as u64;
        if (ejected + 1) * 100 > cfg.max_ejected_percent as u64 * in_rotation {
            return;
        }
        let n = h.ejections.load(Ordering::Acquire) + 1;
        let factor = 1u32.checked_shl(n - 1).unwrap_or(u32::MAX);
        let duration = cfg
            .base_ejection
            .checked_mul(factor)
            .map_or(cfg.max_ejection, |d| d.min(cfg.max_ejection));
        if !h.try_eject(duration) {
            return;
        }
        h.ejections.store(n, Ordering::Release);
        h.consecutive_failures.store(0, Ordering::Release);
        let why = if by_consecutive {
            format!("{consecutive} consecutive failures (last: {last})")
        } else {
            format!(
                "{failures} of {requests} requests failed in the last {window}s ({:.0}%, limit {:.0}%; last: {last})",
                rate * 100.0,
                cfg.failure_rate.0 * 100.0
            )
        };
        *h.ejection_reason.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
        self.events.send(ProxyEvent {
            kind: crate::EventKind::Ejection,
            pool: self.name().to_string(),
            server: Some(server.state.name.clone()),
            details: serde_json::json!({
                "reason": format!("{} ejected for {}: {why}", server.state.server_ref(), secs(duration)),
                "ejected_for_ms": duration.as_millis() as u64,
                "ejection": n,
                "consecutive_failures": consecutive,
                "requests": requests,
                "failures": failures,
                "window_s": window,
            }),
        });
        if !self.any_healthy() {
            self.note_all_down();
        }
    }
}

fn secs(d: Duration) -> String {
    switchyard_config::format_duration(d)
}
