//! Bearer-token check for everything under `/api/`, compared in constant time, before any
//! other answer (a 405 for a wrong method included).

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::AdminState;

pub(crate) async fn require_token(
    State(state): State<AdminState>,
    req: Request,
    next: Next,
) -> Response {
    if !req.uri().path().starts_with("/api/") || authorized(&state, req.headers()) {
        next.run(req).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

/// Whether `headers` carry `Authorization: Bearer <the token>` (scheme case-insensitive). An
/// empty expected token authorizes no one.
pub(crate) fn authorized(state: &AdminState, headers: &HeaderMap) -> bool {
    token_matches(&state.token, headers)
}

fn token_matches(expected: &str, headers: &HeaderMap) -> bool {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    let expected = expected.as_bytes();
    !expected.is_empty()
        && presented.len() == expected.len()
        && bool::from(presented.as_bytes().ct_eq(expected))
}

/// Unknown API routes: 404 only for callers with the token, so routes are not revealed.
pub(crate) async fn not_found(State(state): State<AdminState>, headers: HeaderMap) -> ApiError {
    if authorized(&state, &headers) {
        ApiError::NotFound {
            what: "API route".into(),
        }
    } else {
        ApiError::Unauthorized
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(AUTHORIZATION, a.parse().unwrap());
        }
        h
    }

    #[test]
    fn an_empty_expected_token_authorizes_no_one() {
        for auth in [
            None,
            Some("Bearer "),
            Some("Bearer"),
            Some(""),
            Some("bearer  "),
        ] {
            assert!(!token_matches("", &with(auth)), "{auth:?}");
        }
    }

    #[test]
    fn only_the_exact_token_passes() {
        let t = "0123456789abcdef0123456789abcdef";
        assert!(token_matches(t, &with(Some(&format!("Bearer {t}")))));
        assert!(token_matches(t, &with(Some(&format!("bearer {t}")))));
        assert!(!token_matches(t, &with(Some(&format!("Bearer {t}x")))));
        assert!(!token_matches(t, &with(None)));
    }
}
