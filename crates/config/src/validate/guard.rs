//! Validation of `[guard]` and `[notify]`.

use std::ops::RangeInclusive;

use super::Validator;
use crate::guard::*;
use crate::health::{Factor, Fraction};
use crate::raw::{RawGuard, RawNotify, S};

impl Validator<'_> {
    pub(super) fn guard(&mut self, raw: Option<S<RawGuard>>) -> Option<GuardConfig> {
        let raw = raw?.into_inner();
        let defaults = GuardConfig::default();
        let bake = self.duration(raw.bake.as_ref(), "guard.bake", DEFAULT_BAKE);
        let max_error_rate = self.fraction(
            raw.max_error_rate.as_ref(),
            "guard.max_error_rate",
            DEFAULT_MAX_ERROR_RATE,
        );
        let max_increase = self.fraction(
            raw.max_increase.as_ref(),
            "guard.max_increase",
            DEFAULT_MAX_INCREASE,
        );
        let min_requests = raw.min_requests.as_ref().map_or(DEFAULT_MIN_REQUESTS, |m| {
            self.int(m, "guard.min_requests", 1, 100_000_000, 1) as u64
        });
        let max_latency_ratio = Factor(self.number(
            raw.max_latency_ratio.as_ref(),
            "guard.max_latency_ratio",
            (
                1.0..=1000.0,
                "1 to 1000 (2 means twice the existing servers' p90)",
            ),
            DEFAULT_MAX_LATENCY_RATIO,
        ));
        let min_latency_increase = self.duration(
            raw.min_latency_increase.as_ref(),
            "guard.min_latency_increase",
            DEFAULT_MIN_LATENCY_INCREASE,
        );
        Some(GuardConfig {
            bake,
            max_error_rate,
            max_increase,
            min_requests,
            max_latency_ratio,
            min_latency_increase,
            auto_rollback: raw
                .auto_rollback
                .map_or(defaults.auto_rollback, S::into_inner),
        })
    }

    pub(super) fn notify(&mut self, raw: Option<S<RawNotify>>) -> Option<NotifyConfig> {
        let raw = raw?;
        let span = raw.span();
        let raw = raw.into_inner();
        let webhook = match raw.webhook {
            Some(w) if valid_webhook(w.get_ref()) => w.into_inner(),
            Some(w) => {
                self.err(
                    w.span(),
                    format!(
                        "notify.webhook \"{}\" is not an http URL; write e.g. \"http://127.0.0.1:9000/hooks/switchyard\"",
                        w.get_ref()
                    ),
                );
                String::new()
            }
            None => {
                self.err(
                    span,
                    "notify has no webhook: add e.g. webhook = \"http://127.0.0.1:9000/hooks\""
                        .into(),
                );
                String::new()
            }
        };
        let timeout = self.duration(
            raw.timeout.as_ref(),
            "notify.timeout",
            DEFAULT_NOTIFY_TIMEOUT,
        );
        let retries = raw.retries.as_ref().map_or(DEFAULT_NOTIFY_RETRIES, |r| {
            self.int(r, "notify.retries", 0, 10, 0) as u32
        });
        Some(NotifyConfig {
            webhook,
            timeout,
            retries,
        })
    }

    fn fraction(&mut self, raw: Option<&S<f64>>, what: &str, default: f64) -> Fraction {
        Fraction(self.number(raw, what, (0.0..=1.0, "0 to 1 (0.05 means 5%)"), default))
    }

    /// A number in `allowed.0`, which `allowed.1` says in words; else an error and `default`.
    fn number(
        &mut self,
        raw: Option<&S<f64>>,
        what: &str,
        allowed: (RangeInclusive<f64>, &str),
        default: f64,
    ) -> f64 {
        match raw {
            None => default,
            Some(r) if allowed.0.contains(r.get_ref()) => *r.get_ref(),
            Some(r) => {
                self.err(
                    r.span(),
                    format!("{what} is {}; allowed: {}", r.get_ref(), allowed.1),
                );
                default
            }
        }
    }
}

/// `http://` followed by a host.
fn valid_webhook(url: &str) -> bool {
    url.strip_prefix("http://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/') && !rest.contains(' '))
}
