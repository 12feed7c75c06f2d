//! [`Claims`]: fencing epochs for partition owners, handed out by the broker.
//!
//! Two processes can believe they own an input partition at once: a paused zombie that has not
//! noticed it lost the partition, or a group coordinator that hands it out before the old owner
//! revoked it (tansu 0.6 does). Each owner therefore claims the partition when it is assigned:
//! it writes a small record to the job's progress topic and takes the offset the broker gave
//! that record as its **epoch**. Offsets of one partition only grow, so a later owner always has
//! the larger epoch, whoever it is and whatever the clocks say; stage 2 of the shuffle then
//! keeps the newest epoch's partials and markers and ignores a zombie's (DESIGN.md section 5).
//!
//! The claims of one assignment are written together and acknowledged together, and their
//! producer is not idempotent: an idempotent producer first asks the broker for a producer id,
//! which librdkafka does on a timer (a second's wait before the first claim of every stage
//! start), and a claim needs no deduplication. A retried claim that was written twice leaves
//! two records; the owner takes the offset of the one acknowledged, which is still larger than
//! every earlier owner's and smaller than every later owner's (a later owner claims after this
//! one was acknowledged).

use super::flush::flush_promptly;
use super::producer_config;
use anyhow::{Context, Result};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Message};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The delivery reports of the claims in flight, by their index in the batch: the offset, or
/// why the claim failed.
#[derive(Default)]
pub struct ClaimReports {
    delivered: Mutex<HashMap<usize, Result<i64, String>>>,
}

impl ClaimReports {
    fn take(&self) -> HashMap<usize, Result<i64, String>> {
        std::mem::take(&mut *self.delivered.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ClientContext for ClaimReports {}

impl ProducerContext for ClaimReports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        let outcome = match result {
            Ok(message) => Ok(message.offset()),
            Err((err, _)) => Err(err.to_string()),
        };
        self.delivered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(index, outcome);
    }
}

/// One claim to write: its key and the partition of the claims topic it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The record's key (says what is claimed).
    pub key: String,
    /// The partition of the claims topic.
    pub home: i32,
}

/// Writes claims to one topic and reads back their offsets.
pub struct Claims {
    topic: String,
    producer: BaseProducer<ClaimReports>,
    timeout: Duration,
}

impl Claims {
    /// Claims written to `topic` through `brokers`.
    pub fn new(brokers: &str, topic: &str) -> Result<Self> {
        let producer = producer_config(brokers)
            .set("enable.idempotence", "false")
            .set("linger.ms", "0")
            .create_with_context(ClaimReports::default())
            .with_context(|| format!("cannot create a producer for {topic}"))?;
        Ok(Claims {
            topic: topic.to_string(),
            producer,
            timeout: Duration::from_secs(10),
        })
    }

    /// Writes every claim at once and returns each one's offset (its epoch) or why it failed,
    /// in the order given.
    pub fn claim_all(&self, claims: &[Claim]) -> Vec<Result<i64>> {
        self.producer.context().take();
        let mut sent = Vec::with_capacity(claims.len());
        for (index, claim) in claims.iter().enumerate() {
            let record: BaseRecord<'_, str, [u8], usize> = BaseRecord::with_opaque_to(&self.topic, index)
                .partition(claim.home)
                .key(claim.key.as_str())
                .payload(b"claimed".as_slice());
            sent.push(self.producer.send(record).map_err(|(err, _)| {
                anyhow::Error::new(err).context(format!(
                    "cannot write the claim {} to {}/{}",
                    claim.key, self.topic, claim.home
                ))
            }));
        }
        if flush_promptly(&self.producer, self.timeout).is_err() {
            self.producer
                .purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
        }
        let mut delivered = self.producer.context().take();
        claims
            .iter()
            .zip(sent)
            .enumerate()
            .map(|(index, (claim, sent))| {
                sent?;
                match delivered.remove(&index) {
                    Some(Ok(offset)) => Ok(offset),
                    Some(Err(reason)) => Err(anyhow::anyhow!(
                        "the claim {} was not written to {}/{}: {reason}",
                        claim.key,
                        self.topic,
                        claim.home
                    )),
                    None => Err(anyhow::anyhow!(
                        "the claim {} was not acknowledged by {}/{} within {:?}",
                        claim.key,
                        self.topic,
                        claim.home,
                        self.timeout
                    )),
                }
            })
            .collect()
    }
}
