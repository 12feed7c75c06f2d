//! What one runtime reports about a job it runs: the records of the pool's status topic
//! (taken by [`crate::job::status::JobStatus::snapshot`], gathered by
//! [`crate::registry::board`]), which the API serves as they are in a job's `runtimes` (so its
//! OpenAPI schemas are derived here, on the wire types, not in the job layer).
//!
//! Fields added later have `#[serde(default)]`: a runtime reads statuses that older runtimes of
//! the pool wrote.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The state of a job on one runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Preparing: loading the module, creating topics, joining the groups (until every stage
    /// has its first assignment).
    Starting,
    /// Consuming: every stage is in its group.
    Running,
    /// Could not start; retried every few seconds (see `errors`).
    Failed,
    /// Paused by a user: the runtime left the job's groups.
    Paused,
}

/// One stage of a job on one runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StageStatus {
    /// `map` or `reduce`.
    pub stage: String,
    /// Partitions held, as `topic/partition`.
    pub assigned: Vec<String>,
    /// Records between the committed offsets and the ends of the held partitions.
    pub lag: i64,
    /// Records consumed since this runtime started the job.
    pub records_in: u64,
    /// Records written (output, or partials to the shuffle) since this runtime started the job.
    #[serde(default)]
    pub records_out: u64,
    /// Records set aside to the dead letters since this runtime started the job.
    #[serde(default)]
    pub dead_letters: u64,
    /// When a window last fired here (RFC 3339).
    pub last_window_fired_at: Option<String>,
    /// The stage's event-time watermark here: the smallest over the partitions it holds that
    /// have one (RFC 3339, ms); absent before the first record, or for a transform.
    #[serde(default)]
    pub watermark: Option<String>,
    /// Windows holding state here at the last commit.
    #[serde(default)]
    pub open_windows: usize,
}

/// An error a runtime met while running a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusError {
    /// When (RFC 3339).
    pub at: String,
    /// What happened.
    pub message: String,
}

/// A job as one runtime runs it: what the status topic carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuntimeStatus {
    /// The runtime (`host/pid`).
    pub runtime: String,
    /// The job.
    pub job: String,
    /// The job revision this runtime runs.
    pub revision: u64,
    /// How many times the job had been resumed when this runtime started it (statuses from
    /// before a pause and resume are told apart by it).
    #[serde(default)]
    pub resumes: u64,
    /// The module's id (sha256).
    pub module: String,
    /// Its state here.
    pub state: RunState,
    /// Its stages here.
    pub stages: Vec<StageStatus>,
    /// Recent errors, newest last.
    pub errors: Vec<StatusError>,
    /// When this status was taken (RFC 3339).
    pub updated_at: String,
    /// The Weir version the runtime runs.
    #[serde(default)]
    pub version: String,
}
