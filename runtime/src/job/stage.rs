//! The loop of one stage: a consumer-group member that feeds each assigned partition's task,
//! writes what the tasks produce, and commits under the offset rule.
//!
//! Each loop reads a batch per partition (from each partition's own queue, in turn), runs the
//! partitions' tasks at once on the process's worker pool (`job::workers`, one thread per
//! core, shared by every stage of every job) while this thread reads the next batches ahead,
//! then sends what the tasks wrote, task by task (each partition's records in the order its task
//! wrote them).
//!
//! Every `commit_interval`: queue the tasks' pre-commit records (markers), wait until the
//! producer has every record acknowledged, write each changed partition's checkpoint to the
//! progress topic, wait for that too, and only then commit the offsets. A commit refused
//! because the partition moved to another runtime is harmless: the new owner resumes from the
//! newest checkpoint, and every checkpoint vouches only for records already written.
//!
//! Any error that could lose a record (a delivery failure, a flush timeout, a partition that
//! cannot be restored) restarts the stage: its state is dropped and it rejoins the group,
//! resuming from the checkpoints. Nothing is committed past what was written.

use super::observe::{Activity, StageObserver};
use super::orphans::{OrphanWatch, Stalled};
use super::stage_io::{KafkaSource, StageSink, StageSource};
use super::task::{Task, TaskFactory};
use super::workers;
use crate::kafka::fetch_watch::Stuck;
use crate::kafka::progress::ProgressStore;
use crate::kafka::sink::Sink;
use crate::kafka::source::{Rebalanced, StageContext};
use crate::kafka::{STAGE_FETCH_BYTES, next_fetch_bytes, stage_consumer_config};
use crate::outgoing::Outgoing;
use crate::record::InputRecord;
use crate::units::format_bytes;
use anyhow::{Context, Result, bail};
use rayon::iter::{IntoParallelRefMutIterator, ParallelIterator};
use rdkafka::consumer::BaseConsumer;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long the stage collects records before processing them, at most.
const BATCH_WINDOW: Duration = Duration::from_millis(50);
/// How long a stage that found no record waits on its consumer's queue before it looks at the
/// partition queues again (a record arriving in a partition queue does not wake that wait).
const IDLE_POLL: Duration = Duration::from_millis(5);
/// How long reading ahead waits for records when the partition queues are empty, before it
/// looks again (the tasks finishing wake it at once).
const READ_AHEAD_WAIT: Duration = Duration::from_micros(200);
/// How long a commit cycle waits for the broker to acknowledge everything before the stage
/// restarts from its checkpoints.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(15);

/// How often a stage's consumer refreshes the metadata of its topics, in ms.
const METADATA_REFRESH_MS: &str = "30000";

/// What a stage consumes and where it keeps its progress.
#[derive(Debug, Clone)]
pub struct StageSpec {
    /// `map` or `reduce`: names the checkpoints.
    pub stage: &'static str,
    /// The job's name, for logs.
    pub job: String,
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// The consumer group.
    pub group: String,
    /// Topics to consume.
    pub topics: Vec<String>,
    /// The progress topic and its partition count.
    pub progress: (String, i32),
    /// Group session timeout.
    pub session_timeout: Duration,
    /// Records per batch.
    pub batch_size: usize,
    /// Time between commits.
    pub commit_interval: Duration,
}

use crate::kafka::partition_queues::Partition;

/// `max.poll.interval.ms` for a session timeout: also how long the group waits for every
/// member to rejoin a rebalance.
fn max_poll_ms(session_ms: u128) -> u128 {
    (session_ms * 3).max(20_000)
}

/// How long a new member may wait for its first assignment: a rebalance that waits for a dead
/// member (its session) and for every live one to rejoin (the max poll interval), and slack.
fn join_deadline(session: Duration) -> Duration {
    let session_ms = session.as_millis().max(1000);
    Duration::from_millis((session_ms + max_poll_ms(session_ms)) as u64) + Duration::from_secs(10)
}

/// A fetch size for a log line (`4 MiB`).
fn fetch_size(bytes: usize) -> String {
    format_bytes(u64::try_from(bytes).unwrap_or(u64::MAX))
}

/// Why a stage's run ended without an error.
enum Ended {
    /// Shutdown was asked for.
    Shutdown,
    /// A partition's next record batch is larger than the fetch size (see
    /// [`crate::kafka::fetch_watch`]): everything is committed, and the stage rejoins fetching
    /// up to `fetch_bytes`.
    FetchLarger { stuck: Stuck, fetch_bytes: usize },
}

/// Runs a stage until `shutdown` is set, restarting it after errors.
pub fn run<F: TaskFactory>(
    spec: &StageSpec,
    factory: &F,
    observer: &Arc<StageObserver>,
    shutdown: &AtomicBool,
) {
    let mut backoff = Duration::from_millis(500);
    let mut fetch_bytes = STAGE_FETCH_BYTES;
    while !shutdown.load(Ordering::Relaxed) {
        let started = Instant::now();
        let result = run_once(spec, factory, observer, shutdown, fetch_bytes);
        observer.stopped();
        match result {
            Ok(Ended::Shutdown) => return,
            Ok(Ended::FetchLarger {
                stuck,
                fetch_bytes: larger,
            }) => {
                tracing::warn!(
                    job = spec.job,
                    stage = spec.stage,
                    "the broker returns nothing of {}/{} at offset {} (its high watermark is {}) \
                     with fetches of {}: a record batch there must be larger. Everything read \
                     is committed; the stage rejoins its group fetching up to {}",
                    stuck.topic,
                    stuck.partition,
                    stuck.offset,
                    stuck.high_watermark,
                    fetch_size(fetch_bytes),
                    fetch_size(larger)
                );
                fetch_bytes = larger;
            }
            Err(err) => {
                tracing::error!(
                    job = spec.job,
                    stage = spec.stage,
                    "stage restarts from its last checkpoints after: {err:#}"
                );
                observer.restarted(&err);
                if started.elapsed() > Duration::from_secs(60) {
                    backoff = Duration::from_millis(500);
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// One run of a stage: its group membership, its tasks, what it has checkpointed.
struct Stage<'a, F: TaskFactory, S: StageSource, K: StageSink> {
    spec: &'a StageSpec,
    factory: &'a F,
    /// The group member: the consumer's queue, each assigned partition's own queue, commits.
    source: S,
    sink: K,
    tasks: HashMap<Partition, F::Task>,
    checkpointed: HashMap<Partition, Vec<u8>>,
    observer: &'a StageObserver,
    /// The consumer's fetch size (`fetch.max.bytes`).
    fetch_bytes: usize,
    /// A stuck partition was reported at the largest fetch size already.
    stuck_reported: bool,
    /// Whether the consumer's own queue has been found empty since the last partition was
    /// assigned: records a partition fetched before its queue was split off are all read then,
    /// so its queue may be read on its own (reading ahead while the tasks work) without
    /// reordering it.
    settled: bool,
}

fn run_once<F: TaskFactory>(
    spec: &StageSpec,
    factory: &F,
    observer: &Arc<StageObserver>,
    shutdown: &AtomicBool,
    fetch_bytes: usize,
) -> Result<Ended> {
    let progress = ProgressStore::new(&spec.brokers, &spec.progress.0, spec.progress.1)?;
    let session_ms = spec.session_timeout.as_millis().max(1000);
    let consumer: BaseConsumer<StageContext> = stage_consumer_config(&spec.brokers, &spec.group, fetch_bytes)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", session_ms.to_string())
        .set("heartbeat.interval.ms", (session_ms / 4).to_string())
        // Also the rebalance timeout the group waits for every member to rejoin. After a kill -9
        // and a quick restart, the new member's join waited for the dead one this long (tansu
        // evicts it only then): librdkafka's 300 s default stalled the group for minutes. The
        // loop polls at least every commit cycle, whose flushes give up after FLUSH_TIMEOUT.
        .set("max.poll.interval.ms", max_poll_ms(session_ms).to_string())
        // Lag per partition for the metrics and the job status.
        .set("statistics.interval.ms", "5000")
        // How soon partitions added to an input topic are seen: the group then rebalances and
        // their tasks start (librdkafka's default is 5 minutes).
        .set("topic.metadata.refresh.interval.ms", METADATA_REFRESH_MS)
        .create_with_context(StageContext::new(spec.stage, progress).with_statistics({
            let observer = observer.clone();
            Box::new(move |statistics| observer.statistics(statistics))
        }))
        .with_context(|| format!("cannot create a consumer for {}", spec.brokers))?;
    let source = KafkaSource::subscribe(consumer, &spec.brokers, &spec.topics, (&spec.job, spec.stage))?;
    let sink = Sink::for_job(&spec.brokers, FLUSH_TIMEOUT, factory.dead_letters().clone())
        .with_context(|| format!("cannot create a producer for {}", spec.brokers))?;
    // Before the group assigns anything: the producer's id is then there by the first commit.
    if !sink.connect(Duration::from_secs(2)) {
        tracing::debug!(
            job = spec.job,
            stage = spec.stage,
            "no broker answered the sink yet"
        );
    }
    let mut stage = Stage {
        spec,
        factory,
        source,
        sink,
        tasks: HashMap::new(),
        checkpointed: HashMap::new(),
        observer,
        fetch_bytes,
        stuck_reported: false,
        settled: false,
    };
    let result = stage.work(shutdown);
    stage.source.leave();
    result
}

impl<F: TaskFactory, S: StageSource, K: StageSink> Stage<'_, F, S, K> {
    fn work(&mut self, shutdown: &AtomicBool) -> Result<Ended> {
        let mut last_commit = Instant::now();
        let mut out = Vec::new();
        let (mut started, mut joined) = (Instant::now(), false);
        let join_deadline = join_deadline(self.spec.session_timeout);
        let mut orphans = OrphanWatch::new(join_deadline);
        let mut read_ahead = BTreeMap::new();
        while !shutdown.load(Ordering::Relaxed) {
            let batch = self.fetch(std::mem::take(&mut read_ahead))?;
            // Every member gets an assign callback once the group has rebalanced, an empty one
            // when it has no partition (cooperative-sticky). A member that never gets one is
            // stuck in a join the broker lost (seen once on tansu after a kill -9 and restart):
            // a new consumer joins afresh.
            if !joined {
                if self.source.joined() {
                    self.observer.joined();
                    joined = true;
                } else if started.elapsed() > join_deadline {
                    bail!(
                        "no partition assignment from group `{}` after {}s; rejoining with a new \
                         consumer",
                        self.spec.group,
                        join_deadline.as_secs()
                    );
                }
            }
            if joined && self.unconsumed_elsewhere(&mut orphans)? {
                (started, joined) = (Instant::now(), false);
            }
            let consumed;
            (consumed, read_ahead) = self.process(batch, &mut out);
            let fired = self.tasks.values_mut().map(Task::take_fired).sum();
            self.sink.send_all(&out)?;
            let dead = dead_letters_in(&out);
            self.observer.progressed(consumed, out.len() - dead, dead, fired);
            out.clear();
            if last_commit.elapsed() >= self.spec.commit_interval {
                self.commit()?;
                last_commit = Instant::now();
            }
            if let Some(ended) = self.fetch_larger()? {
                return Ok(ended);
            }
        }
        self.commit()?;
        Ok(Ended::Shutdown)
    }

    /// When a partition is stuck behind a record batch larger than the fetch size: commits
    /// everything, for the stage to rejoin fetching larger; at the largest fetch size already,
    /// says so once and goes on.
    fn fetch_larger(&mut self) -> Result<Option<Ended>> {
        let Some(stuck) = self.source.take_stuck() else {
            return Ok(None);
        };
        match next_fetch_bytes(self.fetch_bytes) {
            Some(fetch_bytes) => {
                self.commit()?;
                Ok(Some(Ended::FetchLarger { stuck, fetch_bytes }))
            }
            None => {
                if !self.stuck_reported {
                    self.stuck_reported = true;
                    tracing::error!(
                        job = self.spec.job,
                        stage = self.spec.stage,
                        "the broker returns nothing of {}/{} at offset {} (its high watermark is \
                         {}) even with fetches of {}: the partition is stuck there",
                        stuck.topic,
                        stuck.partition,
                        stuck.offset,
                        stuck.high_watermark,
                        fetch_size(self.fetch_bytes)
                    );
                }
                Ok(None)
            }
        }
    }

    /// A batch per assigned partition: how many records a round of reading (ahead, or in
    /// [`Stage::fetch`]) gathers at most.
    fn batch_target(&self) -> usize {
        self.spec
            .batch_size
            .max(1)
            .saturating_mul(self.tasks.len().max(1))
    }

    /// Hands each partition's records to its task, in batches of at most `batch_size`, and
    /// ticks every task (processing time moves on, records or not): the tasks run at once on
    /// the [`workers::pool`], each writing its own records, which are then appended to `out`
    /// task by task. Meanwhile this thread reads ahead from the partition queues, up to a batch
    /// per partition ([`read_ahead`]; when they hold everything unread: see
    /// [`Stage::settled`]). Returns how many records were processed and the records read ahead,
    /// by partition.
    fn process(
        &mut self,
        mut batch: BTreeMap<Partition, Vec<InputRecord>>,
        out: &mut Vec<Outgoing>,
    ) -> (usize, BTreeMap<Partition, Vec<InputRecord>>) {
        let batch_size = self.spec.batch_size.max(1);
        let target = self.batch_target();
        let mut work: Vec<(&mut F::Task, Vec<InputRecord>, Vec<Outgoing>)> = self
            .tasks
            .iter_mut()
            .map(|(at, task)| (task, batch.remove(at).unwrap_or_default(), Vec::new()))
            .collect();
        let consumed = work.iter().map(|(_, records, _)| records.len()).sum();
        // A poll may hold several batches of one partition: the job's batch_size bounds every
        // guest call (its deadline and output limit are per call).
        let run = |(task, records, out): &mut (&mut F::Task, Vec<InputRecord>, Vec<Outgoing>)| {
            for chunk in records.chunks(batch_size) {
                task.process(chunk, out);
            }
            task.tick(out);
        };
        let mut ahead = BTreeMap::new();
        let (source, settled) = (&self.source, self.settled);
        match workers::pool() {
            Some(pool) => {
                let done = AtomicBool::new(false);
                let reader = std::thread::current();
                pool.in_place_scope(|scope| {
                    scope.spawn(|_| {
                        work.par_iter_mut().for_each(run);
                        done.store(true, Ordering::Release);
                        reader.unpark();
                    });
                    if settled {
                        read_ahead(source, (batch_size, target), &done, &mut ahead);
                    }
                });
            }
            None => work.iter_mut().for_each(run),
        }
        for (_, _, written) in work {
            out.extend(written);
        }
        (consumed, ahead)
    }

    /// Whether this member, holding nothing, found input partitions that nobody consumes and
    /// rejoined its group (see [`OrphanWatch`]).
    fn unconsumed_elsewhere(&mut self, orphans: &mut OrphanWatch) -> Result<bool> {
        let (source, spec) = (&self.source, self.spec);
        let found = orphans.check(!self.tasks.is_empty(), Instant::now(), || source.positions());
        let stalled = match found {
            Ok(stalled) if !stalled.is_empty() => stalled,
            Ok(_) => return Ok(false),
            Err(err) => {
                tracing::warn!(
                    job = spec.job,
                    stage = spec.stage,
                    "cannot tell whether input partitions go unconsumed: {err:#}"
                );
                return Ok(false);
            }
        };
        let list = stalled
            .iter()
            .map(Stalled::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        tracing::warn!(
            job = spec.job,
            stage = spec.stage,
            group = spec.group,
            "this member holds no partition while {list}; rejoining the group so that it \
             assigns them again"
        );
        self.observer.rejoined(&list);
        self.source.rejoin()?;
        Ok(true)
    }

    /// Reads records in rounds, up to a batch from each partition's queue in turn, until it
    /// has a batch per assigned partition (in all: a partition with more to read fills in for
    /// one with less) or [`BATCH_WINDOW`] has passed, applying rebalances as they happen;
    /// returns the records by partition.
    ///
    /// Each round first drains the consumer's own queue, which serves rebalances (a newly
    /// assigned partition gets its task and its queue there) and holds whatever was fetched
    /// for a partition before its queue was split off: those records come before any of its
    /// queue's, so a partition's records stay in order.
    fn fetch(
        &mut self,
        mut batch: BTreeMap<Partition, Vec<InputRecord>>,
    ) -> Result<BTreeMap<Partition, Vec<InputRecord>>> {
        let started = Instant::now();
        let per_partition = self.spec.batch_size.max(1);
        let mut wait = Duration::ZERO;
        let mut count: usize = batch.values().map(Vec::len).sum();
        let full = |count: usize, target: usize| count >= target || started.elapsed() >= BATCH_WINDOW;
        loop {
            while let Some(record) = self.source.poll(wait) {
                wait = Duration::ZERO;
                self.rebalance(&mut batch)?;
                if let Some((at, record)) = record
                    && self.tasks.contains_key(&at)
                {
                    batch.entry(at).or_default().push(record);
                    count += 1;
                }
                // Enough for now. What is left in the consumer's queue is drained before any
                // partition queue is read next time.
                if full(count, self.batch_target()) {
                    self.settled = false;
                    return Ok(batch);
                }
            }
            // The consumer's queue is empty: the partition queues hold everything unread,
            // unless the rebalance below assigns a partition.
            self.settled = true;
            // The poll that returned nothing may have run a rebalance callback: a partition
            // assigned then may have records in the consumer's queue, fetched before its own
            // queue was split off, so drain that again before reading the partition queues.
            if !self.rebalance(&mut batch)? {
                // Read ahead already (see `read_ahead`): no round beyond a batch per partition.
                if count >= self.batch_target() {
                    break;
                }
                let taken = self.source.poll_round(per_partition, &mut batch);
                count += taken;
                if full(count, self.batch_target()) {
                    break;
                }
                // Nothing came: wait on the consumer's queue a little (it serves rebalances and
                // wakes on nothing else), then look again.
                wait = if taken == 0 { IDLE_POLL } else { Duration::ZERO };
            }
        }
        Ok(batch)
    }

    /// Applies the rebalances the consumer reported; returns whether a partition was assigned.
    fn rebalance(&mut self, batch: &mut BTreeMap<Partition, Vec<InputRecord>>) -> Result<bool> {
        let mut assigned = false;
        for event in self.source.take_rebalances() {
            match event {
                Rebalanced::Assigned {
                    topic,
                    partition,
                    checkpoint,
                    epoch,
                } => {
                    self.observer.rebalanced("assigned", &topic, partition);
                    let task = self
                        .factory
                        .create(&topic, partition, checkpoint.as_deref(), epoch)?;
                    let at = (topic, partition);
                    if !self.source.split(&at) {
                        tracing::warn!(
                            job = self.spec.job,
                            stage = self.spec.stage,
                            "no queue of its own for {}/{}: its records come through the \
                             consumer's queue",
                            at.0,
                            at.1
                        );
                    }
                    self.tasks.insert(at, task);
                    assigned = true;
                    self.settled = false;
                }
                Rebalanced::Revoked {
                    topic,
                    partition,
                    lost,
                } => {
                    self.observer
                        .rebalanced(if lost { "lost" } else { "revoked" }, &topic, partition);
                    let at = (topic, partition);
                    self.tasks.remove(&at);
                    self.source.remove(&at);
                    self.checkpointed.remove(&at);
                    batch.remove(&at);
                }
                Rebalanced::Failed(reason) => anyhow::bail!(reason),
            }
            let mut held: Vec<String> = self.tasks.keys().map(|(t, p)| format!("{t}/{p}")).collect();
            held.sort();
            self.observer.holds(held);
        }
        Ok(assigned)
    }

    /// Writes, waits, records progress, waits, commits; reports what the tasks hold and how
    /// long it took.
    fn commit(&mut self) -> Result<()> {
        let started = Instant::now();
        let mut activity = Activity::default();
        for task in self.tasks.values() {
            let (windows, keys) = task.holding();
            activity.open_windows += windows;
            activity.open_keys += keys;
            if let Some(watermark) = task.watermark() {
                activity.watermark = Some(activity.watermark.map_or(watermark, |w| w.min(watermark)));
            }
        }
        self.observer.holding(activity);
        let committed = self.write_and_commit();
        if committed.is_ok() {
            self.observer.committed(started.elapsed());
        }
        committed
    }

    fn write_and_commit(&mut self) -> Result<()> {
        let mut out: Vec<Outgoing> = Vec::new();
        for task in self.tasks.values_mut() {
            task.before_commit(&mut out);
        }
        self.sink.send_all(&out)?;
        self.sink.flush()?;
        let mut offsets = Vec::new();
        let mut progress = Vec::new();
        let mut attempted = Vec::new();
        for ((topic, partition), task) in &mut self.tasks {
            let Some((offset, checkpoint)) = task.checkpoint() else {
                continue;
            };
            let at = (topic.clone(), *partition);
            if self.checkpointed.get(&at) == Some(&checkpoint) {
                continue;
            }
            let key = ProgressStore::key(self.spec.stage, topic, *partition);
            progress.push(
                self.source
                    .checkpoint_record(&key, *partition, checkpoint.clone()),
            );
            offsets.push((at.clone(), offset));
            attempted.push((at, checkpoint));
        }
        if progress.is_empty() {
            return Ok(());
        }
        self.sink.send_all(&progress)?;
        self.sink.flush()?;
        match self.source.commit(&offsets) {
            // Only a committed checkpoint is skipped next cycle. A refused commit is retried
            // (after a broker restart, commits fail until the group settles, and a partition
            // whose checkpoint no longer changes would otherwise never be committed again).
            Ok(()) => self.checkpointed.extend(attempted),
            Err(err) => tracing::warn!(
                job = self.spec.job,
                stage = self.spec.stage,
                "offsets not committed ({err:#}); retried next cycle. If the partitions have moved \
                 to another runtime, it resumes from the checkpoints"
            ),
        }
        Ok(())
    }
}

/// Reads rounds from the partition queues into `ahead` while the tasks work, up to
/// `per_partition` records of each per round: at least one round, then more until `ahead` holds
/// `target` records (a batch per partition) or the tasks are `done`. A round that finds nothing
/// waits [`READ_AHEAD_WAIT`] for the fetcher, or until the tasks finish (they unpark this thread).
///
/// Reading only one round left the rest of the next batch to [`Stage::fetch`], after the
/// tasks: the workers then idled while this thread polled (a fifth of the map stage's time in
/// the end-to-end benchmark).
fn read_ahead<S: StageSource>(
    source: &S,
    (per_partition, target): (usize, usize),
    done: &AtomicBool,
    ahead: &mut BTreeMap<Partition, Vec<InputRecord>>,
) {
    let mut count = 0;
    loop {
        let taken = source.poll_round(per_partition, ahead);
        count += taken;
        if count >= target || done.load(Ordering::Acquire) {
            return;
        }
        if taken == 0 {
            std::thread::park_timeout(READ_AHEAD_WAIT);
        }
    }
}

/// How many of `out` are dead letters (counted by reason by the sink, not as output).
fn dead_letters_in(out: &[Outgoing]) -> usize {
    out.iter().filter(|o| o.kind.is_dead_letter()).count()
}

#[cfg(test)]
mod tests;
