//! Admin API errors: each variant has its own status code and a JSON body with a `reason` a
//! person can act on. A refused change arrives as a [`ControlError`] and is mapped here, so
//! the control plane knows nothing of HTTP.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use switchyard_config::EditError;
use switchyard_store::StoreError;

use crate::control::ControlError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or wrong admin token: send Authorization: Bearer <token> (the token is in STATE_DIR/admin.token)")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    /// A body that is not JSON, or not the JSON the route takes (axum's status: 400, 415 or
    /// 422).
    #[error("the request body is not the JSON this route takes: {}", .0.body_text())]
    Body(#[from] JsonRejection),
    #[error("this API route does not take that method")]
    MethodNotAllowed,
    #[error("{what} not found")]
    NotFound { what: String },
    #[error(transparent)]
    Control(#[from] ControlError),
    /// A request the current state does not allow: a second rollout of a pool, a
    /// decommission below the pool's limits.
    #[error("{0}")]
    Refused(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::RolloutError> for ApiError {
    fn from(e: crate::RolloutError) -> Self {
        use crate::RolloutError as R;
        match e {
            R::Invalid(reason) => ApiError::BadRequest(reason),
            R::NotFound { pool, id } => ApiError::NotFound {
                what: format!("rollout {id} of pool {pool:?}"),
            },
            R::Busy { .. } | R::Refused(_) => ApiError::Refused(e.to_string()),
            R::Control(e) => ApiError::Control(e),
        }
    }
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        ApiError::Control(e.into())
    }
}

/// `axum::Json`, except that a body it cannot read is answered with the API's JSON error
/// (`bad_request`, with axum's status) instead of axum's plain-text rejection.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(value))
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ControlError as C;
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Body(rejection) => rejection.status(),
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Refused(_) => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Control(e) => match e {
                C::InvalidConfig(_) | C::Edit(EditError::Invalid(_)) => StatusCode::BAD_REQUEST,
                C::NotFound { .. }
                | C::Edit(EditError::UnknownPool { .. })
                | C::Edit(EditError::UnknownServer { .. }) => StatusCode::NOT_FOUND,
                C::StaleVersion { .. }
                | C::Edit(EditError::Unchanged { .. })
                | C::Store(StoreError::Conflict { .. }) => StatusCode::CONFLICT,
                C::Apply(_) | C::NeedsRestart { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                C::Store(e) if e.is_disk_full() => StatusCode::INSUFFICIENT_STORAGE,
                C::Store(StoreError::Unavailable { .. }) | C::StoreUnavailable { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                C::Store(_) | C::StoredConfig { .. } | C::Task(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
        }
    }

    fn code(&self) -> &'static str {
        use ControlError as C;
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadRequest(_) | ApiError::Body(_) => "bad_request",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::NotFound { .. } => "not_found",
            ApiError::Refused(_) => "refused",
            ApiError::Internal(_) => "internal",
            ApiError::Control(e) => match e {
                C::InvalidConfig(_) | C::Edit(EditError::Invalid(_)) => "invalid_config",
                C::NotFound { .. }
                | C::Edit(EditError::UnknownPool { .. })
                | C::Edit(EditError::UnknownServer { .. }) => "not_found",
                C::StaleVersion { .. } | C::Store(StoreError::Conflict { .. }) => {
                    "version_conflict"
                }
                C::Edit(EditError::Unchanged { .. }) => "unchanged",
                C::Apply(_) | C::NeedsRestart { .. } => "needs_restart",
                C::Store(e) if e.is_disk_full() => "disk_full",
                C::Store(StoreError::Unavailable { .. }) | C::StoreUnavailable { .. } => {
                    "store_unavailable"
                }
                C::Store(_) => "store_failed",
                C::StoredConfig { .. } | C::Task(_) => "internal",
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = serde_json::json!({
            "status": status.as_u16(),
            "error": self.code(),
            "reason": self.to_string(),
        });
        let problems = match &self {
            ApiError::Control(e) => e.config_errors(),
            _ => None,
        };
        if let Some(errors) = problems {
            body["problems"] = errors
                .iter()
                .map(|e| {
                    // An edited config has no file to point at: its problems are told plainly.
                    let text = if e.file == switchyard_config::EDITED {
                        e.message.clone()
                    } else {
                        e.to_string()
                    };
                    serde_json::json!({
                        "file": e.file, "line": e.line, "column": e.column,
                        "message": e.message, "text": text,
                    })
                })
                .collect();
        }
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "admin API: {self}");
        }
        (status, axum::Json(body)).into_response()
    }
}
