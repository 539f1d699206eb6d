//! What can go wrong with a change or a look-up in the [`ControlPlane`](super::ControlPlane).
//! The HTTP layer gives each variant its own status code (`crate::error`).

use switchyard_config::{ConfigErrors, EditError};
use switchyard_proxy::ApplyError;
use switchyard_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
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
    #[error("the store {store} cannot be reached, so changes are refused: this instance keeps serving v{serving} until the store is back; retry then")]
    StoreUnavailable { store: String, serving: u64 },
    #[error("stored v{version} does not parse: {source}")]
    StoredConfig {
        version: u64,
        #[source]
        source: ConfigErrors,
    },
    #[error("a store call did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl ControlError {
    /// The config problems, for a change refused as invalid.
    pub fn config_errors(&self) -> Option<&ConfigErrors> {
        match self {
            ControlError::InvalidConfig(e) | ControlError::Edit(EditError::Invalid(e)) => Some(e),
            _ => None,
        }
    }
}

fn store_reason(e: &StoreError) -> String {
    if e.is_disk_full() {
        format!("the version store failed: {e}: the disk that holds the state directory is full; nothing was changed: free some space and retry")
    } else {
        format!("the version store failed: {e}")
    }
}
