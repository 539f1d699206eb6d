//! The lab's control API, plain JSON over HTTP on its own loopback port:
//!
//! - `GET /state`: the log directory, the gateway, and each host's address, role, pool, faults,
//!   request count and (front ends) database pool;
//! - `POST /faults/{host}` with `{"fault": "not-found" | "error-500" | "latency" |
//!   "leak-connections" | "crash" | "recover"}` (`"ms"` for latency, optional `"per_sec"` for a
//!   leak): the host's state after the change;
//! - `POST /vague-errors` with `{"on": true}`: front ends log the seed's vague error line.

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::fault::Fault;
use super::http::{json, Body, Handler};
use super::{LabError, LabInner};

const ROUTES: &str = "GET /state, POST /faults/{host}, POST /vague-errors";

pub(crate) fn handler(lab: Arc<LabInner>) -> Handler {
    Arc::new(move |req| {
        let lab = lab.clone();
        Box::pin(async move { handle(&lab, req).await })
    })
}

async fn handle(lab: &LabInner, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let body = match Limited::new(body, 64 * 1024).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return problem(StatusCode::BAD_REQUEST, "bad_body", format!("{e}")),
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["state"]) => json(StatusCode::OK, &lab.state_json()),
        (&Method::GET, [""]) => json(StatusCode::OK, &json!({"routes": ROUTES})),
        (&Method::POST, ["faults", host]) => {
            let fault = match read_json(&body).and_then(|v| Fault::from_json(&v)) {
                Ok(fault) => fault,
                Err(reason) => return problem(StatusCode::BAD_REQUEST, "bad_fault", reason),
            };
            match lab.fault(host, fault).await {
                Ok(()) => {
                    let state = lab.host_json(host).unwrap_or(Value::Null);
                    json(StatusCode::OK, &state)
                }
                Err(e) => {
                    let (status, code) = match &e {
                        LabError::UnknownHost { .. } => (StatusCode::NOT_FOUND, "unknown_host"),
                        LabError::NotApplicable { .. } => {
                            (StatusCode::BAD_REQUEST, "not_applicable")
                        }
                        _ => (StatusCode::INTERNAL_SERVER_ERROR, "failed"),
                    };
                    problem(status, code, e.to_string())
                }
            }
        }
        (&Method::POST, ["vague-errors"]) => {
            match read_json(&body).map(|v| v.get("on").and_then(Value::as_bool)) {
                Ok(Some(on)) => {
                    lab.settings.set_vague_errors(on);
                    json(StatusCode::OK, &json!({"vague_errors": on}))
                }
                Ok(None) => problem(
                    StatusCode::BAD_REQUEST,
                    "bad_setting",
                    "expected {\"on\": true} or {\"on\": false}".to_string(),
                ),
                Err(reason) => problem(StatusCode::BAD_REQUEST, "bad_setting", reason),
            }
        }
        _ => problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route for {} {path}; routes are: {ROUTES}", parts.method),
        ),
    }
}

fn read_json(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))
}

fn problem(status: StatusCode, error: &str, reason: String) -> Response<Body> {
    json(
        status,
        &json!({"status": status.as_u16(), "error": error, "reason": reason}),
    )
}
