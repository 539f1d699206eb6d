//! Proxy header hygiene: hop-by-hop headers, forwarding headers and request IDs.

use http::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION};

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Headers that describe one connection and must not be forwarded (RFC 9110 7.6.1).
pub(crate) const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Longest request id kept from a client.
pub(crate) const MAX_REQUEST_ID_LEN: usize = 128;

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// Sets `x-forwarded-for` to the client's address and `x-forwarded-proto` to the scheme.
/// From a `trusted` peer (a proxy in front) the address is appended to its list and its
/// scheme kept; from anyone else every forwarding header is replaced, so none can be spoofed.
pub(crate) fn set_forwarded(headers: &mut HeaderMap, client_ip: &str, scheme: &str, trusted: bool) {
    if trusted {
        append(headers, &X_FORWARDED_FOR, client_ip);
        if !headers.contains_key(&X_FORWARDED_PROTO) {
            headers.insert(
                X_FORWARDED_PROTO.clone(),
                HeaderValue::from_static(if scheme == "https" { "https" } else { "http" }),
            );
        }
        return;
    }
    headers.remove("forwarded");
    headers.remove("x-forwarded-host");
    headers.remove(&X_FORWARDED_FOR);
    headers.remove(&X_FORWARDED_PROTO);
    append(headers, &X_FORWARDED_FOR, client_ip);
    append(headers, &X_FORWARDED_PROTO, scheme);
}

fn append(headers: &mut HeaderMap, name: &HeaderName, value: &str) {
    let joined = match headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.is_empty() => format!("{existing}, {value}"),
        _ => value.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&joined) {
        headers.insert(name.clone(), v);
    }
}

/// The client's request id if it is sane (visible ASCII, 1 to 128 bytes), else a new one.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    match headers.get(&X_REQUEST_ID) {
        Some(v) if is_sane_request_id(v.as_bytes()) => {
            String::from_utf8_lossy(v.as_bytes()).into_owned()
        }
        _ => uuid::Uuid::new_v4().simple().to_string(),
    }
}

/// A request id is kept from the client when it is visible ASCII, 1 to 128 bytes.
pub(crate) fn is_sane_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_named_and_standard_hop_headers() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-secret".parse().unwrap());
        h.insert("x-secret", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-kept", "1".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn forwarded_headers_append_only_for_trusted_peers() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "10.0.0.1".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        h.insert("forwarded", "for=1.2.3.4".parse().unwrap());
        let mut trusted = h.clone();
        set_forwarded(&mut trusted, "127.0.0.1", "http", true);
        assert_eq!(trusted["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(trusted["x-forwarded-proto"], "https");
        set_forwarded(&mut h, "127.0.0.1", "http", false);
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert!(!h.contains_key("forwarded"));
    }

    #[test]
    fn request_ids_are_kept_only_when_sane() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", "abc-123".parse().unwrap());
        assert_eq!(request_id(&h), "abc-123");
        h.insert("x-request-id", "has space".parse().unwrap());
        assert_ne!(request_id(&h), "has space");
        h.insert("x-request-id", "a".repeat(129).parse().unwrap());
        assert_eq!(request_id(&h).len(), 32);
    }
}
