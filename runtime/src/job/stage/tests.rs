//! The stage loop against an in-memory source and sink: how it batches, the order of the commit
//! cycle (output, then checkpoints, each acknowledged, then offsets), a refused commit retried,
//! and a failed send that ends the run without committing what it did not write.

use super::*;
use crate::job::orphans::Positions;
use crate::job::stage_io::Polled;
use crate::job::status::JobStatus;
use crate::job::task::DeadLetters;
use crate::kafka::dead_letter::DeadLetterTopic;
use crate::kafka::sink::SinkError;
use crate::outgoing::Kind;
use std::collections::VecDeque;
use std::sync::Mutex;

/// What happened, in order, as the source, the tasks and the sink saw it.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    /// A task processed these offsets of its partition in one call.
    Processed(Partition, Vec<i64>),
    /// The sink queued a record.
    Sent(Outgoing),
    /// The sink waited for every record queued so far.
    Flushed,
    /// The source committed these offsets.
    Committed(Vec<(Partition, i64)>),
    /// The source refused to commit these offsets.
    Refused(Vec<(Partition, i64)>),
}

type Log = Arc<Mutex<Vec<Event>>>;

fn log(log: &Log, event: Event) {
    log.lock().expect("the log").push(event);
}

fn value(record: &Outgoing) -> i64 {
    let text = String::from_utf8(record.value.clone().unwrap_or_default()).unwrap_or_default();
    text.parse().unwrap_or(-1)
}

/// A task that writes each record's offset to `out`, partition for partition, and a marker of
/// its next offset to `markers` before each commit.
struct EchoTask {
    at: Partition,
    next: Option<i64>,
    log: Log,
}

impl Task for EchoTask {
    fn process(&mut self, records: &[InputRecord], out: &mut Vec<Outgoing>) {
        log(
            &self.log,
            Event::Processed(self.at.clone(), records.iter().map(|r| r.offset).collect()),
        );
        for record in records {
            out.push(outgoing(Kind::Output, "out", self.at.1, record.offset));
            self.next = Some(record.offset + 1);
        }
    }

    fn before_commit(&mut self, out: &mut Vec<Outgoing>) {
        if let Some(next) = self.next {
            out.push(outgoing(Kind::Marker, "markers", self.at.1, next));
        }
    }

    fn checkpoint(&mut self) -> Option<(i64, Vec<u8>)> {
        self.next.map(|next| (next, next.to_string().into_bytes()))
    }

    fn take_fired(&mut self) -> u64 {
        0
    }

    fn holding(&self) -> (usize, usize) {
        (0, 0)
    }
}

fn outgoing(kind: Kind, topic: &str, partition: i32, offset: i64) -> Outgoing {
    Outgoing {
        kind,
        topic: topic.into(),
        partition: Some(partition),
        key: None,
        value: Some(offset.to_string().into_bytes()),
        timestamp: None,
        headers: Vec::new(),
    }
}

struct EchoTasks {
    log: Log,
    dead_letters: DeadLetterTopic,
}

impl DeadLetters for EchoTasks {
    fn dead_letters(&self) -> &DeadLetterTopic {
        &self.dead_letters
    }
}

impl TaskFactory for EchoTasks {
    type Task = EchoTask;

    fn create(
        &self,
        topic: &str,
        partition: i32,
        checkpoint: Option<&[u8]>,
        _epoch: i64,
    ) -> Result<EchoTask> {
        let next = checkpoint
            .map(|c| String::from_utf8_lossy(c).parse::<i64>())
            .transpose()?;
        Ok(EchoTask {
            at: (topic.to_string(), partition),
            next,
            log: self.log.clone(),
        })
    }
}

/// A group member assigned `partitions` of topic `in` at once, whose records are offsets
/// `from..end`: the first `early` of each come through the consumer's own queue (fetched
/// before the partition's queue was split off), the rest through the partition's queue. Once
/// every record has been read and a few rounds found nothing more, it asks the loop to stop.
struct MemorySource {
    rebalances: Vec<Rebalanced>,
    early: VecDeque<(Partition, InputRecord)>,
    queues: BTreeMap<Partition, Mutex<VecDeque<InputRecord>>>,
    pending: BTreeMap<Partition, VecDeque<InputRecord>>,
    /// Since when every round found nothing (and the consumer's queue is empty).
    idle_since: Mutex<Option<Instant>>,
    shutdown: Arc<AtomicBool>,
    /// Refuse this many commits that include this offset.
    refuse: Option<(i64, u32)>,
    log: Log,
}

fn input(partition: i32, offset: i64) -> InputRecord {
    InputRecord {
        key: None,
        value: Some(offset.to_string().into_bytes()),
        timestamp: offset,
        headers: Vec::new(),
        partition,
        offset,
    }
}

impl MemorySource {
    fn new(partitions: &[(i32, i64, i64)], early: i64, log: &Log) -> Self {
        let mut source = MemorySource {
            rebalances: Vec::new(),
            early: VecDeque::new(),
            queues: BTreeMap::new(),
            pending: BTreeMap::new(),
            idle_since: Mutex::new(None),
            shutdown: Arc::new(AtomicBool::new(false)),
            refuse: None,
            log: log.clone(),
        };
        for &(partition, from, end) in partitions {
            let at = ("in".to_string(), partition);
            source.rebalances.push(Rebalanced::Assigned {
                topic: "in".into(),
                partition,
                checkpoint: (from > 0).then(|| from.to_string().into_bytes()),
                epoch: 1,
            });
            let split = (from + early).min(end);
            source
                .early
                .extend((from..split).map(|offset| (at.clone(), input(partition, offset))));
            source
                .pending
                .insert(at, (split..end).map(|offset| input(partition, offset)).collect());
        }
        source
    }
}

impl StageSource for MemorySource {
    fn poll(&mut self, wait: Duration) -> Option<Polled> {
        // The first poll serves the assignment; early records follow.
        if !self.rebalances.is_empty() {
            return None;
        }
        let polled = self.early.pop_front().map(Some);
        if polled.is_none() {
            std::thread::sleep(wait);
        }
        polled
    }

    fn take_rebalances(&mut self) -> Vec<Rebalanced> {
        std::mem::take(&mut self.rebalances)
    }

    fn split(&mut self, at: &Partition) -> bool {
        let records = self.pending.remove(at).unwrap_or_default();
        self.queues.insert(at.clone(), Mutex::new(records));
        true
    }

    fn remove(&mut self, at: &Partition) {
        self.queues.remove(at);
    }

    fn poll_round(&self, per_partition: usize, batch: &mut BTreeMap<Partition, Vec<InputRecord>>) -> usize {
        let mut taken = 0;
        for (at, queue) in &self.queues {
            let mut queue = queue.lock().expect("a queue");
            let n = per_partition.min(queue.len());
            if n > 0 {
                batch.entry(at.clone()).or_default().extend(queue.drain(..n));
                taken += n;
            }
        }
        let mut idle = self.idle_since.lock().expect("the idle time");
        if taken > 0 || !self.early.is_empty() {
            *idle = None;
        } else if idle.get_or_insert_with(Instant::now).elapsed() > Duration::from_millis(250) {
            // About 5 loops of the stage (each waits up to 50 ms for records). Not a count of
            // empty rounds: reading ahead makes one every 200 µs while the tasks work.
            self.shutdown.store(true, Ordering::Relaxed);
        }
        taken
    }

    fn joined(&self) -> bool {
        true
    }

    fn take_stuck(&self) -> Option<Stuck> {
        None
    }

    fn checkpoint_record(&self, key: &str, partition: i32, checkpoint: Vec<u8>) -> Outgoing {
        Outgoing {
            kind: Kind::Checkpoint,
            topic: "progress".into(),
            partition: Some(partition),
            key: Some(key.as_bytes().to_vec()),
            value: Some(checkpoint),
            timestamp: None,
            headers: Vec::new(),
        }
    }

    fn commit(&mut self, offsets: &[(Partition, i64)]) -> Result<()> {
        if let Some((offset, times)) = &mut self.refuse
            && *times > 0
            && offsets.iter().any(|(_, o)| o == offset)
        {
            *times -= 1;
            log(&self.log, Event::Refused(offsets.to_vec()));
            bail!("the group is rebalancing");
        }
        log(&self.log, Event::Committed(offsets.to_vec()));
        Ok(())
    }

    fn positions(&self) -> Result<Positions> {
        Ok(Positions::new())
    }

    fn rejoin(&mut self) -> Result<()> {
        Ok(())
    }

    fn leave(&mut self) {}
}

/// A sink that logs what it queues and flushes, and fails the send of its `fail_at`-th record
/// (counting from 0) if asked.
struct MemorySink {
    sent: usize,
    fail_at: Option<usize>,
    log: Log,
}

impl MemorySink {
    fn new(log: &Log, fail_at: Option<usize>) -> Self {
        MemorySink {
            sent: 0,
            fail_at,
            log: log.clone(),
        }
    }
}

impl StageSink for MemorySink {
    fn send_all(&mut self, records: &[Outgoing]) -> Result<(), SinkError> {
        for record in records {
            if self.fail_at == Some(self.sent) {
                return Err(SinkError::Delivery {
                    count: 1,
                    reason: "the broker went away".into(),
                });
            }
            self.sent += 1;
            log(&self.log, Event::Sent(record.clone()));
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        log(&self.log, Event::Flushed);
        Ok(())
    }
}

fn spec(batch_size: usize, commit_interval: Duration) -> StageSpec {
    StageSpec {
        stage: "map",
        job: "stage-test".into(),
        brokers: "memory".into(),
        group: "weir.stage-test.map".into(),
        topics: vec!["in".into()],
        progress: ("progress".into(), 1),
        session_timeout: Duration::from_secs(10),
        batch_size,
        commit_interval,
    }
}

/// Runs the loop over `source` and `sink` until the source has nothing more.
fn run_stage(spec: &StageSpec, source: MemorySource, sink: MemorySink, log: &Log) -> Result<()> {
    let factory = EchoTasks {
        log: log.clone(),
        dead_letters: DeadLetterTopic {
            topic: "dead".into(),
            job: "stage-test".into(),
            module: "m".into(),
        },
    };
    let status = Arc::new(JobStatus::new("test", "stage-test", (0, 0), "m"));
    let observer = StageObserver::new("stage-test", "map", status);
    let shutdown = source.shutdown.clone();
    let mut stage = Stage {
        spec,
        factory: &factory,
        source,
        sink,
        tasks: HashMap::new(),
        checkpointed: HashMap::new(),
        observer: &observer,
        fetch_bytes: STAGE_FETCH_BYTES,
        stuck_reported: false,
        settled: false,
    };
    stage.work(&shutdown).map(|_ended| ())
}

fn events(log: &Log) -> Vec<Event> {
    log.lock().expect("the log").clone()
}

/// Every commit in `events` vouches only for what was written and acknowledged before it: for
/// each committed (partition, offset), the output of every earlier offset, the partition's
/// marker and its checkpoint (saying that offset) were sent, in that order, each followed by a
/// flush, before the commit.
fn check_commits(events: &[Event]) {
    for (i, event) in events.iter().enumerate() {
        let Event::Committed(offsets) = event else {
            continue;
        };
        let before = &events[..i];
        let last_flush = before.iter().rposition(|e| *e == Event::Flushed);
        for ((_, partition), offset) in offsets {
            let sent = |kind: Kind, topic: &str, pick: &dyn Fn(i64) -> bool| {
                before.iter().rposition(|e| {
                    matches!(e, Event::Sent(r) if r.kind == kind && r.topic == topic
                        && r.partition == Some(*partition) && pick(value(r)))
                })
            };
            let checkpoint = sent(Kind::Checkpoint, "progress", &|v| v == *offset)
                .unwrap_or_else(|| panic!("no checkpoint of {partition} at {offset} before {event:?}"));
            let marker = sent(Kind::Marker, "markers", &|v| v == *offset)
                .unwrap_or_else(|| panic!("no marker of {partition} at {offset} before {event:?}"));
            let written: Vec<i64> = outputs(before, *partition)
                .into_iter()
                .filter(|v| v < offset)
                .collect();
            let last_output = sent(Kind::Output, "out", &|v| v == offset - 1);
            // From where this run started (a resumed run starts at its checkpoint).
            let start = written.iter().copied().min().unwrap_or(*offset);
            assert!(
                (start..*offset).all(|o| written.contains(&o)),
                "partition {partition} committed at {offset} with outputs {written:?}"
            );
            assert!(last_output < Some(marker) && marker < checkpoint, "{before:?}");
            // A flush between the outputs and the checkpoint, and one after the checkpoint.
            let flush_between = before[..checkpoint]
                .iter()
                .rposition(|e| *e == Event::Flushed)
                .is_some_and(|f| Some(f) > last_output && f > marker);
            assert!(
                flush_between,
                "no flush between the output and the checkpoint of {partition}"
            );
            assert!(
                last_flush > Some(checkpoint),
                "no flush after the checkpoint of {partition}"
            );
        }
    }
}

/// The offsets whose output for `partition` was sent, in order.
fn outputs(events: &[Event], partition: i32) -> Vec<i64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Sent(r) if r.kind == Kind::Output && r.partition == Some(partition) => Some(value(r)),
            _ => None,
        })
        .collect()
}

/// Each partition's offsets as its task processed them, in order.
fn processed(events: &[Event]) -> BTreeMap<Partition, Vec<i64>> {
    let mut by_partition: BTreeMap<Partition, Vec<i64>> = BTreeMap::new();
    for event in events {
        if let Event::Processed(at, offsets) = event {
            by_partition.entry(at.clone()).or_default().extend(offsets);
        }
    }
    by_partition
}

fn committed(events: &[Event]) -> BTreeMap<Partition, i64> {
    let mut last = BTreeMap::new();
    for event in events {
        if let Event::Committed(offsets) = event {
            last.extend(offsets.iter().cloned());
        }
    }
    last
}

#[test]
fn records_are_processed_in_order_in_batches_and_committed_only_after_they_are_written() {
    let log = Log::default();
    let source = MemorySource::new(&[(0, 0, 2_500), (1, 0, 1_700), (2, 0, 10)], 250, &log);
    let sink = MemorySink::new(&log, None);
    run_stage(&spec(100, Duration::ZERO), source, sink, &log).expect("the run ends cleanly");
    let events = events(&log);

    // No task call over the batch size, and each partition's records in offset order, once:
    // the early records (through the consumer's queue) before those of its own queue.
    for event in &events {
        if let Event::Processed(at, offsets) = event {
            assert!(
                offsets.len() <= 100,
                "{at:?}: a call of {} records",
                offsets.len()
            );
        }
    }
    let processed = processed(&events);
    for (partition, end) in [(0, 2_500), (1, 1_700), (2, 10)] {
        assert_eq!(
            processed[&("in".to_string(), partition)],
            (0..end).collect::<Vec<_>>()
        );
    }
    // Several commits along the way, each after what it vouches for, and the last one at the end
    // of every partition.
    assert!(events.iter().filter(|e| matches!(e, Event::Committed(_))).count() > 3);
    check_commits(&events);
    let last = committed(&events);
    for (partition, end) in [(0, 2_500), (1, 1_700), (2, 10)] {
        assert_eq!(last.get(&("in".to_string(), partition)), Some(&end));
    }
}

#[test]
fn a_refused_commit_is_tried_again_with_the_same_checkpoint() {
    let log = Log::default();
    let mut source = MemorySource::new(&[(0, 0, 300)], 0, &log);
    // The commits of the last checkpoint are refused twice (say, the group was rebalancing);
    // the checkpoint no longer changes, and is committed all the same.
    source.refuse = Some((300, 2));
    let sink = MemorySink::new(&log, None);
    run_stage(&spec(100, Duration::ZERO), source, sink, &log).expect("the run ends cleanly");
    let events = events(&log);
    check_commits(&events);
    let at = ("in".to_string(), 0);
    let refused = events
        .iter()
        .filter(|e| matches!(e, Event::Refused(o) if o.contains(&(at.clone(), 300))))
        .count();
    assert_eq!(refused, 2);
    assert_eq!(committed(&events).get(&at), Some(&300));
}

#[test]
fn a_failed_send_ends_the_run_and_nothing_unwritten_is_committed_so_a_restart_loses_nothing() {
    let log = Log::default();
    let source = MemorySource::new(&[(0, 0, 1_000), (1, 0, 1_000)], 0, &log);
    // The 700th record queued fails: somewhere in the middle of a loop's output.
    let sink = MemorySink::new(&log, Some(700));
    let err = run_stage(&spec(100, Duration::ZERO), source, sink, &log).expect_err("the send failed");
    assert!(format!("{err:#}").contains("the broker went away"), "{err:#}");
    let first = events(&log);
    check_commits(&first);
    // Nothing happens after the failure: no flush, no commit.
    assert!(
        matches!(first.last(), Some(Event::Sent(_) | Event::Processed(..))),
        "{:?}",
        first.last()
    );
    let resumed_at = committed(&first);

    // The restarted stage resumes from the committed checkpoints and writes the rest.
    let log2 = Log::default();
    let partitions: Vec<(i32, i64, i64)> = (0..2)
        .map(|p| {
            (
                p,
                resumed_at.get(&("in".to_string(), p)).copied().unwrap_or(0),
                1_000,
            )
        })
        .collect();
    let source = MemorySource::new(&partitions, 0, &log2);
    let sink = MemorySink::new(&log2, None);
    run_stage(&spec(100, Duration::ZERO), source, sink, &log2).expect("the restart ends cleanly");
    let second = events(&log2);
    check_commits(&second);
    // Every offset was written at least once in one run or the other, and every one the first
    // run's commits vouched for was written by it.
    for partition in 0..2 {
        let at = ("in".to_string(), partition);
        let (before, after) = (outputs(&first, partition), outputs(&second, partition));
        let from = resumed_at.get(&at).copied().unwrap_or(0);
        assert!((0..from).all(|o| before.contains(&o)), "partition {partition}");
        assert_eq!(after, (from..1_000).collect::<Vec<_>>(), "partition {partition}");
        assert_eq!(committed(&second).get(&at), Some(&1_000));
    }
}

/// A memory source of `partitions`, each split off with an empty queue: records come later,
/// as [`arrive`] adds them (as librdkafka's fetcher fills a partition's queue).
fn empty_queues(partitions: &[i32], log: &Log) -> MemorySource {
    let mut source = MemorySource::new(&[], 0, log);
    for &partition in partitions {
        source.split(&("in".to_string(), partition));
    }
    source
}

/// Adds `count` records to each of `source`'s queues, one round of them every millisecond.
fn arrive(source: &MemorySource, count: i64) {
    for offset in 0..count {
        std::thread::sleep(Duration::from_millis(1));
        for (at, queue) in &source.queues {
            queue.lock().expect("a queue").push_back(input(at.1, offset));
        }
    }
}

#[test]
fn reading_ahead_goes_on_while_the_tasks_work_until_it_has_a_batch_per_partition() {
    let log = Log::default();
    let source = empty_queues(&[0, 1], &log);
    let (done, mut ahead) = (AtomicBool::new(false), BTreeMap::new());
    // The tasks are still working (never done here): the queues start empty, and reading
    // ahead waits for records until it has 4 of each partition.
    std::thread::scope(|scope| {
        scope.spawn(|| arrive(&source, 10));
        read_ahead(&source, (4, 8), &done, &mut ahead);
    });
    let counts: Vec<usize> = ahead.values().map(Vec::len).collect();
    assert_eq!(counts.iter().sum::<usize>(), 8, "read ahead: {counts:?}");
    for (at, records) in &ahead {
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(
            offsets,
            (0..offsets.len() as i64).collect::<Vec<_>>(),
            "{at:?} in order"
        );
    }
}

#[test]
fn reading_ahead_stops_when_the_tasks_are_done() {
    let log = Log::default();
    let source = empty_queues(&[0, 1], &log);
    arrive(&source, 1);
    let (done, mut ahead) = (AtomicBool::new(true), BTreeMap::new());
    // One round, then the tasks being done ends it short of a batch per partition: the rest
    // is the next fetch's.
    read_ahead(&source, (4, 8), &done, &mut ahead);
    assert_eq!(ahead.values().map(Vec::len).sum::<usize>(), 2);
    // Nothing more to read: done ends it too, without waiting for a batch.
    let mut more = BTreeMap::new();
    read_ahead(&source, (4, 8), &done, &mut more);
    assert!(more.is_empty());
}
