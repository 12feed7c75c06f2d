//! [`TopicReader`]: reads ranges of offsets of a topic's partitions, without a group and
//! without committing: what the API's views of a job's dead letters and logs are read with.

use super::consumer_config;
use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a read waits for the brokers.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where each partition of a topic was read up to (the next offset), by partition.
pub type Cursor = BTreeMap<i32, i64>;

/// A reader of one topic.
pub struct TopicReader {
    consumer: BaseConsumer,
    topic: String,
    partitions: i32,
}

impl TopicReader {
    /// A reader of `topic` at `brokers`; an error when the topic does not exist (it names the
    /// topic and says so) or the brokers cannot be reached.
    pub fn new(brokers: &str, topic: &str) -> Result<Self> {
        let consumer: BaseConsumer = consumer_config(brokers, "weir.topic-reader")
            .create()
            .with_context(|| format!("cannot create a Kafka client for {brokers}"))?;
        let partitions = super::topic_partitions(consumer.client(), brokers, topic, TIMEOUT)?;
        Ok(TopicReader {
            consumer,
            topic: topic.to_string(),
            partitions: i32::try_from(partitions).unwrap_or(i32::MAX),
        })
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The first and end offsets of each partition.
    pub fn bounds(&self) -> Result<BTreeMap<i32, (i64, i64)>> {
        (0..self.partitions)
            .map(|p| {
                self.consumer
                    .fetch_watermarks(&self.topic, p, TIMEOUT)
                    .map(|b| (p, b))
                    .with_context(|| format!("cannot read the offsets of {}/{p}", self.topic))
            })
            .collect()
    }

    /// Reads `[start, end)` of `partition` in order, handing each record to `each`.
    pub fn range(
        &self,
        partition: i32,
        start: i64,
        end: i64,
        each: &mut dyn FnMut(&BorrowedMessage<'_>),
    ) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&self.topic, partition, Offset::Offset(start))
            .context("assignment")?;
        self.consumer
            .assign(&assignment)
            .with_context(|| format!("cannot read {}/{partition}", self.topic))?;
        let mut deadline = Instant::now() + TIMEOUT;
        let mut next = start;
        while next < end {
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "reading {}/{partition} stopped at offset {next} of {end}: the brokers sent nothing for {TIMEOUT:?}",
                    self.topic
                );
            }
            let Some(message) = self.consumer.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = message.with_context(|| format!("cannot read {}/{partition}", self.topic))?;
            deadline = Instant::now() + TIMEOUT;
            next = message.offset() + 1;
            if message.offset() < end {
                each(&message);
            }
        }
        Ok(())
    }
}

/// A cursor as text: `0:15,1:3` (partition:next offset).
pub fn format_cursor(cursor: &Cursor) -> String {
    cursor
        .iter()
        .map(|(p, o)| format!("{p}:{o}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses [`format_cursor`]'s text.
pub fn parse_cursor(text: &str) -> Option<Cursor> {
    text.split(',')
        .filter(|e| !e.trim().is_empty())
        .map(|entry| {
            let (p, o) = entry.trim().split_once(':')?;
            Some((p.parse().ok()?, o.parse().ok()?))
        })
        .collect()
}
