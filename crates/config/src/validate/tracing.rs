//! Validation of `[tracing]`.

use std::collections::BTreeMap;

use super::Validator;
use crate::health::Fraction;
use crate::raw::{RawTracing, S};
use crate::tracing::*;

impl Validator<'_> {
    pub(super) fn tracing(&mut self, raw: Option<S<RawTracing>>) -> Option<TracingConfig> {
        let raw = raw?;
        let span = raw.span();
        let raw = raw.into_inner();
        let otlp_endpoint = match raw.otlp_endpoint {
            None => {
                self.err(
                    span,
                    "tracing has no otlp_endpoint: add e.g. otlp_endpoint = \"http://127.0.0.1:4318\" (a Collector's OTLP/HTTP port)".into(),
                );
                String::new()
            }
            Some(e) => match endpoint_problem(e.get_ref()) {
                None => e.into_inner(),
                Some(problem) => {
                    self.err(
                        e.span(),
                        format!("tracing.otlp_endpoint \"{}\" {problem}", e.get_ref()),
                    );
                    String::new()
                }
            },
        };
        let service_name = match raw.service_name {
            None => DEFAULT_SERVICE_NAME.to_string(),
            Some(s) if !s.get_ref().trim().is_empty() => s.into_inner(),
            Some(s) => {
                self.err(
                    s.span(),
                    "tracing.service_name is empty: leave it out for \"switchyard\" or name the service".into(),
                );
                String::new()
            }
        };
        let sample = match raw.sample {
            None => Fraction(DEFAULT_SAMPLE),
            Some(r) if (0.0..=1.0).contains(r.get_ref()) => Fraction(*r.get_ref()),
            Some(r) => {
                self.err(
                    r.span(),
                    format!(
                        "tracing.sample is {}; allowed: 0 to 1 (0.01 exports 1% of requests)",
                        r.get_ref()
                    ),
                );
                Fraction(DEFAULT_SAMPLE)
            }
        };
        let mut headers = BTreeMap::new();
        if let Some(raw_headers) = raw.headers {
            let hspan = raw_headers.span();
            for (name, value) in raw_headers.into_inner() {
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    self.err(
                        hspan.clone(),
                        format!("tracing.headers: \"{name}\" is not a valid header name"),
                    );
                } else if http::HeaderValue::from_str(&value).is_err() {
                    self.err(
                        hspan.clone(),
                        format!("tracing.headers.{name}: the value is not a valid header value (visible ASCII only)"),
                    );
                } else {
                    headers.insert(name, value);
                }
            }
        }
        Some(TracingConfig {
            otlp_endpoint,
            service_name,
            sample,
            always_sample_errors: raw.always_sample_errors.is_none_or(S::into_inner),
            headers,
        })
    }
}

/// Why an endpoint cannot be exported to, if it cannot.
fn endpoint_problem(url: &str) -> Option<&'static str> {
    if url.starts_with("grpc://") {
        return Some("uses OTLP/gRPC, which is not supported: use the Collector's OTLP/HTTP endpoint, e.g. \"http://127.0.0.1:4318\"");
    }
    if url.starts_with("https://") {
        return Some("uses https, which the exporter does not speak: send to a local Collector over http, e.g. \"http://127.0.0.1:4318\"");
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Some("is not an http URL: write e.g. \"http://127.0.0.1:4318\"");
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Some("has no host: write e.g. \"http://127.0.0.1:4318\"");
    }
    if url.parse::<http::Uri>().is_err() {
        return Some("is not a valid URL: write e.g. \"http://127.0.0.1:4318\"");
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::Config;

    const BASE: &str = "[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:8080\"\n\n[[routes]]\npool = \"p\"\n\n[[pools.p.servers]]\nname = \"a\"\naddress = \"127.0.0.1:9000\"\n\n[tracing]\n";

    fn parse(tracing: &str) -> Result<Config, String> {
        Config::parse(&format!("{BASE}{tracing}"), "t.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_round_trip() {
        let c = parse("otlp_endpoint = \"http://127.0.0.1:4318\"").unwrap();
        let t = c.tracing.clone().unwrap();
        assert_eq!(t.service_name, "switchyard");
        assert_eq!(t.sample.0, 0.01);
        assert!(t.always_sample_errors);
        assert!(t.headers.is_empty());
        assert_eq!(t.traces_url(), "http://127.0.0.1:4318/v1/traces");
        let again = Config::parse(&c.to_toml(), "again.toml").unwrap();
        assert_eq!(again, c);

        let c = parse("otlp_endpoint = \"http://c:4318\"\nservice_name = \"edge\"\nsample = 0.5\nalways_sample_errors = false\nheaders = { authorization = \"Bearer x\" }").unwrap();
        let t = c.tracing.clone().unwrap();
        assert_eq!(
            (t.service_name.as_str(), t.sample.0, t.always_sample_errors),
            ("edge", 0.5, false)
        );
        assert_eq!(t.headers["authorization"], "Bearer x");
        assert_eq!(Config::parse(&c.to_toml(), "again.toml").unwrap(), c);
    }

    #[test]
    fn bad_values_are_named_with_their_position() {
        let cases = [
            ("sample = 0.5", "t.toml:12:1: tracing has no otlp_endpoint"),
            (
                "otlp_endpoint = \"grpc://127.0.0.1:4317\"",
                "t.toml:13:17: tracing.otlp_endpoint \"grpc://127.0.0.1:4317\" uses OTLP/gRPC",
            ),
            ("otlp_endpoint = \"https://c:4318\"", "uses https"),
            ("otlp_endpoint = \"127.0.0.1:4318\"", "is not an http URL"),
            ("otlp_endpoint = \"http://\"", "has no host"),
            (
                "otlp_endpoint = \"http://c:4318\"\nsample = 1.5",
                "t.toml:14:10: tracing.sample is 1.5; allowed: 0 to 1",
            ),
            (
                "otlp_endpoint = \"http://c:4318\"\nservice_name = \" \"",
                "tracing.service_name is empty",
            ),
            (
                "otlp_endpoint = \"http://c:4318\"\nheaders = { \"bad name\" = \"x\" }",
                "\"bad name\" is not a valid header name",
            ),
            (
                "otlp_endpoint = \"http://c:4318\"\nheaders = { auth = \"a\\nb\" }",
                "tracing.headers.auth: the value is not a valid header value",
            ),
            (
                "otlp_endpoint = \"http://c:4318\"\nsampel = 0.1",
                "unknown field `sampel`",
            ),
        ];
        for (tracing, want) in cases {
            let err = parse(tracing).unwrap_err();
            assert!(err.contains(want), "{tracing}: {err}");
        }
    }
}
