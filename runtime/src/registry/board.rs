//! [`StatusBoard`]: the status topic, where every runtime publishes how it runs each job
//! (partitions held, lag, windows fired, errors) and a heartbeat about itself every few seconds,
//! and from which any runtime's API assembles a job's status and the list of runtimes across
//! the pool.
//!
//! Job statuses are keyed `{job}/{runtime}`; a runtime that stops running a job deletes its key.
//! A runtime that dies cannot, so statuses older than [`FRESH`] are ignored. Heartbeats are
//! keyed `runtime:{runtime}` and age by their own rules ([`super::heartbeat`]).

use super::heartbeat::{self, FORGET_AFTER, Heartbeat};
use crate::kafka::DeliveryReport;
use crate::kafka::admin::{Admin, TopicSpec};
use crate::kafka::tail::{self, Position, Start};
use crate::report::RuntimeStatus;
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

/// The latest status of every (job, runtime) pair, and the latest heartbeat of every runtime.
pub struct StatusBoard {
    topic: String,
    records: Arc<Mutex<Records>>,
    producer: BaseProducer<DeliveryReport>,
}

/// What the status topic holds, as read so far.
#[derive(Default)]
struct Records {
    /// Job statuses by key (`{job}/{runtime}`).
    statuses: BTreeMap<String, RuntimeStatus>,
    /// Heartbeats by runtime.
    heartbeats: BTreeMap<String, Heartbeat>,
}

impl Records {
    /// Applies one record of the topic (`None`: a tombstone).
    fn apply(&mut self, key: &str, value: Option<&[u8]>) {
        match heartbeat::runtime_of(key) {
            Some(runtime) => upsert(&mut self.heartbeats, runtime, value, "heartbeat", key),
            None => upsert(&mut self.statuses, key, value, "status", key),
        }
    }
}

/// Stores the JSON `value` under `name` in `map`, or removes `name` for a tombstone; a value
/// that does not decode is skipped (the `what` record `key` is named in the debug log).
fn upsert<T: serde::de::DeserializeOwned>(
    map: &mut BTreeMap<String, T>,
    name: &str,
    value: Option<&[u8]>,
    what: &str,
    key: &str,
) {
    match value.map(serde_json::from_slice::<T>) {
        Some(Ok(decoded)) => {
            map.insert(name.to_string(), decoded);
        }
        Some(Err(err)) => tracing::debug!("{what} record {key} skipped: {err}"),
        None => {
            map.remove(name);
        }
    }
}

impl StatusBoard {
    /// Creates the topic when missing and starts following it.
    pub fn open(brokers: &str, topic: &str, shutdown: &Arc<AtomicBool>) -> Result<Self> {
        Admin::new(brokers)?.ensure(&[TopicSpec::compacted(topic, 1)])?;
        let records: Arc<Mutex<Records>> = Arc::default();
        let board = Arc::clone(&records);
        tail::spawn(
            brokers,
            topic,
            Start::Last(LOOK_BACK),
            Box::new(move |key, value, _| {
                board.lock().unwrap_or_else(|e| e.into_inner()).apply(key, value);
            }),
            Arc::new(Position::default()),
            Arc::clone(shutdown),
        )?;
        // Statuses are superseded every few seconds: no idempotence (fewer broker-side producer
        // states, which tansu 0.6 can lose across a restart and then panics on), one ack.
        let producer = crate::kafka::client_config(brokers)
            .set("enable.idempotence", "false")
            .set("acks", "1")
            .set("linger.ms", "20")
            .create_with_context(DeliveryReport::default())
            .with_context(|| format!("cannot create a producer for {brokers}"))?;
        Ok(StatusBoard {
            topic: topic.to_string(),
            records,
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

    /// Publishes this runtime's heartbeat (fire and forget, as statuses).
    pub fn beat(&self, beat: &Heartbeat) {
        let key = heartbeat::key(&beat.runtime);
        match serde_json::to_vec(beat) {
            Ok(value) => self.send(&key, Some(&value)),
            Err(err) => tracing::warn!("cannot encode the heartbeat of {}: {err}", beat.runtime),
        }
    }

    /// The latest heartbeat of every runtime heard from in the last [`FORGET_AFTER`].
    pub fn heartbeats(&self) -> Vec<Heartbeat> {
        let now = SystemTime::now();
        self.lock()
            .heartbeats
            .values()
            .filter(|beat| beat.state(now).is_some())
            .cloned()
            .collect()
    }

    /// Deletes the heartbeats of runtimes silent for longer than [`FORGET_AFTER`], so that
    /// compaction forgets them (every runtime does it; the tombstones are alike). A runtime that
    /// comes back publishes again within its interval.
    pub fn sweep(&self) {
        let now = SystemTime::now();
        let gone: Vec<String> = self
            .lock()
            .heartbeats
            .iter()
            .filter(|(_, beat)| beat.state(now).is_none())
            .map(|(runtime, _)| runtime.clone())
            .collect();
        for runtime in gone {
            tracing::debug!(
                runtime,
                "forgetting the heartbeat of a runtime gone for {FORGET_AFTER:?}"
            );
            self.send(&heartbeat::key(&runtime), None);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
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
        let records = self.lock();
        records
            .statuses
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
        let recent = crate::units::rfc3339(now - Duration::from_secs(3));
        let old = crate::units::rfc3339(now - FRESH - Duration::from_secs(5));
        assert!(is_fresh(&recent, now));
        assert!(!is_fresh(&old, now));
        assert!(!is_fresh("yesterday", now));
    }

    #[test]
    fn heartbeats_and_job_statuses_share_the_topic_without_meeting() {
        let identity = heartbeat::RuntimeIdentity {
            runtime: "h/7".into(),
            host: "h".into(),
            pid: 7,
            version: "0.1.0".into(),
            started_at: "2026-11-27T18:00:00Z".into(),
            api: None,
        };
        let beat = Heartbeat::new(&identity, heartbeat::Lifecycle::Running, true, Vec::new());
        let status = crate::job::status::JobStatus::new("h/7", "runtime", (1, 0), "abc").snapshot();
        let mut records = Records::default();
        let beat = serde_json::to_vec(&beat).expect("serializes");
        let status = serde_json::to_vec(&status).expect("serializes");
        records.apply(&heartbeat::key("h/7"), Some(&beat));
        records.apply("runtime/h/7", Some(&status));
        records.apply("runtime:h/8", Some(b"not a heartbeat"));
        assert_eq!(records.heartbeats.keys().collect::<Vec<_>>(), ["h/7"]);
        assert_eq!(
            records.statuses.keys().collect::<Vec<_>>(),
            ["runtime/h/7"],
            "the statuses of a job named `runtime`"
        );
        records.apply(&heartbeat::key("h/7"), None);
        assert!(records.heartbeats.is_empty(), "a tombstone deletes the heartbeat");
        assert_eq!(records.statuses.len(), 1);
    }
}
