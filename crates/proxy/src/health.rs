//! Health of one server, outside any config version: the active-check state machine (a server
//! changes state only after `rise` passes or `fall` failures in a row), outlier ejection with
//! its deadline, the slow-start ramp, and saturation samples.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::time::Instant;

use crate::stats::Window;

/// What active checks say about a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Not yet passed `rise` checks since it appeared: out of rotation.
    Pending,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => HealthStatus::Healthy,
            2 => HealthStatus::Unhealthy,
            _ => HealthStatus::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Pending => "pending",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

#[derive(Debug, Default)]
struct CheckState {
    passes: u32,
    failures: u32,
    last_reason: Option<String>,
    last_at: Option<DateTime<Utc>>,
}

/// A change of [`HealthStatus`] caused by a check result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Transition {
    pub from: HealthStatus,
    pub to: HealthStatus,
    /// Consecutive results that caused it.
    pub streak: u32,
    pub reason: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ServerHealth {
    base: Instant,
    status: AtomicU8,
    check: Mutex<CheckState>,
    /// Milliseconds after `base` when the server (re)entered rotation; drives slow start.
    admitted_ms: AtomicU64,
    // Passive health.
    pub consecutive_failures: AtomicU32,
    pub outlier_window: Window,
    /// Milliseconds after `base` until which the server is ejected; 0 when it is not.
    ejected_until_ms: AtomicU64,
    pub ejections: AtomicU32,
    pub ejection_reason: Mutex<Option<String>>,
    // Saturation: one bit per second, newest lowest.
    samples: AtomicU16,
    pub saturated: AtomicBool,
}

impl Default for ServerHealth {
    fn default() -> Self {
        ServerHealth {
            base: Instant::now(),
            status: AtomicU8::new(0),
            check: Mutex::new(CheckState::default()),
            admitted_ms: AtomicU64::new(0),
            consecutive_failures: AtomicU32::new(0),
            outlier_window: Window::default(),
            ejected_until_ms: AtomicU64::new(0),
            ejections: AtomicU32::new(0),
            ejection_reason: Mutex::new(None),
            samples: AtomicU16::new(0),
            saturated: AtomicBool::new(false),
        }
    }
}

impl ServerHealth {
    fn now_ms(&self) -> u64 {
        // +1 so that 0 can mean "never".
        self.base.elapsed().as_millis() as u64 + 1
    }

    pub fn status(&self) -> HealthStatus {
        HealthStatus::from_u8(self.status.load(Ordering::Acquire))
    }

    /// The last failed check's explanation and when the last check ran.
    pub fn last_check(&self) -> (Option<String>, Option<DateTime<Utc>>) {
        let c = self.check.lock().unwrap_or_else(|e| e.into_inner());
        (c.last_reason.clone(), c.last_at)
    }

    /// Consecutive passes so far (for "1/2 checks passed").
    pub fn passes(&self) -> u32 {
        self.check.lock().unwrap_or_else(|e| e.into_inner()).passes
    }

    /// Records one check result and returns the transition it caused, if any.
    pub fn record_check(
        &self,
        result: Result<(), String>,
        rise: u32,
        fall: u32,
    ) -> Option<Transition> {
        let mut c = self.check.lock().unwrap_or_else(|e| e.into_inner());
        c.last_at = Some(Utc::now());
        let from = self.status();
        let to = match result {
            Ok(()) => {
                c.passes += 1;
                c.failures = 0;
                (from != HealthStatus::Healthy && c.passes >= rise).then_some(HealthStatus::Healthy)
            }
            Err(reason) => {
                c.failures += 1;
                c.passes = 0;
                c.last_reason = Some(reason);
                (from != HealthStatus::Unhealthy && c.failures >= fall)
                    .then_some(HealthStatus::Unhealthy)
            }
        }?;
        self.status.store(to as u8, Ordering::Release);
        if to == HealthStatus::Healthy {
            self.admitted_ms.store(self.now_ms(), Ordering::Release);
        }
        Some(Transition {
            from,
            to,
            streak: if to == HealthStatus::Healthy {
                c.passes
            } else {
                c.failures
            },
            reason: c.last_reason.clone(),
        })
    }

    /// Forgets active-check results (the pool's health check was removed or changed).
    pub fn reset_checks(&self, status: HealthStatus) {
        let mut c = self.check.lock().unwrap_or_else(|e| e.into_inner());
        *c = CheckState::default();
        self.status.store(status as u8, Ordering::Release);
    }

    /// Whether the server is ejected now. When an ejection has just run out, returns
    /// `Err(())` once so that the caller can report the return.
    pub fn ejected(&self) -> Result<bool, ()> {
        let until = self.ejected_until_ms.load(Ordering::Acquire);
        if until == 0 {
            return Ok(false);
        }
        let now = self.now_ms();
        if now < until {
            return Ok(true);
        }
        match self
            .ejected_until_ms
            .compare_exchange(until, 0, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                self.admitted_ms.store(now, Ordering::Release);
                Err(())
            }
            Err(_) => Ok(false),
        }
    }

    /// Ejects the server for `duration` unless it already is; true if this call ejected it.
    pub fn try_eject(&self, duration: Duration) -> bool {
        let until = self.now_ms() + duration.as_millis() as u64;
        self.ejected_until_ms
            .compare_exchange(0, until, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Time left of the current ejection.
    pub fn ejection_left(&self) -> Option<Duration> {
        let until = self.ejected_until_ms.load(Ordering::Acquire);
        (until != 0)
            .then(|| Duration::from_millis(until.saturating_sub(self.now_ms())))
            .filter(|d| !d.is_zero())
    }

    /// The share of traffic the server should take now under `slow_start` (1.0 when ramped).
    pub fn ramp(&self, slow_start: Option<Duration>) -> f64 {
        let Some(ramp) = slow_start else { return 1.0 };
        let admitted = self.admitted_ms.load(Ordering::Acquire);
        if admitted == 0 {
            return 1.0;
        }
        let elapsed = self.now_ms().saturating_sub(admitted) as f64;
        (elapsed / ramp.as_millis().max(1) as f64).clamp(0.05, 1.0)
    }

    /// Marks the server as (re)entering rotation now, for slow start.
    pub fn admitted_now(&self) {
        self.admitted_ms.store(self.now_ms(), Ordering::Release);
    }

    /// Adds one per-second sample; returns the new saturated flag if it changed. Saturated
    /// means at or above 90% of the limit in most (6 or more) of the last 10 samples.
    pub fn sample_saturation(&self, busy: bool) -> Option<bool> {
        let samples = ((self.samples.load(Ordering::Acquire) << 1) | u16::from(busy)) & 0x3ff;
        self.samples.store(samples, Ordering::Release);
        let now = samples.count_ones() >= 6;
        (self.saturated.swap(now, Ordering::AcqRel) != now).then_some(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_and_fall() {
        let h = ServerHealth::default();
        assert_eq!(h.status(), HealthStatus::Pending);
        assert_eq!(h.record_check(Ok(()), 2, 3), None);
        let t = h.record_check(Ok(()), 2, 3).unwrap();
        assert_eq!(
            (t.from, t.to, t.streak),
            (HealthStatus::Pending, HealthStatus::Healthy, 2)
        );
        for _ in 0..2 {
            assert_eq!(h.record_check(Err("got 500".into()), 2, 3), None);
        }
        let t = h.record_check(Err("got 503".into()), 2, 3).unwrap();
        assert_eq!(
            (t.to, t.streak, t.reason.as_deref()),
            (HealthStatus::Unhealthy, 3, Some("got 503"))
        );
        assert_eq!(
            h.record_check(Err("x".into()), 2, 3),
            None,
            "no repeat transition"
        );
        assert_eq!(h.record_check(Ok(()), 2, 3), None);
        assert_eq!(
            h.record_check(Ok(()), 2, 3).unwrap().to,
            HealthStatus::Healthy
        );
    }

    #[test]
    fn pending_server_that_fails_becomes_unhealthy() {
        let h = ServerHealth::default();
        h.record_check(Err("got 404".into()), 2, 2);
        let t = h.record_check(Err("got 404".into()), 2, 2).unwrap();
        assert_eq!(
            (t.from, t.to),
            (HealthStatus::Pending, HealthStatus::Unhealthy)
        );
    }

    #[test]
    fn saturation_needs_most_of_ten_seconds() {
        let h = ServerHealth::default();
        for _ in 0..5 {
            assert_eq!(h.sample_saturation(true), None);
        }
        assert_eq!(h.sample_saturation(true), Some(true));
        for _ in 0..4 {
            assert_eq!(h.sample_saturation(false), None);
        }
        assert_eq!(h.sample_saturation(false), Some(false));
    }

    #[tokio::test(start_paused = true)]
    async fn ejection_runs_out_once() {
        let h = ServerHealth::default();
        assert!(h.try_eject(Duration::from_secs(30)));
        assert!(!h.try_eject(Duration::from_secs(30)), "already ejected");
        assert_eq!(h.ejected(), Ok(true));
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(h.ejected(), Err(()));
        assert_eq!(h.ejected(), Ok(false));
        assert!(h.ramp(Some(Duration::from_secs(10))) < 0.1);
        tokio::time::advance(Duration::from_secs(5)).await;
        let r = h.ramp(Some(Duration::from_secs(10)));
        assert!((0.45..0.55).contains(&r), "{r}");
    }
}
