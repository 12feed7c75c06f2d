//! [`ProgressStore`]: each partition's checkpoint (watermark, fired-window frontier, commit
//! offset), written to a compacted topic before its offset is committed (DESIGN.md section 4).
//!
//! Why a topic and not the offset commit's metadata: not every Kafka-API broker keeps that
//! metadata (tansu 0.6 drops it). The record is keyed `STAGE/TOPIC/PARTITION` and written to
//! progress partition `PARTITION mod N`, so the latest checkpoint of a partition is among the
//! last records of one progress partition: a restore reads backwards from the end, a few
//! hundred records at a time, instead of replaying the topic.
//!
//! A checkpoint is only written once everything it vouches for (output, dead letters,
//! partials, markers) has been acknowledged, so any checkpoint is a valid place to resume, even
//! one written by a runtime that has just lost its partitions: the restore takes the newest.

use super::claim::{Claim, Claims};
use super::consumer_config;
use crate::outgoing::{Kind, Outgoing};
use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// How many records a restore reads per step backwards.
const STEP: i64 = 256;

/// Reads and writes checkpoints in one job's progress topic.
pub struct ProgressStore {
    topic: String,
    partitions: i32,
    reader: BaseConsumer,
    claims: Claims,
    timeout: Duration,
}

impl ProgressStore {
    /// A store over `topic`, which has `partitions` partitions.
    pub fn new(brokers: &str, topic: &str, partitions: i32) -> Result<Self> {
        let reader = consumer_config(brokers, &format!("{topic}.reader"))
            .create()
            .with_context(|| format!("cannot create a reader for {topic}"))?;
        Ok(ProgressStore {
            topic: topic.to_string(),
            partitions: partitions.max(1),
            reader,
            claims: Claims::new(brokers, topic)?,
            timeout: Duration::from_secs(10),
        })
    }

    /// The key of a partition's checkpoint.
    pub fn key(stage: &str, topic: &str, partition: i32) -> String {
        format!("{stage}/{topic}/{partition}")
    }

    fn home(&self, partition: i32) -> i32 {
        partition.rem_euclid(self.partitions)
    }

    /// Claims `stage`'s partitions (topic, partition) for this owner, all at once, and
    /// returns each one's fencing epoch, larger than that of every earlier owner (see
    /// [`Claims`]), or why it could not be claimed, in the order given.
    pub fn claim_all(&self, stage: &str, partitions: &[(&str, i32)]) -> Vec<Result<i64>> {
        let claims: Vec<Claim> = partitions
            .iter()
            .map(|&(topic, partition)| Claim {
                key: format!("claim/{}", Self::key(stage, topic, partition)),
                home: self.home(partition),
            })
            .collect();
        self.claims.claim_all(&claims)
    }

    /// The record that stores `checkpoint` (JSON) for `key`.
    pub fn record(&self, key: &str, partition: i32, checkpoint: Vec<u8>) -> Outgoing {
        Self::record_in(&self.topic, self.partitions, key, partition, checkpoint)
    }

    /// The record that stores `checkpoint` (JSON) for `key` in progress topic `topic` of
    /// `partitions` partitions, without a store (a reset writes checkpoints from outside the
    /// job).
    pub fn record_in(
        topic: &str,
        partitions: i32,
        key: &str,
        partition: i32,
        checkpoint: Vec<u8>,
    ) -> Outgoing {
        Outgoing {
            kind: Kind::Checkpoint,
            topic: topic.to_string(),
            partition: Some(partition.rem_euclid(partitions.max(1))),
            key: Some(key.as_bytes().to_vec()),
            value: Some(checkpoint),
            timestamp: None,
            headers: Vec::new(),
        }
    }

    /// The latest checkpoint stored for `key`, if any.
    pub fn latest(&self, key: &str, partition: i32) -> Result<Option<Vec<u8>>> {
        let home = self.home(partition);
        let (low, high) = self
            .reader
            .fetch_watermarks(&self.topic, home, self.timeout)
            .with_context(|| format!("cannot read the end offsets of {}/{home}", self.topic))?;
        let mut end = high;
        while end > low {
            let start = (end - STEP).max(low);
            if let Some(found) = self.scan(home, start, end, key)? {
                return Ok(Some(found));
            }
            end = start;
        }
        Ok(None)
    }

    /// The last value for `key` among offsets `[start, end)` of progress partition `home`.
    fn scan(&self, home: i32, start: i64, end: i64, key: &str) -> Result<Option<Vec<u8>>> {
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&self.topic, home, Offset::Offset(start))
            .context("progress assignment")?;
        self.reader
            .assign(&assignment)
            .with_context(|| format!("cannot read {}/{home}", self.topic))?;
        let deadline = Instant::now() + self.timeout;
        let mut found = None;
        let mut next = start;
        while next < end {
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "reading {}/{home} from offset {start} to {end} took longer than {:?}",
                    self.topic,
                    self.timeout
                );
            }
            let Some(message) = self.reader.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = message.with_context(|| format!("cannot read {}/{home}", self.topic))?;
            next = message.offset() + 1;
            if message.offset() < end && message.key() == Some(key.as_bytes()) {
                found = message.payload().map(<[u8]>::to_vec);
            }
        }
        Ok(found)
    }
}
