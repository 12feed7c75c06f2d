//! A job on Kafka: its module, its topics, and the stages that run it.
//!
//! ```text
//! input topics ──► map stage (group weir.JOB, a MapTask per input partition)
//!                    map → window → combine → fire partials
//!              ──► weir.JOB.repartition (partials keyed by reduce key, then watermark markers)
//!              ──► reduce stage (group weir.JOB.reduce, a ReduceTask per repartition partition)
//!                    merge partials → reduce → finish
//!              ──► output topic, keyed by (window, key)
//! ```
//! Without the shuffle (`shuffle = false`, or a transform module) the map stage finishes its
//! windows itself and writes the output. Dead letters of both stages go to the dead-letter
//! topic. Every runtime of the pool runs both stages of every job; Kafka spreads the partitions.

pub mod guest_log;
mod map_task;
mod metered;
pub mod module_runs;
pub mod observe;
pub mod orphans;
mod reduce_task;
pub mod replay;
pub mod reset;
pub mod stage;
pub mod stage_io;
pub mod status;
pub mod task;
mod workers;

pub use map_task::{MapTask, MapTasks};
pub use metered::MeteredGuest;
pub use reduce_task::{ReduceTask, ReduceTasks};

use crate::config::JobConfig;
use crate::engine::{Engine, Module};
use crate::kafka::admin::{Admin, TopicSpec};
use crate::kafka::dead_letter::DeadLetterTopic;
use crate::outgoing::{Kind, Outgoing};
use crate::record::{ModuleKind, OutputRecord, Window};
use crate::shuffle::upstream_name;
use anyhow::{Context, Result};
use observe::StageObserver;
use stage::StageSpec;
use status::JobStatus;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;
use std::time::Duration;

/// The repartition topic of a job that shuffles.
#[derive(Debug, Clone)]
pub struct Repartition {
    /// Topic name.
    pub topic: String,
    /// Its partition count (markers go to each).
    pub partitions: i32,
}

/// What every task of a job shares.
pub struct JobContext {
    /// The job's config.
    pub config: JobConfig,
    /// The engine, shared by every job of the process.
    pub engine: Arc<Engine>,
    /// The compiled module.
    pub module: Arc<Module>,
    /// Where dead letters go, and their headers.
    pub dead_letters: DeadLetterTopic,
    /// The repartition topic, when the job shuffles.
    pub repartition: Option<Repartition>,
    /// Every input partition, as `topic/partition`: the upstreams of the reduce stage.
    pub upstreams: Vec<String>,
    /// Where its guests' log lines go.
    pub log: Arc<guest_log::JobLog>,
}

impl JobContext {
    /// A fresh guest instance of `stage` under the job's limits, its calls metered, its log
    /// lines to the job's log.
    pub fn instantiate(&self, stage: &'static str) -> Result<MeteredGuest> {
        let mut guest = self
            .engine
            .instantiate(&self.module, self.config.guest_limits())
            .with_context(|| format!("cannot instantiate the module of job `{}`", self.config.name))?;
        guest.set_log_sink(self.log.for_stage(stage));
        Ok(MeteredGuest::new(guest, &self.config.name))
    }

    /// The job's lateness in ms.
    pub fn lateness_ms(&self) -> i64 {
        i64::try_from(self.config.lateness.as_millis()).unwrap_or(i64::MAX)
    }

    /// An output record for the output topic.
    pub fn output_record(&self, record: OutputRecord) -> Outgoing {
        Outgoing {
            kind: Kind::Output,
            topic: self.config.output.clone(),
            partition: None,
            key: record.key,
            value: Some(record.value),
            timestamp: Some(record.timestamp),
            headers: Vec::new(),
        }
    }
}

/// Where a job runs: the process-wide parts every job shares.
#[derive(Clone)]
pub struct Host {
    /// The Wasm engine.
    pub engine: Arc<Engine>,
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Consumer-group session timeout.
    pub session_timeout: Duration,
    /// Create missing topics by asking for their metadata (the embedded broker of `weir dev`
    /// has no CreateTopics API, but creates a topic a producer asks about).
    pub auto_create_topics: bool,
}

/// Prepares `job` (the component `module`, the topics) and starts its stages on their own
/// threads; they run until `shutdown` is set, reporting to `status`.
pub fn start(
    host: &Host,
    job: &JobConfig,
    module: &[u8],
    status: &Arc<JobStatus>,
    shutdown: &Arc<AtomicBool>,
) -> Result<Vec<JoinHandle<()>>> {
    let (engine, brokers, session_timeout) = (&host.engine, host.brokers.as_str(), host.session_timeout);
    let module = engine.load(module).with_context(|| {
        format!(
            "job `{}`: cannot load the module {}",
            job.name,
            job.module.display()
        )
    })?;
    if module.info().kind == ModuleKind::MapReduce {
        job.window()?;
    }
    let admin = Admin::new(brokers)?;
    let mut upstreams = Vec::new();
    let mut widest = 1;
    for topic in &job.input {
        let partitions = admin
            .partitions(topic)
            .with_context(|| format!("job `{}` reads `{topic}`", job.name))?;
        widest = widest.max(partitions);
        upstreams.extend((0..partitions).map(|p| upstream_name(topic, p)));
    }
    let shuffle = job.shuffle && module.info().kind == ModuleKind::MapReduce;
    let reduce_partitions = job.reduce_partitions.unwrap_or(widest).max(1);
    let topic = |name: String, partitions: i32| TopicSpec {
        name,
        partitions,
        config: Vec::new(),
    };
    let mut topics = vec![
        topic(job.output.clone(), widest),
        topic(job.dead_letter_topic(), widest),
        topic(job.logs_topic(), 1),
        TopicSpec::compacted(job.progress_topic(), widest.max(reduce_partitions)),
    ];
    if shuffle {
        topics.push(topic(job.repartition_topic(), reduce_partitions));
    }
    if host.auto_create_topics {
        admin.auto_create(&topics)?;
    } else {
        admin.ensure(&topics)?;
    }
    let progress_partitions = admin.partitions(&job.progress_topic())?;
    let repartition = if shuffle {
        Some(Repartition {
            topic: job.repartition_topic(),
            partitions: admin.partitions(&job.repartition_topic())?,
        })
    } else {
        None
    };
    let log = Arc::new(guest_log::JobLog::new(
        brokers,
        &job.name,
        module.digest(),
        status.runtime(),
        &job.logs_topic(),
    ));
    let context = Arc::new(JobContext {
        dead_letters: DeadLetterTopic {
            topic: job.dead_letter_topic(),
            job: job.name.clone(),
            module: module.digest().to_string(),
        },
        config: job.clone(),
        engine: engine.clone(),
        module,
        repartition: repartition.clone(),
        upstreams,
        log,
    });
    tracing::info!(
        job = job.name,
        module = &context.module.digest()[..12],
        inputs = job.input.join(","),
        output = job.output,
        shuffle,
        "job starting"
    );
    let spec = |stage: &'static str, group: String, topics: Vec<String>| StageSpec {
        stage,
        job: job.name.clone(),
        brokers: brokers.to_string(),
        group,
        topics,
        progress: (job.progress_topic(), progress_partitions),
        session_timeout,
        batch_size: job.batch_size,
        commit_interval: job.commit_interval,
    };
    status.stages(if repartition.is_some() {
        &["map", "reduce"]
    } else {
        &["map"]
    });
    let observer = |stage| Arc::new(StageObserver::new(&job.name, stage, status.clone()));
    let mut handles = vec![spawn(
        spec("map", job.map_group(), job.input.clone()),
        MapTasks(context.clone()),
        observer("map"),
        shutdown.clone(),
    )?];
    if let Some(repartition) = repartition {
        handles.push(spawn(
            spec("reduce", job.reduce_group(), vec![repartition.topic]),
            ReduceTasks(context),
            observer("reduce"),
            shutdown.clone(),
        )?);
    }
    Ok(handles)
}

impl task::DeadLetters for MapTasks {
    fn dead_letters(&self) -> &DeadLetterTopic {
        &self.0.dead_letters
    }
}

impl task::DeadLetters for ReduceTasks {
    fn dead_letters(&self) -> &DeadLetterTopic {
        &self.0.dead_letters
    }
}

fn spawn<F: task::TaskFactory>(
    spec: StageSpec,
    factory: F,
    observer: Arc<StageObserver>,
    shutdown: Arc<AtomicBool>,
) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("weir-{}-{}", spec.job, spec.stage))
        .spawn(move || stage::run(&spec, &factory, &observer, &shutdown))
        .context("cannot start a stage thread")
}

/// How many distinct windows `windows` holds (consecutive repeats counted once; fired windows
/// come grouped).
fn distinct_windows(windows: impl Iterator<Item = Window>) -> u64 {
    let mut seen = std::collections::BTreeSet::new();
    windows.for_each(|w| {
        seen.insert(w);
    });
    seen.len() as u64
}
