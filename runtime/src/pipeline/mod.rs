//! The per-partition pipeline: map → window → reduce → fire, over batches of records.
//!
//! [`Pipeline::process`] takes one batch and returns what it produced: output records of the
//! windows the batch closed, and dead letters. It is written against the [`Guest`] trait and
//! plain records, so `weir run` (a file) and the Kafka server drive the very same code.
//!
//! Semantics, for a given input order (the output does not depend on batch boundaries):
//! - Each pair's event time is the time `map` emitted with it, else its record's timestamp (or
//!   the wall clock at processing, in [`TimeMode::Processing`]).
//! - The watermark is the largest event time seen minus the out-of-orderness; it advances after
//!   each record that emitted pairs. A pair is late when every window it belongs to has closed
//!   (`end + lateness <= watermark` before its record); late pairs are dropped, and a record
//!   whose pairs were all late goes to the dead letters. A closed session never merges again,
//!   even before it fires.
//! - Values are folded per (window, key) in input order. Windows fire, in closing order, at the
//!   end of the batch in which the watermark passes `end + lateness`.
//! - A record that makes a guest call fail (trap, limit, refusal) is isolated (see
//!   [`isolate()`]) and goes to the dead letters with the reason; the rest of its batch goes on.

mod checkpoint;
mod combined;
mod dead_letter;
mod finish;
mod isolate;
mod map_ahead;

pub use checkpoint::Checkpoint;
pub use dead_letter::{DeadLetter, Reason, Stage};
pub use finish::finish;
pub use isolate::{Failure, isolate};
pub use map_ahead::{MapAhead, Mapped};

use crate::guest::{Guest, GuestError};
use crate::record::{Combined, Emitted, FinishItem, InputRecord, ModuleKind, OutputRecord, PairRef};
use crate::window::{Origin, Watermark, WindowSpec, WindowStore, is_closed};
use checkpoint::Replay;
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where event time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeMode {
    /// The time `map` emits with a pair, else the record's timestamp.
    #[default]
    Event,
    /// The wall clock when the pair is processed.
    Processing,
}

/// How a pipeline windows its pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineConfig {
    /// The window family and sizes.
    pub window: WindowSpec,
    /// How far behind the largest event time seen the watermark trails.
    pub out_of_orderness: Duration,
    /// How long after its end a window still accepts pairs before it fires.
    pub lateness: Duration,
    /// Event or processing time.
    pub time: TimeMode,
}

/// What one call of the pipeline produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Output records, in firing order.
    pub outputs: Vec<OutputRecord>,
    /// Records (or windows) set aside, with reasons.
    pub dead_letters: Vec<DeadLetter>,
}

/// Running totals, for summaries and metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Input records seen.
    pub records_in: u64,
    /// Pairs `map` emitted.
    pub pairs: u64,
    /// Output records produced.
    pub outputs: u64,
    /// (window, key) results fired.
    pub windows_fired: u64,
    /// Pairs dropped because their windows had closed.
    pub late_pairs: u64,
    /// Dead letters by reason.
    pub dead_letters: BTreeMap<&'static str, u64>,
    /// (window, key) results rebuilt by a replay after a restore and not fired again, because
    /// they had fired before the checkpoint.
    pub replayed_results: u64,
}

/// The pipeline of one input partition (or one file).
pub struct Pipeline<G> {
    guest: G,
    kind: ModuleKind,
    store: WindowStore,
    watermark: Watermark,
    out_of_orderness: i64,
    lateness: i64,
    time: TimeMode,
    stats: Stats,
    position: Option<i64>,
    replay: Option<Replay>,
    partials: bool,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(millis)
        .unwrap_or(0)
}

pub(crate) fn message(error: &GuestError) -> String {
    match error {
        GuestError::Rejected { message, .. } | GuestError::Failed { message, .. } => message.clone(),
    }
}

pub(crate) fn reason(error: &GuestError) -> Reason {
    match error {
        GuestError::Rejected { .. } => Reason::Rejected,
        GuestError::Failed { kind, .. } => Reason::Failed(*kind),
    }
}

/// A record's pairs within a batch, and the watermark it was windowed against.
struct RecordPairs {
    source: usize,
    watermark: i64,
    pairs: Range<usize>,
}

impl<G: Guest> Pipeline<G> {
    /// A pipeline running `guest` with `config`.
    pub fn new(guest: G, config: &PipelineConfig) -> Self {
        let out_of_orderness = millis(config.out_of_orderness);
        let lateness = millis(config.lateness);
        Pipeline {
            kind: guest.kind(),
            guest,
            store: WindowStore::new(config.window, lateness),
            watermark: Watermark::new(out_of_orderness),
            out_of_orderness,
            lateness,
            time: config.time,
            stats: Stats::default(),
            position: None,
            replay: None,
            partials: false,
        }
    }

    /// Makes closed windows come out as *partial accumulators* instead of going through the
    /// guest's finish: each output record is keyed by the encoded reduce key, its value is the
    /// accumulator and its `window` is set. Stage 1 of the shuffle sends these to the reduce
    /// stage, which merges the partials of every input partition and finishes them there.
    pub fn emit_partials(mut self) -> Self {
        self.partials = true;
        self
    }

    /// A pipeline resuming from `checkpoint`: feed it the input from
    /// `checkpoint.commit_offset` on. See [`Checkpoint`] for what replay does and does not repeat.
    pub fn resume(guest: G, config: &PipelineConfig, checkpoint: &Checkpoint) -> Self {
        let mut pipeline = Pipeline::new(guest, config);
        pipeline.watermark.advance_to(checkpoint.commit_watermark);
        pipeline.position = Some(checkpoint.commit_offset);
        pipeline.replay = Some(Replay {
            until_offset: checkpoint.position,
            fired_through: checkpoint.watermark,
        });
        pipeline
    }

    /// The progress to persist before committing: the offset rule's commit offset and the
    /// watermarks that make a replay from it exact. `None` before the first record.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        let position = self.position?;
        let now = Origin {
            offset: position,
            watermark: self.watermark.current(),
        };
        let commit = self.store.oldest_open().map_or(now, |open| open.earlier(now));
        // Checkpoints only move forward. While a resumed pipeline replays, its watermark and
        // position trail the checkpoint it resumed from: reporting them would let the next
        // resume fire again, with only the replayed records, windows that had fired before
        // (the ones that straddle this resume's commit offset). The commit point is exact
        // either way, since the replay rebuilds the watermark as it was.
        let (position, watermark) = match self.replay {
            Some(replay) => (
                position.max(replay.until_offset),
                now.watermark.max(replay.fired_through),
            ),
            None => (position, now.watermark),
        };
        Some(Checkpoint {
            commit_offset: commit.offset,
            commit_watermark: commit.watermark,
            position,
            watermark,
        })
    }

    /// The earliest start of an open session window (`None` for fixed windows or none open):
    /// with the shuffle, stage 2 waits for it before firing a merged session it could join.
    pub fn earliest_open_session(&self) -> Option<i64> {
        self.store.earliest_open_session()
    }

    /// Processes one batch of records.
    pub fn process(&mut self, records: &[InputRecord]) -> Outcome {
        self.process_premapped(records, None)
    }

    /// Processes one batch of records whose combined map another instance of the same module
    /// made ahead of time (with [`Guest::map_combine`] and [`Pipeline::combining_pane`]), so
    /// that the guest's largest share of the work runs on another thread. The outcome is the
    /// same as [`Pipeline::process`]'s: a batch the combined map does not fit goes the per-pair
    /// way.
    pub fn process_premapped(&mut self, records: &[InputRecord], premapped: Option<Combined>) -> Outcome {
        let mut out = Outcome::default();
        self.stats.records_in += records.len() as u64;
        if let Some(last) = records.last() {
            let next = last.offset.saturating_add(1);
            self.position = Some(self.position.map_or(next, |p| p.max(next)));
        }
        let combined = self.process_combined(records, premapped);
        if !combined {
            let emitted = self.map(records, &mut out);
            let mut pairs: Vec<PairRef<'_>> = emitted.iter().collect();
            pairs.sort_by_key(|p| p.source);
            self.stats.pairs += pairs.len() as u64;
            match self.kind {
                ModuleKind::Transform => self.transform(records, &pairs, &mut out),
                ModuleKind::MapReduce => self.window_and_reduce(records, &pairs, &mut out),
            }
        }
        if self.kind == ModuleKind::MapReduce {
            self.fire(&mut out);
        }
        self.count(&mut out);
        out
    }

    /// In processing time, advances the watermark to the wall clock and fires what closed.
    /// Does nothing in event time, where only records move the watermark.
    pub fn tick(&mut self) -> Outcome {
        let mut out = Outcome::default();
        if self.time == TimeMode::Processing && self.kind == ModuleKind::MapReduce {
            self.watermark
                .advance_to(now_ms().saturating_sub(self.out_of_orderness));
            self.fire(&mut out);
        }
        self.count(&mut out);
        out
    }

    /// End of input: fires every open window.
    pub fn close(&mut self) -> Outcome {
        let mut out = Outcome::default();
        if self.kind == ModuleKind::MapReduce {
            self.watermark.advance_to(i64::MAX);
            self.fire(&mut out);
        }
        self.count(&mut out);
        out
    }

    /// The current watermark, in ms (`i64::MIN` before the first pair).
    pub fn watermark(&self) -> i64 {
        self.watermark.current()
    }

    /// Open (window, key) accumulators.
    pub fn open_keys(&self) -> usize {
        self.store.open_keys()
    }

    /// Open windows.
    pub fn open_windows(&self) -> usize {
        self.store.open_windows()
    }

    /// Totals so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The guest, for its own statistics.
    pub fn guest(&self) -> &G {
        &self.guest
    }

    fn count(&mut self, out: &mut Outcome) {
        if let Some(replay) = self.replay {
            // Records before the checkpoint's position were set aside (and reported) before,
            // unless the verdict may differ this time: a record that timed out now but not then
            // is missing from its window, and must not vanish unreported (it may be reported
            // twice instead).
            out.dead_letters.retain(|dead| {
                !dead.reason.is_deterministic()
                    || dead
                        .record
                        .as_ref()
                        .is_none_or(|r| r.offset >= replay.until_offset)
            });
        }
        self.stats.outputs += out.outputs.len() as u64;
        for dead in &out.dead_letters {
            *self.stats.dead_letters.entry(dead.reason.as_str()).or_default() += 1;
        }
    }

    /// Maps the batch, isolating records the guest fails on. The pairs of the calls that
    /// succeeded are concatenated, their sources made relative to `records`.
    fn map(&mut self, records: &[InputRecord], out: &mut Outcome) -> Emitted {
        let guest = &mut self.guest;
        let mut emitted = Emitted::default();
        let failures = isolate(
            records,
            &mut |batch| guest.map_batch(batch),
            &mut |offset, got: Emitted| {
                let offset = u32::try_from(offset).unwrap_or(u32::MAX);
                emitted.data.extend_from_slice(&got.data);
                emitted.pairs.extend(got.pairs.into_iter().map(|mut pair| {
                    pair.source = pair.source.saturating_add(offset);
                    pair
                }));
            },
        );
        for failure in failures {
            out.dead_letters.push(DeadLetter::for_record(
                reason(&failure.error),
                Stage::Map,
                message(&failure.error),
                &records[failure.index],
            ));
        }
        emitted
    }

    fn transform(&mut self, records: &[InputRecord], pairs: &[PairRef<'_>], out: &mut Outcome) {
        out.outputs.extend(pairs.iter().map(|p| OutputRecord {
            timestamp: p.timestamp.unwrap_or(records[p.source as usize].timestamp),
            key: (!p.key.is_empty()).then(|| p.key.to_vec()),
            value: p.value.to_vec(),
            window: None,
        }));
    }

    fn event_time(&self, pair: &PairRef<'_>, record: &InputRecord, now: i64) -> i64 {
        match self.time {
            TimeMode::Event => pair.timestamp.unwrap_or(record.timestamp),
            TimeMode::Processing => now,
        }
    }

    /// Assigns the batch's pairs to windows record by record, then folds them with one reduce
    /// call. If that call fails, folds record by record to find the records it fails on.
    fn window_and_reduce(&mut self, records: &[InputRecord], pairs: &[PairRef<'_>], out: &mut Outcome) {
        let now = if self.time == TimeMode::Processing {
            now_ms()
        } else {
            0
        };
        let mut staged = self.store.stage_new();
        let mut by_record = Vec::new();
        let mut start = 0;
        while start < pairs.len() {
            let source = pairs[start].source as usize;
            let end = start
                + pairs[start..]
                    .iter()
                    .take_while(|p| p.source as usize == source)
                    .count();
            let record = &records[source];
            let watermark = self.watermark.current();
            let (mut late, mut max_time) = (0, i64::MIN);
            for pair in &pairs[start..end] {
                let t = self.event_time(pair, record, now);
                max_time = max_time.max(t);
                let origin = Origin {
                    offset: record.offset,
                    watermark,
                };
                if !self.store.stage(&mut staged, t, pair.key, pair.value, origin) {
                    late += 1;
                }
            }
            self.stats.late_pairs += late as u64;
            if late == end - start {
                out.dead_letters.push(DeadLetter::for_record(
                    Reason::Late,
                    Stage::Window,
                    format!("event time {max_time} is too late: its windows closed at watermark {watermark}"),
                    record,
                ));
            }
            self.watermark.observe(max_time);
            by_record.push(RecordPairs {
                source,
                watermark,
                pairs: start..end,
            });
            start = end;
        }
        let (input, pending) = self.store.groups(staged);
        if input.is_empty() {
            return;
        }
        match self.guest.reduce_batch(&input) {
            Ok(accs) => self.store.commit(pending, accs),
            Err(_) => self.reduce_record_by_record(records, pairs, &by_record, now, out),
        }
    }

    fn reduce_record_by_record(
        &mut self,
        records: &[InputRecord],
        pairs: &[PairRef<'_>],
        by_record: &[RecordPairs],
        now: i64,
        out: &mut Outcome,
    ) {
        for entry in by_record {
            let record = &records[entry.source];
            let mut staged = self.store.stage_new();
            for pair in &pairs[entry.pairs.clone()] {
                let t = self.event_time(pair, record, now);
                self.store.stage(
                    &mut staged,
                    t,
                    pair.key,
                    pair.value,
                    Origin {
                        offset: record.offset,
                        watermark: entry.watermark,
                    },
                );
            }
            let (input, pending) = self.store.groups(staged);
            if input.is_empty() {
                continue;
            }
            match self.guest.reduce_batch(&input) {
                Ok(accs) => self.store.commit(pending, accs),
                Err(error) => out.dead_letters.push(DeadLetter::for_record(
                    reason(&error),
                    Stage::Reduce,
                    message(&error),
                    record,
                )),
            }
        }
    }

    /// Fires every window the watermark has closed through the guest's finish.
    fn fire(&mut self, out: &mut Outcome) {
        let mut items: Vec<FinishItem> = self.store.fire(self.watermark.current());
        if let Some(replay) = self.replay {
            let before = items.len();
            items.retain(|item| !is_closed(item.window, replay.fired_through, self.lateness));
            self.stats.replayed_results += (before - items.len()) as u64;
        }
        if items.is_empty() {
            return;
        }
        self.stats.windows_fired += items.len() as u64;
        if self.partials {
            out.outputs.extend(items.into_iter().map(|item| OutputRecord {
                timestamp: item.window.end.saturating_sub(1),
                key: Some(item.key),
                value: item.acc,
                window: Some(item.window),
            }));
            return;
        }
        finish(&mut self.guest, &items, out);
    }
}
