//! Shared helpers for the proxy's integration tests: a proxy on a free loopback port with its
//! access log in a temp dir, configs built around real backends, and a plain HTTP client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use prometheus_client::registry::Registry;
use switchyard_config::Config;
use switchyard_proxy::{
    AccessLog, EventKind, EventSink, Metrics, Proxy, ProxyEvent, ProxyHandle, ProxyOptions,
    TlsMaterial,
};

pub struct TestProxy {
    pub proxy: Proxy,
    pub addr: SocketAddr,
    pub handle: ProxyHandle,
    pub registry: Registry,
    pub access_log: PathBuf,
    /// Health transitions, ejections and saturation changes the proxy reported.
    pub events: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<ProxyEvent>>,
    _dir: tempfile::TempDir,
}

/// Starts a proxy for `toml`, whose listener must bind `127.0.0.1:0`.
pub async fn start(toml: &str) -> TestProxy {
    start_with_tls(toml, Default::default()).await
}

pub async fn start_with_tls(
    toml: &str,
    tls: std::collections::HashMap<String, TlsMaterial>,
) -> TestProxy {
    let config = Config::parse(toml, "test.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let dir = tempfile::tempdir().unwrap();
    let access_log = dir.path().join("access.log");
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let file = std::fs::File::create(&access_log).unwrap();
    let log = AccessLog::to_writer(Box::new(file), &metrics);
    let listener = config.listeners[0].name.clone();
    let (events, event_rx) = EventSink::channel();
    let proxy = Proxy::start(
        config,
        ProxyOptions {
            metrics,
            access_log: log,
            tls,
            events,
            release_memory: None,
        },
    )
    .await
    .unwrap();
    let addr = proxy.local_addr(&listener).unwrap();
    let handle = proxy.handle();
    TestProxy {
        proxy,
        addr,
        handle,
        registry,
        access_log,
        events: tokio::sync::Mutex::new(event_rx),
        _dir: dir,
    }
}

impl TestProxy {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every access-log line written so far.
    pub fn access_lines(&self) -> Vec<serde_json::Value> {
        self.handle.flush_access_log();
        std::fs::read_to_string(&self.access_log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// The access-log lines once there are at least `n` (a line is written when its response
    /// body is done, which may be a moment after the client has it); fails after 5 s.
    pub async fn access_lines_when(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let lines = self.access_lines();
            if lines.len() >= n {
                return lines;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} access-log lines after 5 s, expected {n}",
                lines.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (up to `timeout`) for the next reported event of `kind`, skipping others.
    pub async fn next_event(&self, kind: EventKind, timeout: Duration) -> ProxyEvent {
        let mut rx = self.events.lock().await;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(e)) if e.kind == kind => return e,
                Ok(Some(_)) => continue,
                _ => panic!("no {kind} event within {timeout:?}"),
            }
        }
    }

    pub fn metrics(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).unwrap();
        out
    }

    /// The value of the metric line that starts with `prefix` (name and labels), or 0.
    pub fn metric(&self, prefix: &str) -> f64 {
        self.metrics()
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .map_or(0.0, |v| v.parse().unwrap())
    }
}

/// The start of a test config: no access log, and the `web` listener on a free port.
pub const HEAD: &str =
    "[admin]\naccess_log = \"off\"\n\n[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:0\"\n";

/// A config with one listener on a free port, one catch-all route to pool `pool`, and `servers`.
/// `pool_extra` lines go into the `[pools.pool]` table.
pub fn one_pool(pool_extra: &str, servers: &[(&str, SocketAddr)]) -> String {
    let mut toml = format!("{HEAD}\n[[routes]]\npool = \"pool\"\n\n[pools.pool]\n{pool_extra}\n");
    toml.push_str(&servers_toml("pool", servers));
    toml
}

/// Pool `pool` with `servers` and nothing else set.
pub fn pool_toml(pool: &str, servers: &[(&str, SocketAddr)]) -> String {
    format!("[pools.{pool}]\n{}", servers_toml(pool, servers))
}

pub fn servers_toml(pool: &str, servers: &[(&str, SocketAddr)]) -> String {
    servers
        .iter()
        .map(|(name, addr)| {
            format!("\n[[pools.{pool}.servers]]\nname = \"{name}\"\naddress = \"{addr}\"\n")
        })
        .collect()
}

/// An address on which nothing listens: connecting to it is refused. The port stays bound
/// (without listening) for the rest of the process, so no other test can take it.
pub fn dead_addr() -> SocketAddr {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    std::mem::forget(socket);
    addr
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Sends `request` and reads the whole answer body.
pub async fn body_of(request: reqwest::RequestBuilder) -> bytes::Bytes {
    request.send().await.unwrap().bytes().await.unwrap()
}

/// Polls `cond` every 10 ms for up to 5 s.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Sends raw bytes and returns everything the proxy answers until it closes or 2 s pass.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// What the proxy reports about `server` now.
pub fn status_of(p: &TestProxy, server: &str) -> switchyard_proxy::ServerStatus {
    p.handle
        .status()
        .into_iter()
        .flat_map(|pool| pool.servers)
        .find(|s| s.name == server)
        .unwrap()
}
