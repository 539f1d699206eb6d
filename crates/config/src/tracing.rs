//! Settings of span export (`[tracing]`): where OTLP/HTTP spans go, which requests are sampled.
//!
//! The proxy crate builds the exporter from these; this module only holds the checked values.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::health::Fraction;

/// Default `service.name` of exported spans.
pub const DEFAULT_SERVICE_NAME: &str = "switchyard";
/// Default share of requests whose spans are exported.
pub const DEFAULT_SAMPLE: f64 = 0.01;

/// `[tracing]`: OpenTelemetry spans out of the proxy, over OTLP/HTTP (protobuf).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TracingConfig {
    /// The collector's OTLP/HTTP URL, e.g. `http://127.0.0.1:4318`; a URL without a path gets
    /// `/v1/traces`.
    pub otlp_endpoint: String,
    /// `service.name` of the spans. Default `switchyard`.
    pub service_name: String,
    /// Share of new traces sampled, 0 to 1; a request that carries a `traceparent` follows its
    /// sampled flag. Default 0.01.
    pub sample: Fraction,
    /// Export every failed request (proxy error or 5xx) whatever the sampling said. Default true.
    pub always_sample_errors: bool,
    /// Headers sent with every export, such as an auth token.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl TracingConfig {
    /// The URL spans are posted to: `otlp_endpoint`, with `/v1/traces` when it has no path.
    pub fn traces_url(&self) -> String {
        let base = self.otlp_endpoint.trim_end_matches('/');
        let rest = base.split_once("://").map_or(base, |(_, r)| r);
        if rest.contains('/') {
            self.otlp_endpoint.clone()
        } else {
            format!("{base}/v1/traces")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(endpoint: &str) -> TracingConfig {
        TracingConfig {
            otlp_endpoint: endpoint.into(),
            service_name: DEFAULT_SERVICE_NAME.into(),
            sample: Fraction(DEFAULT_SAMPLE),
            always_sample_errors: true,
            headers: BTreeMap::new(),
        }
    }

    #[test]
    fn traces_url_gets_the_signal_path_only_when_none_is_given() {
        assert_eq!(
            with("http://127.0.0.1:4318").traces_url(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            with("http://127.0.0.1:4318/").traces_url(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            with("http://collector:4318/custom/traces").traces_url(),
            "http://collector:4318/custom/traces"
        );
    }
}
