//! [`spawn`]: reads one partition of a topic, from a starting point on, for as long as the
//! process runs, handing each record to a callback: how every runtime follows the registry
//! and the status topic without a consumer group (each runtime reads everything).

use super::consumer_config;
use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where a tail starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// The first record still in the partition.
    Beginning,
    /// This many records before the end.
    Last(i64),
}

/// The offset after the last record a tail applied, and a way to wait for it.
#[derive(Default)]
pub struct Position {
    next: Mutex<i64>,
    moved: Condvar,
}

impl Position {
    /// The offset after the last record applied.
    pub fn get(&self) -> i64 {
        *self.next.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn advance(&self, next: i64) {
        let mut current = self.next.lock().unwrap_or_else(|e| e.into_inner());
        if next > *current {
            *current = next;
            self.moved.notify_all();
        }
    }

    /// Waits until every record before `offset` has been applied; false after `timeout`.
    pub fn wait_for(&self, offset: i64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut current = self.next.lock().unwrap_or_else(|e| e.into_inner());
        while *current < offset {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            current = match self.moved.wait_timeout(current, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }
}

/// How long a tail's fetch waits for records (`fetch.wait.max.ms`), in ms.
///
/// The registry and the status board are written a few times a minute, yet every runtime tails
/// both all the time. At the 10 ms Weir's other consumers wait
/// ([`super::CONSUMER_FETCH_WAIT_MS`]), an idle `weir serve` with no job cost the broker (tansu,
/// memory storage) 8–9 % of a core and itself 2–4 %; at 50 ms, 2–3 % and 1–1.5 %
/// (`scripts/bench-idle`). Kafka answers a fetch as soon as records come, so there the wait
/// costs no time. tansu 0.6 sleeps out the wait on every fetch, so there a registry write is
/// read back (and `weir job create` returns) up to about twice the wait later: 0.05 s instead
/// of 0.02 s in the end-to-end benchmark.
pub const TAIL_FETCH_WAIT_MS: u64 = 50;

/// A record of a tailed topic: key (UTF-8, lossy), value (`None` for a tombstone), offset.
pub type Apply = Box<dyn FnMut(&str, Option<&[u8]>, i64) + Send>;

/// Starts a thread that applies every record of `topic`'s partition 0 from `start` on, until
/// `shutdown` is set; `position` follows it.
pub fn spawn(
    brokers: &str,
    topic: &str,
    start: Start,
    mut apply: Apply,
    position: Arc<Position>,
    shutdown: Arc<AtomicBool>,
) -> Result<JoinHandle<()>> {
    // The group is never joined (partitions are assigned, offsets never committed); librdkafka
    // wants a name all the same.
    let consumer: BaseConsumer = consumer_config(brokers, "weir.tail")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", TAIL_FETCH_WAIT_MS.to_string())
        .create()
        .with_context(|| format!("cannot create a consumer for {brokers}"))?;
    let mut assignment = TopicPartitionList::new();
    let offset = match start {
        Start::Beginning => Offset::Beginning,
        Start::Last(n) => Offset::OffsetTail(n),
    };
    assignment
        .add_partition_offset(topic, 0, offset)
        .context("tail assignment")?;
    consumer
        .assign(&assignment)
        .with_context(|| format!("cannot read topic `{topic}`"))?;
    let topic = topic.to_string();
    std::thread::Builder::new()
        .name(format!("weir-tail-{topic}"))
        .spawn(move || {
            while !shutdown.load(Ordering::Relaxed) {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(message)) => {
                        let key = message.key().map(String::from_utf8_lossy).unwrap_or_default();
                        apply(&key, message.payload(), message.offset());
                        position.advance(message.offset() + 1);
                    }
                    Some(Err(err)) => tracing::debug!(topic, "reading: {err}"),
                    None => {}
                }
            }
        })
        .context("cannot start a tail thread")
}
