//! A pool's recent past, second by second: requests, 5xx (and failures of the proxy's own),
//! and 4xx, for the last 15 minutes. The guard compares a change's bake time with the minutes
//! before it, and the dashboard draws it.

use std::sync::Mutex;

use serde::Serialize;

/// Seconds kept.
pub const HISTORY_SECONDS: usize = 15 * 60;

/// One second of one pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Second {
    /// Unix time.
    pub second: u64,
    pub requests: u32,
    /// 5xx answers, and requests the proxy failed itself.
    pub errors: u32,
    /// 4xx answers.
    pub client_errors: u32,
}

#[derive(Debug)]
pub(crate) struct History {
    slots: Mutex<Vec<Second>>,
}

impl Default for History {
    fn default() -> Self {
        History {
            slots: Mutex::new(vec![Second::default(); HISTORY_SECONDS]),
        }
    }
}

impl History {
    /// Counts one answer with `status` at `second` (status 0: the proxy failed the request).
    pub fn record(&self, second: u64, status: u16) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut slots[(second % HISTORY_SECONDS as u64) as usize];
        if slot.second != second {
            *slot = Second {
                second,
                ..Second::default()
            };
        }
        slot.requests += 1;
        slot.errors += u32::from(status == 0 || status >= 500);
        slot.client_errors += u32::from((400..500).contains(&status));
    }

    /// Seconds `from..=to` that saw requests, oldest first.
    pub fn range(&self, from: u64, to: u64) -> Vec<Second> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Second> = slots
            .iter()
            .filter(|s| s.requests > 0 && s.second >= from && s.second <= to)
            .copied()
            .collect();
        out.sort_by_key(|s| s.second);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_classes_and_forgets_old_seconds() {
        let h = History::default();
        h.record(100, 200);
        h.record(100, 503);
        h.record(100, 0);
        h.record(101, 404);
        assert_eq!(
            h.range(0, 200),
            vec![
                Second {
                    second: 100,
                    requests: 3,
                    errors: 2,
                    client_errors: 0
                },
                Second {
                    second: 101,
                    requests: 1,
                    errors: 0,
                    client_errors: 1
                },
            ]
        );
        h.record(100 + HISTORY_SECONDS as u64, 200);
        assert_eq!(h.range(0, 200).len(), 1, "second 100 was overwritten");
    }
}
