//! [`StatusBoard`]: the status topic, where every runtime publishes how it runs each job
//! (partitions held, lag, windows fired, errors) every few seconds, and from which any
//! runtime's API assembles a job's status across the pool.
//!
//! Records are keyed `{job}/{runtime}`; a runtime that stops running a job deletes its key. A
//! runtime that dies cannot, so statuses older than [`FRESH`] are ignored.

use crate::job::status::RuntimeStatus;
use crate::kafka::DeliveryReport;
use crate::kafka::admin::{Admin, TopicSpec};
use crate::kafka::tail::{self, Position, Start};
use anyhow::{Context, Result};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How often a runtime publishes its statuses.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// How old a status may be before its runtime is presumed gone.
pub const FRESH: Duration = Duration::from_secs(30);
/// How far back a starting runtime reads the status topic (records, not time: enough for a
/// pool's latest statuses, without reading the topic's whole history).
const LOOK_BACK: i64 = 5_000;

/// The latest status of every (job, runtime) pair.
pub struct StatusBoard {
    topic: String,
    statuses: Arc<Mutex<BTreeMap<String, RuntimeStatus>>>,
    producer: BaseProducer<DeliveryReport>,
}

impl StatusBoard {
    /// Creates the topic when missing and starts following it.
    pub fn open(brokers: &str, topic: &str, shutdown: &Arc<AtomicBool>) -> Result<Self> {
        Admin::new(brokers)?.ensure(&[TopicSpec::compacted(topic, 1)])?;
        let statuses: Arc<Mutex<BTreeMap<String, RuntimeStatus>>> = Arc::default();
        let board = Arc::clone(&statuses);
        tail::spawn(
            brokers,
            topic,
            Start::Last(LOOK_BACK),
            Box::new(move |key, value, _| {
                let mut board = board.lock().unwrap_or_else(|e| e.into_inner());
                match value.map(serde_json::from_slice::<RuntimeStatus>) {
                    Some(Ok(status)) => {
                        board.insert(key.to_string(), status);
                    }
                    Some(Err(err)) => tracing::debug!("status record {key} skipped: {err}"),
                    None => {
                        board.remove(key);
                    }
                }
            }),
            Arc::new(Position::default()),
            Arc::clone(shutdown),
        )?;
        // Statuses are superseded every few seconds: no idempotence (fewer broker-side producer
        // states, which tansu 0.6 can lose across a restart and then panics on), one ack.
        let producer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "false")
            .set("acks", "1")
            .set("linger.ms", "20")
            .create_with_context(DeliveryReport::default())
            .with_context(|| format!("cannot create a producer for {brokers}"))?;
        Ok(StatusBoard {
            topic: topic.to_string(),
            statuses,
            producer,
        })
    }

    fn key(job: &str, runtime: &str) -> String {
        format!("{job}/{runtime}")
    }

    /// Publishes `status` (fire and forget: the next one follows in [`INTERVAL`]).
    pub fn publish(&self, status: &RuntimeStatus) {
        let key = Self::key(&status.job, &status.runtime);
        match serde_json::to_vec(status) {
            Ok(value) => self.send(&key, Some(&value)),
            Err(err) => tracing::warn!("cannot encode the status of {key}: {err}"),
        }
    }

    /// Removes this runtime's status of `job` (it no longer runs it here).
    pub fn retire(&self, job: &str, runtime: &str) {
        self.send(&Self::key(job, runtime), None);
    }

    fn send(&self, key: &str, value: Option<&[u8]>) {
        let mut record: BaseRecord<'_, str, [u8]> = BaseRecord::to(&self.topic).key(key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        if let Err((err, _)) = self.producer.send(record) {
            tracing::debug!("status {key} not sent: {err}");
        }
        self.producer.poll(Duration::ZERO);
    }

    /// Waits (at most `timeout`) for the statuses sent so far to reach the broker.
    pub fn flush(&self, timeout: Duration) {
        if let Err(err) = self.producer.flush(timeout) {
            tracing::debug!("statuses not flushed: {err}");
        }
    }

    /// The fresh statuses of `job`, one per runtime that runs it.
    pub fn of(&self, job: &str) -> Vec<RuntimeStatus> {
        let prefix = format!("{job}/");
        let now = SystemTime::now();
        let statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        statuses
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .map(|(_, status)| status)
            .filter(|status| status.job == job && is_fresh(&status.updated_at, now))
            .cloned()
            .collect()
    }
}

fn is_fresh(updated_at: &str, now: SystemTime) -> bool {
    humantime::parse_rfc3339(updated_at)
        .ok()
        .and_then(|at| now.duration_since(at).ok().or(Some(Duration::ZERO)))
        .is_some_and(|age| age <= FRESH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_statuses_are_not_fresh() {
        let now = SystemTime::now();
        let recent = crate::job::status::rfc3339(now - Duration::from_secs(3));
        let old = crate::job::status::rfc3339(now - FRESH - Duration::from_secs(5));
        assert!(is_fresh(&recent, now));
        assert!(!is_fresh(&old, now));
        assert!(!is_fresh("yesterday", now));
    }
}
