//! A programmable HTTP backend on loopback, speaking HTTP/1.1 and h2c.
//!
//! Paths with a built-in meaning, whatever the current behaviour:
//! - `/echo`: JSON with the method, path, headers and the number of body bytes received;
//! - `/sleep/{ms}`: answers 200 after `ms` milliseconds;
//! - `/bytes/{n}`: streams `n` bytes of body;
//! - `/status/{code}`: answers that status;
//! - `/health`: answers 200 while the current behaviour is the default one, but ignores
//!   [`BackendControl::fail_every`] (a shallow check that a flaky server passes).
//!
//! Every other path gets the current behaviour: by default `200 "{name}\n"`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

type Body = BoxBody<Bytes, Infallible>;

/// Shared, live-adjustable behaviour of a [`Backend`].
#[derive(Debug, Default)]
pub struct BackendControl {
    status: AtomicU16,
    delay_ms: AtomicU64,
    fail_every: AtomicU64,
    ordinary: AtomicU64,
    failed: AtomicU64,
    requests: AtomicU64,
    in_flight: AtomicU64,
    by_path: Mutex<HashMap<String, u64>>,
}

impl BackendControl {
    /// Answer `code` (0 means the default 200) on ordinary paths from now on.
    pub fn set_status(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }

    /// Answer 500 to one ordinary request in `n` from now on (0: never).
    pub fn fail_every(&self, n: u64) {
        self.fail_every.store(n, Ordering::SeqCst);
    }

    /// Requests answered 500 because of [`Self::fail_every`].
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }

    /// Wait this long before answering ordinary paths.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Requests received so far, on any path.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Requests received so far whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> u64 {
        let by_path = self.by_path.lock().unwrap_or_else(|e| e.into_inner());
        by_path
            .iter()
            .filter(|(path, _)| path.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests being answered right now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }
}

/// A running backend; stops when dropped.
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    pub control: Arc<BackendControl>,
    task: JoinHandle<()>,
}

impl Backend {
    /// Starts a backend on a free loopback port.
    pub async fn start(name: &str) -> std::io::Result<Backend> {
        Self::bind(name, "127.0.0.1:0".parse().expect("valid")).await
    }

    /// Starts a backend on `addr`.
    pub async fn bind(name: &str, addr: SocketAddr) -> std::io::Result<Backend> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::serve(name, listener))
    }

    /// Serves on an already bound listener.
    pub fn serve(name: &str, listener: TcpListener) -> Backend {
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let control = Arc::new(BackendControl::default());
        let shared = Arc::new(Shared {
            name: name.to_string(),
            control: control.clone(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(shared.handle(req).await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Backend {
            name: name.to_string(),
            addr,
            control,
            task,
        }
    }

    /// Stops accepting and closes the listener (connections already open finish).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    name: String,
    control: Arc<BackendControl>,
}

struct InFlight<'a>(&'a BackendControl);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let c = &self.control;
        c.requests.fetch_add(1, Ordering::SeqCst);
        c.in_flight.fetch_add(1, Ordering::SeqCst);
        let _guard = InFlight(c);
        let path = req.uri().path().to_string();
        *c.by_path
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(path.clone())
            .or_default() += 1;
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let resp = match (parts.next(), parts.next()) {
            (Some("echo"), None) => self.echo(req).await,
            (Some("sleep"), Some(ms)) => {
                let ms: u64 = ms.parse().unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                self.text(StatusCode::OK, format!("{} slept {ms}ms\n", self.name))
            }
            (Some("bytes"), Some(n)) => self.bytes(n.parse().unwrap_or(0)),
            (Some("status"), Some(code)) => {
                let code = code.parse().ok().and_then(|c| StatusCode::from_u16(c).ok());
                self.text(
                    code.unwrap_or(StatusCode::BAD_REQUEST),
                    format!("{}\n", self.name),
                )
            }
            _ => {
                let delay = c.delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                let code = match c.status.load(Ordering::SeqCst) {
                    0 => StatusCode::OK,
                    n => StatusCode::from_u16(n).unwrap_or(StatusCode::OK),
                };
                let every = c.fail_every.load(Ordering::SeqCst);
                let n = c.ordinary.fetch_add(1, Ordering::SeqCst) + 1;
                let flaky = every > 0 && path != "/health" && n.is_multiple_of(every);
                let code = if flaky {
                    c.failed.fetch_add(1, Ordering::SeqCst);
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    code
                };
                self.text(code, format!("{}\n", self.name))
            }
        };
        resp
    }

    fn text(&self, status: StatusCode, body: String) -> Response<Body> {
        Response::builder()
            .status(status)
            .header("content-type", "text/plain")
            .header("x-backend", &self.name)
            .body(Full::new(Bytes::from(body)).boxed())
            .expect("valid response")
    }

    async fn echo(&self, req: Request<Incoming>) -> Response<Body> {
        let (parts, mut body) = req.into_parts();
        let mut body_bytes: u64 = 0;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if let Some(d) = f.data_ref() {
                        body_bytes += d.len() as u64;
                    }
                }
                Err(_) => break,
            }
        }
        let headers: serde_json::Map<String, serde_json::Value> = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    serde_json::Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
                )
            })
            .collect();
        let json = serde_json::json!({
            "backend": self.name,
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "version": format!("{:?}", parts.version),
            "headers": headers,
            "body_bytes": body_bytes,
        });
        Response::builder()
            .header("content-type", "application/json")
            .header("x-backend", &self.name)
            .body(Full::new(Bytes::from(json.to_string())).boxed())
            .expect("valid response")
    }

    fn bytes(&self, n: u64) -> Response<Body> {
        const CHUNK: usize = 64 * 1024;
        let chunk = Bytes::from(vec![b'x'; CHUNK]);
        let chunks = stream::iter((0..n.div_ceil(CHUNK as u64)).map(move |i| {
            let left = n - i * CHUNK as u64;
            let len = left.min(CHUNK as u64) as usize;
            Ok::<_, Infallible>(Frame::data(chunk.slice(..len)))
        }));
        Response::builder()
            .header("content-type", "application/octet-stream")
            .header("x-backend", &self.name)
            .body(StreamBody::new(chunks).boxed())
            .expect("valid response")
    }
}
