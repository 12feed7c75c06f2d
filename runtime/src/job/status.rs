//! [`JobStatus`]: what one runtime knows about a job it runs (partitions held, lag, windows
//! fired, errors), kept up to date by the job's stages. Its snapshot, a
//! [`RuntimeStatus`], is published to the pool's status topic,
//! from which every runtime's API answers `GET /v1/jobs/{name}`.

use crate::report::{RunState, RuntimeStatus, StageStatus, StatusError};
use crate::units::rfc3339;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;

/// How many recent errors a status keeps.
const ERRORS_KEPT: usize = 5;

#[derive(Default)]
struct StageLive {
    assigned: BTreeSet<String>,
    lag: BTreeMap<String, i64>,
    records_in: u64,
    records_out: u64,
    dead_letters: u64,
    last_fired: Option<SystemTime>,
    watermark: Option<i64>,
    open_windows: usize,
}

struct Live {
    expected: Vec<&'static str>,
    joined: BTreeSet<&'static str>,
    revision: u64,
    resumes: u64,
    module: String,
    state: RunState,
    stages: BTreeMap<&'static str, StageLive>,
    errors: VecDeque<StatusError>,
}

/// The live status of one job on this runtime, shared by its stages.
pub struct JobStatus {
    runtime: String,
    job: String,
    live: Mutex<Live>,
}

impl JobStatus {
    /// A job that is starting at `(revision, resumes)` with `module`.
    pub fn new(runtime: &str, job: &str, (revision, resumes): (u64, u64), module: &str) -> Self {
        JobStatus {
            runtime: runtime.to_string(),
            job: job.to_string(),
            live: Mutex::new(Live {
                expected: Vec::new(),
                joined: BTreeSet::new(),
                revision,
                resumes,
                module: module.to_string(),
                state: RunState::Starting,
                stages: BTreeMap::new(),
                errors: VecDeque::new(),
            }),
        }
    }

    /// The runtime (`host/pid`).
    pub fn runtime(&self) -> &str {
        &self.runtime
    }

    fn with<T>(&self, f: impl FnOnce(&mut Live) -> T) -> T {
        f(&mut self.live.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sets the state.
    pub fn set_state(&self, state: RunState) {
        self.with(|live| {
            live.state = state;
            if state != RunState::Running {
                live.stages.clear();
                live.joined.clear();
            }
        });
    }

    /// The stages the job runs, once it knows (before they start).
    pub fn stages(&self, stages: &[&'static str]) {
        self.with(|live| {
            live.expected = stages.to_vec();
            live.joined.clear();
        });
    }

    /// `stage` has joined its consumer group (and received its first assignment, maybe empty).
    pub fn joined(&self, stage: &'static str) {
        self.with(|live| {
            live.joined.insert(stage);
        });
    }

    /// Whether the job is settled here: running with every stage in its group, or failed (a
    /// failed job is reported in its status; it does not make the runtime unready).
    pub fn ready(&self) -> bool {
        self.with(|live| match live.state {
            RunState::Starting => false,
            RunState::Running => live.expected.iter().all(|s| live.joined.contains(s)),
            RunState::Failed | RunState::Paused => true,
        })
    }

    /// Notes an error.
    pub fn error(&self, message: String) {
        self.with(|live| {
            if live.errors.len() == ERRORS_KEPT {
                live.errors.pop_front();
            }
            live.errors.push_back(StatusError {
                at: rfc3339(SystemTime::now()),
                message,
            });
        });
    }

    /// The partitions `stage` now holds.
    pub fn assigned(&self, stage: &'static str, partitions: impl Iterator<Item = String>) {
        self.with(|live| {
            let stage = live.stages.entry(stage).or_default();
            stage.assigned = partitions.collect();
            let held = &stage.assigned;
            stage.lag.retain(|p, _| held.contains(p));
        });
    }

    /// The lag of one partition of `stage`.
    pub fn lag(&self, stage: &'static str, partition: String, lag: i64) {
        self.with(|live| {
            live.stages.entry(stage).or_default().lag.insert(partition, lag);
        });
    }

    /// Records consumed, written and set aside; windows fired.
    pub fn progressed(
        &self,
        stage: &'static str,
        (records_in, records_out, dead): (u64, u64, u64),
        fired: u64,
    ) {
        self.with(|live| {
            let stage = live.stages.entry(stage).or_default();
            stage.records_in += records_in;
            stage.records_out += records_out;
            stage.dead_letters += dead;
            if fired > 0 {
                stage.last_fired = Some(SystemTime::now());
            }
        });
    }

    /// What `stage` holds at a commit: its open windows and its watermark (ms), if any.
    pub fn holding(&self, stage: &'static str, open_windows: usize, watermark: Option<i64>) {
        self.with(|live| {
            let stage = live.stages.entry(stage).or_default();
            stage.open_windows = open_windows;
            stage.watermark = watermark;
        });
    }

    /// The status to publish. A job whose stages are started but have not all joined their
    /// groups (and got their first assignment) reads as starting, not running.
    pub fn snapshot(&self) -> RuntimeStatus {
        self.with(|live| RuntimeStatus {
            runtime: self.runtime.clone(),
            job: self.job.clone(),
            revision: live.revision,
            resumes: live.resumes,
            module: live.module.clone(),
            state: match live.state {
                RunState::Running if !live.expected.iter().all(|s| live.joined.contains(s)) => {
                    RunState::Starting
                }
                state => state,
            },
            stages: live
                .stages
                .iter()
                .map(|(name, stage)| StageStatus {
                    stage: (*name).to_string(),
                    assigned: stage.assigned.iter().cloned().collect(),
                    lag: stage.lag.values().filter(|&&l| l > 0).sum(),
                    records_in: stage.records_in,
                    records_out: stage.records_out,
                    dead_letters: stage.dead_letters,
                    last_window_fired_at: stage.last_fired.map(rfc3339),
                    watermark: stage.watermark.and_then(event_time),
                    open_windows: stage.open_windows,
                })
                .collect(),
            errors: live.errors.iter().cloned().collect(),
            updated_at: rfc3339(SystemTime::now()),
            version: env!("CARGO_PKG_VERSION").to_string(),
        })
    }
}

/// An event time in ms as RFC 3339 with ms; `None` for the `i64::MIN`/`MAX` sentinels and
/// times before the epoch.
fn event_time(ms: i64) -> Option<String> {
    if ms == i64::MAX {
        return None;
    }
    let ms = u64::try_from(ms).ok()?;
    let time = SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_millis(ms))?;
    Some(humantime::format_rfc3339_millis(time).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_starting_until_every_stage_has_joined() {
        let status = JobStatus::new("h/1", "wc", (1, 0), "abc");
        assert_eq!(status.snapshot().state, RunState::Starting);
        status.stages(&["map", "reduce"]);
        status.set_state(RunState::Running);
        assert_eq!(
            status.snapshot().state,
            RunState::Starting,
            "started, in no group yet"
        );
        status.joined("map");
        assert_eq!(
            status.snapshot().state,
            RunState::Starting,
            "the reduce stage has not joined"
        );
        status.joined("reduce");
        assert_eq!(status.snapshot().state, RunState::Running);
        assert!(status.ready());
    }

    #[test]
    fn a_snapshot_sums_the_lag_of_held_partitions_only() {
        let status = JobStatus::new("h/1", "wc", (2, 0), "abc");
        status.set_state(RunState::Running);
        status.assigned("map", ["lines/0".to_string(), "lines/1".to_string()].into_iter());
        status.lag("map", "lines/0".into(), 5);
        status.lag("map", "lines/1".into(), 7);
        status.progressed("map", (10, 4, 1), 1);
        status.holding("map", 2, Some(1_000));
        status.assigned("map", ["lines/1".to_string()].into_iter());
        let snap = status.snapshot();
        assert_eq!(snap.revision, 2);
        assert_eq!(snap.stages[0].assigned, vec!["lines/1".to_string()]);
        assert_eq!(snap.stages[0].lag, 7);
        assert_eq!(snap.stages[0].records_in, 10);
        assert_eq!((snap.stages[0].records_out, snap.stages[0].dead_letters), (4, 1));
        assert_eq!(
            snap.stages[0].watermark.as_deref(),
            Some("1970-01-01T00:00:01.000Z")
        );
        assert_eq!(snap.stages[0].open_windows, 2);
        assert!(!snap.version.is_empty());
        assert!(snap.stages[0].last_window_fired_at.is_some());
        for i in 0..7 {
            status.error(format!("e{i}"));
        }
        let errors = status.snapshot().errors;
        assert_eq!(errors.len(), ERRORS_KEPT);
        assert_eq!(errors.last().map(|e| e.message.as_str()), Some("e6"));
    }
}
