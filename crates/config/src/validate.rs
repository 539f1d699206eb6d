//! Raw configuration -> checked [`Config`], collecting every problem with its position.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{at, ConfigError, ConfigErrors};
use crate::model::*;
use crate::raw::*;

mod guard;
mod health;
mod pool;
mod tracing;

pub(crate) fn validate(raw: RawConfig, file: &str, source: &str) -> Result<Config, ConfigErrors> {
    let mut v = Validator {
        file,
        source,
        errors: Vec::new(),
    };
    let config = v.config(raw);
    if v.errors.is_empty() {
        Ok(config)
    } else {
        v.errors.sort_by_key(|e| (e.line, e.column));
        Err(ConfigErrors(v.errors))
    }
}

pub(crate) struct Validator<'a> {
    file: &'a str,
    source: &'a str,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn err(&mut self, span: Range<usize>, message: String) {
        self.errors.push(at(self.file, self.source, span, message));
    }

    fn config(&mut self, raw: RawConfig) -> Config {
        let admin = self.admin(raw.admin);
        let runtime = self.runtime(raw.runtime);
        let listeners = self.listeners(raw.listeners);
        let pools: BTreeMap<String, PoolConfig> = raw
            .pools
            .into_iter()
            .map(|(name, pool)| {
                let checked = self.pool(&name, pool);
                (name, checked)
            })
            .collect();
        let routes = self.routes(raw.routes, &listeners, &pools);
        let guard = self.guard(raw.guard);
        let notify = self.notify(raw.notify);
        let tracing = self.tracing(raw.tracing);
        Config {
            admin,
            runtime,
            listeners,
            routes,
            pools,
            guard,
            notify,
            tracing,
        }
    }

    fn admin(&mut self, raw: Option<S<RawAdmin>>) -> AdminConfig {
        let raw = raw.map(S::into_inner).unwrap_or_default();
        let default_bind = DEFAULT_ADMIN_BIND.parse().expect("valid default");
        let bind = raw.bind.as_ref().map_or(default_bind, |b| {
            self.socket_addr(b, "admin.bind", default_bind)
        });
        let access_log = match raw.access_log {
            None => AccessLog::Stdout,
            Some(s) => match s.get_ref().trim() {
                "" => {
                    self.err(
                        s.span(),
                        "admin.access_log is empty: give a file path, \"stdout\" or \"off\"".into(),
                    );
                    AccessLog::Stdout
                }
                "stdout" | "-" => AccessLog::Stdout,
                "off" => AccessLog::Off,
                path => AccessLog::File(PathBuf::from(path)),
            },
        };
        let tls = raw.tls.map(|t| self.tls(t, "admin"));
        let allow_insecure_remote = raw.allow_insecure_remote.map(S::into_inner);
        if let Some(b) = raw.bind.as_ref() {
            if !bind.ip().is_loopback() && tls.is_none() && allow_insecure_remote != Some(true) {
                self.err(
                    b.span(),
                    format!(
                        "admin.bind {bind} is not a loopback address, and the admin API would send \
                         the token and every config over plain HTTP: add [admin.tls] with cert and key, \
                         bind to 127.0.0.1, or set admin.allow_insecure_remote = true to accept the risk"
                    ),
                );
            }
        }
        let event_retention = self.duration(
            raw.event_retention.as_ref(),
            "admin.event_retention",
            DEFAULT_EVENT_RETENTION,
        );
        AdminConfig {
            bind,
            access_log,
            tls,
            allow_insecure_remote: allow_insecure_remote.unwrap_or(false),
            event_retention,
        }
    }

    /// `tls = { cert, key }` of a listener (`owner` "listener \"web\"") or of the admin API.
    fn tls(&mut self, raw: S<RawTls>, owner: &str) -> TlsConfig {
        let tspan = raw.span();
        let t = raw.into_inner();
        let mut path = |p: Option<S<String>>, key: &str| match p {
            Some(p) if !p.get_ref().trim().is_empty() => PathBuf::from(p.into_inner()),
            Some(p) => {
                self.err(
                    p.span(),
                    format!("{owner} tls.{key} is empty: give a PEM file path"),
                );
                PathBuf::new()
            }
            None => {
                self.err(
                    tspan.clone(),
                    format!("{owner} tls has no {key}: give a PEM file path"),
                );
                PathBuf::new()
            }
        };
        let cert = path(t.cert, "cert");
        let key = path(t.key, "key");
        TlsConfig { cert, key }
    }

    fn runtime(&mut self, raw: Option<S<RawRuntime>>) -> RuntimeConfig {
        let raw = raw.map(S::into_inner).unwrap_or_default();
        let workers = raw
            .workers
            .map(|w| self.int(&w, "runtime.workers", 1, 1024, 1) as usize);
        let shutdown_timeout = self.duration(
            raw.shutdown_timeout.as_ref(),
            "runtime.shutdown_timeout",
            DEFAULT_SHUTDOWN_TIMEOUT,
        );
        RuntimeConfig {
            workers,
            shutdown_timeout,
        }
    }

    fn listeners(&mut self, raw: Vec<S<RawListener>>) -> Vec<ListenerConfig> {
        if raw.is_empty() {
            self.err(
                0..0,
                "no listener: add one, e.g.\n[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:8080\""
                    .into(),
            );
        }
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut binds: HashMap<SocketAddr, usize> = HashMap::new();
        let placeholder: SocketAddr = "127.0.0.1:0".parse().expect("valid");
        let mut out = Vec::new();
        for (i, l) in raw.into_iter().enumerate() {
            let span = l.span();
            let l = l.into_inner();
            let what = format!("listeners[{i}]");
            let name = self.name(l.name.as_ref(), &span, &what);
            if let Some(first) = names.insert(name.clone(), i) {
                let s = l.name.as_ref().map_or(span.clone(), |n| n.span());
                self.err(
                    s,
                    format!("listener name \"{name}\" is already used by listeners[{first}]; names must be unique"),
                );
            }
            let bind = match &l.bind {
                Some(b) => self.socket_addr(b, &format!("listener \"{name}\" bind"), placeholder),
                None => {
                    self.err(
                        span.clone(),
                        format!(
                            "listener \"{name}\" has no bind: add e.g. bind = \"127.0.0.1:8080\""
                        ),
                    );
                    placeholder
                }
            };
            if bind.port() != 0 {
                if let Some(first) = binds.insert(bind, i) {
                    let s = l.bind.as_ref().map_or(span.clone(), |b| b.span());
                    self.err(s, format!("listener \"{name}\" binds {bind}, which listeners[{first}] already binds"));
                }
            }
            let tls = l.tls.map(|t| self.tls(t, &format!("listener \"{name}\"")));
            let max_header_bytes = l.max_header_bytes.map_or(DEFAULT_MAX_HEADER_BYTES, |m| {
                self.int(
                    &m,
                    "max_header_bytes",
                    1024,
                    1 << 20,
                    DEFAULT_MAX_HEADER_BYTES as i64,
                ) as usize
            });
            let handshake_timeout = self.duration(
                l.handshake_timeout.as_ref(),
                "handshake_timeout",
                DEFAULT_HANDSHAKE_TIMEOUT,
            );
            let idle_timeout = self.duration(
                l.idle_timeout.as_ref(),
                "idle_timeout",
                DEFAULT_CLIENT_IDLE_TIMEOUT,
            );
            let max_connections = l
                .max_connections
                .map_or(DEFAULT_LISTENER_MAX_CONNECTIONS, |m| {
                    self.int(
                        &m,
                        "max_connections",
                        1,
                        1_000_000,
                        DEFAULT_LISTENER_MAX_CONNECTIONS as i64,
                    ) as usize
                });
            let max_buffer_memory = l.max_buffer_memory.map_or(DEFAULT_MAX_BUFFER_MEMORY, |m| {
                self.int(
                    &m,
                    "max_buffer_memory",
                    0,
                    1 << 40,
                    DEFAULT_MAX_BUFFER_MEMORY as i64,
                ) as usize
            });
            let min_data_rate = l.min_data_rate.map_or(DEFAULT_MIN_DATA_RATE, |m| {
                self.int(
                    &m,
                    "min_data_rate",
                    0,
                    1 << 30,
                    DEFAULT_MIN_DATA_RATE as i64,
                ) as u64
            });
            let mut trusted_proxies = Vec::new();
            for cidr in l.trusted_proxies.unwrap_or_default() {
                match cidr.get_ref().parse::<Cidr>() {
                    Ok(c) => trusted_proxies.push(c),
                    Err(e) => self.err(
                        cidr.span(),
                        format!("listener \"{name}\" trusted_proxies: {e}"),
                    ),
                }
            }
            out.push(ListenerConfig {
                name,
                bind,
                tls,
                max_header_bytes,
                handshake_timeout,
                idle_timeout,
                max_connections,
                max_buffer_memory,
                min_data_rate,
                trusted_proxies,
            });
        }
        out
    }

    fn routes(
        &mut self,
        raw: Vec<S<RawRoute>>,
        listeners: &[ListenerConfig],
        pools: &BTreeMap<String, PoolConfig>,
    ) -> Vec<RouteConfig> {
        let listener_names: Vec<&str> = listeners.iter().map(|l| l.name.as_str()).collect();
        let pool_names: Vec<&str> = pools.keys().map(String::as_str).collect();
        let mut out = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            let span = r.span();
            let r = r.into_inner();
            let listener = match &r.listener {
                Some(l) => {
                    if !listener_names.contains(&l.get_ref().as_str()) {
                        self.err(
                            l.span(),
                            format!(
                                "routes[{i}] names listener \"{}\", which does not exist; listeners are: {}",
                                l.get_ref(),
                                list(&listener_names)
                            ),
                        );
                    }
                    l.get_ref().clone()
                }
                None if listener_names.len() == 1 => listener_names[0].to_string(),
                None => {
                    if listener_names.len() > 1 {
                        self.err(
                            span.clone(),
                            format!(
                                "routes[{i}] has no listener and there are several; add listener = one of {}",
                                list(&listener_names)
                            ),
                        );
                    }
                    String::new()
                }
            };
            let pool = match &r.pool {
                Some(p) => {
                    if !pools.contains_key(p.get_ref()) {
                        self.err(
                            p.span(),
                            format!(
                                "routes[{i}] sends traffic to pool \"{}\", which is not defined; pools are: {}",
                                p.get_ref(),
                                list(&pool_names)
                            ),
                        );
                    }
                    p.get_ref().clone()
                }
                None => {
                    self.err(
                        span.clone(),
                        format!(
                            "routes[{i}] has no pool: add pool = one of {}",
                            list(&pool_names)
                        ),
                    );
                    String::new()
                }
            };
            let host = r.host.map(|h| {
                let host = h.get_ref().trim().to_ascii_lowercase();
                if host.is_empty() || host.contains(['/', ' ', ':']) {
                    self.err(
                        h.span(),
                        format!("routes[{i}] host \"{}\" is not a host name; write it like \"shop.example\" (no scheme, port or path)", h.get_ref()),
                    );
                }
                host
            });
            let path_prefix = r.path_prefix.map(|p| {
                if !p.get_ref().starts_with('/') {
                    self.err(
                        p.span(),
                        format!("routes[{i}] path_prefix \"{}\" must start with '/', e.g. \"/api/inventory\"", p.get_ref()),
                    );
                }
                p.into_inner()
            });
            out.push(RouteConfig {
                listener,
                host,
                path_prefix,
                pool,
            });
        }
        out
    }

    fn name(&mut self, raw: Option<&S<String>>, owner: &Range<usize>, what: &str) -> String {
        match raw {
            Some(n) if valid_name(n.get_ref()) => n.get_ref().clone(),
            Some(n) => {
                self.err(
                    n.span(),
                    format!("{what} name \"{}\" must be non-empty and hold only letters, digits, '-', '_' and '.'", n.get_ref()),
                );
                n.get_ref().clone()
            }
            None => {
                self.err(
                    owner.clone(),
                    format!("{what} has no name: add name = \"...\""),
                );
                String::new()
            }
        }
    }

    fn socket_addr(&mut self, raw: &S<String>, what: &str, fallback: SocketAddr) -> SocketAddr {
        match raw.get_ref().trim().parse() {
            Ok(a) => a,
            Err(_) => {
                self.err(
                    raw.span(),
                    format!("{what} \"{}\" is not an IP:PORT address; write it like \"10.0.0.5:8080\" or \"[::1]:8080\"", raw.get_ref()),
                );
                fallback
            }
        }
    }

    fn int(&mut self, raw: &S<i64>, what: &str, min: i64, max: i64, fallback: i64) -> i64 {
        let n = *raw.get_ref();
        if (min..=max).contains(&n) {
            n
        } else {
            self.err(
                raw.span(),
                format!("{what} is {n}; allowed: {min} to {max}"),
            );
            fallback
        }
    }

    fn duration(&mut self, raw: Option<&S<String>>, what: &str, default: Duration) -> Duration {
        let Some(raw) = raw else { return default };
        match crate::parse_duration(raw.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.err(
                    raw.span(),
                    format!("{what} is zero; give a positive duration like \"1s\""),
                );
                default
            }
            Ok(d) => d,
            Err(e) => {
                self.err(raw.span(), format!("{what}: {e}"));
                default
            }
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub(crate) fn list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "(none)".into();
    }
    items
        .iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}
