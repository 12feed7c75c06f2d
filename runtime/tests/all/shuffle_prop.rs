//! The keyed shuffle against a plain computation, without Kafka, for tumbling, hopping and
//! session windows. Records spread over several input partitions, with bounded disorder (none is
//! late), go through stage 1 (a [`Pipeline`] per partition emitting partials, then markers, over
//! the real wire format) and stage 2 (a [`Reducer`] per repartition partition). Faults:
//! - stage 1 owners crash and a new owner (a larger epoch) resumes from the last checkpoint,
//!   several times in a row, some checkpoints taken while still replaying; the replay re-sends
//!   partials and markers;
//! - a zombie (the old owner) goes on processing after the new owner has written, its partials
//!   and markers interleaved with its successor's;
//! - the repartition streams reach stage 2 interleaved at random (each upstream's order kept);
//! - stage 2 runs in random batch sizes, crashes, and resumes from its checkpoints, again
//!   resumes within resumes.
//!
//! Every (window, key) must come out with the value of the plain computation, and a result
//! written twice must have the same value.

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;
use weir::guest::{Guest, GuestError};
use weir::pipeline::{Checkpoint, Outcome, Pipeline, PipelineConfig, Reason, TimeMode};
use weir::record::{Emitted, FinishItem, GuestOutput, InputRecord, ModuleKind, ReduceInput, Window};
use weir::shuffle::{
    MarkerInfo, Reducer, ShuffleMessage, decode, marker_records, partial_record, partial_records,
};
use weir::window::WindowSpec;

/// Word count natively: the value is one key, counted as a little-endian u64.
struct Count;

fn number(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

impl Guest for Count {
    fn kind(&self) -> ModuleKind {
        ModuleKind::MapReduce
    }

    fn map_batch(&mut self, records: &[InputRecord]) -> Result<Emitted, GuestError> {
        let mut out = Emitted::default();
        for (index, record) in records.iter().enumerate() {
            let source = u32::try_from(index).map_err(|e| GuestError::rejected(index, e))?;
            out.push(
                source,
                record.value.as_deref().unwrap_or_default(),
                &1u64.to_le_bytes(),
                None,
            );
        }
        Ok(out)
    }

    fn reduce_batch(&mut self, input: &ReduceInput) -> Result<Vec<Vec<u8>>, GuestError> {
        input
            .groups()
            .into_iter()
            .enumerate()
            .map(|(index, values)| {
                let sum: Option<u64> = values.into_iter().map(number).sum();
                Ok(sum
                    .ok_or_else(|| GuestError::rejected(index, "not a count"))?
                    .to_le_bytes()
                    .to_vec())
            })
            .collect()
    }

    fn finish_batch(&mut self, items: &[FinishItem]) -> Result<Vec<GuestOutput>, GuestError> {
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let n = number(&item.acc).ok_or_else(|| GuestError::rejected(index, "not a count"))?;
                Ok(GuestOutput {
                    key: Some(item.key.clone()),
                    value: n.to_string().into_bytes(),
                })
            })
            .collect()
    }
}

/// One input partition's records: (time step, disorder, key index).
type Partition = Vec<(i64, i64, u8)>;

#[derive(Debug, Clone)]
struct Case {
    window: WindowSpec,
    lateness: i64,
    /// The largest disorder; the out-of-orderness is one more, so that nothing is late.
    disorder: i64,
    partitions: Vec<Partition>,
    batch: usize,
    reduce_partitions: i32,
    /// Per input partition: owner crashes, as (checkpoint after batch, batches after it); the
    /// batch is a fraction of the batches left, `at / 2^64`.
    crashes: Vec<Vec<(u64, usize)>>,
    /// Whether the owner before each crash goes on writing as a zombie.
    zombies: bool,
    /// How many of the last partitions were added to the topic while the job ran: stage 2
    /// starts without them and hears of them first at `join_at / 256` of each log.
    added: usize,
    join_at: u8,
    /// How far ahead in event time the added partitions start: from 0 (most of their first
    /// windows have fired when they join: late dead letters) to well ahead (exact).
    shift: i64,
    /// Picks interleavings, stage-2 batch sizes and stage-2 crashes.
    choices: Vec<u8>,
}

fn window_spec() -> impl Strategy<Value = WindowSpec> {
    prop_oneof![
        (1i64..40).prop_map(|size| WindowSpec::Tumbling { size }),
        (1i64..6, 1i64..6).prop_map(|(k, slide)| WindowSpec::Hopping {
            size: slide * k,
            slide
        }),
        (1i64..12).prop_map(|gap| WindowSpec::Session { gap }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let partition = prop::collection::vec((0i64..8, 0i64..6, 0u8..5), 0..50);
    let crashes = prop::collection::vec(prop::collection::vec((any::<u64>(), 0usize..3), 0..3), 4);
    (
        window_spec(),
        0i64..4,
        0i64..6,
        prop::collection::vec(partition, 1..4),
        1usize..12,
        1i32..4,
        crashes,
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 1..300),
        (0usize..3, any::<u8>(), 0i64..200),
    )
        .prop_map(
            |(
                window,
                lateness,
                disorder,
                partitions,
                batch,
                reduce_partitions,
                crashes,
                zombies,
                choices,
                (added, join_at, shift),
            )| Case {
                window,
                lateness,
                disorder,
                partitions: partitions
                    .iter()
                    .cloned()
                    .map(|p| {
                        p.into_iter()
                            .map(|(step, d, k)| (step, d.min(disorder), k))
                            .collect()
                    })
                    .collect(),
                batch,
                reduce_partitions,
                crashes,
                zombies,
                added: added.min(partitions.len() - 1),
                join_at,
                shift,
                choices,
            },
        )
}

fn key_name(key: u8) -> Vec<u8> {
    format!("k{key}").into_bytes()
}

fn upstream(p: usize) -> String {
    format!("in/{p}")
}

/// The input records of partition `p`: a steadily rising base time, each record up to
/// `disorder` before it.
fn inputs(case: &Case, p: usize) -> Vec<InputRecord> {
    let mut base = if is_added(case, p) { 100 + case.shift } else { 100 };
    case.partitions[p]
        .iter()
        .enumerate()
        .map(|(offset, &(step, disorder, key))| {
            base += step;
            InputRecord {
                key: None,
                value: Some(key_name(key)),
                timestamp: base - disorder,
                headers: Vec::new(),
                partition: i32::try_from(p).unwrap_or(0),
                offset: i64::try_from(offset).unwrap_or(0),
            }
        })
        .collect()
}

/// `at / 2^64` of `len`, rounded down.
fn fraction(at: u64, len: usize) -> usize {
    let len = u128::try_from(len).unwrap_or(0);
    usize::try_from((len * u128::from(at)) >> 64).unwrap_or(0)
}

/// Whether input partition `p` was added to the topic while the job ran.
fn is_added(case: &Case, p: usize) -> bool {
    p >= case.partitions.len() - case.added
}

/// What one owner of an upstream writes, per repartition partition, in order.
type Streams = Vec<Vec<InputRecord>>;

/// An owner of input partition `p` at `epoch`: its pipeline and the markers it has sent.
struct Owner<'a> {
    case: &'a Case,
    name: String,
    epoch: i64,
    pipeline: Pipeline<Count>,
    sent: Option<MarkerInfo>,
}

impl Owner<'_> {
    /// Processes a batch and writes its partials, then commits (a marker).
    fn step(&mut self, records: &[InputRecord], streams: &mut Streams) {
        let outcome = self.pipeline.process(records);
        self.send(outcome, streams);
        self.commit(streams);
    }

    /// End of input: fires every window, then commits.
    fn close(&mut self, streams: &mut Streams) {
        let outcome = self.pipeline.close();
        self.send(outcome, streams);
        self.commit(streams);
    }

    /// Partials as the map task writes them: packed per (window, partition). Owners of odd
    /// epochs write the single-partial format instead, as a runtime of the version before did:
    /// a job upgraded mid-stream reads both, interleaved.
    fn send(&self, outcome: Outcome, streams: &mut Streams) {
        let (topic, partitions) = ("r", self.case.reduce_partitions);
        let records = if self.epoch % 2 == 0 {
            partial_records(topic, partitions, &self.name, self.epoch, outcome.outputs)
        } else {
            outcome
                .outputs
                .into_iter()
                .map(|output| partial_record(topic, partitions, &self.name, self.epoch, output))
                .collect()
        };
        for out in records {
            let r = usize::try_from(out.partition.unwrap_or(0)).unwrap_or(0);
            streams[r].push(as_input(out));
        }
    }

    /// A commit: the marker, if it says something new (the first one always: it fences the
    /// owner before).
    fn commit(&mut self, streams: &mut Streams) {
        let info = MarkerInfo {
            epoch: self.epoch,
            watermark: self.pipeline.watermark(),
            open_session: self.pipeline.earliest_open_session().unwrap_or(i64::MAX),
            idle: false,
        };
        if self.sent != Some(info) {
            for (r, marker) in marker_records("r", self.case.reduce_partitions, &self.name, info)
                .into_iter()
                .enumerate()
            {
                streams[r].push(as_input(marker));
            }
            self.sent = Some(info);
        }
    }
}

fn as_input(out: weir::outgoing::Outgoing) -> InputRecord {
    InputRecord {
        key: out.key,
        value: out.value,
        timestamp: out.timestamp.unwrap_or(0),
        headers: Vec::new(),
        partition: out.partition.unwrap_or(0),
        offset: 0,
    }
}

fn pipeline_config(case: &Case) -> PipelineConfig {
    PipelineConfig {
        window: case.window,
        out_of_orderness: Duration::from_millis(u64::try_from(case.disorder + 1).unwrap_or(0)),
        lateness: Duration::from_millis(u64::try_from(case.lateness).unwrap_or(0)),
        time: TimeMode::Event,
    }
}

/// Stage 1 of input partition `p` with its owners' crashes: per repartition partition, the
/// records every owner wrote, in the order they reach it (a zombie's after its successor's).
fn stage_one(case: &Case, p: usize) -> Streams {
    let config = pipeline_config(case);
    let records = inputs(case, p);
    let n = records.len();
    let partitions = usize::try_from(case.reduce_partitions).unwrap_or(1);
    let mut streams: Streams = vec![Vec::new(); partitions];
    let mut owner = Owner {
        case,
        name: upstream(p),
        epoch: 10,
        pipeline: Pipeline::new(Count, &config).emit_partials(),
        sent: None,
    };
    let mut batches: Vec<std::ops::Range<usize>> = (0..n)
        .step_by(case.batch)
        .map(|s| s..(s + case.batch).min(n))
        .collect();
    for &(checkpoint_at, after) in &case.crashes[p % case.crashes.len()] {
        if batches.is_empty() {
            break;
        }
        let checkpoint_at = fraction(checkpoint_at, batches.len());
        let crash_after = (checkpoint_at + after).min(batches.len() - 1);
        let mut checkpoint: Option<Checkpoint> = None;
        for (b, range) in batches.iter().enumerate().take(crash_after + 1) {
            owner.step(&records[range.clone()], &mut streams);
            if b == checkpoint_at {
                checkpoint = owner.pipeline.checkpoint();
            }
        }
        // What the old owner would process next, had it not been replaced.
        let unprocessed: Vec<_> = batches[crash_after + 1..].iter().take(3).cloned().collect();
        let Some(checkpoint) = checkpoint else { break };
        let epoch = owner.epoch + 1 + i64::from(case.choices[0] % 3);
        let successor = Owner {
            case,
            name: upstream(p),
            epoch,
            pipeline: Pipeline::resume(Count, &config, &checkpoint).emit_partials(),
            sent: None,
        };
        let mut old = std::mem::replace(&mut owner, successor);
        let from = usize::try_from(checkpoint.commit_offset).unwrap_or(0);
        batches = (from..n)
            .step_by(case.batch)
            .map(|s| s..(s + case.batch).min(n))
            .collect();
        // The new owner writes its first batch; then the zombie, which has not noticed, goes
        // on processing where it was, its partials and markers after its successor's.
        if case.zombies
            && let Some(first) = batches.first().cloned()
        {
            owner.step(&records[first], &mut streams);
            batches.remove(0);
            for range in unprocessed {
                old.step(&records[range], &mut streams);
            }
        }
    }
    for range in batches {
        owner.step(&records[range], &mut streams);
    }
    owner.close(&mut streams);
    streams
}

/// One repartition partition's log: the upstreams' streams interleaved by `choices`, each
/// upstream's own order kept, upstream `u` not before the log has `joins[u]` records (unless
/// only such upstreams are left); offsets are set to the log's.
fn interleave(
    upstreams: &[&Vec<InputRecord>],
    joins: &[usize],
    choices: &mut impl Iterator<Item = u8>,
) -> Vec<InputRecord> {
    let mut next = vec![0; upstreams.len()];
    let mut log = Vec::new();
    loop {
        let left: Vec<usize> = (0..upstreams.len())
            .filter(|&u| next[u] < upstreams[u].len())
            .collect();
        if left.is_empty() {
            return log;
        }
        let joined: Vec<usize> = left.iter().copied().filter(|&u| joins[u] <= log.len()).collect();
        let open = if joined.is_empty() { left } else { joined };
        let u = open[usize::from(choices.next().unwrap_or(0)) % open.len()];
        let mut record = upstreams[u][next[u]].clone();
        record.offset = i64::try_from(log.len()).unwrap_or(0);
        log.push(record);
        next[u] += 1;
    }
}

/// What stage 2 wrote: every (window, key) result, and the late partials it dead-lettered by
/// (upstream, window, key), with their counts.
#[derive(Default)]
struct Written {
    results: BTreeMap<(Window, Vec<u8>), String>,
    late: BTreeMap<(String, Window, Vec<u8>), u64>,
}

/// Stage 2 over one repartition log in batches, crashing and resuming from its checkpoints as
/// `choices` says; it starts knowing the partitions that were not added.
fn stage_two(
    case: &Case,
    log: &[InputRecord],
    choices: &mut impl Iterator<Item = u8>,
    written: &mut Written,
) -> Result<(), TestCaseError> {
    let upstreams = || {
        (0..case.partitions.len())
            .filter(|&p| !is_added(case, p))
            .map(upstream)
    };
    let new = || Reducer::new(Count, case.window, case.lateness, upstreams());
    let mut reducer = new();
    let mut offset = 0usize;
    let mut crashes = 0;
    while offset < log.len() {
        let size = 1 + usize::from(choices.next().unwrap_or(0) % 8);
        let end = (offset + size).min(log.len());
        let outcome = reducer.process(&log[offset..end], |_, reason| panic!("undecodable: {reason}"));
        for output in outcome.outputs {
            let window = output.window.unwrap_or(Window { start: 0, end: 0 });
            let value = String::from_utf8_lossy(&output.value).into_owned();
            let key = output.key.unwrap_or_default();
            if let Some(before) = written.results.insert((window, key.clone()), value.clone()) {
                prop_assert_eq!(before, value, "a result written again changed value");
            }
        }
        for dead in outcome.dead_letters {
            prop_assert_eq!(dead.reason, Reason::Late, "{}", dead.message);
            let record = dead.record.ok_or_else(|| TestCaseError::fail("no record"))?;
            let Ok(ShuffleMessage::Partials {
                upstream,
                window,
                entries,
                ..
            }) = decode(&record)
            else {
                return Err(TestCaseError::fail("a late dead letter that is not a partial"));
            };
            let [(key, acc)] = entries[..] else {
                return Err(TestCaseError::fail("a late dead letter holds one partial"));
            };
            let upstream = upstream.to_string();
            prop_assert!(
                case.added > 0,
                "a partial of {} late though no partition was added",
                upstream
            );
            let count = number(acc).ok_or_else(|| TestCaseError::fail("not a count"))?;
            if let Some(before) = written.late.insert((upstream, window, key.to_vec()), count) {
                prop_assert_eq!(before, count, "a late partial again, with another count");
            }
        }
        offset = end;
        // A commit, and sometimes a crash after it: resume from the checkpoint.
        let checkpoint = reducer.checkpoint();
        if choices.next().unwrap_or(1).is_multiple_of(5)
            && crashes < 6
            && let Some(checkpoint) = checkpoint
        {
            crashes += 1;
            reducer = new().resume(&checkpoint);
            offset = usize::try_from(checkpoint.commit_offset).unwrap_or(0);
        }
    }
    Ok(())
}

/// The plain computation: every (window, key) count over all partitions.
fn reference(case: &Case) -> BTreeMap<(Window, Vec<u8>), String> {
    let mut times: BTreeMap<Vec<u8>, Vec<i64>> = BTreeMap::new();
    for p in 0..case.partitions.len() {
        for record in inputs(case, p) {
            times
                .entry(record.value.unwrap_or_default())
                .or_default()
                .push(record.timestamp);
        }
    }
    let mut counts: BTreeMap<(Window, Vec<u8>), u64> = BTreeMap::new();
    for (key, mut times) in times {
        times.sort_unstable();
        match case.window {
            WindowSpec::Session { gap } => {
                let mut current: Option<(Window, u64)> = None;
                for t in times {
                    current = match current {
                        Some((w, n)) if t <= w.end => Some((
                            Window {
                                start: w.start,
                                end: w.end.max(t + gap),
                            },
                            n + 1,
                        )),
                        other => {
                            if let Some((w, n)) = other {
                                counts.insert((w, key.clone()), n);
                            }
                            Some((
                                Window {
                                    start: t,
                                    end: t + gap,
                                },
                                1,
                            ))
                        }
                    };
                }
                if let Some((w, n)) = current {
                    counts.insert((w, key.clone()), n);
                }
            }
            WindowSpec::Tumbling { size } | WindowSpec::Hopping { size, .. } => {
                let slide = match case.window {
                    WindowSpec::Hopping { slide, .. } => slide,
                    _ => size,
                };
                for t in times {
                    let mut start = t - t.rem_euclid(slide);
                    while start > t - size {
                        *counts
                            .entry((
                                Window {
                                    start,
                                    end: start + size,
                                },
                                key.clone(),
                            ))
                            .or_default() += 1;
                        start -= slide;
                    }
                }
            }
        }
    }
    counts.into_iter().map(|(k, n)| (k, n.to_string())).collect()
}

/// The counts of `results` by (window, key).
fn counts(results: &BTreeMap<(Window, Vec<u8>), String>) -> BTreeMap<(Window, Vec<u8>), u64> {
    results
        .iter()
        .map(|(at, value)| (at.clone(), value.parse().unwrap_or(u64::MAX)))
        .collect()
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let streams: Vec<Streams> = (0..case.partitions.len()).map(|p| stage_one(case, p)).collect();
    let mut choices = case.choices.iter().copied().cycle();
    let mut written = Written::default();
    for r in 0..usize::try_from(case.reduce_partitions).unwrap_or(1) {
        let upstreams: Vec<&Vec<InputRecord>> = streams.iter().map(|s| &s[r]).collect();
        let total: usize = upstreams.iter().map(|u| u.len()).sum();
        let joins: Vec<usize> = (0..upstreams.len())
            .map(|p| {
                if is_added(case, p) {
                    total * usize::from(case.join_at) / 256
                } else {
                    0
                }
            })
            .collect();
        let log = interleave(&upstreams, &joins, &mut choices);
        stage_two(case, &log, &mut choices, &mut written)?;
    }
    let want = reference(case);
    if case.added == 0 {
        prop_assert_eq!(written.results, want);
        return Ok(());
    }
    // Partitions added while the job ran: their records are judged against the event time
    // the job has reached when they are first heard of. A window that had fired by then gets
    // the rest of its records in late dead letters: each (window, key) is what was output plus
    // what was dead-lettered, nothing lost, nothing twice. A session that had fired does not
    // merge again (as in stage 1: a closed session is final), so for sessions that holds per
    // key.
    let (got, want) = (counts(&written.results), counts(&want));
    let mut with_late = got;
    for ((_, window, key), n) in &written.late {
        *with_late.entry((*window, key.clone())).or_default() += n;
    }
    if matches!(case.window, WindowSpec::Session { .. }) {
        let per_key = |counts: &BTreeMap<(Window, Vec<u8>), u64>| {
            let mut keys: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
            for ((_, key), n) in counts {
                *keys.entry(key.clone()).or_default() += n;
            }
            keys
        };
        prop_assert_eq!(per_key(&with_late), per_key(&want));
    } else {
        prop_assert_eq!(with_late, want);
    }
    Ok(())
}

proptest! {
    // Cheap (a few seconds): a rare interleaving is what finds a bug here.
    #![proptest_config(crate::support::proptest_config(2048))]

    #[test]
    fn the_shuffle_is_exact_under_disorder_crashes_zombies_and_resumes(case in case()) {
        check(&case)?;
    }
}

/// Found by the property test in CI: an upstream's replay sends a session partial again from
/// a later offset than the first copy, and stage 2 then crashes. Its checkpoint committed the
/// copy's offset, so the replay lacked the partial between the two: a partial of the other
/// upstream that merges with it fired alone, and the record it counted was lost.
#[test]
fn a_partial_sent_again_is_replayed_from_its_first_copy() {
    let p = |v: &[(i64, i64, u8)]| v.to_vec();
    let case = Case {
        window: WindowSpec::Session { gap: 9 },
        lateness: 0,
        disorder: 2,
        partitions: vec![
            p(&[
                (4, 0, 0),
                (6, 0, 0),
                (6, 0, 1),
                (3, 0, 0),
                (3, 0, 2),
                (0, 1, 0),
                (4, 0, 1),
                (7, 0, 0),
                (6, 2, 2),
                (1, 2, 0),
                (0, 2, 1),
                (6, 0, 3),
                (6, 0, 0),
            ]),
            p(&[
                (0, 0, 1),
                (3, 0, 2),
                (0, 0, 0),
                (1, 0, 0),
                (2, 2, 4),
                (0, 2, 0),
                (5, 1, 1),
                (5, 0, 3),
                (6, 1, 2),
                (0, 0, 4),
                (0, 1, 0),
                (7, 0, 0),
                (0, 0, 0),
                (0, 0, 0),
                (0, 0, 0),
            ]),
        ],
        batch: 3,
        reduce_partitions: 1,
        crashes: vec![vec![(0, 2)], vec![], vec![], vec![]],
        zombies: false,
        added: 0,
        join_at: 0,
        shift: 0,
        choices: vec![
            11, 224, 72, 73, 187, 30, 11, 43, 71, 5, 151, 104, 187, 36, 30, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 66, 26, 0, 51, 43, 6, 21, 41, 0, 0,
        ],
    };
    check(&case).map_err(|e| e.to_string()).expect("exact");
}

/// Found by the property test: stage 2 heard of an added partition (its late partial), then
/// crashed; its checkpoint left out the upstream it had not had a marker from, so the replay
/// fired a window the first run had held back for it, and took it for one written before.
#[test]
fn an_upstream_first_heard_of_before_a_crash_still_holds_windows_back_after_it() {
    let case = Case {
        window: WindowSpec::Tumbling { size: 7 },
        lateness: 0,
        disorder: 3,
        partitions: vec![
            vec![
                (0, 0, 0),
                (0, 3, 0),
                (0, 0, 4),
                (4, 0, 0),
                (3, 3, 2),
                (2, 0, 2),
                (2, 0, 0),
                (3, 0, 1),
                (5, 0, 2),
                (3, 0, 0),
                (6, 0, 0),
                (7, 3, 2),
                (4, 0, 2),
                (5, 0, 2),
                (0, 0, 4),
                (3, 0, 2),
                (1, 0, 4),
                (6, 0, 0),
                (4, 0, 2),
                (2, 0, 0),
                (6, 0, 1),
                (7, 0, 1),
                (2, 0, 4),
                (6, 0, 1),
                (2, 0, 0),
                (0, 0, 2),
                (1, 0, 0),
                (7, 0, 2),
                (1, 0, 1),
                (6, 0, 1),
                (1, 0, 2),
                (2, 2, 1),
                (5, 0, 2),
                (5, 0, 0),
                (2, 0, 0),
                (0, 0, 2),
                (7, 0, 0),
            ],
            vec![
                (1, 1, 2),
                (1, 2, 4),
                (6, 0, 0),
                (3, 0, 2),
                (5, 2, 4),
                (2, 0, 4),
                (2, 0, 2),
                (0, 0, 0),
                (3, 0, 0),
                (0, 0, 0),
                (1, 0, 2),
                (1, 0, 0),
                (6, 0, 0),
                (0, 0, 0),
                (2, 0, 0),
                (0, 0, 0),
                (2, 0, 2),
                (4, 0, 0),
                (0, 0, 2),
                (0, 0, 0),
                (0, 0, 4),
                (0, 0, 0),
                (3, 0, 0),
                (4, 0, 0),
                (3, 0, 0),
            ],
        ],
        batch: 4,
        reduce_partitions: 2,
        crashes: vec![vec![], vec![], vec![], vec![]],
        zombies: false,
        added: 1,
        join_at: 0,
        shift: 2,
        choices: vec![
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 110, 215, 8, 66,
            216, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            2, 1, 76, 1, 195, 1, 21, 1, 28, 0, 0, 76, 2, 1, 108, 0,
        ],
    };
    check(&case).map_err(|e| e.to_string()).expect("exact");
}
