//! The consumer side of a stage: a consumer-group member whose rebalance callback restores
//! each newly assigned partition from its checkpoint before any record of it is fetched.
//!
//! With cooperative-sticky assignment a rebalance only moves the partitions that change hands.
//! On assignment the callback reads the partition's latest checkpoint from the progress topic
//! and starts fetching at its commit offset (else at the group's committed offset, else at the
//! beginning). On revocation, or when the assignment is lost (the runtime was silent past the
//! session timeout), the stage drops the partition's state without committing it.

use super::fetch_watch::{FetchReport, FetchWatch, Stuck};
use super::progress::ProgressStore;
use crate::record::{Header, InputRecord};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, RebalanceProtocol};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::sync::Mutex;

/// How long a rebalance waits for the group's committed offsets of partitions that have no
/// checkpoint.
const COMMITTED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A change of the stage's assignment, for its loop to apply.
#[derive(Debug)]
pub enum Rebalanced {
    /// Now ours, with the latest checkpoint found (if any).
    Assigned {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The checkpoint's JSON.
        checkpoint: Option<Vec<u8>>,
        /// This owner's fencing epoch for the partition (see [`ProgressStore::claim_all`]).
        epoch: i64,
    },
    /// No longer ours.
    Revoked {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Whether it was lost (taken away after a session timeout) rather than handed over.
        lost: bool,
    },
    /// Restoring a partition failed: the stage must restart.
    Failed(String),
}

/// What a stage does with the consumer's statistics (`statistics.interval.ms`).
pub type StatisticsHandler = Box<dyn Fn(&Statistics) + Send + Sync>;

/// The consumer context of a stage.
pub struct StageContext {
    stage: &'static str,
    progress: ProgressStore,
    events: Mutex<Vec<Rebalanced>>,
    on_statistics: Option<StatisticsHandler>,
    joined: std::sync::atomic::AtomicBool,
    fetch_watch: Mutex<FetchWatch>,
    stuck: Mutex<Option<Stuck>>,
}

/// How many statistics reports in a row (`statistics.interval.ms` apart) find a partition's
/// fetch position unmoved, with records past it and none queued, before it counts as stuck.
const STUCK_REPORTS: u32 = 2;

impl StageContext {
    /// A context that restores `stage`'s partitions from `progress`.
    pub fn new(stage: &'static str, progress: ProgressStore) -> Self {
        StageContext {
            stage,
            progress,
            events: Mutex::new(Vec::new()),
            on_statistics: None,
            joined: std::sync::atomic::AtomicBool::new(false),
            fetch_watch: Mutex::new(FetchWatch::new(STUCK_REPORTS)),
            stuck: Mutex::new(None),
        }
    }

    /// Hands the consumer's statistics (lag per partition...) to `handler`.
    pub fn with_statistics(mut self, handler: StatisticsHandler) -> Self {
        self.on_statistics = Some(handler);
        self
    }

    /// The progress store.
    pub fn progress(&self) -> &ProgressStore {
        &self.progress
    }

    /// Whether the group has given this member an assignment (perhaps empty) yet.
    pub fn joined(&self) -> bool {
        self.joined.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The member is about to rejoin its group: it has no assignment until the group says.
    pub fn rejoining(&self) {
        self.joined.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes the partition found stuck (see [`FetchWatch`]) since the last call, if any.
    pub fn take_stuck(&self) -> Option<Stuck> {
        self.stuck.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn watch_fetches(&self, statistics: &Statistics) {
        let mut watch = self.fetch_watch.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, t) in &statistics.topics {
            for (&partition, p) in &t.partitions {
                if partition < 0 || !p.desired {
                    continue;
                }
                let report = FetchReport {
                    next_offset: p.next_offset,
                    high_watermark: p.hi_offset,
                    queued: p.fetchq_cnt,
                    active: p.fetch_state == "active",
                };
                if let Some(stuck) = watch.observe(topic, partition, report) {
                    *self.stuck.lock().unwrap_or_else(|e| e.into_inner()) = Some(stuck);
                }
            }
        }
    }

    /// Takes the rebalance events since the last call.
    pub fn take_events(&self) -> Vec<Rebalanced> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn push(&self, event: Rebalanced) {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).push(event);
    }

    /// The offset a checkpoint says to resume at.
    fn resume_offset(checkpoint: &[u8]) -> Option<i64> {
        #[derive(serde::Deserialize)]
        struct CommitOffset {
            commit_offset: i64,
        }
        serde_json::from_slice::<CommitOffset>(checkpoint)
            .ok()
            .map(|c| c.commit_offset)
    }

    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let elements = tpl.elements();
        let assigned: Vec<(&str, i32)> = elements
            .iter()
            .map(|element| (element.topic(), element.partition()))
            .collect();
        // Each checkpoint is read before the partition is claimed, as a restore always was;
        // the claims then go out together, one round trip for all of them.
        let checkpoints: Vec<Option<Vec<u8>>> = assigned
            .iter()
            .map(|&(topic, partition)| {
                let key = ProgressStore::key(self.stage, topic, partition);
                self.progress.latest(&key, partition).unwrap_or_else(|err| {
                    self.push(Rebalanced::Failed(format!(
                        "cannot restore {topic}/{partition}: {err:#}"
                    )));
                    None
                })
            })
            .collect();
        let epochs = self.progress.claim_all(self.stage, &assigned);
        let resume: Vec<Option<i64>> = checkpoints
            .iter()
            .map(|checkpoint| checkpoint.as_deref().and_then(Self::resume_offset))
            .collect();
        let fallback = without_checkpoint(consumer, &assigned, &resume);
        let mut start = TopicPartitionList::new();
        for (((&(topic, partition), checkpoint), epoch), resume) in
            assigned.iter().zip(checkpoints).zip(epochs).zip(resume)
        {
            let epoch = match epoch {
                Ok(epoch) => epoch,
                Err(err) => {
                    self.push(Rebalanced::Failed(format!(
                        "cannot claim {topic}/{partition}: {err:#}"
                    )));
                    0
                }
            };
            let offset = match resume {
                Some(offset) => Offset::Offset(offset),
                None => fallback
                    .find_partition(topic, partition)
                    .map_or(Offset::Invalid, |found| found.offset()),
            };
            tracing::info!(
                stage = self.stage,
                topic,
                partition,
                ?offset,
                epoch,
                "partition assigned"
            );
            if let Err(err) = start.add_partition_offset(topic, partition, offset) {
                self.push(Rebalanced::Failed(format!("{topic}/{partition}: {err}")));
            }
            self.push(Rebalanced::Assigned {
                topic: topic.to_string(),
                partition,
                checkpoint,
                epoch,
            });
        }
        let result = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_assign(&start),
            _ => consumer.assign(&start),
        };
        if let Err(err) = result {
            self.push(Rebalanced::Failed(format!("cannot take the assignment: {err}")));
        }
    }

    fn revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let lost = consumer.assignment_lost();
        for element in tpl.elements() {
            tracing::info!(
                stage = self.stage,
                topic = element.topic(),
                partition = element.partition(),
                lost,
                "partition revoked"
            );
            self.push(Rebalanced::Revoked {
                topic: element.topic().to_string(),
                partition: element.partition(),
                lost,
            });
        }
        let result = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_unassign(tpl),
            _ => consumer.unassign(),
        };
        if let Err(err) = result {
            tracing::warn!(stage = self.stage, "cannot release revoked partitions: {err}");
        }
    }
}

impl ClientContext for StageContext {
    fn stats(&self, statistics: Statistics) {
        self.watch_fetches(&statistics);
        if let Some(handler) = &self.on_statistics {
            handler(&statistics);
        }
    }
}

impl ConsumerContext for StageContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        self.joined.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(stage = self.stage, ?err, partitions = tpl.count(), "rebalance");
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer, tpl),
            other => {
                tracing::warn!(stage = self.stage, "rebalance error: {other:?}");
                self.revoke(consumer, tpl);
            }
        }
    }

    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, _rebalance: &Rebalance<'_>) {}
}

/// A consumed message as a pipeline record.
pub fn input_record(message: &BorrowedMessage<'_>) -> InputRecord {
    InputRecord {
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        timestamp: message.timestamp().to_millis().unwrap_or(0),
        headers: message
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| Header {
                        key: h.key.to_string(),
                        value: h.value.unwrap_or_default().to_vec(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        partition: message.partition(),
        offset: message.offset(),
    }
}

/// Where the partitions of `assigned` without a checkpoint (`None` in `resume`) start: at
/// the group's committed offset, else at the beginning. Asked here rather than left to
/// librdkafka (`Offset::Invalid`), which, finding no committed offset, waits 100 ms before
/// it looks up the beginning: a new job's first records came that much later. When the
/// group cannot be asked, the partition is left out, and librdkafka does it.
fn without_checkpoint<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    assigned: &[(&str, i32)],
    resume: &[Option<i64>],
) -> TopicPartitionList {
    let mut ask = TopicPartitionList::new();
    for (&(topic, partition), resume) in assigned.iter().zip(resume) {
        if resume.is_none() {
            ask.add_partition(topic, partition);
        }
    }
    if ask.count() == 0 {
        return ask;
    }
    let committed = match consumer.committed_offsets(ask, COMMITTED_TIMEOUT) {
        Ok(committed) => committed,
        Err(err) => {
            tracing::debug!(error = %err, "cannot read the group's committed offsets");
            return TopicPartitionList::new();
        }
    };
    let mut start = TopicPartitionList::new();
    for element in committed.elements() {
        let offset = match element.offset() {
            Offset::Offset(offset) => Offset::Offset(offset),
            Offset::Invalid if element.error().is_ok() => Offset::Beginning,
            _ => continue,
        };
        // Only fails for a logical offset librdkafka does not know, which these are not.
        let _ = start.add_partition_offset(element.topic(), element.partition(), offset);
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::consumer_config;
    use rdkafka::consumer::CommitMode;
    use rdkafka::mocking::MockCluster;

    #[test]
    fn a_partition_without_checkpoint_starts_at_its_committed_offset_else_the_beginning() {
        let cluster = MockCluster::new(1).expect("a mock cluster");
        cluster.create_topic("lines", 3, 1).expect("a mock topic");
        let consumer: BaseConsumer = consumer_config(&cluster.bootstrap_servers(), "wc")
            .create()
            .expect("a consumer");
        let mut committed = TopicPartitionList::new();
        committed
            .add_partition_offset("lines", 1, Offset::Offset(7))
            .expect("an offset");
        consumer
            .commit(&committed, CommitMode::Sync)
            .expect("the mock broker takes a commit");

        let assigned = [("lines", 0), ("lines", 1), ("lines", 2)];
        let start = without_checkpoint(&consumer, &assigned, &[None, None, Some(3)]);
        let offsets: Vec<(i32, Offset)> = start
            .elements()
            .iter()
            .map(|e| (e.partition(), e.offset()))
            .collect();
        assert_eq!(
            offsets,
            [(0, Offset::Beginning), (1, Offset::Offset(7))],
            "nothing committed: the beginning; committed: there; a checkpoint: not asked"
        );
        assert_eq!(
            without_checkpoint(&consumer, &assigned, &[Some(1), Some(2), Some(3)]).count(),
            0,
            "every partition has a checkpoint: nothing to ask"
        );
    }
}
