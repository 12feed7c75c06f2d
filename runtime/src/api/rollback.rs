//! `POST /v1/jobs/{name}/rollback`: back to the revision before the current one (which is then
//! dropped from the kept revisions, so rolling back again goes one step further back), or with
//! `{"to_revision": N}` to any kept revision (the current one is kept too, so it can be returned
//! to). Either makes a new revision; each runtime switches at a window boundary, as for an
//! update.

use super::error::{ApiError, ApiResult};
use super::jobs::{JobView, change, next_revision, record_lineage};
use super::{ApiState, MAX_SPEC, read_body};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// Body of a rollback (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RollbackRequest {
    /// The revision whose spec to return to (one of those kept: see a revision's `kept`);
    /// default: the one before the current.
    pub to_revision: Option<u64>,
}

/// Returns to an earlier revision's spec (as a new revision).
#[utoipa::path(post, path = "/v1/jobs/{name}/rollback", tag = "jobs", params(("name" = String, Path)),
    request_body(content = RollbackRequest, description = "optional: `to_revision`"),
    responses((status = 200, body = JobView), (status = 404, body = super::error::ErrorBody),
        (status = 400, description = "`bad_body`", body = super::error::ErrorBody),
        (status = 409, description = "`no_previous_revision`, `revision_not_kept`, `incompatible_update`", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn rollback(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<JobView>> {
    let body = read_body(body, MAX_SPEC, "rollback request").await?;
    let request: RollbackRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RollbackRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(
                "bad_body",
                format!("a rollback request is {{\"to_revision\": N}} or empty: {e}"),
            )
        })?
    };
    change(state, headers, name.clone(), move |_, _, record| {
        let Some(to) = request.to_revision else {
            let Some(previous) = record.history.pop() else {
                return Err(ApiError::conflict(
                    "no_previous_revision",
                    format!("job `{name}` has no earlier revision to roll back to"),
                ));
            };
            tracing::info!(job = name, to = previous.revision, "job rolled back");
            let current = std::mem::replace(&mut record.spec, previous.spec);
            record.revision += 1;
            record_lineage(record, Some(&current));
            return Ok(true);
        };
        let kept: Vec<String> = record.history.iter().map(|r| r.revision.to_string()).collect();
        if to == record.revision {
            return Err(ApiError::conflict(
                "revision_not_kept",
                format!("revision {to} is job `{name}`'s current revision: nothing to roll back"),
            ));
        }
        let Some(target) = record.history.iter().find(|r| r.revision == to).cloned() else {
            return Err(ApiError::conflict(
                "revision_not_kept",
                format!(
                    "job `{name}` does not keep the spec of revision {to}; it keeps {} (the last \
                     {} earlier revisions; `weir job history {name}` lists them)",
                    if kept.is_empty() {
                        "none".to_string()
                    } else {
                        format!("revisions {}", kept.join(", "))
                    },
                    super::jobs::HISTORY
                ),
            ));
        };
        let incompatible = record.spec.incompatible_changes(&target.spec);
        if !incompatible.is_empty() {
            return Err(ApiError::conflict(
                "incompatible_update",
                format!(
                    "job `{name}` cannot return to revision {to} in place: it would change {}, \
                     which its checkpoints cannot follow. Create a job with that spec instead",
                    incompatible.join(", ")
                ),
            ));
        }
        tracing::info!(job = name, to, "job rolled back");
        next_revision(record, target.spec);
        Ok(true)
    })
    .await
}
