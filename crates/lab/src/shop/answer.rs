//! What a dependency answered, judged the way a front end needs it: a 2xx JSON object, or a
//! [`Failure`] that says what came back, from which server, and why it is not usable.

use bytes::Bytes;
use serde_json::Value;
use switchyard_config::body_snippet;

use super::http::content_type;

/// A dependency's answer that was not what the front end needed.
pub(crate) struct Failure {
    pub(crate) received: String,
    pub(crate) server: String,
    pub(crate) reason: String,
}

/// A client error in words, with its causes.
pub(crate) fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Whether an answer is the JSON the call needs; if not, what came back, from which server, and
/// why it is wrong. The server is the one named in `x-backend`, else the one in Switchyard's
/// own error body, else Switchyard.
pub(crate) fn judge(
    service: &str,
    parts: &http::response::Parts,
    body: &Bytes,
    switchyard: String,
) -> Result<Value, Failure> {
    let status = parts.status;
    let kind = content_type(&parts.headers);
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if status.is_success() && kind.starts_with("application/json") {
        if let Some(value) = parsed.as_ref().filter(|v| v.is_object()) {
            return Ok(value.clone());
        }
    }
    let received = format!(
        "{} {kind} \"{}\"",
        status.as_u16(),
        body_snippet(&String::from_utf8_lossy(body))
    );
    let backend = parts
        .headers
        .get("x-backend")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Switchyard's own answers (502, 503, 504) carry `error`, `reason` and the server it tried.
    let proxy_reason = match (&backend, &parsed) {
        (None, Some(v)) if v.get("error").is_some() => {
            v.get("reason").and_then(Value::as_str).map(|reason| {
                let server = v.get("server").and_then(Value::as_str).map(str::to_string);
                (server, reason.to_string())
            })
        }
        _ => None,
    };
    let server = backend
        .or_else(|| proxy_reason.as_ref().and_then(|(s, _)| s.clone()))
        .unwrap_or(switchyard);
    let code = status.as_u16();
    let reason = if let Some((_, reason)) = proxy_reason {
        format!("switchyard answered {code}: {reason}")
    } else if !status.is_success() && kind.contains("html") {
        format!("{server} answered {code} with an HTML page: it is not serving the {service} API")
    } else if !status.is_success() {
        format!("{server} answered {status}")
    } else {
        format!("{server} answered {code} but the body is not a JSON object")
    };
    Err(Failure {
        received,
        server,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Response;
    use serde_json::json;

    fn parts(status: u16, headers: &[(&str, &str)]) -> http::response::Parts {
        let mut builder = Response::builder().status(status);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_wrong_service_is_named_and_quoted() {
        let p = parts(
            404,
            &[("content-type", "text/html"), ("x-backend", "inventory-4")],
        );
        let body = Bytes::from_static(super::super::http::NOT_FOUND_PAGE.as_bytes());
        let failure = judge("inventory", &p, &body, "switchyard (gw)".into()).unwrap_err();
        assert_eq!(failure.received, "404 text/html \"Not Found\"");
        assert_eq!(failure.server, "inventory-4");
        assert_eq!(
            failure.reason,
            "inventory-4 answered 404 with an HTML page: it is not serving the inventory API"
        );
    }

    #[test]
    fn switchyards_own_errors_name_the_server_it_tried() {
        let p = parts(502, &[("content-type", "application/json")]);
        let body = Bytes::from(
            json!({"status": 502, "error": "connect_refused", "server": "inventory-2",
                   "reason": "could not connect to inventory-2"})
            .to_string(),
        );
        let failure = judge("inventory", &p, &body, "switchyard (gw)".into()).unwrap_err();
        assert_eq!(failure.server, "inventory-2");
        assert_eq!(
            failure.reason,
            "switchyard answered 502: could not connect to inventory-2"
        );
    }

    #[test]
    fn garbage_with_200_is_a_failure_and_json_is_not() {
        let p = parts(200, &[("content-type", "text/plain")]);
        let failure = judge(
            "inventory",
            &p,
            &Bytes::from_static(b"ok"),
            "switchyard (gw)".into(),
        )
        .unwrap_err();
        assert_eq!(failure.server, "switchyard (gw)");
        assert!(failure.reason.ends_with("the body is not a JSON object"));
        let p = parts(200, &[("content-type", "application/json")]);
        let value = judge(
            "inventory",
            &p,
            &Bytes::from_static(b"{\"in_stock\":3}"),
            "switchyard (gw)".into(),
        );
        assert_eq!(value.ok().unwrap()["in_stock"], 3);
    }
}
