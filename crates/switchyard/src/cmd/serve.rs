//! `switchyard serve`: run the proxy and the admin listener until SIGTERM or Ctrl-C.

mod start;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use switchyard_admin::{AdminState, ControlPlane, Guard, Rollouts, SystemClock};
use switchyard_config::{AccessLog as AccessLogTarget, Config};
use switchyard_proxy::{AccessLog, EventSink, Metrics, Proxy, ProxyOptions, TlsMaterial};
use switchyard_store::Store;

use crate::state::StateDir;
use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Config file (TOML). With versions in the state directory it is optional; when it
    /// differs from the newest version it is applied as a new version.
    #[arg(long, short, env = "SWITCHYARD_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    store: start::StoreArgs,
    /// Also stop when standard input closes (for a parent process that owns this one).
    #[arg(long, hide = true)]
    stop_on_stdin_close: bool,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<()> {
    crate::logging::init();
    let state = StateDir::create(&global.state)?;
    let file = args
        .config
        .as_deref()
        .map(|p| super::load_config(p).map(|c| (p.to_path_buf(), c)))
        .transpose()?;
    let author = crate::state::author(global.author.as_deref());
    let start = args.store.open(&state, file, &author)?;
    // The proxy runs its own worker threads ([runtime] workers); this runtime carries the
    // admin API, health checks and the guard.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the runtime")?;
    rt.block_on(serve(start, state, args.stop_on_stdin_close))
}

async fn serve(
    start: start::Start,
    state: StateDir,
    stop_on_stdin_close: bool,
) -> anyhow::Result<()> {
    let config = start.config;
    // Before anything is bound or announced: a client that sees the address finds the token.
    let token = state.token_or_create()?;
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let access_log = open_access_log(&config.admin.access_log, &metrics)?;
    let tls = load_tls(&config)?;
    let admin_tls = config
        .admin
        .tls
        .as_ref()
        .map(|t| switchyard_admin::listener::tls_acceptor(&t.cert, &t.key))
        .transpose()?;
    let admin_listener = switchyard_admin::bind(config.admin.bind).await?;
    let admin_addr = admin_listener.local_addr()?;
    let (events, event_rx) = EventSink::channel();
    let proxy = Proxy::start(
        config.clone(),
        ProxyOptions {
            metrics,
            access_log,
            tls,
            events,
            release_memory: Some(crate::release_memory),
        },
    )
    .await?;
    for l in &config.listeners {
        let addr = proxy.local_addr(&l.name).expect("every listener is bound");
        tracing::info!(listener = %l.name, addr = %addr, tls = l.tls.is_some(), "listening on {addr}");
    }
    let admin_url = admin_url(&config.admin, admin_addr);
    state.write_admin_url(&admin_url)?;
    let store_connected = register_store_gauge(&mut registry, &start.store);
    let local = switchyard_admin::Local {
        admin_url: admin_url.clone(),
        ..start.local
    };
    let control = Arc::new(ControlPlane::new(start.store, proxy.handle()).with_local(local));
    control.started(&start.version, start.from_snapshot);
    tokio::spawn(control.clone().follow_store());
    tokio::spawn(store_connected);
    let registry = Arc::new(registry);
    tokio::spawn(control.clone().record_events(event_rx));
    tokio::spawn(control.clone().prune_events());
    let guard = Guard::spawn(
        control.clone(),
        Some(registry.clone()),
        Arc::new(SystemClock),
    );
    let rollouts = Rollouts::spawn(control.clone(), Some(registry.clone()));
    let router = switchyard_admin::router(AdminState {
        registry,
        control,
        guard,
        rollouts,
        token: token.into(),
    });
    let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin = tokio::spawn(switchyard_admin::serve(
        admin_listener,
        router,
        admin_tls,
        async {
            let _ = admin_stopped.await;
        },
    ));

    let signal = wait_for_signal(stop_on_stdin_close).await;
    // Read now: the shutdown timeout is one of the settings a change applies live.
    let shutdown_timeout = proxy.handle().config().runtime.shutdown_timeout;
    tracing::info!(
        signal,
        "stopping: no new connections; waiting up to {shutdown_timeout:?} for requests in flight"
    );
    let finished = proxy.shutdown(shutdown_timeout).await;
    let _ = admin_stop.send(());
    let _ = admin.await;
    if finished {
        tracing::info!("stopped cleanly");
    } else {
        tracing::warn!("stopped with requests still in flight after {shutdown_timeout:?}");
    }
    Ok(())
}

/// Registers `switchyard_store_connected` (1 while the store answers, 0 while it cannot be
/// reached); returns the task that keeps it up to date.
fn register_store_gauge(
    registry: &mut Registry,
    store: &Arc<dyn Store>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let gauge = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    registry.register(
        "switchyard_store_connected",
        "Whether the version store can be reached (1) or not (0)",
        gauge.clone(),
    );
    gauge.set(1);
    let feed = store.feed();
    async move {
        let Some(mut connected) = feed.map(|f| f.connected) else {
            return;
        };
        loop {
            gauge.set(i64::from(*connected.borrow_and_update()));
            if connected.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The admin API's URL, after saying at start how it is exposed.
fn admin_url(admin: &switchyard_config::AdminConfig, addr: std::net::SocketAddr) -> String {
    let scheme = if admin.tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}");
    if admin.exposed_in_cleartext() {
        tracing::warn!(
            addr = %addr,
            "admin API and /metrics on {url}: NOT loopback and NOT encrypted (admin.allow_insecure_remote = true): the token and every config cross the network in cleartext"
        );
    } else if admin.bind.ip().is_loopback() {
        tracing::info!(addr = %addr, tls = admin.tls.is_some(), "admin API and /metrics on {url} (loopback only)");
    } else {
        tracing::info!(addr = %addr, tls = true, "admin API and /metrics on {url} (remote, over TLS)");
    }
    url
}

fn open_access_log(target: &AccessLogTarget, metrics: &Metrics) -> anyhow::Result<AccessLog> {
    Ok(match target {
        AccessLogTarget::Off => AccessLog::off(),
        AccessLogTarget::Stdout => AccessLog::to_writer(Box::new(std::io::stdout()), metrics),
        AccessLogTarget::File(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| {
                    format!(
                        "could not open access log {}: check that its directory exists and is writable, or set admin.access_log = \"stdout\"",
                        path.display()
                    )
                })?;
            AccessLog::to_writer(Box::new(file), metrics)
        }
    })
}

fn load_tls(config: &Config) -> anyhow::Result<HashMap<String, TlsMaterial>> {
    let mut out = HashMap::new();
    for l in &config.listeners {
        let Some(tls) = &l.tls else { continue };
        let read = |p: &PathBuf, what: &str| {
            std::fs::read(p).with_context(|| {
                format!(
                    "listener {:?}: could not read TLS {what} {}",
                    l.name,
                    p.display()
                )
            })
        };
        out.insert(
            l.name.clone(),
            TlsMaterial {
                cert_pem: read(&tls.cert, "certificate")?,
                key_pem: read(&tls.key, "key")?,
            },
        );
    }
    Ok(out)
}

async fn wait_for_signal(stdin_too: bool) -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| {
            tracing::error!("could not install a SIGTERM handler ({e}): stop serve with Ctrl-C")
        })
        .ok();
    let term_recv = async {
        match term.as_mut() {
            Some(t) => t.recv().await,
            None => std::future::pending().await,
        }
    };
    let stdin_closed = async {
        if !stdin_too {
            return std::future::pending().await;
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            let _ = tx.send(());
        });
        let _ = rx.await;
    };
    tokio::select! {
        _ = term_recv => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = stdin_closed => "stdin closed",
    }
}
