//! Admin API errors: each variant has its own status code and a JSON body with a `reason` a
//! person can act on.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use switchyard_config::{ConfigErrors, EditError};
use switchyard_proxy::ApplyError;
use switchyard_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or wrong admin token: send Authorization: Bearer <token> (the token is in STATE_DIR/admin.token)")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("this API route does not take that method")]
    MethodNotAllowed,
    #[error("the config is invalid ({} problem{})", .0.0.len(), if .0.0.len() == 1 { "" } else { "s" })]
    InvalidConfig(ConfigErrors),
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("the current version is v{current}, not v{expected} as --if-version said; nothing was changed: look at `switchyard history` and retry")]
    StaleVersion { expected: u64, current: u64 },
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("{detail}: these settings are read at start, so this change needs a restart; nothing was changed (apply the rest without them, then restart serve with the new config)")]
    NeedsRestart { detail: String },
    #[error("{}", store_reason(.0))]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) | ApiError::InvalidConfig(_) => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Edit(EditError::Invalid(_)) => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. }
            | ApiError::Edit(EditError::UnknownPool { .. })
            | ApiError::Edit(EditError::UnknownServer { .. }) => StatusCode::NOT_FOUND,
            ApiError::StaleVersion { .. }
            | ApiError::Edit(EditError::Unchanged { .. })
            | ApiError::Store(StoreError::Conflict { .. }) => StatusCode::CONFLICT,
            ApiError::Apply(_) | ApiError::NeedsRestart { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Store(e) if e.is_disk_full() => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::InvalidConfig(_) | ApiError::Edit(EditError::Invalid(_)) => "invalid_config",
            ApiError::NotFound { .. }
            | ApiError::Edit(EditError::UnknownPool { .. })
            | ApiError::Edit(EditError::UnknownServer { .. }) => "not_found",
            ApiError::StaleVersion { .. } | ApiError::Store(StoreError::Conflict { .. }) => {
                "version_conflict"
            }
            ApiError::Edit(EditError::Unchanged { .. }) => "unchanged",
            ApiError::Apply(_) | ApiError::NeedsRestart { .. } => "needs_restart",
            ApiError::Store(e) if e.is_disk_full() => "disk_full",
            ApiError::Store(_) => "store_failed",
            ApiError::Internal(_) => "internal",
        }
    }

    fn config_errors(&self) -> Option<&ConfigErrors> {
        match self {
            ApiError::InvalidConfig(e) | ApiError::Edit(EditError::Invalid(e)) => Some(e),
            _ => None,
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
        if let Some(errors) = self.config_errors() {
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
        (status, Json(body)).into_response()
    }
}

fn store_reason(e: &StoreError) -> String {
    if e.is_disk_full() {
        format!("the version store failed: {e}: the disk that holds the state directory is full; nothing was changed: free some space and retry")
    } else {
        format!("the version store failed: {e}")
    }
}
