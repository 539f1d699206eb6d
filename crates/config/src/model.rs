//! The checked configuration: what the proxy, the store and the admin API accept.
//!
//! Values of these types have passed validation, so runtime code never re-checks them.
//! Serializing a [`Config`] gives canonical TOML that parses back to an equal value.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::duration::{ser_duration, ser_opt_duration};
use crate::guard::{GuardConfig, NotifyConfig};
use crate::health::{HealthConfig, OutlierConfig, WhenAllUnhealthy};
use crate::tracing::TracingConfig;

/// Default admin bind: loopback only.
pub const DEFAULT_ADMIN_BIND: &str = "127.0.0.1:9901";
/// Default per-server limit of concurrent requests.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;
/// Default number of requests a pool lets wait for a free server.
pub const DEFAULT_QUEUE: u32 = 128;
/// Default time a request may wait in a pool's queue.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of retries (idempotent requests, connect failures, another server).
pub const DEFAULT_RETRIES: u32 = 1;
/// Default time to establish an upstream TCP connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default time from sending a request upstream to receiving its response headers.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time an idle upstream connection is kept in the pool.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time in-flight requests get to finish at shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time runtime events (health, ejections, drains, guard verdicts) are kept; versions
/// and their events are kept for ever.
pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// Default limit on the size of a request's header section.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// Time a new client connection gets to finish its TLS handshake and send a complete request
/// head, and a keep-alive connection to complete a head once it has begun one.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a keep-alive client connection may stay idle between requests.
pub const DEFAULT_CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Open client connections per listener before new ones are refused.
pub const DEFAULT_LISTENER_MAX_CONNECTIONS: usize = 20_000;
/// Memory a listener's client read buffers may hold beyond their usual 16 KiB each, all
/// connections together (request heads over 16 KiB, large bodies in flight).
pub const DEFAULT_MAX_BUFFER_MEMORY: usize = 64 << 20;
/// Bytes per second a client must average, after the first 10 s, while it sends a request body
/// or reads an answer; slower ones are cut off.
pub const DEFAULT_MIN_DATA_RATE: u64 = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    pub admin: AdminConfig,
    pub runtime: RuntimeConfig,
    pub listeners: Vec<ListenerConfig>,
    pub routes: Vec<RouteConfig>,
    pub pools: BTreeMap<String, PoolConfig>,
    /// `[guard]`: watch changes while they bake and roll bad ones back; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardConfig>,
    /// `[notify]`: a webhook for auto-rollbacks, ejections and all-unhealthy pools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyConfig>,
    /// `[tracing]`: OpenTelemetry spans over OTLP/HTTP; off by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<TracingConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminConfig {
    /// Admin API and `/metrics`. Default `127.0.0.1:9901`.
    pub bind: SocketAddr,
    /// Where access-log lines go. Default: standard output.
    pub access_log: AccessLog,
    /// Serve the admin API over TLS; required (or `allow_insecure_remote`) for a bind address
    /// that is not loopback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Lets a non-loopback `bind` serve the token and configs over plain HTTP. Default false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_remote: bool,
    /// How long runtime events are kept; versions are never deleted. Default 30 days.
    #[serde(serialize_with = "ser_duration")]
    pub event_retention: Duration,
}

impl AdminConfig {
    /// Whether the admin API would serve the token and configs in cleartext beyond this host.
    pub fn exposed_in_cleartext(&self) -> bool {
        !self.bind.ip().is_loopback() && self.tls.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    Stdout,
    Off,
    File(PathBuf),
}

impl Serialize for AccessLog {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AccessLog::Stdout => s.serialize_str("stdout"),
            AccessLog::Off => s.serialize_str("off"),
            AccessLog::File(p) => s.serialize_str(&p.to_string_lossy()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeConfig {
    /// Proxy worker threads. Default: one per core.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// How long in-flight requests get to finish on SIGTERM. Default 30s.
    #[serde(serialize_with = "ser_duration")]
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerConfig {
    pub name: String,
    pub bind: SocketAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Largest accepted request header section; larger ones get 431. Default 64 KiB.
    pub max_header_bytes: usize,
    /// See [`DEFAULT_HANDSHAKE_TIMEOUT`].
    #[serde(serialize_with = "ser_duration")]
    pub handshake_timeout: Duration,
    /// See [`DEFAULT_CLIENT_IDLE_TIMEOUT`].
    #[serde(serialize_with = "ser_duration")]
    pub idle_timeout: Duration,
    /// See [`DEFAULT_LISTENER_MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`DEFAULT_MAX_BUFFER_MEMORY`]; a request head that needs more gets 503.
    pub max_buffer_memory: usize,
    /// See [`DEFAULT_MIN_DATA_RATE`]; 0 turns it off.
    pub min_data_rate: u64,
    /// Peers (CIDRs) whose `X-Forwarded-For`/`X-Forwarded-Proto`/`Forwarded` headers are kept
    /// and appended to; from anyone else they are replaced. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<Cidr>,
}

/// An IP network such as `10.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR like 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteConfig {
    pub listener: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    pub pool: String,
}

impl RouteConfig {
    /// Whether a request for `host` (without port, lowercase) and `path` takes this route.
    pub fn matches(&self, host: Option<&str>, path: &str) -> bool {
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            (Some(_), None) => false,
        };
        host_ok
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|prefix| path_has_prefix(path, prefix))
    }
}

/// `/api` matches `/api`, `/api/` and `/api/x`, but not `/apix`.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    RoundRobin,
    LeastConn,
}

impl Balance {
    pub const NAMES: &'static [&'static str] = &["round_robin", "least_conn"];
}

/// The protocol spoken to a pool's servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamProtocol {
    Http1,
    /// HTTP/2 over cleartext with prior knowledge.
    H2c,
}

impl UpstreamProtocol {
    pub const NAMES: &'static [&'static str] = &["http1", "h2c"];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolConfig {
    #[serde(skip)]
    pub name: String,
    /// Default `round_robin`.
    pub balance: Balance,
    /// Default `http1`.
    pub protocol: UpstreamProtocol,
    /// Concurrent requests per server (a server may override it). Default 1024.
    pub max_connections: u32,
    /// Requests that may wait for a free server; beyond it: 503. Default 128.
    pub queue: u32,
    /// How long a request may wait in the queue. Default 5s.
    #[serde(serialize_with = "ser_duration")]
    pub queue_timeout: Duration,
    /// Retries for idempotent requests whose connection failed, each on another server. Default 1.
    pub retries: u32,
    /// What happens when no server in rotation is healthy. Default `reject`.
    pub when_all_unhealthy: WhenAllUnhealthy,
    /// A newly admitted or recovered server's share of traffic ramps up over this time.
    #[serde(
        serialize_with = "ser_opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub slow_start: Option<Duration>,
    /// Servers in rotation that `decommission` must leave; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_servers: Option<u32>,
    pub timeouts: Timeouts,
    /// Active health checks; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthConfig>,
    /// Outlier ejection; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlier: Option<OutlierConfig>,
    pub servers: Vec<ServerConfig>,
}

impl PoolConfig {
    pub fn server(&self, name: &str) -> Option<&ServerConfig> {
        self.servers.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Timeouts {
    /// TCP connect to a server. Default 1s.
    #[serde(serialize_with = "ser_duration")]
    pub connect: Duration,
    /// From sending the request to receiving response headers. Default 30s.
    #[serde(serialize_with = "ser_duration")]
    pub request: Duration,
    /// How long an idle upstream connection is kept for reuse. Default 60s.
    #[serde(serialize_with = "ser_duration")]
    pub idle: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerConfig {
    pub name: String,
    pub address: SocketAddr,
    /// Relative share of traffic under round robin. Default 1.
    pub weight: u32,
    /// Overrides the pool's `max_connections` for this server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Whether the server is in rotation. Default `active`.
    pub state: ServerState,
}

/// An operator's decision about a server; health (later) is separate and not versioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    /// In rotation.
    Active,
    /// Taken out of rotation by an operator (`servers remove`); kept so it can be restored.
    Removed,
}

impl ServerState {
    pub const NAMES: &'static [&'static str] = &["active", "removed"];

    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Active => "active",
            ServerState::Removed => "removed",
        }
    }
}

impl Config {
    /// Canonical TOML: defaults written out, keys in a fixed order.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a checked config always serializes")
    }

    pub fn pool(&self, name: &str) -> Option<&PoolConfig> {
        self.pools.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefix_respects_segments() {
        assert!(path_has_prefix("/api", "/api"));
        assert!(path_has_prefix("/api/x", "/api"));
        assert!(!path_has_prefix("/apix", "/api"));
        assert!(path_has_prefix("/apix", "/"));
        assert!(path_has_prefix("/api/x", "/api/"));
    }
}
