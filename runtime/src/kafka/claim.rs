//! [`Claims`]: fencing epochs for partition owners, handed out by the broker.
//!
//! Two processes can believe they own an input partition at once: a paused zombie that has not
//! noticed it lost the partition, or a group coordinator that hands it out before the old owner
//! revoked it (tansu 0.6 does). Each owner therefore claims the partition when it is assigned:
//! it writes a small record to the job's progress topic and takes the offset the broker gave
//! that record as its **epoch**. Offsets of one partition only grow, so a later owner always has
//! the larger epoch, whoever it is and whatever the clocks say; stage 2 of the shuffle then
//! keeps the newest epoch's partials and markers and ignores a zombie's (DESIGN.md section 5).

use super::producer_config;
use anyhow::{Context, Result, bail};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Message};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The delivery report of the claim in flight: its offset, or why it failed.
#[derive(Default)]
pub struct ClaimReport {
    delivered: Mutex<Option<Result<i64, String>>>,
}

impl ClientContext for ClaimReport {}

impl ProducerContext for ClaimReport {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: Self::DeliveryOpaque) {
        let outcome = match result {
            Ok(message) => Ok(message.offset()),
            Err((err, _)) => Err(err.to_string()),
        };
        *self.delivered.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    }
}

/// Writes claims to one topic and reads back their offsets.
pub struct Claims {
    topic: String,
    producer: BaseProducer<ClaimReport>,
    timeout: Duration,
}

impl Claims {
    /// Claims written to `topic` through `brokers`.
    pub fn new(brokers: &str, topic: &str) -> Result<Self> {
        let producer = producer_config(brokers)
            .set("linger.ms", "0")
            .create_with_context(ClaimReport::default())
            .with_context(|| format!("cannot create a producer for {topic}"))?;
        Ok(Claims {
            topic: topic.to_string(),
            producer,
            timeout: Duration::from_secs(10),
        })
    }

    /// Writes the claim `key` to partition `home` and returns its offset: the epoch.
    pub fn claim(&self, key: &str, home: i32) -> Result<i64> {
        *self
            .producer
            .context()
            .delivered
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        let record: BaseRecord<'_, str, [u8]> = BaseRecord::to(&self.topic)
            .partition(home)
            .key(key)
            .payload(b"claimed".as_slice());
        self.producer
            .send(record)
            .map_err(|(err, _)| err)
            .with_context(|| format!("cannot write the claim {key} to {}/{home}", self.topic))?;
        let deadline = Instant::now() + self.timeout;
        loop {
            self.producer.poll(Duration::from_millis(50));
            let delivered = self
                .producer
                .context()
                .delivered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            match delivered {
                Some(Ok(offset)) => return Ok(offset),
                Some(Err(reason)) => {
                    bail!(
                        "the claim {key} was not written to {}/{home}: {reason}",
                        self.topic
                    )
                }
                None if Instant::now() >= deadline => {
                    self.producer
                        .purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
                    bail!(
                        "the claim {key} was not acknowledged by {}/{home} within {:?}",
                        self.topic,
                        self.timeout
                    )
                }
                None => {}
            }
        }
    }
}
