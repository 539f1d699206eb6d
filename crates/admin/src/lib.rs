//! Switchyard's admin HTTP API: versions, diffs, apply and rollback, pools and servers,
//! rollouts and decommissions, events, and `/metrics`.
//!
//! Everything under `/api/v1` needs `Authorization: Bearer <token>` (a request without it gets
//! 401 before anything else is looked at, a wrong method included); `/metrics` and the
//! dashboard's page at `/` (which holds no data of its own) stay open. The listener binds to
//! loopback unless the config says otherwise, and then only with TLS or an explicit
//! `allow_insecure_remote`; [`listener`] keeps slow clients from holding its connections. Changes go through
//! [`ControlPlane`]: validated, stored as a new version, then swapped into the proxy. The data
//! path itself lives in `switchyard-proxy`; this crate only drives it through its handle.

mod answers;
mod api;
mod auth;
mod control;
mod dashboard;
mod error;
mod guard;
pub mod listener;
mod rollout;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

pub use control::notify::{Notice, NoticeKind, NotifyError};
pub use control::{
    Applied, ChangeMeta, ChangeView, ControlError, ControlPlane, InstanceStatus, Local, Published,
    Snapshot, UnknownListener,
};
pub use error::ApiError;
pub use guard::{BakeView, Clock, Guard, GuardView, SystemClock, Verdict, GUARD_AUTHOR};
pub use rollout::{
    BakeNumbers, DecommissionRequest, Decommissioned, Failure, NewServer, OnFailure, Phase,
    Replacement, RolloutError, RolloutRequest, RolloutState, RolloutView, Rollouts, ServerNumbers,
    StepView,
};

/// What the admin handlers read.
#[derive(Clone)]
pub struct AdminState {
    pub registry: Arc<Registry>,
    pub control: Arc<ControlPlane>,
    /// The change guard, for `GET /api/v1/guard`.
    pub guard: Guard,
    /// Rollouts and decommissions.
    pub rollouts: Rollouts,
    /// The bearer token `/api` requests must present.
    pub token: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("could not bind the admin API on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

pub fn router(state: AdminState) -> Router {
    let api = Router::new()
        .route("/version", get(api::current))
        .route("/instance", get(api::instance))
        .route("/instances", get(api::instances))
        .route("/versions", get(api::versions))
        .route("/versions/{n}", get(api::version))
        .route("/diff", get(api::diff))
        .route("/apply", post(api::apply))
        .route("/rollback", post(api::rollback))
        .route("/pools", get(api::pools))
        .route("/pools/{pool}/servers", post(api::add_server))
        .route(
            "/pools/{pool}/servers/{name}/remove",
            post(api::remove_server),
        )
        .route(
            "/pools/{pool}/servers/{name}/restore",
            post(api::restore_server),
        )
        .route(
            "/pools/{pool}/rollouts",
            post(rollout::start).get(rollout::list),
        )
        .route("/rollouts", get(rollout::all))
        .route("/pools/{pool}/rollouts/{id}", get(rollout::get))
        .route("/pools/{pool}/rollouts/{id}/abort", post(rollout::abort))
        .route("/pools/{pool}/decommission", post(rollout::decommission))
        .route("/events", get(api::events))
        .route("/guard", get(guard::view))
        .route("/series", get(dashboard::series))
        .fallback(auth::not_found);
    Router::new()
        .nest("/api/v1", api)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .route("/metrics", get(metrics))
        .route("/", get(dashboard::index))
        .route("/dashboard.js", get(dashboard::script))
        .route("/dashboard.css", get(dashboard::style))
        // Outermost, so that no answer (405 included) comes before the token check.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .with_state(state)
}

/// Binds the admin listener; serve it with [`serve`].
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, AdminError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| AdminError::Bind { addr, source })
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` resolves; see
/// [`listener`] for the limits on each connection.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve(listener, router, tls, shutdown).await
}

async fn metrics(State(state): State<AdminState>) -> Response {
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &state.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            out,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not encode metrics: {e}\n"),
        )
            .into_response(),
    }
}
