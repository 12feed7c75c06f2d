//! [`Sink`]: the one producer through which a stage writes everything (output, dead letters,
//! partials, markers, progress), and the durability check the offset rule depends on.
//!
//! Records of one producer reach each partition in the order they were sent (the producer is
//! idempotent), which is what lets a shuffle marker follow the partials it vouches for.
//!
//! # Records too large to write
//!
//! Nothing Weir writes may wedge a job (DESIGN.md section 6): a record the broker refuses would
//! fail the commit cycle, the stage would restart from its checkpoint, meet the record again and
//! be refused again, forever. So a job's sink ([`Sink::for_job`]) measures every record the way
//! librdkafka does ([`wire_size`]) against its topic's limit ([`RECORD_LIMIT`] to begin with)
//! before sending it:
//!
//! - a dead letter over it (a record for the job's dead-letter topic) is cut to fit, keeping its
//!   head ([`truncation`](super::truncation));
//! - any other record over it (output, a shuffle partial or marker, a checkpoint) is written as a
//!   `too_large` dead letter instead, carrying its head ([`DeadLetterTopic::too_large`]).
//!
//! When librdkafka refuses a record anyway, or the broker does (a broker or topic limit below
//! [`MESSAGE_MAX_BYTES`]: the delivery report says `MSG_SIZE_TOO_LARGE`), the sink halves that
//! topic's limit (not below [`MIN_RECORD_LIMIT`]) and sends the record again through the same
//! rules: as it is if it now fits, cut or set aside if not. A record refused in
//! [`REFUSAL_ROUNDS`] rounds of one flush is given up: logged, counted in
//! `weir_records_dropped_total`, and the flush succeeds, so the job goes on. Records sent again
//! land after those sent after them; in the shuffle that can put a partial behind the watermark
//! marker that vouched for it, and stage 2 then treats it as late (a dead letter).
//!
//! A plain sink ([`Sink::new`], for `weir produce` and `weir dev`) has no dead-letter topic: a
//! record over the limit is a [`SinkError::TooLarge`], and a refusal a delivery failure.

use super::dead_letter::DeadLetterTopic;
use super::producer_config;
use super::record_size::{MESSAGE_MAX_BYTES, RECORD_LIMIT, wire_size};
use super::refused::{SinkReport, timestamp_opaque};
use super::truncation::Fit;
use crate::events::{DeadLetterCut, DeadLetterWritten, RecordDropped};
use crate::outgoing::{Kind, Outgoing};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// The smallest limit a refusal lowers a topic's to: a broker that refuses records of this size
/// is misconfigured, and halving further would only turn more records into dead letters.
pub const MIN_RECORD_LIMIT: usize = 16 * 1024;

/// How many times a record refused as too large is sent again (each time against a halved
/// limit) before it is given up: within one [`Sink::send`] for librdkafka's own refusals, within
/// one [`Sink::flush`] for the broker's.
pub const REFUSAL_ROUNDS: usize = 4;

/// How often [`Sink::flush`] looks whether every record has been acknowledged.
const FLUSH_POLL: Duration = Duration::from_millis(1);

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
    /// A record is over the size limit, and the sink has no dead-letter topic to set it aside.
    #[error(
        "a record of {size} bytes for {topic} is over the producer's limit of {limit} bytes \
         (key, value and headers)"
    )]
    TooLarge {
        /// The record's topic.
        topic: String,
        /// Its size as librdkafka measures it.
        size: usize,
        /// The limit.
        limit: usize,
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

/// A producer, how many delivery failures were already reported, and what to do with records
/// too large to write.
pub struct Sink {
    producer: ThreadedProducer<SinkReport>,
    failures_seen: u64,
    flush_timeout: Duration,
    /// Where records too large to write are set aside; `None`: they are errors.
    dead_letters: Option<DeadLetterTopic>,
    /// The limit of each topic whose records were refused as too large (lowered from
    /// [`RECORD_LIMIT`], which every other topic has).
    limits: HashMap<String, usize>,
}

impl Sink {
    /// An idempotent, `acks=all` producer for `brokers`; a record over the size limit is a
    /// [`SinkError::TooLarge`].
    pub fn new(brokers: &str, flush_timeout: Duration) -> Result<Self, KafkaError> {
        Self::create(brokers, flush_timeout, None)
    }

    /// An idempotent, `acks=all` producer for `brokers` that never fails on a record too large
    /// to write: it cuts it or sets it aside to `dead_letters` (see the module docs).
    pub fn for_job(
        brokers: &str,
        flush_timeout: Duration,
        dead_letters: DeadLetterTopic,
    ) -> Result<Self, KafkaError> {
        Self::create(brokers, flush_timeout, Some(dead_letters))
    }

    fn create(
        brokers: &str,
        flush_timeout: Duration,
        dead_letters: Option<DeadLetterTopic>,
    ) -> Result<Self, KafkaError> {
        let report = SinkReport::new(dead_letters.is_some());
        let producer = producer_config(brokers).create_with_context(report)?;
        Ok(Sink {
            producer,
            failures_seen: 0,
            flush_timeout,
            dead_letters,
            limits: HashMap::new(),
        })
    }

    /// Connects to the brokers now, so that the producer has its producer id before it first
    /// sends; waits at most `timeout` and says whether a broker of the cluster answered.
    ///
    /// An idempotent producer sends nothing before a broker gave it a producer id. librdkafka
    /// 2.12 asks for one at creation, when no broker is connected yet, then again on a 500 ms
    /// timer or when a metadata response comes from a broker of the cluster (not the bootstrap
    /// address, which it drops once it knows the brokers' ids). A stage's sink first sends at
    /// its first commit, which then waited 0.5 or 1 s for the id (measured with librdkafka's
    /// `eos` debug log on a local broker). So this asks for metadata until a broker by id
    /// answers: that response starts the request for the id.
    pub fn connect(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.producer.client().fetch_metadata(None, left) {
                Ok(metadata) if metadata.orig_broker_id() >= 0 => return true,
                Ok(_) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => return false,
            }
        }
    }

    /// The producer, for metadata queries.
    pub fn producer(&self) -> &ThreadedProducer<SinkReport> {
        &self.producer
    }

    /// The largest record this sink writes to `topic` as it is, as [`wire_size`] measures it.
    pub fn limit(&self, topic: &str) -> usize {
        self.limits.get(topic).copied().unwrap_or(RECORD_LIMIT)
    }

    /// Queues one record, waiting while the producer's queue is full. A record over its topic's
    /// limit is cut or set aside (a job's sink) or an error (a plain sink). A dead letter is
    /// counted here, once it is queued ([`DeadLetterWritten`]).
    pub fn send(&mut self, record: &Outgoing) -> Result<(), SinkError> {
        self.queue(record, Sending::First)
    }

    /// [`Self::send`], for a first send or a record sent again after the broker refused it.
    fn queue(&mut self, record: &Outgoing, sending: Sending) -> Result<(), SinkError> {
        let mut attempt = Cow::Borrowed(record);
        for _ in 0..REFUSAL_ROUNDS {
            let (fitted, done) = self.fitted(&attempt)?;
            match self.produce(&fitted) {
                Ok(()) => {
                    self.count(&attempt, &fitted, done, sending);
                    return Ok(());
                }
                // librdkafka measured it over `message.max.bytes`: this sink's own measure is
                // off. A plain sink reports it; a job's sink tries again under a lower limit.
                Err(KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge))
                    if self.dead_letters.is_some() =>
                {
                    let topic = fitted.topic.clone();
                    attempt = Cow::Owned(fitted.into_owned());
                    self.lower_limit(&topic);
                }
                Err(source) => {
                    return Err(SinkError::Send {
                        topic: fitted.topic.clone(),
                        source,
                    });
                }
            }
        }
        self.give_up(
            &attempt,
            &format!("librdkafka refused it as too large {REFUSAL_ROUNDS} times"),
        );
        Ok(())
    }

    /// Queues every record of `records`, in order.
    pub fn send_all<'a>(&mut self, records: impl IntoIterator<Item = &'a Outgoing>) -> Result<(), SinkError> {
        records.into_iter().try_for_each(|r| self.send(r))
    }

    /// Emits the events of `record`, queued as `sent` after [`Self::fitted`] did `done`: a dead
    /// letter is counted on its first send (a record sent again after a refusal comes back from
    /// its delivery report as [`Kind::Other`]), a cut once, whenever it is first made, and a
    /// `too_large` dead letter made here always (it is new).
    fn count(&self, record: &Outgoing, sent: &Outgoing, done: Done, sending: Sending) {
        let Some(dead_letters) = &self.dead_letters else {
            return;
        };
        let job = dead_letters.job.as_str();
        let first = sending == Sending::First || done == Done::SetAside;
        if let Kind::DeadLetter { reason, .. } = sent.kind
            && first
        {
            DeadLetterWritten { job, reason }.emit();
        }
        let cut_before = matches!(record.kind, Kind::DeadLetter { cut: true, .. });
        let cut = match done {
            // Cut here for the first time.
            Done::Cut(Fit::Truncated) => true,
            Done::SetAside => matches!(sent.kind, Kind::DeadLetter { cut: true, .. }),
            // Cut when it was made (or not at all): counted with its first send.
            Done::AsIs | Done::Cut(_) => sending == Sending::First && cut_before,
        };
        if cut {
            DeadLetterCut { job }.emit();
        }
    }

    /// Waits until every record sent so far is acknowledged, and fails if any was not
    /// delivered since the last flush. Only after this returns `Ok` may offsets be committed.
    ///
    /// Records the broker refused as too large are sent again, cut or set aside (a job's sink;
    /// see the module docs), and waited for in turn; a record refused [`REFUSAL_ROUNDS`] times
    /// is given up rather than failing the flush.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.wait()?;
        for round in 1..=REFUSAL_ROUNDS {
            let refused = self.producer.context().take_refused();
            if refused.is_empty() {
                break;
            }
            if round == REFUSAL_ROUNDS {
                let why = format!("the brokers refused it as too large {round} times");
                refused.iter().for_each(|record| self.give_up(record, &why));
                break;
            }
            let topics: BTreeSet<&str> = refused.iter().map(|r| r.topic.as_str()).collect();
            for topic in topics {
                self.lower_limit(topic);
            }
            for record in &refused {
                self.queue(record, Sending::Again)?;
            }
            self.wait()?;
        }
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

    /// Waits for the broker to acknowledge (or refuse) every record queued, and for the
    /// delivery reports to be handled.
    ///
    /// Not `Producer::flush` alone: with a `ThreadedProducer`, rust-rdkafka's flush polls the
    /// event queue for up to 100 ms while the producer's own polling thread takes the delivery
    /// reports from it, so every flush of a non-empty queue took 100 ms (a commit cycle, which
    /// flushes twice, 200 ms of each 500 ms). A zero-timeout flush sends what lingers at once;
    /// then the queue length, which counts reports not yet handled, is watched until it is zero.
    fn wait(&self) -> Result<(), SinkError> {
        let deadline = Instant::now() + self.flush_timeout;
        let _sent_now = self.producer.flush(Duration::ZERO);
        while self.producer.in_flight_count() > 0 {
            if Instant::now() >= deadline {
                return Err(SinkError::Flush(self.flush_timeout));
            }
            std::thread::sleep(FLUSH_POLL);
        }
        Ok(())
    }

    /// `record` if it fits its topic's limit; otherwise the dead letter to write instead (a
    /// job's sink) or [`SinkError::TooLarge`] (a plain sink); and which it was.
    fn fitted<'r>(&self, record: &'r Outgoing) -> Result<(Cow<'r, Outgoing>, Done), SinkError> {
        let (size, limit) = (wire_size(record), self.limit(&record.topic));
        if size <= limit {
            return Ok((Cow::Borrowed(record), Done::AsIs));
        }
        let Some(dead_letters) = &self.dead_letters else {
            return Err(SinkError::TooLarge {
                topic: record.topic.clone(),
                size,
                limit,
            });
        };
        if record.topic == dead_letters.topic {
            let (cut, fit) = dead_letters.fit(record.clone(), limit);
            return Ok((Cow::Owned(cut), Done::Cut(fit)));
        }
        tracing::warn!(
            job = dead_letters.job,
            topic = record.topic,
            "a record of {size} bytes is over the topic's limit of {limit} bytes: it goes to {} as \
             a too_large dead letter",
            dead_letters.topic
        );
        let dead = dead_letters.too_large(record, size, limit);
        let limit = self.limit(&dead.topic);
        Ok((Cow::Owned(dead_letters.fit(dead, limit).0), Done::SetAside))
    }

    /// Queues `record` as it is, waiting while the producer's queue is full.
    fn produce(&self, record: &Outgoing) -> Result<(), KafkaError> {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in &record.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let mut message: BaseRecord<'_, Vec<u8>, Vec<u8>, usize> =
            BaseRecord::with_opaque_to(&record.topic, timestamp_opaque(record.timestamp)).headers(headers);
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
                Err((source, _)) => return Err(source),
            }
        }
    }

    /// Halves the limit of `topic`, not below [`MIN_RECORD_LIMIT`], after a record for it was
    /// refused as too large.
    fn lower_limit(&mut self, topic: &str) {
        let lowered = (self.limit(topic) / 2).max(MIN_RECORD_LIMIT);
        tracing::warn!(
            topic,
            "a record for the topic was refused as too large (is the broker's or the topic's \
             limit below {MESSAGE_MAX_BYTES} bytes?): records over {lowered} bytes now go to the \
             dead letters, cut"
        );
        self.limits.insert(topic.to_string(), lowered);
    }

    /// Drops `record` so that the job goes on ([`RecordDropped`]).
    fn give_up(&self, record: &Outgoing, why: &str) {
        RecordDropped {
            job: self.dead_letters.as_ref().map_or("", |d| d.job.as_str()),
            record,
            size: wire_size(record),
            why,
        }
        .emit();
    }
}

/// Whether a record is sent for the first time or again after the broker refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    First,
    Again,
}

/// What [`Sink::fitted`] did to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    /// Nothing: it fits.
    AsIs,
    /// A dead letter over the limit, cut to fit.
    Cut(Fit),
    /// A record over the limit, set aside as a `too_large` dead letter.
    SetAside,
}

#[cfg(test)]
mod tests;
