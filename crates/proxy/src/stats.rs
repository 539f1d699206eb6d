//! Per-server request, error (5xx and failures) and 4xx counts over the last minute, in
//! one-second slots, and the last error seen: what `servers list` shows and what later health
//! logic reads.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde::Serialize;

const SLOTS: usize = 60;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    second: u64,
    requests: u32,
    errors: u32,
    client_errors: u32,
}

/// Counts of some seconds of a [`Window`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    /// 5xx answers and failed attempts.
    pub errors: u64,
    /// 4xx answers.
    pub client_errors: u64,
}

/// Counts over a sliding window of 60 one-second slots.
#[derive(Debug)]
pub(crate) struct Window {
    slots: Mutex<[Slot; SLOTS]>,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            slots: Mutex::new([Slot::default(); SLOTS]),
        }
    }
}

pub(crate) fn now_second() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Window {
    /// Counts one request at `second`: failed (`error`), answered 4xx (`client_error`), or
    /// neither.
    pub fn record(&self, second: u64, error: bool, client_error: bool) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut slots[(second % SLOTS as u64) as usize];
        if slot.second != second {
            *slot = Slot {
                second,
                ..Slot::default()
            };
        }
        slot.requests += 1;
        slot.errors += u32::from(error);
        slot.client_errors += u32::from(client_error);
    }

    /// Counts of the `seconds` (at most 60) seconds up to and including `now`.
    pub fn totals(&self, now: u64, seconds: u64) -> Totals {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let from = now.saturating_sub(seconds.min(SLOTS as u64) - 1);
        slots
            .iter()
            .filter(|s| s.second >= from && s.second <= now && s.requests > 0)
            .fold(Totals::default(), |t, s| Totals {
                requests: t.requests + u64::from(s.requests),
                errors: t.errors + u64::from(s.errors),
                client_errors: t.client_errors + u64::from(s.client_errors),
            })
    }
}

impl Window {
    /// The seconds `from..=to` that saw requests (at most the last 60), oldest first.
    pub fn seconds(&self, from: u64, to: u64) -> Vec<crate::Second> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<crate::Second> = slots
            .iter()
            .filter(|s| s.requests > 0 && s.second >= from && s.second <= to)
            .map(|s| crate::Second {
                second: s.second,
                requests: s.requests,
                errors: s.errors,
                client_errors: s.client_errors,
            })
            .collect();
        out.sort_by_key(|s| s.second);
        out
    }
}

/// The most recent failure on a server.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LastError {
    pub at: DateTime<Utc>,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_slides() {
        let w = Window::default();
        let t = |requests, errors, client_errors| Totals {
            requests,
            errors,
            client_errors,
        };
        w.record(1000, false, false);
        w.record(1000, true, false);
        w.record(1000, false, true);
        w.record(1030, true, false);
        assert_eq!(w.totals(1030, 60), t(4, 2, 1));
        assert_eq!(w.totals(1059, 60), t(4, 2, 1));
        assert_eq!(
            w.totals(1060, 60),
            t(1, 1, 0),
            "second 1000 left the window"
        );
        w.record(1060, false, true);
        assert_eq!(
            w.totals(1060, 60),
            t(2, 1, 1),
            "slot reused for a new second"
        );
        assert_eq!(w.totals(1060, 10), t(1, 0, 1));
        let seconds = w.seconds(1000, 1060);
        assert_eq!(seconds.len(), 2);
        assert_eq!((seconds[0].second, seconds[0].errors), (1030, 1));
        assert_eq!((seconds[1].second, seconds[1].client_errors), (1060, 1));
    }
}
