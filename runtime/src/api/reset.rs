//! `POST /v1/jobs/{name}/reset`: moves a job's input partitions to the earliest or latest
//! offsets, a time, or given offsets, with checkpoints that start every stage afresh there
//! (see [`crate::job::reset`]).
//!
//! A running job is refused unless the request says `pause`: then it is paused, the reset waits
//! until no runtime runs it (their statuses retired, its groups empty), moves it, and resumes
//! it. A job that was paused stays paused.

use super::error::{ApiError, ApiResult};
use super::jobs::{JobView, api_record, api_view, in_config, now, parts, save};
use super::{ApiState, MAX_SPEC, blocking, read_body};
use crate::config;
use crate::job::reset::{self, ResetError, ResetJob, ResetOutcome, ResetTo};
use crate::registry::{JobRecord, Registry, StatusBoard};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// How long a reset waits for the runtimes to stop the paused job.
const STOP_WAIT: Duration = Duration::from_secs(90);

/// Body of a reset.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// `earliest`, `latest`, a time (RFC 3339, or ms since the epoch), or offsets
    /// (`0=120,1=300`, or `topic:0=120` for a job with several input topics).
    pub to: String,
    /// Pause a running job for the reset, and resume it after (without it, a running job is
    /// refused).
    #[serde(default)]
    pub pause: bool,
}

/// What a reset did, and the job after it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResetView {
    /// The job.
    pub job: JobView,
    /// The partitions moved.
    pub reset: ResetOutcome,
    /// Whether the reset paused the job and resumed it.
    pub resumed: bool,
}

fn invalid(err: &ResetError) -> ApiError {
    match err {
        ResetError::PartialShuffled { .. } => ApiError::conflict("partial_reset", err.to_string()),
        ResetError::Kafka(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "brokers_unavailable",
            format!("{err}; nothing was reset"),
        ),
        _ => ApiError::bad_request("invalid_reset", err.to_string()),
    }
}

/// Waits until no runtime runs job `name`: no fresh status on the board, and its groups have
/// no member (when the brokers say).
fn wait_stopped(registry: &Registry, board: &StatusBoard, name: &str, groups: &[String]) -> ApiResult<()> {
    let started = Instant::now();
    // The runtimes see the pause within a tick of the supervisor.
    std::thread::sleep(Duration::from_secs(1));
    loop {
        let running: Vec<String> = board.of(name).into_iter().map(|s| s.runtime).collect();
        let members: usize = groups
            .iter()
            .filter_map(|g| reset::group_members(registry.brokers(), g))
            .sum();
        if running.is_empty() && members == 0 {
            return Ok(());
        }
        if started.elapsed() >= STOP_WAIT {
            return Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "job_still_running",
                format!(
                    "job `{name}` is paused, but after {STOP_WAIT:?} {} still run it ({members} \
                     group members): nothing was reset. Retry `weir job reset` (the job stays \
                     paused until `weir job resume {name}`)",
                    if running.is_empty() {
                        "its consumer groups".to_string()
                    } else {
                        format!("runtimes {}", running.join(", "))
                    }
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn reset_job<'a>(registry: &'a Registry, record: &'a JobRecord, module: &'a str) -> ResetJob<'a> {
    let shuffled = record.spec.shuffle
        && registry
            .read()
            .modules()
            .find(|m| m.id == module)
            .is_some_and(|m| m.kind == "map_reduce");
    ResetJob {
        brokers: registry.brokers(),
        name: &record.spec.name,
        inputs: &record.spec.input,
        module,
        progress_topic: record.spec.progress_topic(),
        repartition_topic: shuffled.then(|| record.spec.repartition_topic()),
    }
}

/// Moves a job's input partitions and starts its stages afresh there.
#[utoipa::path(post, path = "/v1/jobs/{name}/reset", tag = "jobs",
    params(("name" = String, Path)),
    request_body(content = ResetRequest),
    responses((status = 200, body = ResetView),
        (status = 400, description = "`invalid_reset`, `bad_body`", body = super::error::ErrorBody),
        (status = 404, description = "`job_not_found`", body = super::error::ErrorBody),
        (status = 409, description = "`job_running` (pause it, or ask to), `partial_reset` (a shuffled job moves every partition), `job_defined_in_config`", body = super::error::ErrorBody),
        (status = 503, description = "`brokers_unavailable`", body = super::error::ErrorBody),
        (status = 504, description = "`job_still_running`: paused, but runtimes did not stop in time", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn reset(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ResetView>> {
    state.auth.check(&headers)?;
    let body = read_body(body, MAX_SPEC, "reset request").await?;
    let request: ResetRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad_body",
            format!("a reset request is {{\"to\": \"earliest|latest|TIME|OFFSETS\", \"pause\": bool}}: {e}"),
        )
    })?;
    let to: ResetTo = request.to.parse().map_err(|e| invalid(&e))?;
    let (registry, board) = parts(&state)?;
    blocking(move || {
        let _writing = registry.lock();
        let mut record = api_record(&state, &registry, &name, in_config)?;
        if !record.paused && !request.pause {
            return Err(ApiError::conflict(
                "job_running",
                format!(
                    "job `{name}` is running: its runtimes would overwrite the checkpoints a reset \
                     writes. Pause it first (`weir job pause {name}`), or pass --pause (\"pause\": \
                     true) to pause it, reset it and resume it"
                ),
            ));
        }
        let module = record.module();
        let targets = {
            let job = reset_job(&registry, &record, &module);
            reset::targets(&job, &to).map_err(|e| invalid(&e))?
        };
        let pausing = !record.paused;
        if pausing {
            record.paused = true;
            record.updated_at = now();
            save(&registry, &record)?;
            tracing::info!(job = name, "job paused for a reset");
        }
        let groups = [config::map_group(&name), config::reduce_group(&name)];
        wait_stopped(&registry, &board, &name, &groups)?;
        let outcome = {
            let job = reset_job(&registry, &record, &module);
            reset::apply(&job, &targets).map_err(|e| {
                let mut err = invalid(&e);
                if pausing {
                    err.message
                        .push_str(&format!(" (the job stays paused: `weir job resume {name}`)"));
                }
                err
            })?
        };
        tracing::info!(job = name, partitions = outcome.partitions.len(), "job reset");
        if pausing {
            record.paused = false;
            record.resumes += 1;
            record.updated_at = now();
            save(&registry, &record)?;
        }
        Ok(Json(ResetView {
            job: api_view(&registry, &board, &record),
            reset: outcome,
            resumed: pausing,
        }))
    })
    .await
}
