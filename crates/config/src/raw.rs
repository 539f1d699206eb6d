//! The configuration as written: every value keeps its position for error messages.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub admin: Option<S<RawAdmin>>,
    #[serde(default)]
    pub runtime: Option<S<RawRuntime>>,
    #[serde(default)]
    pub listeners: Vec<S<RawListener>>,
    #[serde(default)]
    pub routes: Vec<S<RawRoute>>,
    #[serde(default)]
    pub pools: BTreeMap<String, S<RawPool>>,
    #[serde(default)]
    pub guard: Option<S<RawGuard>>,
    #[serde(default)]
    pub notify: Option<S<RawNotify>>,
    #[serde(default)]
    pub tracing: Option<S<RawTracing>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTracing {
    pub otlp_endpoint: Option<S<String>>,
    pub service_name: Option<S<String>>,
    pub sample: Option<S<f64>>,
    pub always_sample_errors: Option<S<bool>>,
    pub headers: Option<S<BTreeMap<String, String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGuard {
    pub bake: Option<S<String>>,
    pub max_error_rate: Option<S<f64>>,
    pub max_increase: Option<S<f64>>,
    pub min_requests: Option<S<i64>>,
    pub max_latency_ratio: Option<S<f64>>,
    pub min_latency_increase: Option<S<String>>,
    pub auto_rollback: Option<S<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    pub webhook: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub retries: Option<S<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub bind: Option<S<String>>,
    pub access_log: Option<S<String>>,
    pub tls: Option<S<RawTls>>,
    pub allow_insecure_remote: Option<S<bool>>,
    pub event_retention: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRuntime {
    pub workers: Option<S<i64>>,
    pub shutdown_timeout: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListener {
    pub name: Option<S<String>>,
    pub bind: Option<S<String>>,
    pub tls: Option<S<RawTls>>,
    pub max_header_bytes: Option<S<i64>>,
    pub handshake_timeout: Option<S<String>>,
    pub idle_timeout: Option<S<String>>,
    pub max_connections: Option<S<i64>>,
    pub max_buffer_memory: Option<S<i64>>,
    pub min_data_rate: Option<S<i64>>,
    pub trusted_proxies: Option<Vec<S<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    pub cert: Option<S<String>>,
    pub key: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub listener: Option<S<String>>,
    pub host: Option<S<String>>,
    pub path_prefix: Option<S<String>>,
    pub pool: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    pub balance: Option<S<String>>,
    pub protocol: Option<S<String>>,
    pub max_connections: Option<S<i64>>,
    pub queue: Option<S<i64>>,
    pub queue_timeout: Option<S<String>>,
    pub retries: Option<S<i64>>,
    pub when_all_unhealthy: Option<S<String>>,
    pub slow_start: Option<S<String>>,
    pub min_servers: Option<S<i64>>,
    pub timeouts: Option<S<RawTimeouts>>,
    pub health: Option<S<RawHealth>>,
    pub outlier: Option<S<RawOutlier>>,
    #[serde(default)]
    pub servers: Vec<S<RawServer>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHealth {
    pub path: Option<S<String>>,
    pub interval: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub expect_status: Option<Vec<S<RawStatus>>>,
    pub expect_header: Option<BTreeMap<String, S<String>>>,
    pub expect_body: Option<S<String>>,
    pub rise: Option<S<i64>>,
    pub fall: Option<S<i64>>,
}

/// `200` or `"200-299"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawStatus {
    Code(i64),
    Range(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutlier {
    pub consecutive_failures: Option<S<i64>>,
    pub failure_rate: Option<S<f64>>,
    pub window: Option<S<String>>,
    pub min_requests: Option<S<i64>>,
    pub failure_statuses: Option<Vec<S<RawStatus>>>,
    pub base_ejection: Option<S<String>>,
    pub max_ejection: Option<S<String>>,
    pub max_ejected_percent: Option<S<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimeouts {
    pub connect: Option<S<String>>,
    pub request: Option<S<String>>,
    pub idle: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub name: Option<S<String>>,
    pub address: Option<S<String>>,
    pub weight: Option<S<i64>>,
    pub max_connections: Option<S<i64>>,
    pub state: Option<S<String>>,
}
