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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub bind: Option<S<String>>,
    pub access_log: Option<S<String>>,
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
    pub timeouts: Option<S<RawTimeouts>>,
    #[serde(default)]
    pub servers: Vec<S<RawServer>>,
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
