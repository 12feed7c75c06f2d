//! `/v1/jobs`: create, list, inspect (with each runtime's status), update, pause, resume,
//! roll back and delete jobs.
//!
//! A job spec is the `[[job]]` table of a config file, as JSON, whose `module` names a module
//! of the registry (id, id prefix or name; it is stored resolved to the id). Every change of
//! the spec is a new revision; `rollback` returns to the revision before. The config file's
//! jobs are listed too, read-only.

use super::error::{ApiError, ApiResult};
use super::job_spec::{check_inputs, check_limits, decode_spec};
use super::modules::resolve;
use super::{ApiState, MAX_SPEC, blocking, read_body};
use crate::config::JobConfig;
use crate::registry::model::Key;
use crate::registry::spec_diff::{SpecChange, spec_changes};
use crate::registry::{JobRecord, Lineage, Registry, Revision, StatusBoard};
use crate::report::{RunState, RuntimeStatus};
use crate::units::rfc3339;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::SystemTime;
use utoipa::ToSchema;

/// Revisions kept for rollback.
pub(super) const HISTORY: usize = 10;
/// Revisions kept in a job's lineage.
const LINEAGE: usize = 50;

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// Its name.
    pub name: String,
    /// Its revision (0 for config-file jobs).
    pub revision: u64,
    /// `starting` (no runtime holds an input partition for the current revision yet),
    /// `running` (some runtime does), `failed` (the runtimes could not start it: see their
    /// errors; they retry) or `paused`.
    pub state: String,
    /// `api` (in the registry) or `config` (a runtime's config file).
    pub source: String,
    /// The spec (for API jobs, `module` is the module's id).
    #[schema(value_type = Object)]
    pub spec: serde_json::Value,
    /// The module.
    pub module: ModuleRef,
    /// Creation time (RFC 3339), for API jobs; absent for a config-file job, which has no
    /// creation time of its own (each runtime reads its file when it starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub created_at: Option<String>,
    /// Last change (RFC 3339), for API jobs; absent for a config-file job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub updated_at: Option<String>,
    /// Its revisions, oldest first, the current one last.
    pub history: Vec<RevisionView>,
    /// How the pool runs it now.
    pub status: JobStatusView,
}

/// A job's module.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModuleRef {
    /// Its id (sha256), or the file/bundled name of a config-file job.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
}

/// A revision of the job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevisionView {
    /// Its number.
    pub revision: u64,
    /// Its module id.
    pub module: String,
    /// When it became current.
    pub at: String,
    /// What it changed in the spec of the revision before, field by field (empty for the
    /// first revision).
    #[serde(default)]
    pub changes: Vec<SpecChange>,
    /// Whether its spec is kept, so `rollback` can return to it (`to_revision`).
    #[serde(default)]
    pub kept: bool,
}

/// A job's status across the pool.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct JobStatusView {
    /// Records of the job's input topics not yet committed (by its map stage), summed over
    /// their partitions: how far behind its input the job is, the figure a paused job shows
    /// too, and what KEDA scales on. Each stage's own lag (the reduce stage's is over the
    /// repartition topic) is in `runtimes[].stages[].lag`.
    pub lag: i64,
    /// Input partitions held (by the map stage), summed over runtimes.
    pub assigned_partitions: usize,
    /// When a window last fired anywhere.
    pub last_window_fired_at: Option<String>,
    /// Each runtime that runs the job, with its partitions, lag and recent errors.
    pub runtimes: Vec<RuntimeStatus>,
}

/// `GET /v1/jobs`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    /// Every job.
    pub jobs: Vec<JobView>,
}

/// The job's state from what the runtimes report for `(revision, resumes)` (statuses of an
/// earlier revision, or from before the latest resume, do not count): `running` once one of
/// them holds input partitions, `failed` when they report only failures, else `starting`.
fn run_state(status: &JobStatusView, (revision, resumes): (u64, u64)) -> &'static str {
    let current = || {
        status
            .runtimes
            .iter()
            .filter(|r| (r.revision, r.resumes) == (revision, resumes))
    };
    let holds_input = |r: &RuntimeStatus| {
        r.state == RunState::Running
            && r.stages
                .iter()
                .any(|s| s.stage == "map" && !s.assigned.is_empty())
    };
    if current().any(holds_input) {
        "running"
    } else if current().next().is_some() && current().all(|r| r.state == RunState::Failed) {
        "failed"
    } else {
        "starting"
    }
}

fn status_of(board: &StatusBoard, name: &str) -> JobStatusView {
    status_view(board.of(name))
}

/// A job's status from what its runtimes report: input lag and partitions are the map stage's
/// (a reduce stage's lag is over the repartition topic, whose watermark markers keep an idle
/// job's at a few records until the next commit cycle), the last window fired is any stage's.
fn status_view(runtimes: Vec<RuntimeStatus>) -> JobStatusView {
    let stages = runtimes.iter().flat_map(|r| r.stages.iter());
    let map = stages.clone().filter(|s| s.stage == "map");
    JobStatusView {
        lag: map.clone().map(|s| s.lag).sum(),
        assigned_partitions: map.map(|s| s.assigned.len()).sum(),
        last_window_fired_at: stages.filter_map(|s| s.last_window_fired_at.clone()).max(),
        runtimes,
    }
}

/// A paused job runs nowhere, so no runtime reports it: its lag is read from its map group's
/// committed offsets (what `resume` will start from) against the ends of its input topics.
fn paused_status(registry: &Registry, spec: &JobConfig) -> JobStatusView {
    match crate::kafka::group_lag(registry.brokers(), &spec.map_group(), &spec.input) {
        Ok(lag) => JobStatusView {
            lag,
            ..JobStatusView::default()
        },
        Err(err) => {
            tracing::debug!(job = spec.name, "lag of a paused job unknown: {err:#}");
            JobStatusView::default()
        }
    }
}

fn module_name(registry: &Registry, id: &str) -> Option<String> {
    registry
        .read()
        .modules()
        .find(|m| m.id == id)
        .and_then(|m| m.name.clone())
}

pub(super) fn api_view(registry: &Registry, board: &StatusBoard, record: &JobRecord) -> JobView {
    let module = record.module();
    let status = if record.paused {
        paused_status(registry, &record.spec)
    } else {
        status_of(board, &record.spec.name)
    };
    JobView {
        name: record.spec.name.clone(),
        revision: record.revision,
        state: if record.paused {
            "paused"
        } else {
            run_state(&status, (record.revision, record.resumes))
        }
        .into(),
        source: "api".into(),
        spec: serde_json::to_value(&record.spec).unwrap_or_default(),
        module: ModuleRef {
            name: module_name(registry, &module),
            id: module,
        },
        created_at: Some(record.created_at.clone()),
        updated_at: Some(record.updated_at.clone()),
        history: record
            .lineage
            .iter()
            .map(|r| RevisionView {
                revision: r.revision,
                module: r.module.clone(),
                at: r.at.clone(),
                changes: r.changes.clone(),
                kept: record.history.iter().any(|h| h.revision == r.revision),
            })
            .collect(),
        status,
    }
}

fn file_view(board: &StatusBoard, spec: &JobConfig) -> JobView {
    let status = status_of(board, &spec.name);
    JobView {
        name: spec.name.clone(),
        revision: 0,
        state: run_state(&status, (0, 0)).into(),
        source: "config".into(),
        spec: serde_json::to_value(spec).unwrap_or_default(),
        module: ModuleRef {
            id: spec.module.display().to_string(),
            name: None,
        },
        created_at: None,
        updated_at: None,
        history: Vec::new(),
        status,
    }
}

pub(super) fn job_not_found(name: &str) -> ApiError {
    ApiError::not_found(
        "job_not_found",
        format!("no job is named `{name}`; `weir job list` shows them"),
    )
}

pub(super) fn in_config(name: &str) -> ApiError {
    ApiError::conflict(
        "job_defined_in_config",
        format!("job `{name}` comes from a runtime's config file; change it there, or pick another name"),
    )
}

/// A copy of the registry's record of the API job `name`, to change (call it with the
/// registry's write lock held): refused with `config_job(name)` for a job of a runtime's config
/// file, and with `job_not_found` when there is none.
pub(super) fn api_record(
    state: &ApiState,
    registry: &Registry,
    name: &str,
    config_job: impl FnOnce(&str) -> ApiError,
) -> ApiResult<JobRecord> {
    if state.file_jobs.iter().any(|j| j.name == name) {
        return Err(config_job(name));
    }
    registry
        .read()
        .job(name)
        .cloned()
        .ok_or_else(|| job_not_found(name))
}

/// Parses and checks a spec; resolves its module to an id.
fn parse_spec(state: &ApiState, registry: &Registry, body: &[u8]) -> ApiResult<JobConfig> {
    let mut spec = decode_spec(body)?;
    spec.validate()
        .map_err(|e| ApiError::bad_request("invalid_job", format!("{e:#}")))?;
    check_limits(&spec.limits, &state.max_limits)?;
    let reference = spec.module.display().to_string();
    let (id, kind) = {
        let state = registry.read();
        let meta = resolve(&state, &reference)?;
        (meta.id.clone(), meta.kind.clone())
    };
    if kind == "map_reduce" && spec.window.is_none() {
        return Err(ApiError::bad_request(
            "invalid_job",
            format!(
                "module `{reference}` is a map/reduce module: a job running it needs a window \
                 (`window`: tumbling:10s, hopping:10s,5s or session:30s); only a transform may \
                 leave it out"
            ),
        ));
    }
    spec.module = id.into();
    check_inputs(&state.services()?.admin, &spec.input)?;
    Ok(spec)
}

pub(super) fn now() -> String {
    rfc3339(SystemTime::now())
}

pub(super) fn save(registry: &Registry, record: &JobRecord) -> ApiResult<()> {
    let value = serde_json::to_vec(record).map_err(|e| ApiError::unavailable(&e.into()))?;
    registry
        .write(vec![(Key::Job(&record.spec.name).encode(), Some(value))])
        .map_err(|e| ApiError::unavailable(&e))
}

/// The registry and the board, cloned for a blocking thread.
pub(super) fn parts(state: &ApiState) -> ApiResult<(Arc<Registry>, Arc<StatusBoard>)> {
    let services = state.services()?;
    Ok((Arc::clone(&services.registry), Arc::clone(&services.board)))
}

/// Creates a job; it starts on every runtime of the pool.
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs",
    request_body(content = Object, description = "a job spec: name, module, input, output, window (optional for a transform module), and optional out_of_orderness, lateness, idle_timeout, time, shuffle, reduce_partitions, batch_size, commit_interval, dead_letters, limits"),
    responses(
        (status = 201, body = JobView),
        (status = 400, description = "`invalid_job`, `limits_exceeded`", body = super::error::ErrorBody),
        (status = 404, description = "`module_not_found`, `topic_not_found` (an input topic)", body = super::error::ErrorBody),
        (status = 409, description = "`job_exists`, `job_defined_in_config`", body = super::error::ErrorBody),
        (status = 503, description = "`registry_unavailable`, `brokers_unavailable`", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    state.auth.check(&headers)?;
    let body = read_body(body, MAX_SPEC, "job spec").await?;
    let (registry, board) = parts(&state)?;
    blocking(move || {
        let _writing = registry.lock();
        let spec = parse_spec(&state, &registry, &body)?;
        if state.file_jobs.iter().any(|j| j.name == spec.name) {
            return Err(in_config(&spec.name));
        }
        if registry.read().job(&spec.name).is_some() {
            return Err(ApiError::conflict(
                "job_exists",
                format!(
                    "job `{}` exists; update it with PUT /v1/jobs/{} (weir job update)",
                    spec.name, spec.name
                ),
            ));
        }
        let mut record = JobRecord {
            spec,
            revision: 1,
            paused: false,
            resumes: 0,
            created_at: now(),
            updated_at: now(),
            history: Vec::new(),
            lineage: Vec::new(),
            replayed_dead_letters: Default::default(),
        };
        record_lineage(&mut record, None);
        save(&registry, &record)?;
        tracing::info!(job = record.spec.name, module = record.module(), "job created");
        Ok((StatusCode::CREATED, Json(api_view(&registry, &board, &record))))
    })
    .await
}

/// Lists jobs (the registry's and the config file's).
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", responses((status = 200, body = JobList)))]
pub async fn list(State(state): State<Arc<ApiState>>) -> ApiResult<Json<JobList>> {
    let (registry, board) = parts(&state)?;
    blocking(move || {
        let records: Vec<JobRecord> = registry.read().jobs().cloned().collect();
        let mut jobs: Vec<JobView> = state.file_jobs.iter().map(|j| file_view(&board, j)).collect();
        jobs.extend(records.iter().map(|r| api_view(&registry, &board, r)));
        jobs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Json(JobList { jobs }))
    })
    .await
}

/// Shows a job and how each runtime runs it.
#[utoipa::path(get, path = "/v1/jobs/{name}", tag = "jobs",
    params(("name" = String, Path)),
    responses((status = 200, body = JobView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> ApiResult<Json<JobView>> {
    let (registry, board) = parts(&state)?;
    blocking(move || {
        if let Some(spec) = state.file_jobs.iter().find(|j| j.name == name) {
            return Ok(Json(file_view(&board, spec)));
        }
        let record = registry
            .read()
            .job(&name)
            .cloned()
            .ok_or_else(|| job_not_found(&name))?;
        Ok(Json(api_view(&registry, &board, &record)))
    })
    .await
}

/// Changes a job under `name`, as `change` says, and saves it.
pub(super) async fn change(
    state: Arc<ApiState>,
    headers: HeaderMap,
    name: String,
    change: impl FnOnce(&ApiState, &Registry, &mut JobRecord) -> ApiResult<bool> + Send + 'static,
) -> ApiResult<Json<JobView>> {
    state.auth.check(&headers)?;
    let (registry, board) = parts(&state)?;
    blocking(move || {
        let _writing = registry.lock();
        let mut record = api_record(&state, &registry, &name, in_config)?;
        if change(&state, &registry, &mut record)? {
            record.updated_at = now();
            save(&registry, &record)?;
        }
        Ok(Json(api_view(&registry, &board, &record)))
    })
    .await
}

/// Makes `spec` the job's next revision, keeping the current one for rollback.
pub(super) fn next_revision(record: &mut JobRecord, spec: JobConfig) {
    let previous = std::mem::replace(&mut record.spec, spec);
    record.revision += 1;
    record_lineage(record, Some(&previous));
    record.history.push(Revision {
        revision: record.revision - 1,
        spec: previous,
        at: now(),
    });
    if record.history.len() > HISTORY {
        record.history.remove(0);
    }
}

/// Notes the current revision in the job's lineage, with what it changed from `previous`.
pub(super) fn record_lineage(record: &mut JobRecord, previous: Option<&JobConfig>) {
    record.lineage.push(Lineage {
        revision: record.revision,
        module: record.module(),
        at: now(),
        changes: previous.map_or_else(Vec::new, |p| spec_changes(p, &record.spec)),
    });
    if record.lineage.len() > LINEAGE {
        record.lineage.remove(0);
    }
}

/// Updates a job's spec: a new revision. Each runtime stops the old revision at its next
/// commit and starts the new one from the committed offsets (a window boundary).
#[utoipa::path(put, path = "/v1/jobs/{name}", tag = "jobs",
    params(("name" = String, Path)),
    request_body(content = Object, description = "the whole new job spec"),
    responses((status = 200, body = JobView), (status = 400, body = super::error::ErrorBody),
        (status = 404, description = "`job_not_found`, `module_not_found`, `topic_not_found` (an input topic)", body = super::error::ErrorBody),
        (status = 409, description = "`incompatible_update`, `job_defined_in_config`", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<JobView>> {
    let body = read_body(body, MAX_SPEC, "job spec").await?;
    change(state, headers, name.clone(), move |state, registry, record| {
        let spec = parse_spec(state, registry, &body)?;
        if spec.name != name {
            return Err(ApiError::bad_request(
                "invalid_job",
                format!(
                    "the spec names job `{}`, but the URL names `{name}`; a job cannot be renamed",
                    spec.name
                ),
            ));
        }
        let incompatible = record.spec.incompatible_changes(&spec);
        if !incompatible.is_empty() {
            return Err(ApiError::conflict(
                "incompatible_update",
                format!(
                    "job `{name}` cannot change {} in place: its checkpoints record which windows \
                     have fired under the old settings, and resuming from them would fire some \
                     windows again with part of their records. Create the job under a new name \
                     (it starts from the input topics' beginning, with fresh state), then delete \
                     this one; the module, limits, batch size, commit interval, idle timeout and \
                     output can be updated in place",
                    incompatible.join(", ")
                ),
            ));
        }
        let unchanged = serde_json::to_value(&spec).ok() == serde_json::to_value(&record.spec).ok();
        if unchanged {
            return Ok(false);
        }
        tracing::info!(job = name, from = record.module(), to = %spec.module.display(), "job updated");
        next_revision(record, spec);
        Ok(true)
    })
    .await
}

/// Pauses a job: every runtime commits and leaves its groups; lag grows until `resume`.
#[utoipa::path(post, path = "/v1/jobs/{name}/pause", tag = "jobs", params(("name" = String, Path)),
    responses((status = 200, body = JobView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn pause(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<JobView>> {
    change(state, headers, name, |_, _, record| {
        Ok(!std::mem::replace(&mut record.paused, true))
    })
    .await
}

/// Resumes a paused job from its committed offsets.
#[utoipa::path(post, path = "/v1/jobs/{name}/resume", tag = "jobs", params(("name" = String, Path)),
    responses((status = 200, body = JobView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn resume(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<JobView>> {
    change(state, headers, name, |_, _, record| {
        let was_paused = std::mem::replace(&mut record.paused, false);
        if was_paused {
            record.resumes += 1;
        }
        Ok(was_paused)
    })
    .await
}

/// Deletes a job: every runtime stops it. Its topics and committed offsets stay.
#[utoipa::path(delete, path = "/v1/jobs/{name}", tag = "jobs", params(("name" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "`job_defined_in_config`", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    state.auth.check(&headers)?;
    let (registry, _) = parts(&state)?;
    blocking(move || {
        let _writing = registry.lock();
        if state.file_jobs.iter().any(|j| j.name == name) {
            return Err(in_config(&name));
        }
        if registry.read().job(&name).is_none() {
            return Err(job_not_found(&name));
        }
        registry
            .write(vec![(Key::Job(&name).encode(), None)])
            .map_err(|e| ApiError::unavailable(&e))?;
        tracing::info!(job = name, "job deleted");
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(revision: u64, state: RunState, assigned: &[&str]) -> RuntimeStatus {
        RuntimeStatus {
            runtime: "h/1".into(),
            job: "wc".into(),
            revision,
            resumes: 1,
            module: "abc".into(),
            state,
            stages: vec![crate::report::StageStatus {
                stage: "map".into(),
                assigned: assigned.iter().map(|s| s.to_string()).collect(),
                lag: 0,
                records_in: 0,
                records_out: 0,
                dead_letters: 0,
                last_window_fired_at: None,
                watermark: None,
                open_windows: 0,
            }],
            errors: Vec::new(),
            updated_at: rfc3339(SystemTime::now()),
            version: String::new(),
        }
    }

    #[test]
    fn the_job_lag_is_its_input_lag_and_each_stage_keeps_its_own() {
        let with_stages = |name: &str, map_lag: i64, reduce_lag: i64| {
            let mut status = runtime(2, RunState::Running, &["in/0"]);
            status.runtime = name.into();
            status.stages[0].lag = map_lag;
            let mut reduce = status.stages[0].clone();
            reduce.stage = "reduce".into();
            reduce.assigned = vec!["weir.wc.repartition/0".into()];
            reduce.lag = reduce_lag;
            status.stages.push(reduce);
            status
        };
        let view = status_view(vec![with_stages("h/1", 5, 9), with_stages("h/2", 7, 3)]);
        assert_eq!(
            view.lag, 12,
            "the map stages' lag over the input topics, not the markers"
        );
        assert_eq!(view.assigned_partitions, 2);
        let stage_lags: Vec<i64> = view
            .runtimes
            .iter()
            .flat_map(|r| r.stages.iter().map(|s| s.lag))
            .collect();
        assert_eq!(stage_lags, [5, 9, 7, 3]);
    }

    #[test]
    fn a_job_is_starting_until_a_runtime_of_its_revision_holds_input() {
        let state = |runtimes: Vec<RuntimeStatus>| {
            run_state(
                &JobStatusView {
                    runtimes,
                    ..JobStatusView::default()
                },
                (2, 1),
            )
        };
        assert_eq!(state(vec![]), "starting", "no runtime has reported it yet");
        assert_eq!(state(vec![runtime(2, RunState::Starting, &[])]), "starting");
        assert_eq!(
            state(vec![runtime(2, RunState::Running, &[])]),
            "starting",
            "in its group, nothing assigned yet"
        );
        assert_eq!(
            state(vec![runtime(1, RunState::Running, &["in/0"])]),
            "starting",
            "only the previous revision holds partitions"
        );
        assert_eq!(
            state(vec![
                runtime(2, RunState::Running, &["in/0"]),
                runtime(2, RunState::Starting, &[])
            ]),
            "running"
        );
        assert_eq!(state(vec![runtime(2, RunState::Failed, &[])]), "failed");
        let before_the_resume = RuntimeStatus {
            resumes: 0,
            ..runtime(2, RunState::Running, &["in/0"])
        };
        assert_eq!(
            state(vec![before_the_resume]),
            "starting",
            "a status from before the pause is not the resumed job's"
        );
    }
}
