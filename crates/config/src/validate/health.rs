//! Validation of `[pools.P.health]`, `[pools.P.outlier]`, `when_all_unhealthy` and `slow_start`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use super::{list, Validator};
use crate::health::*;
use crate::raw::{RawHealth, RawOutlier, RawStatus, S};

impl Validator<'_> {
    pub(super) fn when_all_unhealthy(
        &mut self,
        raw: Option<&S<String>>,
        pool: &str,
    ) -> WhenAllUnhealthy {
        match raw {
            None => WhenAllUnhealthy::Reject,
            Some(w) => match w.get_ref().as_str() {
                "reject" => WhenAllUnhealthy::Reject,
                "fail_open" => WhenAllUnhealthy::FailOpen,
                other => {
                    self.err(
                        w.span(),
                        format!(
                            "pool \"{pool}\" when_all_unhealthy \"{other}\" is not known; use one of {}",
                            list(WhenAllUnhealthy::NAMES)
                        ),
                    );
                    WhenAllUnhealthy::Reject
                }
            },
        }
    }

    pub(super) fn health(&mut self, raw: S<RawHealth>, pool: &str) -> HealthConfig {
        let span = raw.span();
        let raw = raw.into_inner();
        let what = |key: &str| format!("pool \"{pool}\" health.{key}");
        let path = match raw.path {
            Some(p)
                if p.get_ref().starts_with('/')
                    && p.get_ref().parse::<http::uri::PathAndQuery>().is_ok() =>
            {
                p.into_inner()
            }
            Some(p) if p.get_ref().starts_with('/') => {
                self.err(
                    p.span(),
                    format!(
                        "{} {:?} is not a valid URI path and query: write spaces as %20 and leave \
                         out control characters, e.g. \"/health%20check\"",
                        what("path"),
                        p.get_ref()
                    ),
                );
                "/".into()
            }
            Some(p) => {
                self.err(
                    p.span(),
                    format!(
                        "{} \"{}\" must start with '/', e.g. \"/health\"",
                        what("path"),
                        p.get_ref()
                    ),
                );
                "/".into()
            }
            None => {
                self.err(
                    span.clone(),
                    format!("pool \"{pool}\" health has no path: add e.g. path = \"/health\""),
                );
                "/".into()
            }
        };
        let interval = self.duration(
            raw.interval.as_ref(),
            &what("interval"),
            DEFAULT_HEALTH_INTERVAL,
        );
        let timeout = self.duration(
            raw.timeout.as_ref(),
            &what("timeout"),
            DEFAULT_HEALTH_TIMEOUT,
        );
        if timeout > interval {
            let s = raw.timeout.as_ref().map_or(span.clone(), |t| t.span());
            self.err(
                s,
                format!(
                    "{} {} is longer than the interval {}; make it at most the interval",
                    what("timeout"),
                    crate::format_duration(timeout),
                    crate::format_duration(interval)
                ),
            );
        }
        let expect_status = match raw.expect_status {
            None => vec![StatusRange {
                low: 200,
                high: 299,
            }],
            Some(items) => self.statuses(items, &what("expect_status"), span.clone()),
        };
        let expect_header: BTreeMap<String, String> = raw
            .expect_header
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.into_inner()))
            .collect();
        let rise = raw.rise.as_ref().map_or(DEFAULT_RISE, |r| {
            self.int(r, &what("rise"), 1, 100, 1) as u32
        });
        let fall = raw.fall.as_ref().map_or(DEFAULT_FALL, |f| {
            self.int(f, &what("fall"), 1, 100, 1) as u32
        });
        HealthConfig {
            path,
            interval,
            timeout,
            expect_status,
            expect_header,
            expect_body: raw.expect_body.map(S::into_inner),
            rise,
            fall,
        }
    }

    pub(super) fn outlier(&mut self, raw: S<RawOutlier>, pool: &str) -> OutlierConfig {
        let span = raw.span();
        let raw = raw.into_inner();
        let what = |key: &str| format!("pool \"{pool}\" outlier.{key}");
        let failure_rate = match &raw.failure_rate {
            None => 0.5,
            Some(r) if *r.get_ref() > 0.0 && *r.get_ref() <= 1.0 => *r.get_ref(),
            Some(r) => {
                self.err(
                    r.span(),
                    format!(
                        "{} is {}; allowed: more than 0, at most 1 (0.5 means half)",
                        what("failure_rate"),
                        r.get_ref()
                    ),
                );
                0.5
            }
        };
        let window = self.duration(
            raw.window.as_ref(),
            &what("window"),
            Duration::from_secs(10),
        );
        if window > Duration::from_secs(60) {
            let s = raw.window.as_ref().map_or(span.clone(), |w| w.span());
            self.err(
                s,
                format!(
                    "{} is {}; allowed: at most 60s",
                    what("window"),
                    crate::format_duration(window)
                ),
            );
        }
        let base_ejection = self.duration(
            raw.base_ejection.as_ref(),
            &what("base_ejection"),
            Duration::from_secs(30),
        );
        let max_ejection = self.duration(
            raw.max_ejection.as_ref(),
            &what("max_ejection"),
            Duration::from_secs(300),
        );
        if max_ejection < base_ejection {
            let s = raw.max_ejection.as_ref().map_or(span.clone(), |m| m.span());
            self.err(
                s,
                format!(
                    "{} is shorter than base_ejection; make it at least {}",
                    what("max_ejection"),
                    crate::format_duration(base_ejection)
                ),
            );
        }
        OutlierConfig {
            consecutive_failures: raw.consecutive_failures.as_ref().map_or(5, |c| {
                self.int(c, &what("consecutive_failures"), 1, 10_000, 5) as u32
            }),
            failure_rate: Fraction(failure_rate),
            window,
            min_requests: raw.min_requests.as_ref().map_or(20, |m| {
                self.int(m, &what("min_requests"), 1, 1_000_000, 20) as u32
            }),
            failure_statuses: match raw.failure_statuses {
                None => vec![StatusRange {
                    low: 500,
                    high: 599,
                }],
                Some(items) => self.statuses(items, &what("failure_statuses"), span),
            },
            base_ejection,
            max_ejection,
            max_ejected_percent: raw.max_ejected_percent.as_ref().map_or(50, |m| {
                self.int(m, &what("max_ejected_percent"), 0, 100, 50) as u32
            }),
        }
    }

    fn statuses(
        &mut self,
        items: Vec<S<RawStatus>>,
        what: &str,
        owner: Range<usize>,
    ) -> Vec<StatusRange> {
        if items.is_empty() {
            self.err(
                owner,
                format!("{what} is empty: list codes or ranges like [200] or [\"200-299\"]"),
            );
        }
        items
            .into_iter()
            .filter_map(|item| {
                let span = item.span();
                let parsed = match item.get_ref() {
                    RawStatus::Code(n) => u16::try_from(*n).ok().and_then(|n| StatusRange::parse(&n.to_string())),
                    RawStatus::Range(text) => StatusRange::parse(text),
                };
                if parsed.is_none() {
                    let shown = match item.into_inner() {
                        RawStatus::Code(n) => n.to_string(),
                        RawStatus::Range(t) => format!("\"{t}\""),
                    };
                    self.err(span, format!("{what}: {shown} is not a status or range; write 200 or \"200-299\" (100 to 599)"));
                }
                parsed
            })
            .collect()
    }
}
