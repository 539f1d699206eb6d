//! The front ends: `GET /products/{id}` and `POST /checkout`. Each request checks the session
//! with `auth`, queries the database, and calls `inventory` (and for a checkout `billing`)
//! through Switchyard, passing its request id on.
//!
//! When a dependency answers something other than a 2xx with JSON, the front end logs an ERROR
//! that says which service, which request, what was expected, what came back, from which server
//! and why, and answers 500; with vague errors on it logs only the seed's
//! `ERROR: invalid response from server`. When no database connection frees up within the
//! pool's wait it logs `ERROR: database connection timeout` with the pool's figures and answers
//! 503.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::answer::{describe_error, judge, Failure};
use super::db::{self, DbOptions, DbPool};
use super::host::{DbStatus, HostCore, Reply, Service};
use super::http::{json, Body};
use super::log::Level;

/// Answers larger than this from a dependency count as garbage.
const ANSWER_LIMIT: usize = 256 * 1024;
/// A WARN about the database pool once it is this full, at most every [`POOL_WARN_EVERY`].
const POOL_WARN_PERCENT: usize = 80;
const POOL_WARN_EVERY: Duration = Duration::from_secs(5);

type GatewayClient = Client<HttpConnector, Full<Bytes>>;

/// A front end's own state: its keep-alive client to Switchyard and its database pool.
pub(crate) struct Frontend {
    client: GatewayClient,
    db_options: DbOptions,
    db: Mutex<Arc<DbPool>>,
    leak: Mutex<Option<JoinHandle<()>>>,
    last_pool_warning: Mutex<Option<Instant>>,
}

impl Frontend {
    pub(crate) fn new(db_options: DbOptions) -> Frontend {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            // Below the 30 s after which Switchyard closes a quiet client connection.
            .pool_idle_timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(64)
            .build(connector);
        Frontend {
            client,
            db: Mutex::new(DbPool::new(db_options.clone())),
            db_options,
            leak: Mutex::new(None),
            last_pool_warning: Mutex::new(None),
        }
    }

    /// The database pool in use now.
    fn pool(&self) -> Arc<DbPool> {
        self.db.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn stop_leak(&self) {
        if let Some(task) = self.leak.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }

    async fn answer(
        &self,
        host: &HostCore,
        req: Request<Incoming>,
        request_id: &str,
    ) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_string();
        let incoming = format!("{} {path}", parts.method);
        let page = Page {
            host,
            frontend: self,
            request_id,
            incoming: &incoming,
        };
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let answer = match (&parts.method, segments.as_slice()) {
            (&Method::GET, ["products", id]) if valid_id(id) => page.product(id).await,
            (&Method::POST, ["checkout"]) => {
                let body = Limited::new(body, 64 * 1024)
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                page.checkout(serde_json::from_slice(&body).unwrap_or(Value::Null))
                    .await
            }
            (&Method::GET, [""]) => Ok(json(
                StatusCode::OK,
                &json!({"shop": "switchyard lab", "server": host.name,
                        "try": ["GET /products/{id}", "POST /checkout"]}),
            )),
            _ => Ok(json(
                StatusCode::NOT_FOUND,
                &json!({"error": "not found", "path": path}),
            )),
        };
        answer.unwrap_or_else(|failed| failed)
    }
}

impl Service for Frontend {
    fn handle<'a>(&'a self, host: &'a HostCore, req: Request<Incoming>, id: &'a str) -> Reply<'a> {
        Box::pin(self.answer(host, req, id))
    }

    fn db(&self) -> Option<DbStatus> {
        let pool = self.pool();
        Some(DbStatus {
            in_use: pool.in_use(),
            leaked: pool.leaked(),
            pool_size: pool.pool_size(),
        })
    }

    /// Takes `per_second` connections and never gives them back.
    fn start_leak(&self, per_second: f64) -> bool {
        let task = tokio::spawn(db::leak(self.pool(), per_second));
        let old = self
            .leak
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(task);
        if let Some(old) = old {
            old.abort();
        }
        true
    }

    fn is_leaking(&self) -> bool {
        self.leak
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|t| !t.is_finished())
    }

    /// Stops a leak and opens a fresh pool (queries in flight finish on the old one).
    fn reset(&self) {
        self.stop_leak();
        *self.db.lock().unwrap_or_else(|e| e.into_inner()) = DbPool::new(self.db_options.clone());
    }

    fn stop(&self) {
        self.stop_leak();
    }
}

impl Drop for Frontend {
    fn drop(&mut self) {
        self.stop_leak();
    }
}

fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// One incoming request being answered. Each step's `Err` is the answer, already logged.
struct Page<'a> {
    host: &'a HostCore,
    frontend: &'a Frontend,
    request_id: &'a str,
    incoming: &'a str,
}

/// A call to another service through Switchyard.
struct Call {
    service: &'static str,
    /// What failed, for the log: "inventory lookup".
    what: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    expected: &'static str,
}

type Step<T> = Result<T, Response<Body>>;

impl Page<'_> {
    async fn product(&self, id: &str) -> Step<Response<Body>> {
        let session = self.call(session_call()).await?;
        self.query(format!(
            "SELECT id, name, price_cents FROM products WHERE id = '{id}'"
        ))
        .await?;
        let stock = self
            .call(Call {
                service: "inventory",
                what: "inventory lookup",
                method: Method::GET,
                path: format!("/api/inventory/{id}"),
                body: None,
                expected: "200 with JSON inventory data",
            })
            .await?;
        Ok(json(
            StatusCode::OK,
            &json!({
                "id": id,
                "name": format!("Product {id}"),
                "price_cents": price_cents(id),
                "in_stock": stock.get("in_stock"),
                "user": session.get("user"),
                "server": self.host.name,
            }),
        ))
    }

    async fn checkout(&self, order: Value) -> Step<Response<Body>> {
        let product = match order.get("product_id") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if valid_id(s) => s.clone(),
            _ => fastrand::u32(1..=1000).to_string(),
        };
        let quantity = order
            .get("quantity")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .clamp(1, 100);
        let session = self.call(session_call()).await?;
        let user = session
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or("guest");
        self.query(format!(
            "SELECT product_id, quantity FROM carts WHERE user_id = '{user}'"
        ))
        .await?;
        self.call(Call {
            service: "inventory",
            what: "stock reservation",
            method: Method::POST,
            path: format!("/api/inventory/{product}/reserve"),
            body: Some(json!({"quantity": quantity})),
            expected: "200 with JSON reservation",
        })
        .await?;
        let order_id = format!("ord-{:012x}", fastrand::u64(..1 << 48));
        let amount = price_cents(&product) * quantity;
        let charge = self
            .call(Call {
                service: "billing",
                what: "payment",
                method: Method::POST,
                path: "/api/billing/charges".to_string(),
                body: Some(json!({"order": order_id, "amount_cents": amount, "currency": "EUR"})),
                expected: "200 with JSON payment confirmation",
            })
            .await?;
        self.query(format!(
            "INSERT INTO orders (id, user_id, product_id, quantity, amount_cents) VALUES ('{order_id}', '{user}', '{product}', {quantity}, {amount})"
        ))
        .await?;
        Ok(json(
            StatusCode::OK,
            &json!({
                "order_id": order_id,
                "status": "confirmed",
                "charge_id": charge.get("charge_id"),
                "amount_cents": amount,
                "server": self.host.name,
            }),
        ))
    }

    async fn query(&self, sql: String) -> Step<()> {
        let pool = self.frontend.pool();
        match pool.query().await {
            Ok(in_use) => {
                if in_use * 100 >= pool.pool_size() * POOL_WARN_PERCENT && self.pool_warning_due() {
                    self.host.log.write(
                        Level::Warn,
                        "database connection pool nearly exhausted",
                        &[
                            ("Server", &self.host.name),
                            (
                                "Connection pool",
                                &format!("{in_use}/{} connections in use", pool.pool_size()),
                            ),
                        ],
                    );
                }
                Ok(())
            }
            Err(timeout) => {
                self.host.log.write(
                    Level::Error,
                    "database connection timeout",
                    &[
                        ("Server", &self.host.name),
                        (
                            "Request",
                            &format!("{} (request id {})", self.incoming, self.request_id),
                        ),
                        ("Query", &sql),
                        (
                            "Connection pool",
                            &format!(
                                "{}/{} connections in use",
                                timeout.in_use, timeout.pool_size
                            ),
                        ),
                        ("Wait", &format!("{}ms", timeout.wait.as_millis())),
                    ],
                );
                Err(json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"error": "database connection timeout", "server": self.host.name,
                            "request_id": self.request_id}),
                ))
            }
        }
    }

    fn pool_warning_due(&self) -> bool {
        let mut last = self
            .frontend
            .last_pool_warning
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let due = last.is_none_or(|at| at.elapsed() >= POOL_WARN_EVERY);
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// Sends `call` through Switchyard; `Ok` with the JSON answer, else the logged failure's
    /// 500 answer.
    async fn call(&self, call: Call) -> Step<Value> {
        let settings = &self.host.settings;
        let Some(gateway) = settings.gateway() else {
            return Err(self.failed(
                &call,
                Failure {
                    received: "nothing (no request was sent)".to_string(),
                    server: "none".to_string(),
                    reason: "the lab has no gateway address; call Lab::set_gateway with \
                             Switchyard's listener address"
                        .to_string(),
                },
            ));
        };
        let body = match &call.body {
            Some(value) => Full::new(Bytes::from(value.to_string())),
            None => Full::new(Bytes::new()),
        };
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(format!("http://{gateway}{}", call.path))
            .header("x-request-id", self.request_id)
            .header(USER_AGENT, &self.host.name);
        if call.body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request.body(body).expect("valid request");
        let timeout = settings.upstream_timeout;
        let answer = tokio::time::timeout(timeout, async {
            let response = self
                .frontend
                .client
                .request(request)
                .await
                .map_err(|e| describe_error(&e))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, ANSWER_LIMIT)
                .collect()
                .await
                .map_err(|e| format!("the body could not be read: {e}"))?
                .to_bytes();
            Ok::<_, String>((parts, body))
        })
        .await;
        let switchyard = format!("switchyard ({gateway})");
        let (parts, body) = match answer {
            Err(_) => {
                return Err(self.failed(
                    &call,
                    Failure {
                        received: format!("no response within {}ms", timeout.as_millis()),
                        reason: format!(
                            "switchyard at {gateway} did not answer within {}ms",
                            timeout.as_millis()
                        ),
                        server: switchyard,
                    },
                ))
            }
            Ok(Err(error)) => {
                return Err(self.failed(
                    &call,
                    Failure {
                        received: format!("no response: {error}"),
                        reason: format!(
                            "could not get an answer from switchyard at {gateway}: {error}"
                        ),
                        server: switchyard,
                    },
                ))
            }
            Ok(Ok(answer)) => answer,
        };
        match judge(call.service, &parts, &body, switchyard) {
            Ok(value) => Ok(value),
            Err(failure) => Err(self.failed(&call, failure)),
        }
    }

    /// Logs a failed call and makes the front end's 500.
    fn failed(&self, call: &Call, failure: Failure) -> Response<Body> {
        let log = &self.host.log;
        if self.host.settings.vague_errors() {
            log.write(Level::Error, "invalid response from server", &[]);
        } else {
            log.write(
                Level::Error,
                &format!("{} failed for {}", call.what, self.incoming),
                &[
                    ("Service", call.service),
                    (
                        "Request",
                        &format!(
                            "{} {} (request id {})",
                            call.method, call.path, self.request_id
                        ),
                    ),
                    ("Expected", call.expected),
                    ("Received", &failure.received),
                    ("Server", &failure.server),
                    ("Reason", &failure.reason),
                ],
            );
        }
        json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({
                "error": format!("{} failed", call.what),
                "service": call.service,
                "server": failure.server,
                "request_id": self.request_id,
            }),
        )
    }
}

fn session_call() -> Call {
    Call {
        service: "auth",
        what: "session check",
        method: Method::GET,
        path: format!("/api/auth/session/sess-{:08x}", fastrand::u32(..)),
        body: None,
        expected: "200 with JSON session data",
    }
}

fn price_cents(id: &str) -> u64 {
    499 + id.bytes().map(u64::from).sum::<u64>() * 37 % 9_500
}
