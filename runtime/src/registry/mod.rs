//! The registry: modules and jobs in a compacted Kafka topic (the Kafka Connect config-topic
//! pattern, DESIGN.md section 7), so the pool needs no database of its own.
//!
//! Every runtime reads the topic from the beginning at start and then follows it
//! ([`crate::kafka::tail`]), so all runtimes converge on the same modules and jobs. A write
//! produces records, waits until the broker has them, then waits until this runtime has read
//! them back ([`Registry::write`]): an API call returns only once its own runtime sees the
//! change. Writes from two runtimes at once are ordered by the topic; the later wins.
//!
//! Beside it, the status topic ([`board`]) carries what changes every few seconds: how each
//! runtime runs each job, and each runtime's [`heartbeat`].

pub mod board;
pub mod heartbeat;
pub mod model;
pub mod spec_diff;

pub use board::StatusBoard;
pub use heartbeat::{Heartbeat, RuntimeIdentity, RuntimeState};
pub use model::{JobRecord, Lineage, ModuleMeta, RegistryState, Resolve, Revision};

use crate::kafka::admin::{Admin, TopicSpec};
use crate::kafka::flush::flush_promptly;
use crate::kafka::tail::{self, Position, Start};
use crate::kafka::{DeliveryReport, producer_config};
use anyhow::{Context, Result};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

/// How long a write waits for the broker, then for this runtime to read it back.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);

/// One runtime's view of the registry topic, and its writer.
pub struct Registry {
    brokers: String,
    topic: String,
    state: RwLock<RegistryState>,
    position: Arc<Position>,
    producer: BaseProducer<DeliveryReport>,
    caught_up: AtomicBool,
    writing: Mutex<()>,
}

impl Registry {
    /// Creates the topic when missing (compacted, one partition: one total order), and starts
    /// following it.
    pub fn open(brokers: &str, topic: &str, shutdown: &Arc<AtomicBool>) -> Result<Arc<Self>> {
        Admin::new(brokers)?.ensure(&[TopicSpec::compacted(topic, 1)])?;
        let producer: BaseProducer<DeliveryReport> = producer_config(brokers)
            .create_with_context(DeliveryReport::default())
            .with_context(|| format!("cannot create a producer for {brokers}"))?;
        let (low, end) = producer
            .client()
            .fetch_watermarks(topic, 0, Duration::from_secs(10))
            .with_context(|| format!("cannot read the registry topic `{topic}` at {brokers}"))?;
        let registry = Arc::new(Registry {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            state: RwLock::new(RegistryState::default()),
            position: Arc::new(Position::default()),
            producer,
            caught_up: AtomicBool::new(false),
            writing: Mutex::new(()),
        });
        if end <= low {
            registry.mark_caught_up();
        }
        let follower = Arc::clone(&registry);
        tail::spawn(
            brokers,
            topic,
            Start::Beginning,
            Box::new(move |key, value, offset| follower.apply(key, value, offset, end)),
            Arc::clone(&registry.position),
            Arc::clone(shutdown),
        )?;
        Ok(registry)
    }

    fn apply(&self, key: &str, value: Option<&[u8]>, offset: i64, end: i64) {
        if let Err(err) = self.write_state().apply(key, value) {
            tracing::warn!(topic = self.topic, offset, "registry record skipped: {err:#}");
        }
        if offset + 1 >= end {
            self.mark_caught_up();
        }
    }

    fn mark_caught_up(&self) {
        if !self.caught_up.swap(true, Ordering::Relaxed) {
            crate::metrics::metrics().registry_caught_up.set(1.0);
            tracing::info!(topic = self.topic, "registry read to its end");
        }
    }

    /// The Kafka bootstrap servers.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// Whether this runtime has read everything the registry held when it started.
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Relaxed)
    }

    /// How far this runtime has read the registry: the offset after the last record applied.
    pub fn position(&self) -> i64 {
        self.position.get()
    }

    /// Waits until this runtime has read a record past `position` (a job changed), or
    /// `timeout` has passed; returns whether one came.
    pub fn wait_past(&self, position: i64, timeout: Duration) -> bool {
        self.position.wait_for(position.saturating_add(1), timeout)
    }

    /// The registry as read so far.
    pub fn read(&self) -> RwLockReadGuard<'_, RegistryState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, RegistryState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Serialises this runtime's read-check-write sequences (two API calls creating the same
    /// job on one runtime see each other).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `records` (`None` deletes the key), waits until the broker has acknowledged
    /// them, then until this runtime has read them back. Blocking.
    pub fn write(&self, records: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
        let (failed_before, _) = self.producer.context().failures();
        for (key, value) in &records {
            let mut record: BaseRecord<'_, str, [u8]> = BaseRecord::to(&self.topic).key(key.as_str());
            if let Some(value) = value {
                record = record.payload(value.as_slice());
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((err, back)) if err.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                        self.producer.poll(Duration::from_millis(50));
                        record = back;
                    }
                    Err((err, _)) => {
                        return Err(err).with_context(|| format!("cannot write to `{}`", self.topic));
                    }
                }
            }
        }
        flush_promptly(&self.producer, WRITE_TIMEOUT)
            .with_context(|| format!("the broker did not acknowledge the write to `{}`", self.topic))?;
        let (failed, last) = self.producer.context().failures();
        if failed > failed_before {
            anyhow::bail!(
                "the broker refused the write to `{}`: {}",
                self.topic,
                last.unwrap_or_default()
            );
        }
        self.sync()
    }

    /// Waits until this runtime has read everything written to the registry so far.
    pub fn sync(&self) -> Result<()> {
        let (_, end) = self
            .producer
            .client()
            .fetch_watermarks(&self.topic, 0, WRITE_TIMEOUT)
            .with_context(|| format!("cannot read the end of `{}`", self.topic))?;
        anyhow::ensure!(
            self.position.wait_for(end, WRITE_TIMEOUT),
            "this runtime has not read the registry up to offset {end} within {WRITE_TIMEOUT:?}"
        );
        Ok(())
    }
}
