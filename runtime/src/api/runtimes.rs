//! `GET /v1/runtimes`: every runtime of the pool, from the heartbeats they publish on the status
//! topic ([`crate::registry::heartbeat`]), whether or not they run a job: each with its host,
//! version, start time, API address, the jobs and partitions it holds, when it was last heard
//! from, and its state (`ready`, `unready`, `stopping`, `stopped`, `missing`).
//!
//! `GET /v1/runtime` describes only the runtime that answers; this lists the pool as that
//! runtime has read it. A runtime silent for longer than
//! [`FORGET_AFTER`](crate::registry::heartbeat::FORGET_AFTER) is left out.

use super::ApiState;
use super::error::ApiResult;
use crate::registry::heartbeat::{Heartbeat, HeldJob, RuntimeState};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::SystemTime;
use utoipa::ToSchema;

/// A runtime of the pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuntimeView {
    /// Its name in job statuses (`host/pid`).
    pub runtime: String,
    /// `ready`, `unready` (reading the registry, or a job joining its groups), `stopping`
    /// (after a signal, its jobs committing), `stopped` (cleanly), or `missing` (silent for
    /// three of its heartbeat intervals without having said it stops: killed, hung or cut off).
    pub state: RuntimeState,
    /// Whether it is the runtime that answers this request.
    pub this: bool,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// The Weir version it runs.
    pub version: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// The URL of its HTTP API, when it serves one.
    pub api: Option<String>,
    /// When its latest heartbeat was sent (RFC 3339, ms).
    pub last_seen: String,
    /// The jobs it runs, with the partitions each stage holds (as of `last_seen`).
    pub jobs: Vec<HeldJob>,
}

/// `GET /v1/runtimes`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RuntimeList {
    /// Every runtime heard from lately, by name.
    pub runtimes: Vec<RuntimeView>,
}

/// The runtimes of `heartbeats` as the pool sees them at `now`, by name; `this` names the
/// runtime that answers. Runtimes to be forgotten are left out.
pub fn views(heartbeats: Vec<Heartbeat>, now: SystemTime, this: &str) -> Vec<RuntimeView> {
    let mut views: Vec<RuntimeView> = heartbeats
        .into_iter()
        .filter_map(|beat| {
            let state = beat.state(now)?;
            Some(RuntimeView {
                this: beat.runtime == this,
                runtime: beat.runtime,
                state,
                host: beat.host,
                pid: beat.pid,
                version: beat.version,
                started_at: beat.started_at,
                api: beat.api,
                last_seen: beat.at,
                jobs: beat.jobs,
            })
        })
        .collect();
    views.sort_by(|a, b| a.runtime.cmp(&b.runtime));
    views
}

/// Lists the runtimes of the pool.
#[utoipa::path(get, path = "/v1/runtimes", tag = "operations",
    responses(
        (status = 200, description = "every runtime heard from in the last 10 minutes, by name", body = RuntimeList),
        (status = 503, description = "this runtime has not reached the brokers yet (`registry_unavailable`)", body = super::error::ErrorBody),
    ))]
pub async fn list(State(state): State<Arc<ApiState>>) -> ApiResult<Json<RuntimeList>> {
    let board = &state.services()?.board;
    Ok(Json(RuntimeList {
        runtimes: views(
            board.heartbeats(),
            SystemTime::now(),
            &crate::server::runtime_id(),
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::heartbeat::{INTERVAL, Lifecycle, MISSING_AFTER, RuntimeIdentity};
    use std::time::Duration;

    fn beat(runtime: &str, lifecycle: Lifecycle, age: Duration, now: SystemTime) -> Heartbeat {
        let identity = RuntimeIdentity {
            runtime: runtime.into(),
            host: "h".into(),
            pid: 1,
            version: "0.1.0".into(),
            started_at: "2026-11-27T18:00:00Z".into(),
            api: None,
        };
        let mut beat = Heartbeat::new(&identity, lifecycle, true, Vec::new());
        beat.at = humantime::format_rfc3339_millis(now - age).to_string();
        beat
    }

    #[test]
    fn runtimes_are_listed_by_name_with_their_state_and_the_long_gone_left_out() {
        let now = SystemTime::now();
        let silent = INTERVAL * (MISSING_AFTER + 1);
        let heartbeats = vec![
            beat("h/3", Lifecycle::Running, Duration::ZERO, now),
            beat("h/1", Lifecycle::Running, silent, now),
            beat("h/2", Lifecycle::Stopped, silent, now),
            beat("h/0", Lifecycle::Running, Duration::from_secs(3600), now),
        ];
        let listed = views(heartbeats, now, "h/3");
        let seen: Vec<(&str, RuntimeState, bool)> = listed
            .iter()
            .map(|v| (v.runtime.as_str(), v.state, v.this))
            .collect();
        assert_eq!(
            seen,
            [
                ("h/1", RuntimeState::Missing, false),
                ("h/2", RuntimeState::Stopped, false),
                ("h/3", RuntimeState::Ready, true),
            ]
        );
        let json = serde_json::to_value(&listed[2]).expect("serializes");
        assert_eq!(
            (json["state"].as_str(), json["this"].as_bool()),
            (Some("ready"), Some(true))
        );
        assert!(json["last_seen"].is_string() && json["jobs"].is_array(), "{json}");
    }
}
