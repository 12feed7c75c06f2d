//! Replaying a job's dead letters: each one whose record no module of the job will read again
//! is published back to its input topic and partition, with its original key, value, timestamp
//! and headers, for the (fixed) module to process as a new record.
//!
//! What is replayed, and why not the rest:
//! - only dead letters of input records (`weir.source.*`) of a topic the job still reads; not
//!   `late` ones unless asked for by reason (replayed with its timestamp, a late record is late
//!   again); not those cut to fit the dead-letter topic (`weir.truncated`: the value is not
//!   whole);
//! - not those the job will count anyway or would refuse again ([`replay_verdict`]): a record a
//!   later module read again when it took over, or one refused by the module the job still runs;
//! - never one already replayed ([`Replayed`], kept in the job's record by the API), so a replay
//!   run twice counts nothing twice.

use super::module_runs::{MapCheckpoint, ModuleRun, Verdict, replay_verdict};
use crate::kafka::dead_letter_reader::{self, Cursor, DeadLetterReader, Filter, StoredDeadLetter};
use crate::kafka::progress::ProgressStore;
use crate::kafka::sink::Sink;
use crate::outgoing::{Kind, Outgoing};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::ToSchema;

/// The header a replayed record carries: the dead letter it came from (`topic/partition/offset`
/// of the dead-letter topic).
pub const REPLAY_HEADER: &str = "weir.replay.of";

/// The dead letters already replayed: ranges `[start, end)` of offsets, by partition of the
/// dead-letter topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Replayed(pub BTreeMap<i32, Vec<(i64, i64)>>);

impl Replayed {
    /// Whether the dead letter at `offset` of `partition` was replayed.
    pub fn contains(&self, partition: i32, offset: i64) -> bool {
        self.0
            .get(&partition)
            .is_some_and(|ranges| ranges.iter().any(|&(s, e)| s <= offset && offset < e))
    }

    /// Notes the dead letter at `offset` of `partition` as replayed.
    pub fn insert(&mut self, partition: i32, offset: i64) {
        let ranges = self.0.entry(partition).or_default();
        ranges.push((offset, offset + 1));
        ranges.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
        for &(s, e) in ranges.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *ranges = merged;
    }

    /// Whether nothing was replayed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The job whose dead letters are replayed.
#[derive(Debug, Clone)]
pub struct ReplayJob<'a> {
    /// Kafka bootstrap servers.
    pub brokers: &'a str,
    /// Its input topics.
    pub inputs: &'a [String],
    /// The module of its current revision.
    pub module: &'a str,
    /// Whether it is paused (its current module then takes over at the checkpoints when
    /// resumed).
    pub paused: bool,
    /// Its dead-letter topic.
    pub dead_letter_topic: String,
    /// Its progress topic.
    pub progress_topic: String,
}

/// How many dead letters were left out for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Skipped {
    /// Why (for people).
    pub why: String,
    /// How many.
    pub count: usize,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplayOutcome {
    /// Dead letters published back to the input.
    pub replayed: usize,
    /// How many went to each input topic.
    pub topics: BTreeMap<String, usize>,
    /// Dead letters the filter kept but that were not replayed, by reason.
    pub skipped: Vec<Skipped>,
    /// Dead letters the filter left out (another reason, or older than `since`).
    pub filtered_out: usize,
    /// Whether nothing was published (a dry run).
    pub dry_run: bool,
}

/// Why a replay cannot run now.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The job's new revision has not started on a partition yet.
    #[error(
        "job's current module has not taken over input partition {0} yet (it runs a previous \
         revision there): retry in a few seconds, once `weir job status` shows it running, or \
         pause the job first"
    )]
    RevisionStarting(String),
    /// Kafka could not be read or written.
    #[error("{0:#}")]
    Kafka(anyhow::Error),
}

/// Reasons that depend on the clock or on batching: the module the job runs may pass the record
/// on another try.
fn deterministic(reason: &str) -> bool {
    !matches!(reason, "timeout" | "memory_limit" | "output_limit")
}

/// The module runs of each input partition, read from the map checkpoints, with the current
/// module's run added for a paused job whose new revision has not started yet.
struct Runs<'a> {
    job: &'a ReplayJob<'a>,
    store: ProgressStore,
    known: BTreeMap<(String, i32), Vec<ModuleRun>>,
}

impl Runs<'_> {
    fn of(&mut self, topic: &str, partition: i32) -> Result<&[ModuleRun], ReplayError> {
        let at = (topic.to_string(), partition);
        if !self.known.contains_key(&at) {
            let key = ProgressStore::key("map", topic, partition);
            let checkpoint: Option<MapCheckpoint> = self
                .store
                .latest(&key, partition)
                .map_err(ReplayError::Kafka)?
                .and_then(|bytes| serde_json::from_slice(&bytes).ok());
            let mut runs = Vec::new();
            if let Some(checkpoint) = checkpoint {
                runs = checkpoint.runs;
                if runs.last().is_none_or(|r| r.module != self.job.module) {
                    if !self.job.paused && !runs.is_empty() {
                        return Err(ReplayError::RevisionStarting(format!("{topic}/{partition}")));
                    }
                    // It takes over at the commit offset when it starts.
                    MapCheckpoint::started(&mut runs, self.job.module, checkpoint.progress.commit_offset);
                }
            }
            self.known.insert(at.clone(), runs);
        }
        Ok(self.known.get(&at).map_or(&[], Vec::as_slice))
    }
}

/// What to do with one dead letter the filter kept.
fn decide(
    job: &ReplayJob<'_>,
    runs: &mut Runs<'_>,
    dead: &StoredDeadLetter,
    explicit: bool,
) -> Result<Verdict, ReplayError> {
    let reason = dead.header("weir.reason").unwrap_or_default();
    let Some(source) = dead.source() else {
        return Ok(Verdict::Skip(format!(
            "`{reason}` dead letters of the {} stage hold no input record",
            dead.header("weir.stage").unwrap_or_default()
        )));
    };
    if reason == "late" && !explicit {
        return Ok(Verdict::Skip(
            "a late record replayed with its timestamp is late again (ask for it with --reason late)".into(),
        ));
    }
    if !job.inputs.contains(&source.topic) {
        return Ok(Verdict::Skip(format!(
            "topic `{}` is no longer an input of the job",
            source.topic
        )));
    }
    if dead.header("weir.truncated").is_some() {
        return Ok(Verdict::Skip(
            "it was cut to fit the dead-letter topic: its record is not whole".into(),
        ));
    }
    let module = dead.header("weir.module").unwrap_or_default();
    let runs = runs.of(&source.topic, source.partition)?;
    if reason == "late" {
        return Ok(Verdict::Replay);
    }
    Ok(replay_verdict(
        runs,
        &module,
        source.offset,
        deterministic(&reason),
    ))
}

/// The record that puts `dead` back into its input partition.
fn record(dead: &StoredDeadLetter, topic: &str, source: &dead_letter_reader::SourcePosition) -> Outgoing {
    let mut headers: Vec<(String, Vec<u8>)> = dead.original_headers().cloned().collect();
    headers.push((
        REPLAY_HEADER.into(),
        format!("{topic}/{}/{}", dead.partition, dead.offset).into_bytes(),
    ));
    Outgoing {
        kind: Kind::Other,
        topic: source.topic.clone(),
        partition: Some(source.partition),
        key: dead.key.clone(),
        value: dead.value.clone(),
        timestamp: dead.timestamp,
        headers,
    }
}

/// Replays the dead letters of `job` that `filter` keeps and `replayed` does not hold, noting
/// in `replayed` those published (nothing is published on a `dry_run`).
pub fn replay(
    job: &ReplayJob<'_>,
    filter: &Filter,
    replayed: &mut Replayed,
    dry_run: bool,
) -> Result<ReplayOutcome, ReplayError> {
    let kafka = ReplayError::Kafka;
    let reader = DeadLetterReader::new(job.brokers, &job.dead_letter_topic).map_err(kafka)?;
    let progress_partitions = crate::kafka::admin::Admin::new(job.brokers)
        .and_then(|admin| admin.partitions(&job.progress_topic))
        .map_err(kafka)?;
    let mut runs = Runs {
        job,
        store: ProgressStore::new(job.brokers, &job.progress_topic, progress_partitions).map_err(kafka)?,
        known: BTreeMap::new(),
    };
    let explicit = filter.reasons.iter().any(|r| r == "late");
    let mut outcome = ReplayOutcome {
        dry_run,
        ..ReplayOutcome::default()
    };
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    let mut positions = Vec::new();
    let mut failure = None;
    dead_letter_reader::each(&reader, &Cursor::new(), &mut |dead| {
        if failure.is_some() || replayed.contains(dead.partition, dead.offset) {
            return;
        }
        if !filter.keeps(&dead) {
            outcome.filtered_out += 1;
            return;
        }
        match decide(job, &mut runs, &dead, explicit) {
            Ok(Verdict::Replay) => {
                if let Some(source) = dead.source() {
                    *outcome.topics.entry(source.topic.clone()).or_default() += 1;
                    out.push(record(&dead, &job.dead_letter_topic, &source));
                    positions.push((dead.partition, dead.offset));
                }
            }
            Ok(Verdict::Skip(why)) => *skipped.entry(why).or_default() += 1,
            Err(err) => failure = Some(err),
        }
    })
    .map_err(kafka)?;
    if let Some(err) = failure {
        return Err(err);
    }
    outcome.replayed = out.len();
    outcome.skipped = skipped
        .into_iter()
        .map(|(why, count)| Skipped { why, count })
        .collect();
    if dry_run || out.is_empty() {
        return Ok(outcome);
    }
    let mut sink = Sink::new(job.brokers, Duration::from_secs(30))
        .context("cannot create a producer")
        .map_err(kafka)?;
    sink.send_all(&out)
        .and_then(|()| sink.flush())
        .context("cannot publish the dead letters back to the input")
        .map_err(kafka)?;
    for (partition, offset) in positions {
        replayed.insert(partition, offset);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replayed_offsets_merge_into_ranges_and_are_found_again() {
        let mut replayed = Replayed::default();
        for offset in [3, 1, 2, 7] {
            replayed.insert(0, offset);
        }
        replayed.insert(1, 0);
        assert_eq!(replayed.0.get(&0), Some(&vec![(1, 4), (7, 8)]));
        assert!(replayed.contains(0, 2) && replayed.contains(0, 7) && replayed.contains(1, 0));
        assert!(!replayed.contains(0, 4) && !replayed.contains(0, 0) && !replayed.contains(2, 0));
        let json = serde_json::to_string(&replayed).expect("serializes");
        assert_eq!(serde_json::from_str::<Replayed>(&json).ok(), Some(replayed));
    }

    #[test]
    fn a_replayed_record_is_the_original_with_a_header_naming_its_dead_letter() {
        let dead = StoredDeadLetter {
            partition: 1,
            offset: 9,
            timestamp: Some(1_700_000_000_000),
            key: Some(b"k".to_vec()),
            value: Some(b"reject".to_vec()),
            headers: vec![
                ("trace".into(), b"t1".to_vec()),
                ("weir.reason".into(), b"rejected".to_vec()),
                ("weir.source.topic".into(), b"lines".to_vec()),
                ("weir.source.partition".into(), b"2".to_vec()),
                ("weir.source.offset".into(), b"41".to_vec()),
            ],
        };
        let source = dead.source().expect("a source");
        let out = record(&dead, "wc.dead-letters", &source);
        assert_eq!((out.topic.as_str(), out.partition), ("lines", Some(2)));
        assert_eq!(out.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(out.value.as_deref(), Some(&b"reject"[..]));
        assert_eq!(out.timestamp, Some(1_700_000_000_000));
        assert_eq!(out.header("trace").as_deref(), Some("t1"));
        assert_eq!(out.header(REPLAY_HEADER).as_deref(), Some("wc.dead-letters/1/9"));
        assert_eq!(out.header("weir.reason"), None);
    }
}
