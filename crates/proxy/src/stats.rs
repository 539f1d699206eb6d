//! Per-server request and error counts over the last minute, in one-second slots, and the
//! last error seen: what `servers list` shows and what later health logic reads.

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
    pub fn record(&self, second: u64, error: bool) {
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
    }

    /// Requests and errors in the `seconds` (at most 60) seconds up to and including `now`.
    pub fn totals(&self, now: u64, seconds: u64) -> (u64, u64) {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let from = now.saturating_sub(seconds.min(SLOTS as u64) - 1);
        slots
            .iter()
            .filter(|s| s.second >= from && s.second <= now && s.requests > 0)
            .fold((0, 0), |(r, e), s| {
                (r + s.requests as u64, e + s.errors as u64)
            })
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
        w.record(1000, false);
        w.record(1000, true);
        w.record(1030, true);
        assert_eq!(w.totals(1030, 60), (3, 2));
        assert_eq!(w.totals(1059, 60), (3, 2));
        assert_eq!(w.totals(1060, 60), (1, 1), "second 1000 left the window");
        w.record(1060, false);
        assert_eq!(w.totals(1060, 60), (2, 1), "slot reused for a new second");
        assert_eq!(w.totals(1060, 10), (1, 0));
    }
}
