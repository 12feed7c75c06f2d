//! [`Sink`]: the one producer through which a stage writes everything (output, dead letters,
//! partials, markers, progress), and the durability check the offset rule depends on.
//!
//! Records of one producer reach each partition in the order they were sent (the producer is
//! idempotent), which is what lets a shuffle marker follow the partials it vouches for.

use super::{DeliveryReport, producer_config};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

/// A record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Topic.
    pub topic: String,
    /// Partition; `None` lets the key choose (the producer's hash), or spreads keyless records.
    pub partition: Option<i32>,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value (`None` is a tombstone).
    pub value: Option<Vec<u8>>,
    /// Timestamp in ms; `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
    /// Headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Why records may not have been written.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The producer refused a record outright.
    #[error("cannot send a record to {topic}: {source}")]
    Send {
        /// The record's topic.
        topic: String,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// The broker did not acknowledge everything in time.
    #[error("the brokers did not acknowledge the records within {0:?}")]
    Flush(Duration),
    /// Some records were not delivered.
    #[error("{count} records were not delivered: {reason}")]
    Delivery {
        /// How many since the last successful flush.
        count: u64,
        /// The first failure's reason.
        reason: String,
    },
}

/// A producer, and how many delivery failures were already reported.
pub struct Sink {
    producer: ThreadedProducer<DeliveryReport>,
    failures_seen: u64,
    flush_timeout: Duration,
}

impl Sink {
    /// An idempotent, `acks=all` producer for `brokers`.
    pub fn new(brokers: &str, flush_timeout: Duration) -> Result<Self, KafkaError> {
        let producer = producer_config(brokers).create_with_context(DeliveryReport::default())?;
        Ok(Sink {
            producer,
            failures_seen: 0,
            flush_timeout,
        })
    }

    /// The producer, for metadata queries.
    pub fn producer(&self) -> &ThreadedProducer<DeliveryReport> {
        &self.producer
    }

    /// Queues one record, waiting while the producer's queue is full.
    pub fn send(&self, record: &Outgoing) -> Result<(), SinkError> {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in &record.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let mut message: BaseRecord<'_, Vec<u8>, Vec<u8>> = BaseRecord::to(&record.topic).headers(headers);
        if let Some(partition) = record.partition {
            message = message.partition(partition);
        }
        if let Some(key) = &record.key {
            message = message.key(key);
        }
        if let Some(value) = &record.value {
            message = message.payload(value);
        }
        if let Some(timestamp) = record.timestamp {
            message = message.timestamp(timestamp);
        }
        let mut pending = message;
        loop {
            match self.producer.send(pending) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    std::thread::sleep(Duration::from_millis(2));
                    pending = back;
                }
                Err((source, _)) => {
                    return Err(SinkError::Send {
                        topic: record.topic.clone(),
                        source,
                    });
                }
            }
        }
    }

    /// Queues every record of `records`, in order.
    pub fn send_all<'a>(&self, records: impl IntoIterator<Item = &'a Outgoing>) -> Result<(), SinkError> {
        records.into_iter().try_for_each(|r| self.send(r))
    }

    /// Waits until every record sent so far is acknowledged, and fails if any was not
    /// delivered since the last flush. Only after this returns `Ok` may offsets be committed.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.producer
            .flush(self.flush_timeout)
            .map_err(|_| SinkError::Flush(self.flush_timeout))?;
        let (failed, reason) = self.producer.context().failures();
        if failed > self.failures_seen {
            let count = failed - self.failures_seen;
            self.failures_seen = failed;
            return Err(SinkError::Delivery {
                count,
                reason: reason.unwrap_or_default(),
            });
        }
        Ok(())
    }
}
