//! HTTP plumbing shared by the lab's services: a listener that can crash (stop accepting and drop
//! every open connection) and come back on the same port, response builders, request ids, and
//! the short body snippets front ends quote when a dependency answers something unexpected.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub(crate) type Body = Full<Bytes>;

/// Answers one request; shared by every connection of a listener.
pub(crate) type Handler =
    Arc<dyn Fn(Request<Incoming>) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

/// The page a server that is not the service it was taken for answers with.
pub(crate) const NOT_FOUND_PAGE: &str = "<html><body><h1>Not Found</h1></body></html>";

/// A bound port and the task accepting on it. Stopping the task closes the port and drops every
/// connection it accepted, because the connections are tasks of a [`JoinSet`] the accept task
/// owns.
pub(crate) struct Listener {
    addr: SocketAddr,
    handler: Handler,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Listener {
    pub(crate) async fn bind(addr: SocketAddr, handler: Handler) -> io::Result<Listener> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener, handler.clone()));
        Ok(Listener {
            addr,
            handler,
            task: Mutex::new(Some(task)),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn is_up(&self) -> bool {
        self.lock().as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Closes the port and every open connection; returns once they are gone.
    pub(crate) async fn stop(&self) {
        let task = self.lock().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Binds the same port again after [`stop`](Self::stop); does nothing if still up.
    pub(crate) async fn start(&self) -> io::Result<()> {
        if self.is_up() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr).await?;
        let mut task = self.lock();
        if task.as_ref().is_none_or(|t| t.is_finished()) {
            *task = Some(tokio::spawn(accept_loop(listener, self.handler.clone())));
        }
        Ok(())
    }

    /// Stops without waiting (for `Drop`).
    pub(crate) fn abort(&self) {
        if let Some(task) = self.lock().take() {
            task.abort();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        self.task.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.abort();
    }
}

async fn accept_loop(listener: TcpListener, handler: Handler) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, handler.clone()));
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, handler: Handler) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |req| {
        let answer = handler(req);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .expect("valid response")
}

pub(crate) fn not_found_page() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(CONTENT_TYPE, "text/html")
        .body(Full::new(Bytes::from_static(NOT_FOUND_PAGE.as_bytes())))
        .expect("valid response")
}

/// 32 hex digits, like the ids Switchyard makes.
pub(crate) fn new_request_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// The request's `x-request-id` if it has a usable one, else a new id.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(new_request_id, str::to_string)
}

pub(crate) fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(no content-type)")
}

#[cfg(test)]
mod tests {
    use switchyard_config::body_snippet;

    use super::*;

    #[test]
    fn the_not_found_page_quotes_as_its_text() {
        assert_eq!(body_snippet(NOT_FOUND_PAGE), "Not Found");
        assert_eq!(body_snippet("{\"a\":1}"), "{\"a\":1}");
    }

    #[test]
    fn request_ids_are_kept_or_made() {
        let mut headers = HeaderMap::new();
        assert_eq!(request_id(&headers).len(), 32);
        headers.insert("x-request-id", "abc-1".parse().unwrap());
        assert_eq!(request_id(&headers), "abc-1");
    }
}
