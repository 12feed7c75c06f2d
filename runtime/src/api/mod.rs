//! The HTTP API every runtime serves (axum): modules, jobs, metrics and probes.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/modules?name=N` | upload a component (validated against the Weir world first) |
//! | `GET /v1/modules`, `GET/DELETE /v1/modules/{ref}` | list, inspect, delete (refused while used) |
//! | `POST /v1/jobs`, `GET /v1/jobs` | create, list |
//! | `GET/PUT/DELETE /v1/jobs/{name}` | status, update (a new revision), delete |
//! | `POST /v1/jobs/{name}/pause`, `/resume`, `/rollback` | pause, resume, back to the previous (or a kept) revision |
//! | `POST /v1/jobs/{name}/reset` | move the input partitions (earliest, latest, a time, offsets), stages afresh |
//! | `GET /v1/jobs/{name}/logs` | the job's guest log lines, from every runtime |
//! | `GET /v1/jobs/{name}/dead-letters`, `POST .../dead-letters/replay` | recent dead letters; replay them into the input |
//! | `GET /v1/runtime` | the runtime that answers: name, version, readiness, whether a token is needed |
//! | `GET /v1/runtimes` | every runtime of the pool, from their heartbeats: state, version, jobs and partitions |
//! | `GET /v1/openapi.json` | the OpenAPI document of all of this |
//! | `GET /`, `GET /console/{file}` | the web console ([`console`]), embedded in the binary |
//! | `GET /metrics`, `/healthz`, `/readyz` | Prometheus metrics, liveness, readiness |
//!
//! Mutating endpoints need the bearer token ([`auth`]); errors are JSON with a stable code
//! ([`error`]). Handlers that touch Kafka or compile a module run on blocking threads.

pub mod auth;
pub mod console;
pub mod dead_letters;
pub mod error;
mod health;
pub mod job_spec;
pub mod jobs;
pub mod logs;
pub mod modules;
pub mod openapi;
pub mod reset;
pub mod rollback;
pub mod runtime_info;
pub mod runtimes;

use crate::config::{JobConfig, LimitsConfig};
use crate::engine::Engine;
use crate::kafka::admin::Admin;
use crate::registry::{Registry, StatusBoard};
use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use error::{ApiError, ApiResult};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The largest job spec accepted.
const MAX_SPEC: usize = 1 << 20;
/// How long a request may take (a large upload over a slow link, then its compilation).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// The registry and the status board, once Kafka has been reached.
pub struct Services {
    /// Modules and jobs.
    pub registry: Arc<Registry>,
    /// How each runtime runs each job.
    pub board: Arc<StatusBoard>,
    /// Checks that a job's input topics exist. Kept, not made per request: dropping an admin
    /// client takes up to 100 ms (its polling thread's wait, then librdkafka's own shutdown),
    /// and that was most of `POST /v1/jobs`'s time.
    pub admin: Admin,
}

/// What the handlers share.
pub struct ApiState {
    /// Set once the registry is open; until then the API answers 503.
    pub services: OnceLock<Services>,
    /// The engine that validates uploads.
    pub engine: Arc<Engine>,
    /// The token check.
    pub auth: auth::Auth,
    /// The largest module accepted, in bytes.
    pub max_upload: usize,
    /// The most a job may ask for.
    pub max_limits: LimitsConfig,
    /// The config file's jobs (read-only over the API).
    pub file_jobs: Vec<JobConfig>,
    /// Whether the runtime is ready (the supervisor keeps it).
    pub ready: Arc<AtomicBool>,
}

impl ApiState {
    /// The registry and status board, or 503.
    pub fn services(&self) -> ApiResult<&Services> {
        self.services.get().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "registry_unavailable",
                "this runtime has not reached the Kafka brokers yet; retry in a few seconds",
            )
        })
    }
}

/// The API's routes.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/v1/modules", post(modules::upload).get(modules::list))
        .route(
            "/v1/modules/{reference}",
            get(modules::inspect).delete(modules::remove),
        )
        .route("/v1/jobs", post(jobs::create).get(jobs::list))
        .route(
            "/v1/jobs/{name}",
            get(jobs::get).put(jobs::update).delete(jobs::remove),
        )
        .route("/v1/jobs/{name}/pause", post(jobs::pause))
        .route("/v1/jobs/{name}/resume", post(jobs::resume))
        .route("/v1/jobs/{name}/rollback", post(rollback::rollback))
        .route("/v1/jobs/{name}/reset", post(reset::reset))
        .route("/v1/jobs/{name}/logs", get(logs::logs))
        .route("/v1/jobs/{name}/dead-letters", get(dead_letters::list))
        .route("/v1/jobs/{name}/dead-letters/replay", post(dead_letters::replay))
        .route("/v1/runtime", get(runtime_info::info))
        .route("/v1/runtimes", get(runtimes::list))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/", get(console::index))
        .route("/console/{file}", get(console::asset))
        .route("/metrics", get(health::metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(not_found)
        // Bodies are read by `read_body` with their own limits.
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found(
        "no_such_route",
        "no such endpoint; GET /v1/openapi.json lists them all",
    )
}

/// Reads a request body of at most `limit` bytes; a larger one is refused with 413.
pub async fn read_body(body: Body, limit: usize, what: &str) -> ApiResult<axum::body::Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        let too_large =
            std::error::Error::source(&err).is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the {what} is larger than this server accepts ({}); see --max-upload",
                    crate::units::format_bytes(u64::try_from(limit).unwrap_or(u64::MAX))
                ),
            )
        } else {
            ApiError::bad_request("bad_body", format!("cannot read the request body: {err}"))
        }
    })
}

/// Runs `f` on a blocking thread (registry writes, compilation).
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|err| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the request's worker failed: {err}"),
        )
    })?
}
