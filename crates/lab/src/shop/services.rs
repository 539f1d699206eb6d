//! The back-end services: `inventory`, `billing` and `auth`. Each answers JSON at once under
//! `/api/{service}/...` and now and then logs a WARN a real service of its kind might write.
//!
//! - `GET /api/inventory/{id}`: stock for a product; `POST /api/inventory/{id}/reserve`;
//! - `POST /api/billing/charges`: a charge; `GET /api/billing/...`: the record asked for;
//! - `GET /api/auth/session/{id}`: the session's user; `POST /api/auth/...`: a token.
//!
//! Any other path under the service's prefix answers a small JSON record, and paths outside it
//! answer 404 JSON. [`WrongService`] is `inventory-4`: whatever runs there answers 404 to all.

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::host::{HostCore, Reply, Service};
use super::http::{json, not_found_page, Body};
use super::log::Level;

/// Share of requests that log a WARN.
const WARN_SHARE: f64 = 0.01;

/// One of the back-end services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BackEnd {
    Inventory,
    Billing,
    Auth,
}

/// A server that runs something other than the shop's services: 404 to everything, `/health`
/// included.
pub(crate) struct WrongService;

impl Service for WrongService {
    fn handle<'a>(&'a self, _: &'a HostCore, _: Request<Incoming>, _: &'a str) -> Reply<'a> {
        Box::pin(async { not_found_page() })
    }

    fn serves_health(&self) -> bool {
        false
    }
}

impl Service for BackEnd {
    fn handle<'a>(&'a self, host: &'a HostCore, req: Request<Incoming>, id: &'a str) -> Reply<'a> {
        Box::pin(self.answer(host, req, id))
    }
}

impl BackEnd {
    fn name(self) -> &'static str {
        match self {
            BackEnd::Inventory => "inventory",
            BackEnd::Billing => "billing",
            BackEnd::Auth => "auth",
        }
    }

    async fn answer(
        self,
        core: &HostCore,
        req: Request<Incoming>,
        request_id: &str,
    ) -> Response<Body> {
        let (parts, body) = req.into_parts();
        // Read what the caller sent, so the connection stays usable for the next request.
        let body = Limited::new(body, 64 * 1024)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let service = self.name();
        let prefix = format!("/api/{service}/");
        let path = parts.uri.path();
        let Some(rest) = path.strip_prefix(&prefix) else {
            return json(
                StatusCode::NOT_FOUND,
                &json!({"error": "not found", "service": service, "path": path}),
            );
        };
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let warn = fastrand::f64() < WARN_SHARE;
        let answer = match self {
            BackEnd::Inventory => inventory(&parts.method, &segments, &sent),
            BackEnd::Billing => billing(&parts.method, &segments, &sent),
            BackEnd::Auth => auth(&parts.method, &segments),
        };
        let answer = match answer {
            Some(value) => value,
            None => json!({"service": service, "path": path, "server": core.name}),
        };
        if warn {
            if let Some(message) = warning(self, &answer) {
                core.log.write(
                    Level::Warn,
                    &format!("{message} (request id {request_id})"),
                    &[],
                );
            }
        }
        json(StatusCode::OK, &answer)
    }
}

/// A number from 0 to `n - 1` that is the same for the same product every time.
fn stable(id: &str, n: u64) -> u64 {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    hash % n
}

fn inventory(method: &Method, segments: &[&str], sent: &Value) -> Option<Value> {
    let id = *segments.first()?;
    let in_stock = stable(id, 60);
    let sku = format!("SKU-{:0>5}", id);
    let warehouse = ["east", "west", "north"][stable(id, 3) as usize];
    match (method, &segments[1..]) {
        (&Method::GET, []) => Some(json!({
            "id": id,
            "sku": sku,
            "in_stock": in_stock,
            "warehouse": warehouse,
        })),
        (&Method::POST, ["reserve"]) => {
            let quantity = sent.get("quantity").and_then(Value::as_u64).unwrap_or(1);
            Some(json!({
                "id": id,
                "sku": sku,
                "reserved": quantity,
                "in_stock": in_stock.saturating_sub(quantity),
                "reservation": format!("res-{:012x}", fastrand::u64(..1 << 48)),
            }))
        }
        _ => None,
    }
}

fn billing(method: &Method, segments: &[&str], sent: &Value) -> Option<Value> {
    match (method, segments) {
        (&Method::POST, ["charges"]) => Some(json!({
            "charge_id": format!("ch_{:016x}", fastrand::u64(..)),
            "status": "approved",
            "amount_cents": sent.get("amount_cents").and_then(Value::as_u64).unwrap_or(0),
            "currency": sent.get("currency").and_then(Value::as_str).unwrap_or("EUR"),
        })),
        (&Method::GET, ["charges", id]) => Some(json!({"charge_id": id, "status": "approved"})),
        _ => None,
    }
}

fn auth(method: &Method, segments: &[&str]) -> Option<Value> {
    match (method, segments) {
        (&Method::GET, ["session", id]) => Some(json!({
            "session": id,
            "user": format!("user-{}", stable(id, 5_000)),
            "valid": true,
            "expires_in_s": 1_800,
        })),
        (&Method::POST, _) => Some(json!({
            "token": format!("tok_{:016x}", fastrand::u64(..)),
            "expires_in_s": 1_800,
        })),
        _ => None,
    }
}

/// A WARN line that fits the answer, if there is one for this service.
fn warning(service: BackEnd, answer: &Value) -> Option<String> {
    match service {
        BackEnd::Inventory => {
            let sku = answer.get("sku")?.as_str()?;
            Some(format!("low stock for {sku}: {} left", fastrand::u8(1..4)))
        }
        BackEnd::Billing => {
            let charge = answer.get("charge_id")?.as_str()?;
            let score = fastrand::u8(71..90);
            Some(format!(
                "charge {charge} flagged for review: risk score 0.{score} above 0.70; approved"
            ))
        }
        BackEnd::Auth => {
            let session = answer.get("session")?.as_str()?;
            Some(format!(
                "session {session} expires in {}s; client should refresh it",
                fastrand::u16(20..90)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_json_records() {
        let stock = inventory(&Method::GET, &["42"], &Value::Null).unwrap();
        assert_eq!(stock["sku"], "SKU-00042");
        assert_eq!(
            stock["in_stock"],
            inventory(&Method::GET, &["42"], &Value::Null).unwrap()["in_stock"]
        );
        let reserved =
            inventory(&Method::POST, &["42", "reserve"], &json!({"quantity": 2})).unwrap();
        assert_eq!(reserved["reserved"], 2);
        let charge = billing(&Method::POST, &["charges"], &json!({"amount_cents": 1999})).unwrap();
        assert_eq!(charge["amount_cents"], 1999);
        assert_eq!(
            auth(&Method::GET, &["session", "s1"]).unwrap()["valid"],
            true
        );
        assert!(inventory(&Method::GET, &[], &Value::Null).is_none());
    }

    #[test]
    fn warnings_name_the_record() {
        let stock = inventory(&Method::GET, &["7"], &Value::Null).unwrap();
        assert!(warning(BackEnd::Inventory, &stock)
            .unwrap()
            .starts_with("low stock for SKU-00007: "));
    }
}
