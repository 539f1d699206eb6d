//! `POST /api/v1/pools/{pool}/rollouts`, `GET .../rollouts[/{id}]`, `POST .../rollouts/{id}/abort`,
//! `GET /api/v1/rollouts` (every pool's, for the dashboard) and
//! `POST /api/v1/pools/{pool}/decommission`.

use axum::extract::{Path, State};

use super::{DecommissionRequest, Decommissioned, RolloutRequest, RolloutView};
use crate::error::{ApiError, Json};
use crate::AdminState;

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) async fn start(
    State(s): State<AdminState>,
    Path(pool): Path<String>,
    Json(r): Json<RolloutRequest>,
) -> ApiResult<RolloutView> {
    Ok(Json(s.rollouts.start(&pool, r).await?))
}

pub(crate) async fn list(
    State(s): State<AdminState>,
    Path(pool): Path<String>,
) -> ApiResult<Vec<RolloutView>> {
    Ok(Json(s.rollouts.list(Some(&pool))))
}

/// `GET /api/v1/rollouts`: every pool's rollouts, newest first.
pub(crate) async fn all(State(s): State<AdminState>) -> ApiResult<Vec<RolloutView>> {
    Ok(Json(s.rollouts.list(None)))
}

pub(crate) async fn get(
    State(s): State<AdminState>,
    Path((pool, id)): Path<(String, u64)>,
) -> ApiResult<RolloutView> {
    Ok(Json(s.rollouts.get(&pool, id)?))
}

pub(crate) async fn abort(
    State(s): State<AdminState>,
    Path((pool, id)): Path<(String, u64)>,
) -> ApiResult<RolloutView> {
    Ok(Json(s.rollouts.abort(&pool, id).await?))
}

pub(crate) async fn decommission(
    State(s): State<AdminState>,
    Path(pool): Path<String>,
    Json(r): Json<DecommissionRequest>,
) -> ApiResult<Decommissioned> {
    let inner = &s.rollouts.inner;
    Ok(Json(
        super::decommission::run(&inner.control, &inner.peak, &pool, r).await?,
    ))
}
