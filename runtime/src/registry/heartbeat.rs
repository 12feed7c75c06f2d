//! [`Heartbeat`]: what a runtime says about itself on the status topic, so that every runtime of
//! the pool is known, whether or not it runs a job (`GET /v1/runtimes`, `weir runtime list`,
//! the console's Runtimes page). Job statuses say how a runtime runs a job; a heartbeat says
//! that the runtime is there at all.
//!
//! A runtime publishes one as soon as it has opened the status topic, every [`INTERVAL`] after,
//! at once when its readiness or the jobs and partitions it holds change, when it begins to stop
//! (`stopping`), and a last one once its jobs have stopped and left their groups (`stopped`).
//! Records are keyed `runtime:{host/pid}` ([`key`]): a job name cannot hold a `:`, so these keys
//! never meet the job statuses' `{job}/{runtime}`, and a runtime of an earlier version skips
//! them as statuses it cannot decode.
//!
//! A runtime killed without warning cannot say so: readers judge each heartbeat by its age, on
//! their own clock against the sender's (the pool's clocks are assumed synchronised, as for job
//! statuses). Silent for [`MISSING_AFTER`] beats of its own interval, a runtime is `missing`;
//! after [`FORGET_AFTER`] it is left out altogether, and any runtime then deletes its key
//! ([`crate::registry::StatusBoard::sweep`]) so that compaction forgets it. This file owns the
//! record and those rules; the status board carries the records, the supervisor sends them.

use crate::report::{RunState, RuntimeStatus};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};
use utoipa::ToSchema;

/// How often a runtime publishes its heartbeat (as its job statuses).
pub const INTERVAL: Duration = super::board::INTERVAL;
/// How many of its intervals a runtime may stay silent before it is `missing`.
pub const MISSING_AFTER: u32 = 3;
/// How long after its last heartbeat a runtime is left out of the list (and its key deleted).
pub const FORGET_AFTER: Duration = Duration::from_secs(10 * 60);
/// The prefix of heartbeat keys on the status topic.
const KEY_PREFIX: &str = "runtime:";

/// The status topic's key of `runtime`'s heartbeat.
pub fn key(runtime: &str) -> String {
    format!("{KEY_PREFIX}{runtime}")
}

/// The runtime a status-topic key is the heartbeat of; `None` for a job status's key.
pub fn runtime_of(key: &str) -> Option<&str> {
    key.strip_prefix(KEY_PREFIX)
}

/// Where a runtime is in its life, as it says itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Serving, running its jobs.
    Running,
    /// Told to stop (SIGTERM, SIGINT): its jobs are committing and leaving their groups.
    Stopping,
    /// Stopped cleanly: its last heartbeat.
    Stopped,
}

/// What the pool makes of a runtime, from its latest heartbeat and that heartbeat's age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeState {
    /// Heard from lately; the registry is read and every job it runs has joined its groups.
    Ready,
    /// Heard from lately, but not ready: reading the registry, or a job joining its groups.
    Unready,
    /// Stopping after a signal: its jobs are committing and leaving their groups.
    Stopping,
    /// Stopped cleanly (its last heartbeat said so).
    Stopped,
    /// Silent for [`MISSING_AFTER`] of its heartbeat intervals without having said it stops:
    /// killed, hung, or cut off from the brokers.
    Missing,
}

/// The identity of the runtime this process is: what every heartbeat repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeIdentity {
    /// Its name in job statuses: `host/pid`.
    pub runtime: String,
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
}

/// One stage of a job on a runtime, as its heartbeat lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeldStage {
    /// `map` or `reduce`.
    pub stage: String,
    /// The partitions it holds, as `topic/partition`.
    pub assigned: Vec<String>,
}

/// A job a runtime runs, as its heartbeat lists it (the job's status has the figures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeldJob {
    /// The job.
    pub job: String,
    /// The revision it runs.
    pub revision: u64,
    /// The job's state on this runtime.
    pub state: RunState,
    /// Its stages with the partitions they hold (none before the stages start).
    pub stages: Vec<HeldStage>,
    /// How many recent errors the job's status on this runtime holds.
    pub errors: usize,
}

impl HeldJob {
    /// The part of a job's status a heartbeat repeats.
    pub fn of(status: &RuntimeStatus) -> Self {
        HeldJob {
            job: status.job.clone(),
            revision: status.revision,
            state: status.state,
            stages: status
                .stages
                .iter()
                .map(|s| HeldStage {
                    stage: s.stage.clone(),
                    assigned: s.assigned.clone(),
                })
                .collect(),
            errors: status.errors.len(),
        }
    }
}

/// A runtime's heartbeat: the record on the status topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Heartbeat {
    /// The runtime (`host/pid`).
    pub runtime: String,
    /// Its host.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// The Weir version it runs.
    pub version: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// The URL of its HTTP API, if it serves one (for an API on every interface, the host name
    /// stands for the address).
    #[serde(default)]
    pub api: Option<String>,
    /// Whether it is ready (as its `/readyz`).
    pub ready: bool,
    /// Running, stopping or stopped.
    pub lifecycle: Lifecycle,
    /// The jobs it runs, with the partitions each stage holds.
    #[serde(default)]
    pub jobs: Vec<HeldJob>,
    /// How often it publishes its heartbeat, in ms (readers judge its silence by it).
    pub interval_ms: u64,
    /// When it published this one (RFC 3339, ms).
    pub at: String,
}

impl Heartbeat {
    /// The heartbeat `identity` publishes now.
    pub fn new(identity: &RuntimeIdentity, lifecycle: Lifecycle, ready: bool, jobs: Vec<HeldJob>) -> Self {
        Heartbeat {
            runtime: identity.runtime.clone(),
            host: identity.host.clone(),
            pid: identity.pid,
            version: identity.version.clone(),
            started_at: identity.started_at.clone(),
            api: identity.api.clone(),
            ready: ready && lifecycle == Lifecycle::Running,
            lifecycle,
            jobs,
            interval_ms: u64::try_from(INTERVAL.as_millis()).unwrap_or(u64::MAX),
            at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        }
    }

    /// How old the heartbeat is at `now`: zero for one from the future (a sender's clock
    /// ahead of ours), `None` when its time does not parse.
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        let at = humantime::parse_rfc3339_weak(&self.at).ok()?;
        Some(now.duration_since(at).unwrap_or(Duration::ZERO))
    }

    /// What the pool makes of the runtime at `now`; `None` once it is to be forgotten (silent
    /// for [`FORGET_AFTER`], or a time that does not parse).
    pub fn state(&self, now: SystemTime) -> Option<RuntimeState> {
        let age = self.age(now)?;
        if age > FORGET_AFTER {
            return None;
        }
        let interval = Duration::from_millis(self.interval_ms.max(1)).min(FORGET_AFTER);
        Some(match self.lifecycle {
            Lifecycle::Stopped => RuntimeState::Stopped,
            _ if age > interval * MISSING_AFTER => RuntimeState::Missing,
            Lifecycle::Stopping => RuntimeState::Stopping,
            Lifecycle::Running if self.ready => RuntimeState::Ready,
            Lifecycle::Running => RuntimeState::Unready,
        })
    }

    /// What may change between two beats without waiting for the interval: readiness, the
    /// lifecycle, and the jobs with the partitions they hold.
    pub fn shape(&self) -> (bool, Lifecycle, Vec<HeldJob>) {
        (self.ready, self.lifecycle, self.jobs.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> RuntimeIdentity {
        RuntimeIdentity {
            runtime: "host-a/42".into(),
            host: "host-a".into(),
            pid: 42,
            version: "0.1.0".into(),
            started_at: "2026-11-27T18:00:00Z".into(),
            api: Some("http://127.0.0.1:8080".into()),
        }
    }

    fn at(beat: &Heartbeat, age: Duration) -> SystemTime {
        humantime::parse_rfc3339_weak(&beat.at).expect("a time we wrote") + age
    }

    #[test]
    fn keys_of_heartbeats_never_meet_job_statuses() {
        assert_eq!(key("host-a/42"), "runtime:host-a/42");
        assert_eq!(runtime_of("runtime:host-a/42"), Some("host-a/42"));
        // A job may be named `runtime`: its statuses are `runtime/{host/pid}`.
        assert_eq!(runtime_of("runtime/host-a/42"), None);
        let job: crate::config::JobConfig = serde_json::from_value(serde_json::json!(
            {"name": "runtime:x", "module": "m", "input": ["in"], "output": "out"}
        ))
        .expect("a job spec");
        assert!(job.validate().is_err(), "no job name has a `:`");
    }

    #[test]
    fn a_runtime_is_ready_then_missing_when_silent_then_forgotten() {
        let beat = Heartbeat::new(&identity(), Lifecycle::Running, true, Vec::new());
        assert_eq!(beat.state(at(&beat, Duration::ZERO)), Some(RuntimeState::Ready));
        let silent = INTERVAL * MISSING_AFTER;
        assert_eq!(beat.state(at(&beat, silent)), Some(RuntimeState::Ready));
        assert_eq!(
            beat.state(at(&beat, silent + Duration::from_secs(1))),
            Some(RuntimeState::Missing)
        );
        assert_eq!(beat.state(at(&beat, FORGET_AFTER + Duration::from_secs(1))), None);
        let unready = Heartbeat::new(&identity(), Lifecycle::Running, false, Vec::new());
        assert_eq!(
            unready.state(at(&unready, Duration::ZERO)),
            Some(RuntimeState::Unready)
        );
    }

    #[test]
    fn a_clean_stop_stays_stopped_until_forgotten_and_a_stall_while_stopping_is_missing() {
        let stopped = Heartbeat::new(&identity(), Lifecycle::Stopped, true, Vec::new());
        assert!(!stopped.ready, "a stopped runtime is not ready");
        assert_eq!(
            stopped.state(at(&stopped, FORGET_AFTER / 2)),
            Some(RuntimeState::Stopped),
            "stopped is final: it does not become missing"
        );
        assert_eq!(stopped.state(at(&stopped, FORGET_AFTER * 2)), None);
        let stopping = Heartbeat::new(&identity(), Lifecycle::Stopping, true, Vec::new());
        assert_eq!(
            stopping.state(at(&stopping, Duration::ZERO)),
            Some(RuntimeState::Stopping)
        );
        assert_eq!(
            stopping.state(at(&stopping, INTERVAL * (MISSING_AFTER + 1))),
            Some(RuntimeState::Missing),
            "a runtime that never said it stopped"
        );
    }

    #[test]
    fn silence_is_judged_by_the_senders_interval_and_odd_times_are_handled() {
        let mut slow = Heartbeat::new(&identity(), Lifecycle::Running, true, Vec::new());
        slow.interval_ms = 60_000;
        assert_eq!(
            slow.state(at(&slow, Duration::from_secs(100))),
            Some(RuntimeState::Ready),
            "two minutes of silence are fine for a runtime beating every minute"
        );
        let future = at(&slow, Duration::ZERO) - Duration::from_secs(30);
        assert_eq!(slow.age(future), Some(Duration::ZERO), "a clock ahead of ours");
        slow.at = "yesterday".into();
        assert_eq!(slow.state(SystemTime::now()), None);
    }

    #[test]
    fn a_heartbeat_lists_the_jobs_and_partitions_of_their_statuses() {
        let status = crate::job::status::JobStatus::new("host-a/42", "wc", (3, 0), "abc");
        status.set_state(RunState::Running);
        status.assigned("map", ["lines/1".to_string(), "lines/0".to_string()].into_iter());
        status.error("boom".into());
        let held = HeldJob::of(&status.snapshot());
        assert_eq!((held.job.as_str(), held.revision, held.errors), ("wc", 3, 1));
        assert_eq!(
            held.stages,
            [HeldStage {
                stage: "map".into(),
                assigned: vec!["lines/0".into(), "lines/1".into()],
            }]
        );
        let beat = Heartbeat::new(&identity(), Lifecycle::Running, true, vec![held]);
        let json = serde_json::to_value(&beat).expect("serializes");
        assert_eq!(json["lifecycle"], "running");
        assert_eq!(json["jobs"][0]["stages"][0]["assigned"][1], "lines/1");
        let back: Heartbeat = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, beat);
    }
}
