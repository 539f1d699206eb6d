//! Switchyard's configuration model: TOML text in, a checked [`Config`] out.
//!
//! Parsing happens in two steps. The TOML is first deserialized into raw types that remember
//! where every value was written ([`toml::Spanned`]); validation then turns them into the checked
//! types ([`Config`] and its parts), which the rest of Switchyard accepts and nothing else. Every problem is
//! reported with the file, line and column of the offending value, what was written and what is
//! allowed, and all problems are reported at once.
//!
//! This crate does no I/O beyond reading the string it is given: reading files, storing versions
//! and applying them belong to the binary, `store` and `proxy`.
//!
//! ```
//! let toml = r#"
//! [[listeners]]
//! name = "web"
//! bind = "127.0.0.1:8080"
//!
//! [[routes]]
//! pool = "inventory"
//!
//! [[pools.inventory.servers]]
//! name = "inventory-1"
//! address = "127.0.0.1:9101"
//! "#;
//! let config = switchyard_config::Config::parse(toml, "switchyard.toml").unwrap();
//! assert_eq!(config.pools["inventory"].servers[0].name, "inventory-1");
//!
//! let bad = toml.replace("127.0.0.1:9101", "127.0.0.1:99999");
//! let err = switchyard_config::Config::parse(&bad, "bad.toml").unwrap_err();
//! assert!(err.to_string().starts_with("bad.toml:11:11: pool \"inventory\" server"));
//! ```

mod diff;
mod duration;
mod edit;
mod error;
mod guard;
mod health;
mod model;
mod raw;
mod tracing;
mod validate;

pub use diff::{diff, text_diff, Change, ChangeKind};
pub use duration::{format_duration, format_millis, parse_duration};
pub use edit::{EditError, ServerEdit, EDITED};
pub use error::{ConfigError, ConfigErrors};
pub use guard::{
    GuardConfig, NotifyConfig, DEFAULT_BAKE, DEFAULT_MAX_ERROR_RATE, DEFAULT_MAX_INCREASE,
    DEFAULT_MAX_LATENCY_RATIO, DEFAULT_MIN_LATENCY_INCREASE, DEFAULT_MIN_REQUESTS,
    DEFAULT_NOTIFY_RETRIES, DEFAULT_NOTIFY_TIMEOUT,
};
pub use health::{
    body_snippet, describe_statuses, Factor, Fraction, HealthConfig, OutlierConfig, StatusRange,
    WhenAllUnhealthy, DEFAULT_FALL, DEFAULT_HEALTH_INTERVAL, DEFAULT_HEALTH_TIMEOUT, DEFAULT_RISE,
};
pub use model::{
    AccessLog, AdminConfig, Balance, Cidr, Config, ListenerConfig, PoolConfig, RouteConfig,
    RuntimeConfig, ServerConfig, ServerState, Timeouts, TlsConfig, UpstreamProtocol,
    DEFAULT_ADMIN_BIND, DEFAULT_CLIENT_IDLE_TIMEOUT, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_EVENT_RETENTION, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_LISTENER_MAX_CONNECTIONS, DEFAULT_MAX_BUFFER_MEMORY, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES, DEFAULT_MIN_DATA_RATE, DEFAULT_QUEUE, DEFAULT_QUEUE_TIMEOUT,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRIES, DEFAULT_SHUTDOWN_TIMEOUT,
};
pub use tracing::{TracingConfig, DEFAULT_SAMPLE, DEFAULT_SERVICE_NAME};

impl Config {
    /// Parses and validates `source`; `file` names it in error messages.
    pub fn parse(source: &str, file: &str) -> Result<Config, ConfigErrors> {
        let raw: raw::RawConfig =
            toml::from_str(source).map_err(|e| ConfigErrors::from_toml(file, source, &e))?;
        validate::validate(raw, file, source)
    }
}
