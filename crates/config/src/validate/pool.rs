//! Validation of pools and their servers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::{list, valid_name, Validator};
use crate::model::*;
use crate::raw::*;

impl Validator<'_> {
    pub(super) fn pool(&mut self, name: &str, raw: S<RawPool>) -> PoolConfig {
        let pname = name.to_string();
        if !valid_name(&pname) {
            self.err(
                raw.span(),
                format!("pool name \"{pname}\" may only hold letters, digits, '-', '_' and '.'"),
            );
        }
        let span = raw.span();
        let raw = raw.into_inner();
        let what = |key: &str| format!("pool \"{pname}\" {key}");
        let balance = match &raw.balance {
            None => Balance::RoundRobin,
            Some(b) => match b.get_ref().as_str() {
                "round_robin" => Balance::RoundRobin,
                "least_conn" => Balance::LeastConn,
                other => {
                    self.err(
                        b.span(),
                        format!(
                            "{} \"{other}\" is not known; use one of {}",
                            what("balance"),
                            list(Balance::NAMES)
                        ),
                    );
                    Balance::RoundRobin
                }
            },
        };
        let protocol = match &raw.protocol {
            None => UpstreamProtocol::Http1,
            Some(p) => match p.get_ref().as_str() {
                "http1" => UpstreamProtocol::Http1,
                "h2c" => UpstreamProtocol::H2c,
                other => {
                    self.err(
                        p.span(),
                        format!(
                            "{} \"{other}\" is not known; use one of {}",
                            what("protocol"),
                            list(UpstreamProtocol::NAMES)
                        ),
                    );
                    UpstreamProtocol::Http1
                }
            },
        };
        let max_connections = raw
            .max_connections
            .as_ref()
            .map_or(DEFAULT_MAX_CONNECTIONS, |m| {
                self.int(m, &what("max_connections"), 1, 1_000_000, 1) as u32
            });
        let queue = raw.queue.as_ref().map_or(DEFAULT_QUEUE, |q| {
            self.int(q, &what("queue"), 0, 1_000_000, 0) as u32
        });
        let queue_timeout = self.duration(
            raw.queue_timeout.as_ref(),
            &what("queue_timeout"),
            DEFAULT_QUEUE_TIMEOUT,
        );
        let retries = raw.retries.as_ref().map_or(DEFAULT_RETRIES, |r| {
            self.int(r, &what("retries"), 0, 10, 0) as u32
        });
        let t = raw.timeouts.map(S::into_inner).unwrap_or_default();
        let when_all_unhealthy = self.when_all_unhealthy(raw.when_all_unhealthy.as_ref(), &pname);
        let slow_start = raw
            .slow_start
            .as_ref()
            .map(|s| self.duration(Some(s), &what("slow_start"), Duration::from_secs(1)));
        let min_servers = raw
            .min_servers
            .as_ref()
            .map(|m| self.int(m, &what("min_servers"), 0, 10_000, 0) as u32);
        let health = raw.health.map(|h| self.health(h, &pname));
        let outlier = raw.outlier.map(|o| self.outlier(o, &pname));
        let timeouts = Timeouts {
            connect: self.duration(
                t.connect.as_ref(),
                &what("timeouts.connect"),
                DEFAULT_CONNECT_TIMEOUT,
            ),
            request: self.duration(
                t.request.as_ref(),
                &what("timeouts.request"),
                DEFAULT_REQUEST_TIMEOUT,
            ),
            idle: self.duration(
                t.idle.as_ref(),
                &what("timeouts.idle"),
                DEFAULT_IDLE_TIMEOUT,
            ),
        };
        if raw.servers.is_empty() {
            self.err(
                span,
                format!(
                    "pool \"{pname}\" has no servers: add at least one\n[[pools.{pname}.servers]]\nname = \"{pname}-1\"\naddress = \"127.0.0.1:9101\""
                ),
            );
        }
        let servers = self.servers(&pname, raw.servers);
        PoolConfig {
            name: pname,
            balance,
            protocol,
            max_connections,
            queue,
            queue_timeout,
            retries,
            when_all_unhealthy,
            slow_start,
            min_servers,
            timeouts,
            health,
            outlier,
            servers,
        }
    }

    fn servers(&mut self, pool: &str, raw: Vec<S<RawServer>>) -> Vec<ServerConfig> {
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut addrs: HashMap<SocketAddr, String> = HashMap::new();
        let placeholder: SocketAddr = "0.0.0.0:0".parse().expect("valid");
        let mut out = Vec::new();
        for (i, s) in raw.into_iter().enumerate() {
            let span = s.span();
            let s = s.into_inner();
            let what = format!("pool \"{pool}\" servers[{i}]");
            let name = self.name(s.name.as_ref(), &span, &what);
            if let Some(first) = names.insert(name.clone(), i) {
                let sp = s.name.as_ref().map_or(span.clone(), |n| n.span());
                self.err(sp, format!("pool \"{pool}\" has two servers named \"{name}\" (servers[{first}] and servers[{i}]); names must be unique in a pool"));
            }
            let address = match &s.address {
                Some(a) => self.socket_addr(
                    a,
                    &format!("pool \"{pool}\" server \"{name}\" address"),
                    placeholder,
                ),
                None => {
                    self.err(span.clone(), format!("pool \"{pool}\" server \"{name}\" has no address: add e.g. address = \"10.0.0.5:8080\""));
                    placeholder
                }
            };
            if address != placeholder {
                if let Some(other) = addrs.insert(address, name.clone()) {
                    let sp = s.address.as_ref().map_or(span.clone(), |a| a.span());
                    self.err(sp, format!("pool \"{pool}\" server \"{name}\" has address {address}, which server \"{other}\" already has; each address may appear once in a pool"));
                }
            }
            let weight = s.weight.as_ref().map_or(1, |w| {
                self.int(w, &format!("{what} weight"), 1, 1000, 1) as u32
            });
            let max_connections = s
                .max_connections
                .as_ref()
                .map(|m| self.int(m, &format!("{what} max_connections"), 1, 1_000_000, 1) as u32);
            let state = match &s.state {
                None => ServerState::Active,
                Some(st) => match st.get_ref().as_str() {
                    "active" => ServerState::Active,
                    "removed" => ServerState::Removed,
                    other => {
                        self.err(
                            st.span(),
                            format!(
                                "{what} state \"{other}\" is not known; use one of {}",
                                list(ServerState::NAMES)
                            ),
                        );
                        ServerState::Active
                    }
                },
            };
            out.push(ServerConfig {
                name,
                address,
                weight,
                max_connections,
                state,
            });
        }
        out
    }
}
