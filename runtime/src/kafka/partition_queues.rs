//! [`PartitionQueues`]: a stage reads each assigned partition from a queue of its own, in turn,
//! so that every partition advances at the same pace.
//!
//! Through the consumer's single queue, records come in the order fetch responses arrive, and
//! librdkafka 2.12 hands one partition's whole prefetch over before the next one's: a stage
//! read its 6 input partitions one after the other (measured on tansu with 16 MiB and with
//! 2 MiB fetches). The shuffle's frontier is the slowest upstream's watermark, so stage 2 then
//! held every window of every key until the last partition was read, and nothing fired until
//! the end (BENCHMARKS.md, "Speed").
//!
//! With a queue per partition (`rd_kafka_queue_get_partition`, forwarded nowhere), the stage
//! takes up to a batch from each in turn, and librdkafka bounds each partition's prefetch on
//! its own (`queued.min.messages` and `queued.max.messages.kbytes` then count per partition:
//! see [`super::STAGE_QUEUED_MESSAGES`]), so the fetcher keeps asking for the partitions that
//! run low.
//!
//! Order within a partition is kept: records fetched before a partition's queue was split off
//! are in the consumer's own queue, and the stage drains that queue (applying rebalances as it
//! goes) before it reads any partition queue (see `job/stage.rs`).

use super::source::{StageContext, input_record};
use crate::record::InputRecord;
use rdkafka::consumer::BaseConsumer;
use rdkafka::consumer::base_consumer::PartitionQueue;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A topic and partition.
pub type Partition = (String, i32);

/// The queues of a consumer's assigned partitions.
pub struct PartitionQueues {
    queues: BTreeMap<Partition, PartitionQueue<StageContext>>,
}

impl PartitionQueues {
    /// No queue yet.
    pub fn new() -> Self {
        PartitionQueues {
            queues: BTreeMap::new(),
        }
    }

    /// Gives `at` a queue of its own on `consumer`: from now on its records come through
    /// [`PartitionQueues::poll_round`], not through the consumer's queue. Returns false (and
    /// the records keep coming through the consumer's queue) when librdkafka knows no such
    /// partition.
    pub fn split(&mut self, consumer: &Arc<BaseConsumer<StageContext>>, at: &Partition) -> bool {
        match consumer.split_partition_queue(&at.0, at.1) {
            Some(queue) => {
                self.queues.insert(at.clone(), queue);
                true
            }
            None => false,
        }
    }

    /// Forgets `at`'s queue (the partition was revoked).
    pub fn remove(&mut self, at: &Partition) {
        self.queues.remove(at);
    }

    /// Takes, from each partition's queue in turn, up to `per_partition` of the records
    /// already there into `batch`; returns how many it took. Errors the consumer
    /// reports on a queue (a partition at its end, a broker gone) are logged and skipped, as
    /// on the consumer's own queue.
    pub fn poll_round(
        &self,
        per_partition: usize,
        batch: &mut BTreeMap<Partition, Vec<InputRecord>>,
    ) -> usize {
        let mut taken = 0;
        for (at, queue) in &self.queues {
            let mut records = Vec::new();
            for _ in 0..per_partition {
                match queue.poll(Duration::ZERO) {
                    Some(Ok(message)) => records.push(input_record(&message)),
                    Some(Err(err)) => tracing::debug!(topic = at.0, partition = at.1, "consumer: {err}"),
                    None => break,
                }
            }
            if !records.is_empty() {
                taken += records.len();
                batch.entry(at.clone()).or_default().extend(records);
            }
        }
        taken
    }
}

impl Default for PartitionQueues {
    fn default() -> Self {
        Self::new()
    }
}
