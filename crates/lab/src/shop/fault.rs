//! Faults a host can be given, from Rust or as JSON over the control API, and the live state the
//! request path reads. Faults add up until `recover`: a host can be slow and answer 404 at once;
//! `not-found` and `error-500` replace each other.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

/// Database connections a leaking front end takes per second unless told otherwise: at this
/// rate its pool is exhausted about 12 s after the leak starts.
pub const DEFAULT_LEAK_PER_SECOND: f64 = 8.0;

/// Something to do to one host.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer every request, `/health` included, with 404 and an HTML page, like a server that
    /// is not the service it was taken for.
    NotFound,
    /// Answer every request, `/health` included, with 500 (and log an ERROR for each).
    Error500,
    /// Answer one request in `n` with 500 (and log an ERROR for it), but `/health` always with
    /// 200: a flaky server that passes a shallow health check.
    FailEvery(u64),
    /// Wait this long before answering each request.
    Latency(Duration),
    /// Front ends only: take database connections at this rate and never return them, so the
    /// pool fills up and queries then time out.
    LeakConnections { per_second: f64 },
    /// Stop accepting and drop every open connection.
    Crash,
    /// Clear every fault, give a front end a fresh database pool, and listen again on the same
    /// port after a crash.
    Recover,
}

impl Fault {
    /// A leak at [`DEFAULT_LEAK_PER_SECOND`].
    pub fn leak() -> Fault {
        Fault::LeakConnections {
            per_second: DEFAULT_LEAK_PER_SECOND,
        }
    }

    /// The name the control API uses: `not-found`, `error-500`, `latency`, `leak-connections`,
    /// `crash` or `recover`; `fail-every` for [`Fault::FailEvery`].
    pub fn name(&self) -> &'static str {
        match self {
            Fault::NotFound => "not-found",
            Fault::Error500 => "error-500",
            Fault::FailEvery(_) => "fail-every",
            Fault::Latency(_) => "latency",
            Fault::LeakConnections { .. } => "leak-connections",
            Fault::Crash => "crash",
            Fault::Recover => "recover",
        }
    }

    /// Reads the control API's JSON: `{"fault": "not-found"}`, `{"fault": "latency", "ms": 300}`,
    /// `{"fault": "leak-connections", "per_sec": 8}` (rate optional), ...
    pub fn from_json(value: &serde_json::Value) -> Result<Fault, String> {
        const KINDS: &str =
            "not-found, error-500, fail-every, latency, leak-connections, crash, recover";
        let Some(kind) = value.get("fault").and_then(|f| f.as_str()) else {
            return Err(format!(
                "expected a JSON object with a \"fault\" string (one of {KINDS})"
            ));
        };
        match kind {
            "not-found" => Ok(Fault::NotFound),
            "error-500" => Ok(Fault::Error500),
            "fail-every" => match value.get("n").and_then(|n| n.as_u64()) {
                Some(n) if n > 0 => Ok(Fault::FailEvery(n)),
                _ => Err("fault \"fail-every\" needs \"n\", a whole number above 0: one request in n fails".to_string()),
            },
            "latency" => match value.get("ms").and_then(|m| m.as_u64()) {
                Some(ms) => Ok(Fault::Latency(Duration::from_millis(ms))),
                None => Err(
                    "fault \"latency\" needs \"ms\", a whole number of milliseconds".to_string(),
                ),
            },
            "leak-connections" => match value.get("per_sec") {
                None => Ok(Fault::leak()),
                Some(rate) => match rate.as_f64() {
                    Some(per_second) if per_second > 0.0 && per_second.is_finite() => {
                        Ok(Fault::LeakConnections { per_second })
                    }
                    _ => Err(format!(
                        "\"per_sec\" must be a positive number of connections per second, not {rate}"
                    )),
                },
            },
            "crash" => Ok(Fault::Crash),
            "recover" => Ok(Fault::Recover),
            other => Err(format!("unknown fault {other:?}; faults are: {KINDS}")),
        }
    }
}

/// How a host answers, apart from its normal work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Normal,
    NotFound,
    Error500,
}

/// The faults of one host that the request path reads on every request.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    answer: AtomicU8,
    latency_ms: AtomicU64,
    fail_every: AtomicU64,
    /// Requests counted towards `fail_every`.
    seen: AtomicU64,
}

impl FaultState {
    pub(crate) fn answer(&self) -> Answer {
        match self.answer.load(Ordering::Relaxed) {
            1 => Answer::NotFound,
            2 => Answer::Error500,
            _ => Answer::Normal,
        }
    }

    pub(crate) fn set_answer(&self, answer: Answer) {
        let n = match answer {
            Answer::Normal => 0,
            Answer::NotFound => 1,
            Answer::Error500 => 2,
        };
        self.answer.store(n, Ordering::Relaxed);
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn set_latency(&self, latency: Duration) {
        self.latency_ms
            .store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_fail_every(&self, n: u64) {
        self.fail_every.store(n, Ordering::Relaxed);
    }

    /// Whether this request (not a health check) is the one in `n` that fails.
    pub(crate) fn fails_now(&self) -> bool {
        let n = self.fail_every.load(Ordering::Relaxed);
        n > 0 && (self.seen.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(n)
    }

    pub(crate) fn clear(&self) {
        self.set_answer(Answer::Normal);
        self.set_latency(Duration::ZERO);
        self.set_fail_every(0);
    }

    /// The active faults by name, as `GET /state` lists them.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        match self.answer() {
            Answer::Normal => {}
            Answer::NotFound => names.push("not-found".to_string()),
            Answer::Error500 => names.push("error-500".to_string()),
        }
        let latency = self.latency();
        if !latency.is_zero() {
            names.push(format!("latency {}ms", latency.as_millis()));
        }
        let every = self.fail_every.load(Ordering::Relaxed);
        if every > 0 {
            names.push(format!("fail-every {every}"));
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn control_api_json_reads_into_faults() {
        let parse = |v| Fault::from_json(&v);
        assert_eq!(parse(json!({"fault": "not-found"})), Ok(Fault::NotFound));
        assert_eq!(
            parse(json!({"fault": "latency", "ms": 300})),
            Ok(Fault::Latency(Duration::from_millis(300)))
        );
        assert_eq!(
            parse(json!({"fault": "leak-connections"})),
            Ok(Fault::leak())
        );
        assert_eq!(
            parse(json!({"fault": "leak-connections", "per_sec": 20})),
            Ok(Fault::LeakConnections { per_second: 20.0 })
        );
        assert_eq!(
            parse(json!({"fault": "fail-every", "n": 5})),
            Ok(Fault::FailEvery(5))
        );
        assert!(parse(json!({"fault": "fail-every", "n": 0})).is_err());
        assert!(parse(json!({"fault": "latency"}))
            .unwrap_err()
            .contains("\"ms\""));
        assert!(parse(json!({"fault": "explode"}))
            .unwrap_err()
            .contains("faults are: not-found"));
        assert!(parse(json!({"fault": "leak-connections", "per_sec": -1})).is_err());
        assert!(parse(json!([1])).is_err());
    }

    #[test]
    fn state_lists_active_faults() {
        let state = FaultState::default();
        assert!(state.names().is_empty());
        state.set_answer(Answer::NotFound);
        state.set_latency(Duration::from_millis(300));
        assert_eq!(state.names(), ["not-found", "latency 300ms"]);
        state.set_fail_every(2);
        assert_eq!(
            (state.fails_now(), state.fails_now(), state.fails_now()),
            (false, true, false)
        );
        state.clear();
        assert_eq!(state.answer(), Answer::Normal);
        assert!(!state.fails_now());
    }
}
