//! Worker threads. Each runs its own single-threaded runtime with its own listening socket
//! per listener (`SO_REUSEPORT`, so the kernel spreads connections), accepts, and serves its
//! connections to the end: a request never crosses threads, and its upstream connections are
//! the worker's own. Accepting stops at a listener's `max_connections` and backs off when the
//! process runs out of file descriptors, with its log lines rate-limited.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use switchyard_config::{Cidr, ListenerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio_rustls::TlsAcceptor;

use crate::http1::{self, BufferBudget, ReadBuf, Served};
use crate::metrics::ListenerLabels;
use crate::{h2, park, Shared};

/// Unsent bytes the kernel may queue for one client connection (`TCP_NOTSENT_LOWAT`).
const NOTSENT_LOWAT: u32 = 128 * 1024;

/// The limits of a listener, as its connections apply them.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub trusted_proxies: Vec<Cidr>,
    /// Bytes/s a client must average while it moves a body (0: no minimum).
    pub min_data_rate: u64,
    /// What the listener's client buffers may hold past their usual size, together.
    pub buffers: Arc<BufferBudget>,
}

impl Limits {
    pub fn of(l: &ListenerConfig) -> Self {
        Limits {
            handshake_timeout: l.handshake_timeout,
            idle_timeout: l.idle_timeout,
            max_header_bytes: l.max_header_bytes,
            max_connections: l.max_connections,
            trusted_proxies: l.trusted_proxies.clone(),
            min_data_rate: l.min_data_rate,
            buffers: Arc::new(BufferBudget::new(l.max_buffer_memory)),
        }
    }
}

/// What a connection knows about itself.
pub(crate) struct ConnInfo {
    pub listener: Arc<str>,
    pub client: SocketAddr,
    /// `client`'s IP address as text, as forwarding headers carry it.
    pub client_ip: String,
    /// The client is a trusted proxy: its forwarding headers are kept and appended to.
    pub trusted: bool,
    pub tls: bool,
    pub limits: Arc<Limits>,
}

/// Where the proxy's workers are in their life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Serving,
    /// Accept nothing more; finish the requests in flight, then close.
    Draining,
    /// Stop at once.
    Stopped,
}

/// Open connections across all workers, so that shutdown can wait for the last one.
#[derive(Default)]
pub(crate) struct Tracker {
    open: AtomicUsize,
    idle: Notify,
}

impl Phase {
    /// Whether connections should close after their current request.
    pub fn closing(rx: &watch::Receiver<Phase>) -> bool {
        *rx.borrow() != Phase::Serving
    }
}

impl Tracker {
    /// Waits until no connection is open.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.open.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One listener as one worker sees it; the counters are shared by all workers.
pub(crate) struct WorkerListener {
    pub name: Arc<str>,
    pub socket: std::net::TcpListener,
    pub tls: Option<TlsAcceptor>,
    pub limits: Arc<Limits>,
    pub open: Arc<AtomicUsize>,
    pub gauge: Gauge,
    pub refused: Counter,
}

impl WorkerListener {
    /// A copy with its own socket on the same address, for another worker.
    pub fn sibling(&self) -> std::io::Result<WorkerListener> {
        Ok(WorkerListener {
            name: self.name.clone(),
            socket: bind(self.socket.local_addr()?, true)?,
            tls: self.tls.clone(),
            limits: self.limits.clone(),
            open: self.open.clone(),
            gauge: self.gauge.clone(),
            refused: self.refused.clone(),
        })
    }

    pub fn labels(name: &str) -> ListenerLabels {
        ListenerLabels {
            listener: name.to_string(),
        }
    }
}

/// A non-blocking listening socket; `reuse_port` lets other workers bind the same address.
pub(crate) fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// Starts worker `index` on its own thread.
pub(crate) fn spawn(
    index: usize,
    listeners: Vec<WorkerListener>,
    shared: Arc<Shared>,
    tracker: Arc<Tracker>,
    phase: watch::Receiver<Phase>,
    release_memory: Option<fn()>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("switchyard-worker-{index}"))
        .spawn(move || {
            let local = tokio::task::LocalSet::new();
            local.block_on(
                &runtime,
                run(listeners, shared, tracker, phase, release_memory),
            );
        })
}

async fn run(
    listeners: Vec<WorkerListener>,
    shared: Arc<Shared>,
    tracker: Arc<Tracker>,
    mut phase: watch::Receiver<Phase>,
    release_memory: Option<fn()>,
) {
    park::start(shared.clone(), phase.clone());
    for l in listeners {
        match TcpListener::from_std(l.socket.try_clone().expect("listening socket")) {
            Ok(socket) => {
                tokio::task::spawn_local(accept_loop(
                    l,
                    socket,
                    shared.clone(),
                    tracker.clone(),
                    phase.clone(),
                ));
            }
            Err(e) => tracing::error!(listener = %l.name, "could not serve the listener: {e}"),
        }
    }
    tokio::task::spawn_local(housekeeping(release_memory));
    while *phase.borrow_and_update() != Phase::Stopped {
        if phase.changed().await.is_err() {
            break;
        }
    }
}

/// A worker's housekeeping, once a second: idle upstream connections expire, and the memory
/// that closed or parked connections freed goes back to the system, on the tick after and once
/// more the tick after that (the allocator may hold freed pages back for a moment).
async fn housekeeping(release_memory: Option<fn()>) {
    let mut ticks = 0u64;
    let mut seen = FREED.get();
    let mut was_busy = false;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        ticks += 1;
        if ticks.is_multiple_of(5) {
            http1::expire_idle_upstreams(Duration::from_secs(300));
        }
        let freed = FREED.get();
        let busy = freed != seen;
        seen = freed;
        if busy || was_busy {
            http1::drop_spare_buffers();
            http1::drop_spare_pipes();
            park::shrink();
            if let Some(release) = release_memory {
                release();
            }
        }
        was_busy = busy;
    }
}

async fn accept_loop(
    l: WorkerListener,
    socket: TcpListener,
    shared: Arc<Shared>,
    tracker: Arc<Tracker>,
    mut phase: watch::Receiver<Phase>,
) {
    let mut failures_in_row = 0u32;
    let mut accept_log = RateLimited::default();
    let mut refuse_log = RateLimited::default();
    loop {
        let accepted = tokio::select! {
            accepted = socket.accept() => accepted,
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow() != Phase::Serving {
                    return;
                }
                continue;
            }
        };
        let (stream, client) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Usually EMFILE: waiting lets connections close; spinning would not.
                failures_in_row = (failures_in_row + 1).min(7);
                if let Some(suppressed) = accept_log.allow() {
                    tracing::warn!(listener = %l.name, suppressed, "accept failed: {e}; backing off");
                }
                tokio::time::sleep(Duration::from_millis(10 << failures_in_row)).await;
                continue;
            }
        };
        failures_in_row = 0;
        if l.open.load(Ordering::Acquire) >= l.limits.max_connections {
            l.refused.inc();
            if let Some(suppressed) = refuse_log.allow() {
                tracing::warn!(
                    listener = %l.name,
                    max_connections = l.limits.max_connections,
                    suppressed,
                    "listener {} is at max_connections ({}): refusing new connections",
                    l.name,
                    l.limits.max_connections
                );
            }
            // Reset at once rather than leave the client waiting for an answer.
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
            continue;
        }
        let guard = ConnGuard::enter(&l, &tracker);
        let info = Arc::new(ConnInfo {
            listener: l.name.clone(),
            client,
            client_ip: client.ip().to_string(),
            trusted: l
                .limits
                .trusted_proxies
                .iter()
                .any(|c| c.contains(client.ip())),
            tls: l.tls.is_some(),
            limits: l.limits.clone(),
        });
        let shared = shared.clone();
        let tls = l.tls.clone();
        let drain = phase.clone();
        tokio::task::spawn_local(connection(stream, tls, info, shared, drain, guard));
    }
}

/// Serves one client connection: TLS first where configured, then HTTP/1 or HTTP/2 by what
/// the client speaks (ALPN, or the HTTP/2 preface on cleartext).
async fn connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    info: Arc<ConnInfo>,
    shared: Arc<Shared>,
    drain: watch::Receiver<Phase>,
    guard: ConnGuard,
) {
    let _ = stream.set_nodelay(true);
    // The kernel queues at most this much unsent data for a client: one that reads slowly
    // makes the proxy wait (and `min_data_rate` cut it off) instead of piling up megabytes of
    // socket buffer; what is in flight is still governed by TCP alone.
    let _ = socket2::SockRef::from(&stream).set_tcp_notsent_lowat(NOTSENT_LOWAT);
    // Boxed where rarer or larger: a waiting cleartext HTTP/1 connection carries only the
    // state of its own path, not that of a TLS handshake or an HTTP/2 connection.
    match tls {
        None => cleartext(stream, info, shared, drain, guard).await,
        Some(acceptor) => {
            let _guard = guard;
            Box::pin(encrypted(stream, acceptor, info, shared, drain)).await
        }
    }
}

async fn cleartext(
    mut stream: TcpStream,
    info: Arc<ConnInfo>,
    shared: Arc<Shared>,
    drain: watch::Receiver<Phase>,
    guard: ConnGuard,
) {
    let accepted = Instant::now();
    let deadline = tokio::time::Instant::from_std(accepted + info.limits.handshake_timeout);
    let mut buf = ReadBuf::bounded(info.limits.buffers.clone());
    match http1::sniff_h2(&mut stream, &mut buf, deadline).await {
        Some(true) => {
            Box::pin(h2::serve(
                h2::Prefixed::new(buf, stream),
                info,
                shared,
                drain,
            ))
            .await
        }
        Some(false) => keep_alive(stream, buf, info, shared, drain, guard, accepted).await,
        None => {}
    }
}

/// Serves HTTP/1 on a cleartext connection, and parks it when it has waited long enough for
/// its next request.
async fn keep_alive(
    stream: TcpStream,
    buf: ReadBuf,
    info: Arc<ConnInfo>,
    shared: Arc<Shared>,
    drain: watch::Receiver<Phase>,
    guard: ConnGuard,
    accepted: Instant,
) {
    if let Served::Idle { io, since } =
        http1::serve(stream, buf, &info, &shared, drain, accepted).await
    {
        FREED.set(FREED.get().wrapping_add(1));
        park::park(io, info, guard, since);
    }
}

/// Serves a parked connection again, in a task of its own, now that its client has sent.
pub(crate) fn resume(
    stream: TcpStream,
    info: Arc<ConnInfo>,
    guard: ConnGuard,
    shared: Arc<Shared>,
    drain: watch::Receiver<Phase>,
) {
    let buf = ReadBuf::bounded(info.limits.buffers.clone());
    tokio::task::spawn_local(keep_alive(
        stream,
        buf,
        info,
        shared,
        drain,
        guard,
        Instant::now(),
    ));
}

async fn encrypted(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    info: Arc<ConnInfo>,
    shared: Arc<Shared>,
    drain: watch::Receiver<Phase>,
) {
    let accepted = Instant::now();
    let deadline = tokio::time::Instant::from_std(accepted + info.limits.handshake_timeout);
    let Ok(Ok(tls)) = tokio::time::timeout_at(deadline, acceptor.accept(stream)).await else {
        return;
    };
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        Box::pin(h2::serve(tls, info, shared, drain)).await;
    } else {
        let buf = ReadBuf::bounded(info.limits.buffers.clone());
        // TLS connections are never parked: they end here.
        let _ = http1::serve(tls, buf, &info, &shared, drain, accepted).await;
    }
}

thread_local! {
    /// Connections this worker has closed or parked, so that it knows when memory was freed.
    static FREED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts a connection as open for its listener and for shutdown, until dropped.
pub(crate) struct ConnGuard {
    open: Arc<AtomicUsize>,
    gauge: Gauge,
    tracker: Arc<Tracker>,
}

impl ConnGuard {
    fn enter(l: &WorkerListener, tracker: &Arc<Tracker>) -> Self {
        l.open.fetch_add(1, Ordering::AcqRel);
        l.gauge.inc();
        tracker.open.fetch_add(1, Ordering::AcqRel);
        ConnGuard {
            open: l.open.clone(),
            gauge: l.gauge.clone(),
            tracker: tracker.clone(),
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.gauge.dec();
        FREED.set(FREED.get().wrapping_add(1));
        if self.tracker.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tracker.idle.notify_waiters();
        }
    }
}

/// At most one log line a second; says how many were left out since the last one.
#[derive(Default)]
struct RateLimited {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one waiting cleartext connection costs in task memory.
    #[test]
    fn a_cleartext_connection_task_is_small() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (server, _) = std_listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let stream = TcpStream::from_std(server).unwrap();
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = crate::Metrics::register(&mut registry);
        let config = switchyard_config::Config::parse(
            "[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:0\"\n[[routes]]\npool = \"p\"\n[pools.p]\n[[pools.p.servers]]\nname = \"a\"\naddress = \"127.0.0.1:1\"\n",
            "t.toml",
        )
        .unwrap();
        let runtime = crate::runtime::Runtime::build(
            Arc::new(config.clone()),
            None,
            &metrics,
            &crate::EventSink::none(),
        );
        let shared = Arc::new(Shared {
            runtime: arc_swap::ArcSwap::from_pointee(runtime),
            metrics,
            access_log: crate::AccessLog::off(),
            events: crate::EventSink::none(),
            checks: crate::checker::HealthChecks::default(),
            tracing: None,
            apply_lock: std::sync::Mutex::new(()),
        });
        let info = Arc::new(ConnInfo {
            listener: "web".into(),
            client: addr,
            client_ip: addr.ip().to_string(),
            trusted: false,
            tls: false,
            limits: Arc::new(Limits::of(&config.listeners[0])),
        });
        let (_tx, rx) = watch::channel(Phase::Serving);
        let guard = ConnGuard {
            open: Arc::default(),
            gauge: Gauge::default(),
            tracker: Arc::default(),
        };
        let task = connection(stream, None, info, shared, rx, guard);
        let size = std::mem::size_of_val(&task);
        // Measured: about 1.1 KiB in a release build. An HTTP/2 or TLS state inline would be
        // several times that.
        assert!(size < 2048, "a connection task holds {size} bytes");
        drop(client);
    }
}
