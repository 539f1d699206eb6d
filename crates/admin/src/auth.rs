//! Bearer-token check for everything under `/api`, compared in constant time.

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
    if authorized(&state, req.headers()) {
        next.run(req).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

/// Whether `headers` carry `Authorization: Bearer <the token>` (scheme case-insensitive).
pub(crate) fn authorized(state: &AdminState, headers: &HeaderMap) -> bool {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    let expected = state.token.as_bytes();
    presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected))
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
