//! A job's reset: where its input partitions start again ([`ResetTo`]), and the checkpoints
//! and committed offsets that make every stage start there afresh ([`apply`]).
//!
//! A stage resumes a partition from its latest checkpoint in the progress topic (its commit
//! offset and the watermark and fired-window frontier that go with it), else from its group's
//! committed offset. A reset therefore writes, for each input partition it moves, a *fresh*
//! map checkpoint at the new offset (no watermark, nothing fired: the windows are computed again
//! from the records there on) and commits the map group there too.
//!
//! With the shuffle, the reduce stage holds state of its own for every window still open
//! (partials from every input partition, and each partition's watermark): state that describes
//! the input before the reset. So it starts afresh too, at the end of each repartition
//! partition: what the map stage writes after the reset is all it reads. Which is only
//! consistent when every input partition starts afresh: a partition that kept its place would
//! lose the partials it sent for windows still open. A reset of a shuffled job must therefore
//! move every input partition ([`ResetError::PartialShuffled`]).
//!
//! The job must not run anywhere while the checkpoints are written (a running stage would write
//! its own after them): the API pauses it and waits until no runtime runs it first.

use super::module_runs::MapCheckpoint;
use crate::config;
use crate::kafka::progress::ProgressStore;
use crate::kafka::sink::Sink;
use crate::kafka::{consumer_config, topic_partitions};
use crate::outgoing::Outgoing;
use crate::shuffle::MergeCheckpoint;
use anyhow::Context as _;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::ToSchema;

/// How long a reset waits for the brokers.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where a reset moves a job's input partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetTo {
    /// Each partition's first offset: the whole retained input again.
    Earliest,
    /// Each partition's end: skip everything not read yet.
    Latest,
    /// The first record at or after this time (ms since the epoch), per partition.
    Time(i64),
    /// These offsets; `None` for the topic means the job's only input topic.
    Offsets(Vec<(Option<String>, i32, i64)>),
}

/// Why a reset cannot be done as asked.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// The target does not parse.
    #[error(
        "`{0}` is not a place to reset to: give `earliest`, `latest`, a time (RFC 3339 like \
         2026-11-27T18:00:00Z, or ms since the epoch) or offsets (`0=120,1=300`, or \
         `topic:0=120` for a job with several input topics)"
    )]
    BadTarget(String),
    /// Offsets name a topic the job does not read.
    #[error("the job does not read topic `{topic}`; its inputs are {inputs}")]
    UnknownTopic {
        /// The topic given.
        topic: String,
        /// The job's inputs.
        inputs: String,
    },
    /// Offsets without a topic, for a job with several inputs.
    #[error("the job reads several topics ({inputs}): name the topic of each offset, as `topic:0=120`")]
    TopicNeeded {
        /// The job's inputs.
        inputs: String,
    },
    /// No such partition.
    #[error("topic `{topic}` has no partition {partition} (it has {partitions})")]
    NoSuchPartition {
        /// Topic.
        topic: String,
        /// Partition given.
        partition: i32,
        /// How many it has.
        partitions: i32,
    },
    /// An offset outside what the partition holds.
    #[error("offset {offset} is outside {topic}/{partition}, which holds offsets {low} to {high}")]
    OutOfRange {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset given.
        offset: i64,
        /// First offset held.
        low: i64,
        /// End (the next offset to be written).
        high: i64,
    },
    /// A shuffled job's reset that leaves some input partitions where they are.
    #[error(
        "the job shuffles (a global reduce): its reduce stage starts afresh on a reset, so every \
         input partition must start afresh too, or the partials it holds for open windows would \
         be lost; give an offset for {missing} as well, or reset to earliest, latest or a time"
    )]
    PartialShuffled {
        /// The partitions left out, as `topic/partition`.
        missing: String,
    },
    /// The brokers could not do it.
    #[error("{0:#}")]
    Kafka(anyhow::Error),
}

impl std::str::FromStr for ResetTo {
    type Err = ResetError;

    fn from_str(text: &str) -> Result<Self, ResetError> {
        let bad = || ResetError::BadTarget(text.to_string());
        let text = text.trim();
        match text {
            "earliest" | "beginning" => return Ok(ResetTo::Earliest),
            "latest" | "end" => return Ok(ResetTo::Latest),
            _ => {}
        }
        if text.contains('=') {
            let mut offsets = Vec::new();
            for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (place, offset) = entry.split_once('=').ok_or_else(bad)?;
                let (topic, partition) = match place.rsplit_once(':') {
                    Some((topic, partition)) if !topic.is_empty() => (Some(topic.to_string()), partition),
                    Some(_) => return Err(bad()),
                    None => (None, place),
                };
                let partition: i32 = partition.trim().parse().map_err(|_| bad())?;
                let offset: i64 = offset.trim().parse().map_err(|_| bad())?;
                if partition < 0 || offset < 0 {
                    return Err(bad());
                }
                offsets.push((topic, partition, offset));
            }
            if offsets.is_empty() {
                return Err(bad());
            }
            return Ok(ResetTo::Offsets(offsets));
        }
        if let Ok(ms) = text.parse::<i64>() {
            return if ms >= 0 {
                Ok(ResetTo::Time(ms))
            } else {
                Err(bad())
            };
        }
        let time = humantime::parse_rfc3339_weak(text).map_err(|_| bad())?;
        let ms = time
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| bad())?
            .as_millis();
        Ok(ResetTo::Time(i64::try_from(ms).map_err(|_| bad())?))
    }
}

/// One input partition moved by a reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct MovedPartition {
    /// The input topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset the map group had committed before (absent when it had none).
    pub from: Option<i64>,
    /// The offset the job starts at now.
    pub to: i64,
}

/// What a reset did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ResetOutcome {
    /// Every input partition moved.
    pub partitions: Vec<MovedPartition>,
    /// Repartition partitions whose reduce state started afresh (0 without the shuffle).
    pub reduce_partitions: usize,
}

/// The job a reset applies to.
#[derive(Debug, Clone)]
pub struct ResetJob<'a> {
    /// Kafka bootstrap servers.
    pub brokers: &'a str,
    /// The job's name (its groups are [`config::map_group`] and [`config::reduce_group`] of it).
    pub name: &'a str,
    /// Its input topics.
    pub inputs: &'a [String],
    /// Its module id (the first run of the fresh checkpoints).
    pub module: &'a str,
    /// Its progress topic.
    pub progress_topic: String,
    /// Its repartition topic, when it shuffles.
    pub repartition_topic: Option<String>,
}

type Partitions = BTreeMap<(String, i32), i64>;

/// Every input partition's new offset for `to`, after checking it (an offset within what the
/// partition holds; every partition for a shuffled job).
pub fn targets(job: &ResetJob<'_>, to: &ResetTo) -> Result<Partitions, ResetError> {
    let consumer: BaseConsumer = consumer_config(job.brokers, &config::map_group(job.name))
        .create()
        .map_err(|e| ResetError::Kafka(anyhow::Error::new(e).context("cannot create a Kafka client")))?;
    let kafka = |e: anyhow::Error| ResetError::Kafka(e);
    let mut counts = BTreeMap::new();
    for topic in job.inputs {
        let n =
            topic_partitions(consumer.client(), job.brokers, topic, TIMEOUT).map_err(|e| kafka(e.into()))?;
        counts.insert(topic.clone(), i32::try_from(n).unwrap_or(i32::MAX));
    }
    let bounds = |topic: &str, partition: i32| {
        consumer
            .fetch_watermarks(topic, partition, TIMEOUT)
            .with_context(|| format!("cannot read the offsets of {topic}/{partition}"))
            .map_err(kafka)
    };
    let every = || {
        counts
            .iter()
            .flat_map(|(t, &n)| (0..n).map(move |p| (t.clone(), p)))
    };
    let mut out = Partitions::new();
    match to {
        ResetTo::Earliest | ResetTo::Latest => {
            for (topic, partition) in every() {
                let (low, high) = bounds(&topic, partition)?;
                let offset = if *to == ResetTo::Earliest { low } else { high };
                out.insert((topic, partition), offset);
            }
        }
        ResetTo::Time(ms) => {
            let mut query = TopicPartitionList::new();
            for (topic, partition) in every() {
                query
                    .add_partition_offset(&topic, partition, Offset::Offset(*ms))
                    .map_err(|e| kafka(e.into()))?;
            }
            let found = consumer
                .offsets_for_times(query, TIMEOUT)
                .context("cannot look up offsets by time")
                .map_err(kafka)?;
            for element in found.elements() {
                let (topic, partition) = (element.topic().to_string(), element.partition());
                let offset = match element.offset() {
                    Offset::Offset(offset) => offset,
                    // No record at or after the time: the end.
                    _ => bounds(&topic, partition)?.1,
                };
                out.insert((topic, partition), offset);
            }
        }
        ResetTo::Offsets(offsets) => {
            let inputs = job.inputs.join(", ");
            for (topic, partition, offset) in offsets {
                let topic = match topic {
                    Some(topic) if counts.contains_key(topic) => topic.clone(),
                    Some(topic) => {
                        return Err(ResetError::UnknownTopic {
                            topic: topic.clone(),
                            inputs,
                        });
                    }
                    None if job.inputs.len() == 1 => job.inputs[0].clone(),
                    None => return Err(ResetError::TopicNeeded { inputs }),
                };
                let partitions = counts.get(&topic).copied().unwrap_or(0);
                if *partition >= partitions {
                    return Err(ResetError::NoSuchPartition {
                        topic,
                        partition: *partition,
                        partitions,
                    });
                }
                let (low, high) = bounds(&topic, *partition)?;
                if *offset < low || *offset > high {
                    return Err(ResetError::OutOfRange {
                        topic,
                        partition: *partition,
                        offset: *offset,
                        low,
                        high,
                    });
                }
                out.insert((topic, *partition), *offset);
            }
            if job.repartition_topic.is_some() {
                let missing: Vec<String> = every()
                    .filter(|at| !out.contains_key(at))
                    .map(|(t, p)| format!("{t}/{p}"))
                    .collect();
                if !missing.is_empty() {
                    return Err(ResetError::PartialShuffled {
                        missing: missing.join(", "),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The checkpoint that starts a reduce partition afresh at `offset`: no upstream heard from,
/// nothing fired.
fn fresh_reduce(offset: i64) -> MergeCheckpoint {
    MergeCheckpoint {
        commit_offset: offset,
        position: offset,
        watermarks: BTreeMap::new(),
        marks: BTreeMap::new(),
        fired_through: Some(i64::MIN),
        all_upstreams: false,
    }
}

/// Moves the (stopped) job to `targets`: fresh checkpoints for those input partitions (and,
/// with the shuffle, for every repartition partition at its end), then the groups' committed
/// offsets. The checkpoints decide where the stages resume; a commit the broker refuses is
/// reported in the error.
pub fn apply(job: &ResetJob<'_>, targets: &Partitions) -> Result<ResetOutcome, ResetError> {
    let kafka = |e: anyhow::Error| ResetError::Kafka(e);
    let map_group: BaseConsumer = consumer_config(job.brokers, &config::map_group(job.name))
        .create()
        .map_err(|e| kafka(anyhow::Error::new(e).context("cannot create a Kafka client")))?;
    let progress_partitions = i32::try_from(
        topic_partitions(map_group.client(), job.brokers, &job.progress_topic, TIMEOUT).map_err(|e| {
            kafka(anyhow::Error::new(e).context(
                "the job has no progress topic yet (it never ran): it starts from its inputs' \
                 committed offsets, or their beginning",
            ))
        })?,
    )
    .unwrap_or(i32::MAX);
    let before = previous_offsets(&map_group, targets);
    let mut records = Vec::new();
    let mut map_offsets = TopicPartitionList::new();
    for ((topic, partition), &offset) in targets {
        let checkpoint = serde_json::to_vec(&MapCheckpoint::fresh(offset, job.module))
            .context("checkpoint")
            .map_err(kafka)?;
        let key = ProgressStore::key("map", topic, *partition);
        records.push(ProgressStore::record_in(
            &job.progress_topic,
            progress_partitions,
            &key,
            *partition,
            checkpoint,
        ));
        map_offsets
            .add_partition_offset(topic, *partition, Offset::Offset(offset))
            .map_err(|e| kafka(e.into()))?;
    }
    let mut reduce_offsets = TopicPartitionList::new();
    if let Some(repartition) = &job.repartition_topic {
        let n = topic_partitions(map_group.client(), job.brokers, repartition, TIMEOUT)
            .map_err(|e| kafka(e.into()))?;
        for partition in 0..i32::try_from(n).unwrap_or(i32::MAX) {
            let (_, end) = map_group
                .fetch_watermarks(repartition, partition, TIMEOUT)
                .with_context(|| format!("cannot read the end of {repartition}/{partition}"))
                .map_err(kafka)?;
            let checkpoint = serde_json::to_vec(&fresh_reduce(end))
                .context("checkpoint")
                .map_err(kafka)?;
            let key = ProgressStore::key("reduce", repartition, partition);
            records.push(ProgressStore::record_in(
                &job.progress_topic,
                progress_partitions,
                &key,
                partition,
                checkpoint,
            ));
            reduce_offsets
                .add_partition_offset(repartition, partition, Offset::Offset(end))
                .map_err(|e| kafka(e.into()))?;
        }
    }
    write(job.brokers, &records)?;
    commit(&map_group, &map_offsets).map_err(kafka)?;
    if reduce_offsets.count() > 0 {
        let reduce_group: BaseConsumer = consumer_config(job.brokers, &config::reduce_group(job.name))
            .create()
            .map_err(|e| kafka(anyhow::Error::new(e).context("cannot create a Kafka client")))?;
        commit(&reduce_group, &reduce_offsets).map_err(kafka)?;
    }
    Ok(ResetOutcome {
        partitions: targets
            .iter()
            .map(|((topic, partition), &to)| MovedPartition {
                topic: topic.clone(),
                partition: *partition,
                from: before.get(&(topic.clone(), *partition)).copied(),
                to,
            })
            .collect(),
        reduce_partitions: reduce_offsets.count(),
    })
}

/// How many members consumer group `group` has, or `None` when the brokers do not say
/// (DescribeGroups unsupported, unreachable).
pub fn group_members(brokers: &str, group: &str) -> Option<usize> {
    let consumer: BaseConsumer = consumer_config(brokers, group).create().ok()?;
    let list = consumer.fetch_group_list(Some(group), TIMEOUT).ok()?;
    Some(
        list.groups()
            .iter()
            .filter(|g| g.name() == group)
            .map(|g| g.members().len())
            .sum(),
    )
}

/// The offsets the group had committed for `targets`' partitions (those it had).
fn previous_offsets(consumer: &BaseConsumer, targets: &Partitions) -> BTreeMap<(String, i32), i64> {
    let mut list = TopicPartitionList::new();
    for (topic, partition) in targets.keys() {
        list.add_partition(topic, *partition);
    }
    let Ok(committed) = consumer.committed_offsets(list, TIMEOUT) else {
        return BTreeMap::new();
    };
    committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(offset) => Some(((e.topic().to_string(), e.partition()), offset)),
            _ => None,
        })
        .collect()
}

fn write(brokers: &str, records: &[Outgoing]) -> Result<(), ResetError> {
    let mut sink = Sink::new(brokers, TIMEOUT)
        .map_err(|e| ResetError::Kafka(anyhow::Error::new(e).context("cannot create a producer")))?;
    sink.send_all(records)
        .and_then(|()| sink.flush())
        .map_err(|e| ResetError::Kafka(anyhow::Error::new(e).context("cannot write the checkpoints")))
}

/// Commits `offsets` for the consumer's group, from outside it (the group has no member while
/// the job is paused). Retried for a few seconds: a group whose last member has just left may
/// still be rebalancing.
fn commit(consumer: &BaseConsumer, offsets: &TopicPartitionList) -> anyhow::Result<()> {
    let mut last = None;
    for _ in 0..20 {
        match consumer.commit(offsets, CommitMode::Sync) {
            Ok(()) => return Ok(()),
            Err(err) => last = Some(err),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    match last {
        Some(err) => Err(anyhow::Error::new(err).context(
            "the checkpoints were reset, but the group's committed offsets could not be moved \
             (the job resumes from the checkpoints all the same; its lag may read wrong until it \
             commits)",
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_places_times_and_offsets() {
        let parse = |s: &str| s.parse::<ResetTo>();
        assert_eq!(parse("earliest").ok(), Some(ResetTo::Earliest));
        assert_eq!(parse("latest").ok(), Some(ResetTo::Latest));
        assert_eq!(
            parse("1700000000000").ok(),
            Some(ResetTo::Time(1_700_000_000_000))
        );
        assert_eq!(
            parse("2023-11-14T22:13:20Z").ok(),
            Some(ResetTo::Time(1_700_000_000_000))
        );
        assert_eq!(
            parse("0=120, 1=300").ok(),
            Some(ResetTo::Offsets(vec![(None, 0, 120), (None, 1, 300)]))
        );
        assert_eq!(
            parse("in.v2:0=5").ok(),
            Some(ResetTo::Offsets(vec![(Some("in.v2".into()), 0, 5)]))
        );
        for bad in ["yesterday", "0=x", "a:b=1", ":0=1", "-5", "0=-1", ""] {
            let err = parse(bad).expect_err(bad).to_string();
            assert!(err.contains("earliest") && err.contains("0=120"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_fresh_reduce_checkpoint_resumes_with_nothing_fired() {
        let json = serde_json::to_vec(&fresh_reduce(42)).expect("serializes");
        let back: MergeCheckpoint = serde_json::from_slice(&json).expect("reads back");
        assert_eq!(back.commit_offset, 42);
        assert_eq!(back.position, 42);
        assert_eq!(back.fired_through, Some(i64::MIN));
        assert!(back.marks.is_empty());
    }
}
