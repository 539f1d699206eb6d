//! Handlers of the JSON API under `/api/v1`.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_config::ServerState;
use switchyard_proxy::{DrainOutcome, ServerStatus};
use switchyard_store::{Event, Version, VersionKind};

use crate::control::{Applied, ChangeMeta, ChangeView};
use crate::error::{ApiError, Json};
use crate::AdminState;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Fields every change request carries.
#[derive(Debug, Deserialize)]
pub struct Meta {
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    if_version: Option<u64>,
}

impl Meta {
    fn into_change(self) -> ChangeMeta {
        ChangeMeta {
            author: self
                .author
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| "unknown".into()),
            message: self.message.unwrap_or_default(),
            if_version: self.if_version,
        }
    }
}

pub async fn current(State(s): State<AdminState>) -> ApiResult<Version> {
    let mut v = s.control.head().await?;
    v.config = None;
    Ok(Json(v))
}

/// What this instance serves and whether its store can be reached.
pub async fn instance(State(s): State<AdminState>) -> Json<crate::InstanceStatus> {
    Json(s.control.status())
}

/// Every running instance on this store.
pub async fn instances(State(s): State<AdminState>) -> ApiResult<Vec<switchyard_store::Instance>> {
    Ok(Json(s.control.instances().await?))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
}

pub async fn versions(
    State(s): State<AdminState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<Version>> {
    let limit = q.limit.unwrap_or(1000);
    Ok(Json(
        s.control.blocking(move |st| st.versions(limit)).await?,
    ))
}

pub async fn version(State(s): State<AdminState>, Path(n): Path<u64>) -> ApiResult<Version> {
    Ok(Json(s.control.version(n).await?))
}

#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: u64,
    to: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct DiffView {
    from: u64,
    to: u64,
    changes: Vec<ChangeView>,
    /// Unified diff of the canonical TOML.
    text: String,
}

pub async fn diff(State(s): State<AdminState>, Query(q): Query<DiffQuery>) -> ApiResult<DiffView> {
    let to = match q.to {
        Some(n) => s.control.version(n).await?,
        None => s.control.head().await?,
    };
    let from = s.control.version(q.from).await?;
    let (a, b) = (
        s.control.config_of(&from).await?,
        s.control.config_of(&to).await?,
    );
    Ok(Json(DiffView {
        from: from.version,
        to: to.version,
        changes: switchyard_config::diff(&a, &b)
            .iter()
            .map(ChangeView::from)
            .collect(),
        text: switchyard_config::text_diff(
            &a,
            &b,
            &format!("v{}", from.version),
            &format!("v{}", to.version),
        ),
    }))
}

#[derive(Debug, Deserialize)]
pub struct ApplyBody {
    config: String,
    #[serde(flatten)]
    meta: Meta,
}

pub async fn apply(State(s): State<AdminState>, Json(b): Json<ApplyBody>) -> ApiResult<Applied> {
    Ok(Json(
        s.control.apply(&b.config, b.meta.into_change()).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct RollbackBody {
    to: u64,
    #[serde(flatten)]
    meta: Meta,
}

pub async fn rollback(
    State(s): State<AdminState>,
    Json(b): Json<RollbackBody>,
) -> ApiResult<Applied> {
    Ok(Json(s.control.rollback(b.to, b.meta.into_change()).await?))
}

/// A server as `servers list` shows it: live status plus, for removed servers, who removed
/// it, when and why.
#[derive(Debug, Serialize)]
pub struct ServerView {
    pool: String,
    #[serde(flatten)]
    status: ServerStatus,
    removed_by: Option<String>,
    removed_at: Option<DateTime<Utc>>,
    removed_reason: Option<String>,
    removed_in: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct PoolView {
    name: String,
    servers: Vec<ServerView>,
}

#[derive(Debug, Deserialize)]
pub struct PoolsQuery {
    pool: Option<String>,
}

pub async fn pools(
    State(s): State<AdminState>,
    Query(q): Query<PoolsQuery>,
) -> ApiResult<Vec<PoolView>> {
    let status = s.control.proxy().status();
    if let Some(p) = &q.pool {
        if !status.iter().any(|ps| &ps.name == p) {
            let known: Vec<String> = status.iter().map(|p| format!("{:?}", p.name)).collect();
            return Err(ApiError::from(switchyard_config::EditError::UnknownPool {
                pool: p.clone(),
                known: known.join(", "),
            }));
        }
    }
    // Who removed each removed server: one indexed look-up per removed server.
    let wanted: Vec<(String, String)> = status
        .iter()
        .filter(|p| q.pool.as_ref().is_none_or(|want| want == &p.name))
        .flat_map(|p| {
            p.servers
                .iter()
                .filter(|sv| sv.state.is_removed())
                .map(|sv| (p.name.clone(), sv.name.clone()))
        })
        .collect();
    let removals: HashMap<(String, String), Event> = if wanted.is_empty() {
        HashMap::new()
    } else {
        s.control
            .blocking(move |st| {
                let mut found = HashMap::new();
                for (pool, server) in wanted {
                    if let Some(e) =
                        st.last_version_event(&pool, &server, VersionKind::ServerRemove)?
                    {
                        found.insert((pool, server), e);
                    }
                }
                Ok(found)
            })
            .await?
    };
    let views = status
        .into_iter()
        .filter(|p| q.pool.as_ref().is_none_or(|want| want == &p.name))
        .map(|p| PoolView {
            servers: p
                .servers
                .into_iter()
                .map(|sv| {
                    let removal = sv
                        .state
                        .is_removed()
                        .then(|| removals.get(&(p.name.clone(), sv.name.clone())))
                        .flatten();
                    ServerView {
                        pool: p.name.clone(),
                        removed_by: removal.map(|e| detail(e, "author")),
                        removed_at: removal.map(|e| e.ts),
                        removed_reason: removal.map(|e| detail(e, "message")),
                        removed_in: removal.and_then(|e| e.details["version"].as_u64()),
                        status: sv,
                    }
                })
                .collect(),
            name: p.name,
        })
        .collect();
    Ok(Json(views))
}

fn detail(e: &Event, key: &str) -> String {
    e.details[key].as_str().unwrap_or_default().to_string()
}

#[derive(Debug, Deserialize)]
pub struct AddBody {
    name: String,
    address: String,
    #[serde(default = "one")]
    weight: u32,
    #[serde(flatten)]
    meta: Meta,
}

fn one() -> u32 {
    1
}

pub async fn add_server(
    State(s): State<AdminState>,
    Path(pool): Path<String>,
    Json(b): Json<AddBody>,
) -> ApiResult<Applied> {
    let address = b.address.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "server address {:?} is not an IP:PORT address; write it like \"10.0.0.5:8080\"",
            b.address
        ))
    })?;
    let applied = s
        .control
        .add_server(&pool, &b.name, address, b.weight, b.meta.into_change())
        .await?;
    Ok(Json(applied))
}

#[derive(Debug, Deserialize)]
pub struct RemoveBody {
    /// How long requests in flight get, e.g. "30s". Default 30s.
    drain_timeout: Option<String>,
    /// Answer only once the drain is over. Default true.
    wait: Option<bool>,
    #[serde(flatten)]
    meta: Meta,
}

#[derive(Debug, Serialize)]
pub struct Removed {
    #[serde(flatten)]
    applied: Applied,
    /// How the drain went, when the caller waited for it.
    drain: Option<DrainOutcome>,
}

pub async fn remove_server(
    State(s): State<AdminState>,
    Path((pool, name)): Path<(String, String)>,
    Json(b): Json<RemoveBody>,
) -> ApiResult<Removed> {
    let timeout = match &b.drain_timeout {
        None => Duration::from_secs(30),
        Some(t) => switchyard_config::parse_duration(t)
            .map_err(|e| ApiError::BadRequest(format!("drain_timeout: {e}")))?,
    };
    let applied = s
        .control
        .set_server_state(&pool, &name, ServerState::Removed, b.meta.into_change())
        .await?;
    let control = s.control.clone();
    let drain = tokio::spawn(async move { control.drain(&pool, &name, timeout).await });
    let drain = if b.wait.unwrap_or(true) {
        Some(drain.await.map_err(|e| ApiError::Internal(e.to_string()))?)
    } else {
        None
    };
    Ok(Json(Removed { applied, drain }))
}

pub async fn restore_server(
    State(s): State<AdminState>,
    Path((pool, name)): Path<(String, String)>,
    Json(meta): Json<Meta>,
) -> ApiResult<Applied> {
    let applied = s
        .control
        .set_server_state(&pool, &name, ServerState::Active, meta.into_change())
        .await?;
    Ok(Json(applied))
}

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    since: Option<String>,
    limit: Option<usize>,
}

pub async fn events(
    State(s): State<AdminState>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Vec<Event>> {
    let since = match q.since.as_deref() {
        None => None,
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|e| {
                    ApiError::BadRequest(format!(
                        "since {t:?} is not an RFC 3339 time like 2026-11-25T10:00:00Z: {e}"
                    ))
                })?
                .with_timezone(&Utc),
        ),
    };
    let limit = q.limit.unwrap_or(1000);
    Ok(Json(
        s.control
            .blocking(move |st| st.events(since, limit))
            .await?,
    ))
}
