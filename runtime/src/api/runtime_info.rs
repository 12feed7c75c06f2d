//! `GET /v1/runtime`: the runtime that answers, as the console's Runtimes page shows it (its
//! name in job statuses, its version, whether it is ready, whether mutations need a token).

use super::ApiState;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use utoipa::ToSchema;

/// The runtime that serves this API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RuntimeInfo {
    /// Its name in job statuses (`host/pid`).
    pub runtime: String,
    /// The Weir version it runs.
    pub version: String,
    /// Whether it has reached the brokers and read the registry.
    pub registry: bool,
    /// Whether it is ready (as `/readyz`).
    pub ready: bool,
    /// Whether mutating endpoints need a bearer token here.
    pub token_required: bool,
}

/// Describes the runtime that answers.
#[utoipa::path(get, path = "/v1/runtime", tag = "operations",
    responses((status = 200, body = RuntimeInfo)))]
pub async fn info(State(state): State<Arc<ApiState>>) -> Json<RuntimeInfo> {
    Json(RuntimeInfo {
        runtime: crate::server::runtime_id(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        registry: state.services.get().is_some(),
        ready: state.ready.load(Ordering::Relaxed),
        token_required: state.auth.required(),
    })
}
