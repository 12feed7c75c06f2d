//! [`Supervisor`]: makes the jobs this runtime runs match what it should run — the config
//! file's jobs plus the registry's unpaused jobs — and publishes their status and this
//! runtime's heartbeat ([`crate::registry::heartbeat`]).
//!
//! It compares every half second. A job that appears starts; one that is deleted or paused
//! stops (its stages write what they have, commit and leave their groups); one whose revision
//! changed (a new module, a rollback, a new spec) stops and then starts again at the new
//! revision. A stop commits at a window boundary of each partition: windows the old revision
//! fired stay fired, and windows still open are rebuilt from the committed offsets by the new
//! revision, so no window is lost and none is computed twice (docs/control-plane.md).

use crate::config::JobConfig;
use crate::engine::read_module;
use crate::job::status::JobStatus;
use crate::job::{self, Host};
use crate::metrics::metrics;
use crate::registry::Registry;
use crate::registry::board::{self, StatusBoard};
use crate::registry::heartbeat::{Heartbeat, HeldJob, Lifecycle, RuntimeIdentity};
use crate::report::RunState;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the supervisor compares what runs with what should.
const TICK: Duration = Duration::from_millis(500);
/// How long a job that could not start waits before trying again.
const RETRY: Duration = Duration::from_secs(5);

/// Where a job's module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleSource {
    /// A file, or a bundled example's name (config-file jobs).
    File(std::path::PathBuf),
    /// A module id in the registry (API jobs).
    Registry(String),
}

/// A job as it should run here.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Its spec.
    pub spec: JobConfig,
    /// Its revision (0 for config-file jobs).
    pub revision: u64,
    /// How many times it was resumed (a resume restarts it, even one that came before this
    /// runtime saw the pause).
    pub resumes: u64,
    /// Its module.
    pub module: ModuleSource,
}

struct Running {
    desired: Desired,
    /// What was last published: the state and partitions held, to publish changes at once.
    published: Option<(RunState, Vec<Vec<String>>)>,
    status: Arc<JobStatus>,
    shutdown: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// What a heartbeat may change between two beats ([`Heartbeat::shape`]).
type BeatShape = (bool, Lifecycle, Vec<HeldJob>);

/// Runs this runtime's jobs.
pub struct Supervisor {
    host: Host,
    identity: RuntimeIdentity,
    /// When the last heartbeat was sent, and what it said.
    last_beat: Option<(Instant, BeatShape)>,
    registry: Arc<Registry>,
    board: Arc<StatusBoard>,
    file_jobs: Vec<JobConfig>,
    running: HashMap<String, Running>,
    stopping: Vec<(String, Running)>,
}

impl Supervisor {
    /// A supervisor for the jobs of `file_jobs` and `registry`, on the runtime `identity`.
    pub fn new(
        host: Host,
        identity: RuntimeIdentity,
        registry: Arc<Registry>,
        board: Arc<StatusBoard>,
        file_jobs: Vec<JobConfig>,
    ) -> Self {
        Supervisor {
            host,
            identity,
            last_beat: None,
            registry,
            board,
            file_jobs,
            running: HashMap::new(),
            stopping: Vec::new(),
        }
    }

    /// What should run here now.
    pub fn desired(&self) -> BTreeMap<String, Desired> {
        let mut desired: BTreeMap<String, Desired> = self
            .file_jobs
            .iter()
            .map(|spec| {
                let job = Desired {
                    spec: spec.clone(),
                    revision: 0,
                    resumes: 0,
                    module: ModuleSource::File(spec.module.clone()),
                };
                (spec.name.clone(), job)
            })
            .collect();
        if !self.registry.caught_up() {
            return desired;
        }
        for record in self.registry.read().jobs() {
            if record.paused || desired.contains_key(&record.spec.name) {
                continue;
            }
            desired.insert(
                record.spec.name.clone(),
                Desired {
                    spec: record.spec.clone(),
                    revision: record.revision,
                    resumes: record.resumes,
                    module: ModuleSource::Registry(record.module()),
                },
            );
        }
        desired
    }

    /// Whether every job here has started and joined its groups (and the registry is read).
    pub fn ready(&self) -> bool {
        self.registry.caught_up() && self.running.values().all(|r| r.status.ready())
    }

    /// Runs until `shutdown` is set, then stops every job, waiting at most `grace` for them to
    /// commit and leave their groups. The heartbeat says `stopping` meanwhile, and `stopped`
    /// once they have.
    pub fn run(mut self, shutdown: &AtomicBool, ready: &AtomicBool, grace: Duration) {
        let mut published = Instant::now();
        while !shutdown.load(Ordering::Relaxed) {
            let read = self.registry.position();
            self.reconcile();
            let is_ready = self.ready();
            ready.store(is_ready, Ordering::Relaxed);
            let due = published.elapsed() >= board::INTERVAL;
            self.publish(due);
            if due {
                published = Instant::now();
                self.board.sweep();
            }
            self.beat(Lifecycle::Running, is_ready);
            // A job created or changed through the API starts at once, not at the next tick.
            self.registry.wait_past(read, TICK);
        }
        ready.store(false, Ordering::Relaxed);
        self.beat(Lifecycle::Stopping, false);
        self.stop_all(grace);
        self.beat(Lifecycle::Stopped, false);
        self.board.flush(Duration::from_secs(2));
    }

    /// Publishes this runtime's heartbeat when [`board::INTERVAL`] has passed since the last
    /// one, or at once when what it says changed (readiness, lifecycle, jobs, partitions).
    fn beat(&mut self, lifecycle: Lifecycle, ready: bool) {
        let jobs = self
            .running
            .values()
            .chain(self.stopping.iter().map(|(_, r)| r))
            .map(|r| HeldJob::of(&r.status.snapshot()))
            .collect();
        let beat = Heartbeat::new(&self.identity, lifecycle, ready, jobs);
        let shape = beat.shape();
        let due = self
            .last_beat
            .as_ref()
            .is_none_or(|(at, last)| at.elapsed() >= board::INTERVAL || *last != shape);
        if due {
            self.board.beat(&beat);
            self.last_beat = Some((Instant::now(), shape));
        }
    }

    fn reconcile(&mut self) {
        let desired = self.desired();
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            let keep = desired.get(&name).is_some_and(|d| {
                self.running.get(&name).is_some_and(|r| {
                    (r.desired.revision, r.desired.resumes, &r.desired.module)
                        == (d.revision, d.resumes, &d.module)
                })
            });
            if !keep && let Some(running) = self.running.remove(&name) {
                tracing::info!(
                    job = name,
                    revision = running.desired.revision,
                    "job stopping: {}",
                    match desired.get(&name) {
                        Some(d) => format!("revision {} replaces it", d.revision),
                        None => "deleted or paused".into(),
                    }
                );
                running.shutdown.store(true, Ordering::Relaxed);
                self.stopping.push((name, running));
            }
        }
        self.reap();
        for (name, job) in desired {
            let stopping = self.stopping.iter().any(|(n, _)| n == &name);
            if !self.running.contains_key(&name) && !stopping {
                match self.launch(job) {
                    Ok(running) => {
                        self.running.insert(name, running);
                    }
                    Err(err) => tracing::error!(job = name, "cannot start a job thread: {err:#}"),
                }
            }
        }
        self.count_states();
    }

    /// Joins the stopped jobs and removes their statuses.
    fn reap(&mut self) {
        let (done, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.stopping)
            .into_iter()
            .partition(|(_, r)| r.thread.is_finished());
        self.stopping = still;
        for (name, running) in done {
            if running.thread.join().is_err() {
                tracing::error!(job = name, "a job thread panicked");
            }
            if !self.running.contains_key(&name) {
                self.board.retire(&name, &self.identity.runtime);
            }
        }
    }

    fn launch(&self, desired: Desired) -> std::io::Result<Running> {
        let module = match &desired.module {
            ModuleSource::File(path) => path.display().to_string(),
            ModuleSource::Registry(id) => id.clone(),
        };
        let status = Arc::new(JobStatus::new(
            &self.identity.runtime,
            &desired.spec.name,
            (desired.revision, desired.resumes),
            &module,
        ));
        let shutdown = Arc::new(AtomicBool::new(false));
        let thread = {
            let (host, registry) = (self.host.clone(), Arc::clone(&self.registry));
            let (desired, status, shutdown) = (desired.clone(), status.clone(), shutdown.clone());
            std::thread::Builder::new()
                .name(format!("weir-{}", desired.spec.name))
                .spawn(move || run_job(&host, &registry, &desired, &status, &shutdown))?
        };
        tracing::info!(
            job = desired.spec.name,
            revision = desired.revision,
            module,
            "job starting"
        );
        Ok(Running {
            desired,
            published: None,
            status,
            shutdown,
            thread,
        })
    }

    /// Publishes the statuses that changed (state, partitions held), or all when `all`.
    fn publish(&mut self, all: bool) {
        for running in self.running.values_mut() {
            let status = running.status.snapshot();
            let shape = (
                status.state,
                status.stages.iter().map(|s| s.assigned.clone()).collect(),
            );
            if all || running.published.as_ref() != Some(&shape) {
                self.board.publish(&status);
                running.published = Some(shape);
            }
        }
    }

    fn count_states(&self) {
        let mut counts: BTreeMap<&str, i64> = [("starting", 0), ("running", 0), ("failed", 0), ("paused", 0)]
            .into_iter()
            .collect();
        for running in self.running.values() {
            let state = match running.status.snapshot().state {
                RunState::Starting => "starting",
                RunState::Running => "running",
                RunState::Failed => "failed",
                RunState::Paused => "paused",
            };
            *counts.entry(state).or_default() += 1;
        }
        let paused = self.registry.read().jobs().filter(|j| j.paused).count();
        *counts.entry("paused").or_default() += i64::try_from(paused).unwrap_or(0);
        for (state, count) in counts {
            metrics().jobs.with_label_values(&[state]).set(count);
        }
    }

    fn stop_all(&mut self, grace: Duration) {
        let started = Instant::now();
        for (name, running) in self.running.drain() {
            running.shutdown.store(true, Ordering::Relaxed);
            self.stopping.push((name, running));
        }
        while !self.stopping.is_empty() && started.elapsed() < grace {
            self.reap();
            self.beat(Lifecycle::Stopping, false);
            std::thread::sleep(Duration::from_millis(50));
        }
        for (name, _) in &self.stopping {
            tracing::warn!(
                job = name,
                "job did not stop within the {grace:?} grace period; exiting anyway (its \
                 uncommitted records are replayed by the runtime that takes its partitions)"
            );
        }
    }
}

/// Runs one job until `shutdown`: starts it (retrying every few seconds while it cannot),
/// then waits for its stages.
fn run_job(
    host: &Host,
    registry: &Registry,
    desired: &Desired,
    status: &Arc<JobStatus>,
    shutdown: &Arc<AtomicBool>,
) {
    let name = &desired.spec.name;
    while !shutdown.load(Ordering::Relaxed) {
        let module = match &desired.module {
            ModuleSource::File(path) => read_module(path),
            ModuleSource::Registry(id) => registry.read().module_bytes(id),
        };
        let started = module.and_then(|bytes| job::start(host, &desired.spec, &bytes, status, shutdown));
        match started {
            Ok(handles) => {
                status.set_state(RunState::Running);
                for handle in handles {
                    if handle.join().is_err() {
                        tracing::error!(job = name, "a stage thread panicked");
                        status.error("a stage thread panicked".into());
                    }
                }
                return;
            }
            Err(err) => {
                tracing::error!(job = name, "job not started, retrying in {RETRY:?}: {err:#}");
                status.set_state(RunState::Failed);
                status.error(format!("not started: {err:#}"));
                sleep_unless(shutdown, RETRY);
            }
        }
    }
}

/// Sleeps for `duration`, waking early when `shutdown` is set.
pub fn sleep_unless(shutdown: &AtomicBool, duration: Duration) {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < duration && !shutdown.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        slept += step;
    }
}
