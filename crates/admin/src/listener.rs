//! The admin listener's connections: HTTP/1.1, over TLS when `[admin.tls]` is set, with limits
//! that keep silent, slow or half-sent clients from holding connections for ever.
//!
//! - [`HEADER_TIMEOUT`]: from the connection's start (or the end of the previous response) to
//!   the end of a request head. It closes silent sockets, half-sent heads and idle keep-alive
//!   connections; a TLS handshake gets the same time.
//! - [`BODY_IDLE_TIMEOUT`]: the longest pause while a request body is read.
//! - Accept errors (such as running out of file descriptors) back off instead of spinning, and
//!   are logged at most once per [`ACCEPT_LOG_EVERY`].

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// Time to receive a whole request head (and to finish a TLS handshake). Not configurable.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest pause between two parts of a request body. Not configurable.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long accepting pauses after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At most one "accept failed" line per this time.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(5);
/// How long open connections get to finish their request at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("admin TLS: could not read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("admin TLS: {0}: check that tls.cert is a PEM certificate chain and tls.key its PEM private key")]
    Pem(String),
    #[error("admin TLS: certificate and key do not form a usable TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A TLS acceptor from the PEM files of `[admin.tls]`; offers HTTP/1.1 only.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsSetupError> {
    let read = |what, path: &Path| {
        std::fs::read(path).map_err(|source| TlsSetupError::Read {
            what,
            path: path.display().to_string(),
            source,
        })
    };
    let (cert_pem, key_pem) = (read("certificate", cert)?, read("key", key)?);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsSetupError::Pem(format!("the certificate could not be read: {e}")))?;
    if certs.is_empty() {
        return Err(TlsSetupError::Pem("no certificate in tls.cert".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| TlsSetupError::Pem(format!("no private key in tls.key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` (through `tls` when given) until `shutdown` resolves, then
/// lets open requests finish for a few seconds.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router.layer(RequestBodyTimeoutLayer::new(BODY_IDLE_TIMEOUT));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut last_log: Option<Instant> = None;
    let mut quiet = 0u64;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                if last_log.is_none_or(|t| t.elapsed() >= ACCEPT_LOG_EVERY) {
                    tracing::warn!(
                        "admin API: accept failed: {e} ({quiet} more since the last line); pausing accepts for {ACCEPT_BACKOFF:?}"
                    );
                    last_log = Some(Instant::now());
                    quiet = 0;
                } else {
                    quiet += 1;
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let tls = tls.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, tls, service, watcher).await {
                tracing::debug!(%peer, "admin API connection: {e}");
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}

type Service = TowerToHyperService<Router>;

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    service: Service,
    watcher: hyper_util::server::graceful::Watcher,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true);
    match tls {
        None => {
            let conn = http.serve_connection(TokioIo::new(stream), service);
            watcher.watch(conn).await?;
        }
        Some(acceptor) => {
            let stream = tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream))
                .await
                .map_err(|_| format!("{peer}: no TLS handshake within {HEADER_TIMEOUT:?}"))??;
            let conn = http.serve_connection(TokioIo::new(stream), service);
            watcher.watch(conn).await?;
        }
    }
    Ok(())
}
