//! What a stage's loop ([`super::stage`]) reads from and writes to, as two traits: the loop's
//! logic (batching, the commit cycle's order, restarts) runs the same against Kafka
//! ([`KafkaSource`] and the [`Sink`]) and against the in-memory ones of its unit tests.

use super::orphans::Positions;
use crate::kafka::fetch_watch::Stuck;
use crate::kafka::group_positions;
use crate::kafka::partition_queues::{Partition, PartitionQueues};
use crate::kafka::sink::{Sink, SinkError};
use crate::kafka::source::{Rebalanced, StageContext, input_record};
use crate::outgoing::Outgoing;
use crate::record::InputRecord;
use anyhow::{Context, Result};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A record polled from the consumer's own queue: its partition and the record, or `None` for
/// something that is no record to process (an error the consumer reported, logged).
pub type Polled = Option<(Partition, InputRecord)>;

/// The consumer side of a stage: a group member's records, rebalances and commits.
pub trait StageSource {
    /// The next event of the consumer's own queue, waiting at most `wait`; `None` when it is
    /// empty. Serves rebalances ([`Self::take_rebalances`] then has them).
    fn poll(&mut self, wait: Duration) -> Option<Polled>;

    /// The assignment changes since the last call, in order.
    fn take_rebalances(&mut self) -> Vec<Rebalanced>;

    /// Gives `at` a queue of its own, read by [`Self::poll_round`]; false when it cannot (its
    /// records keep coming through [`Self::poll`]).
    fn split(&mut self, at: &Partition) -> bool;

    /// Forgets `at`'s queue (the partition was revoked).
    fn remove(&mut self, at: &Partition);

    /// Takes up to `per_partition` records already in each partition's own queue, in turn, into
    /// `batch`; returns how many. Runs on the loop's thread while the tasks work.
    fn poll_round(&self, per_partition: usize, batch: &mut BTreeMap<Partition, Vec<InputRecord>>) -> usize;

    /// Whether the group has given this member an assignment (maybe empty) since it joined.
    fn joined(&self) -> bool;

    /// A partition whose next record batch the broker never returns at this fetch size.
    fn take_stuck(&self) -> Option<Stuck>;

    /// The progress record that stores `checkpoint` under `key`.
    fn checkpoint_record(&self, key: &str, partition: i32, checkpoint: Vec<u8>) -> Outgoing;

    /// Commits `offsets` (the next offset to read, per partition); the error says why not.
    fn commit(&mut self, offsets: &[(Partition, i64)]) -> Result<()>;

    /// Where every partition of the stage's topics stands for its group.
    fn positions(&self) -> Result<Positions>;

    /// Leaves the group and joins it again (it then assigns the partitions anew).
    fn rejoin(&mut self) -> Result<()>;

    /// Leaves the group.
    fn leave(&mut self);
}

/// Where a stage writes: everything its tasks produce, then the checkpoints.
pub trait StageSink {
    /// Queues `records`, in order.
    fn send_all(&mut self, records: &[Outgoing]) -> Result<(), SinkError>;

    /// Waits until everything queued is acknowledged; fails if anything was not delivered.
    fn flush(&mut self) -> Result<(), SinkError>;
}

impl StageSink for Sink {
    fn send_all(&mut self, records: &[Outgoing]) -> Result<(), SinkError> {
        Sink::send_all(self, records)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Sink::flush(self)
    }
}

/// A stage's Kafka consumer and its partitions' own queues.
pub struct KafkaSource {
    consumer: Arc<BaseConsumer<StageContext>>,
    queues: PartitionQueues,
    brokers: String,
    topics: Vec<String>,
    /// The job and stage, for logs.
    job: String,
    stage: &'static str,
}

impl KafkaSource {
    /// `consumer`, subscribed to `topics` now.
    pub fn subscribe(
        consumer: BaseConsumer<StageContext>,
        brokers: &str,
        topics: &[String],
        (job, stage): (&str, &'static str),
    ) -> Result<Self> {
        let source = KafkaSource {
            consumer: Arc::new(consumer),
            queues: PartitionQueues::new(),
            brokers: brokers.to_string(),
            topics: topics.to_vec(),
            job: job.to_string(),
            stage,
        };
        source.subscribe_again()?;
        Ok(source)
    }

    fn subscribe_again(&self) -> Result<()> {
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        self.consumer
            .subscribe(&topics)
            .with_context(|| format!("cannot subscribe to {}", self.topics.join(", ")))
    }
}

impl StageSource for KafkaSource {
    fn poll(&mut self, wait: Duration) -> Option<Polled> {
        let polled = self.consumer.poll(wait)?;
        Some(match polled {
            Ok(message) => Some((
                (message.topic().to_string(), message.partition()),
                input_record(&message),
            )),
            Err(err) => {
                tracing::debug!(job = self.job, stage = self.stage, "consumer: {err}");
                None
            }
        })
    }

    fn take_rebalances(&mut self) -> Vec<Rebalanced> {
        self.consumer.context().take_events()
    }

    fn split(&mut self, at: &Partition) -> bool {
        self.queues.split(&self.consumer, at)
    }

    fn remove(&mut self, at: &Partition) {
        self.queues.remove(at);
    }

    fn poll_round(&self, per_partition: usize, batch: &mut BTreeMap<Partition, Vec<InputRecord>>) -> usize {
        self.queues.poll_round(per_partition, batch)
    }

    fn joined(&self) -> bool {
        self.consumer.context().joined()
    }

    fn take_stuck(&self) -> Option<Stuck> {
        self.consumer.context().take_stuck()
    }

    fn checkpoint_record(&self, key: &str, partition: i32, checkpoint: Vec<u8>) -> Outgoing {
        self.consumer
            .context()
            .progress()
            .record(key, partition, checkpoint)
    }

    fn commit(&mut self, offsets: &[(Partition, i64)]) -> Result<()> {
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in offsets {
            list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .context("offset list")?;
        }
        Ok(self.consumer.commit(&list, CommitMode::Sync)?)
    }

    fn positions(&self) -> Result<Positions> {
        group_positions(
            &self.consumer,
            &self.brokers,
            &self.topics,
            Duration::from_secs(5),
        )
    }

    fn rejoin(&mut self) -> Result<()> {
        self.consumer.context().rejoining();
        self.consumer.unsubscribe();
        self.subscribe_again()
    }

    fn leave(&mut self) {
        self.consumer.unsubscribe();
    }
}
