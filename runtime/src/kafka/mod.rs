//! Kafka clients: the settings Weir uses for every consumer and producer.
//!
//! Consumers are tuned for throughput (DESIGN.md section 10 measured librdkafka's defaults at
//! 182 k records/s and short fetch waits with large queues at 2.2 M records/s against the same
//! broker) within bounded queues (see [`consumer_config`]); producers are idempotent with
//! `acks=all`, so a retried send never duplicates or reorders, and their queues are bounded too
//! (see [`producer_config`]).

use rdkafka::client::Client;
use rdkafka::message::Headers;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext, Message};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub mod admin;
pub mod claim;
pub mod dead_letter;
pub mod dead_letter_reader;
pub mod fetch_watch;
pub mod flush;
pub mod partition_queues;
pub mod progress;
pub mod properties;
pub mod record_size;
pub mod refusals;
pub mod refused;
pub mod sink;
pub mod source;
pub mod tail;
pub mod topic_reader;
pub mod truncation;

/// A message's headers as (name, value) pairs, in order; a header without a value has an
/// empty one.
pub fn message_headers<M: Message>(message: &M) -> Vec<(String, Vec<u8>)> {
    message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default()
}

/// How long librdkafka waits before reconnecting to a broker (`reconnect.backoff.ms`; it doubles
/// up to `reconnect.backoff.max.ms`, 10 s, while the broker stays down).
///
/// It also sets how often a client may open a connection it needs (librdkafka's sparse
/// connections, half this value, at least 11 ms): a new client asks its bootstrap server for
/// the cluster's metadata, then drops that connection for one to the broker by its id, and that
/// second connection waited out the interval. At librdkafka's default (100 ms) every new client
/// lost 50 ms there: a job's start lost about 200 ms (the API's topic check, the topic creation,
/// each stage's producer). Kafka's own clients default to 50 ms.
pub const RECONNECT_BACKOFF_MS: u64 = 10;

/// How long a request to a broker may go unanswered before the client gives it up, drops the
/// connection and connects again (`socket.timeout.ms`; a fetch gets `fetch.wait.max.ms` on
/// top), in ms. librdkafka's default is 60 s.
///
/// A runtime cut off from the network (a partition, a moved pod) keeps the requests it had in
/// flight: a consumer's fetch is always one, and nothing fails on a connection that is only
/// waiting. At 60 s, a runtime back on the network sat out the rest of the minute before its
/// stages could fetch, ask for metadata or rejoin: 46–52 s after the network came back in 7 of
/// 15 runs of the pool test's cut (`tests/pool`, case c; 2–8 s in the others). At 10 s (Weir's
/// default session timeout, and its admin requests' timeout) a request caught by a cut longer
/// than that is given up during it: 1.3–4.3 s in 10 runs. A slow broker answer costs a retry,
/// which the idempotent producers make safe.
pub const REQUEST_TIMEOUT_MS: u64 = 10_000;

/// The config every Kafka client of Weir starts from: `brokers`, [`RECONNECT_BACKOFF_MS`],
/// [`REQUEST_TIMEOUT_MS`], and the user's connection and security properties once installed
/// ([`properties::install`]: `security.protocol`, `sasl.*`, `ssl.*`...).
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("reconnect.backoff.ms", RECONNECT_BACKOFF_MS.to_string())
        .set("socket.timeout.ms", REQUEST_TIMEOUT_MS.to_string());
    if let Some(properties) = properties::installed() {
        properties.apply(&mut config);
    }
    config
}

/// A consumer config for `brokers`, reading without committing (callers commit explicitly).
/// A stage's consumer starts from this and takes bounds of its own ([`stage_consumer_config`]).
///
/// What a consumer holds is bounded (librdkafka counts records' payload bytes; each record costs
/// a few hundred bytes more of its own structures, which no setting counts):
/// - the prefetch queue, over all of the consumer's partitions: at most
///   [`CONSUMER_QUEUED_MESSAGES`] records (`queued.min.messages`: fetching stops at it) and
///   [`CONSUMER_QUEUED_KBYTES`] KiB of payload (`queued.max.messages.kbytes`);
/// - beyond them, the fetch response in flight: at most [`CONSUMER_FETCH_BYTES`]
///   (`fetch.max.bytes`), [`CONSUMER_PARTITION_FETCH_BYTES`] per partition
///   (`max.partition.fetch.bytes`); a larger record still comes, alone, from Kafka (not from tansu).
///
/// Records point into the response they came in, which stays allocated until its last record is
/// dropped: a record still held keeps its whole response.
pub fn consumer_config(brokers: &str, group: &str) -> ClientConfig {
    let mut config = client_config(brokers);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.queue.backoff.ms", CONSUMER_FULL_BACKOFF_MS.to_string())
        .set("fetch.wait.max.ms", CONSUMER_FETCH_WAIT_MS.to_string())
        .set("queued.min.messages", CONSUMER_QUEUED_MESSAGES.to_string())
        .set("queued.max.messages.kbytes", CONSUMER_QUEUED_KBYTES.to_string())
        .set(
            "max.partition.fetch.bytes",
            CONSUMER_PARTITION_FETCH_BYTES.to_string(),
        )
        .set("fetch.max.bytes", CONSUMER_FETCH_BYTES.to_string());
    config
}

/// How long a consumer's fetch waits for records (`fetch.wait.max.ms`), in ms. tansu 0.6 sleeps
/// out the wait on every fetch, even one that found records, so a consumer reads at most one
/// fetch size per wait there (BENCHMARKS.md); Kafka answers as soon as records come. The tails
/// of the registry and the status topic wait longer ([`tail::TAIL_FETCH_WAIT_MS`]).
pub const CONSUMER_FETCH_WAIT_MS: u64 = 10;
/// How long a consumer whose prefetch queue is full waits before it looks again
/// (`fetch.queue.backoff.ms`): librdkafka's 1 s default stalls a fast consumer, and 0 makes its
/// broker thread spin while the queue is full, which the small queue below makes common.
pub const CONSUMER_FULL_BACKOFF_MS: u64 = 2;
/// Records a consumer prefetches, over all its partitions (`queued.min.messages`).
pub const CONSUMER_QUEUED_MESSAGES: usize = 20_000;
/// KiB of record payload a consumer prefetches, over all its partitions
/// (`queued.max.messages.kbytes`).
pub const CONSUMER_QUEUED_KBYTES: usize = 16 << 10;
/// Bytes of one fetch response (`fetch.max.bytes`).
pub const CONSUMER_FETCH_BYTES: usize = 16 << 20;
/// Bytes of one partition's share of a fetch response (`max.partition.fetch.bytes`). Also the
/// largest record these consumers (the CLI's, the status and registry readers; not a stage's,
/// see [`stage_consumer_config`]) read from a broker that does not hand out a larger first
/// record anyway (Kafka does, KIP-74; tansu 0.6 with SQLite storage does not).
pub const CONSUMER_PARTITION_FETCH_BYTES: usize = 16 << 20;
/// Records a stage's consumer prefetches per partition (`queued.min.messages`). A stage reads
/// each partition from its own queue ([`partition_queues`]), and librdkafka then applies its
/// queue bounds to each partition's queue: a stage holds at most this many records of each,
/// plus one fetch response's worth.
pub const STAGE_QUEUED_MESSAGES: usize = 1_000;
/// KiB of record payload a stage's consumer prefetches per partition
/// (`queued.max.messages.kbytes`), plus one fetch response's worth.
pub const STAGE_QUEUED_KBYTES: usize = 1 << 10;
/// Bytes of one fetch response of a stage's consumer (`fetch.max.bytes`) and of one partition's
/// share of it (`max.partition.fetch.bytes`), to begin with: Kafka's default for the share
/// (its default largest record is 1 MB). A larger first record batch still comes, alone, from
/// Kafka (KIP-74) and from tansu with memory storage; tansu with SQLite storage returns nothing
/// instead, and the stage then fetches larger ([`fetch_watch`], [`next_fetch_bytes`]).
/// Small responses keep a stage's footprint small: tansu fills a response from one partition
/// up to `fetch.max.bytes`, whatever the share, so each partition's queue is overshot by up to
/// one response (16 MiB responses made a 6-partition stage hold about 100 MB of records).
pub const STAGE_FETCH_BYTES: usize = 1 << 20;
/// The largest fetch size a stage grows to.
pub const STAGE_FETCH_BYTES_MAX: usize = 256 << 20;

/// The fetch size after `current` found a record batch it could not fetch: four times as
/// large, at most [`STAGE_FETCH_BYTES_MAX`]; `None` when it is that already.
pub fn next_fetch_bytes(current: usize) -> Option<usize> {
    (current < STAGE_FETCH_BYTES_MAX).then(|| current.saturating_mul(4).min(STAGE_FETCH_BYTES_MAX))
}

/// [`consumer_config`] with a stage's bounds, fetching up to `fetch_bytes` per response: what a
/// stage's consumer holds is, per assigned partition, at most [`STAGE_QUEUED_MESSAGES`]
/// records and [`STAGE_QUEUED_KBYTES`] KiB plus one response, and beyond that the response in
/// flight.
pub fn stage_consumer_config(brokers: &str, group: &str, fetch_bytes: usize) -> ClientConfig {
    let mut config = consumer_config(brokers, group);
    config
        .set("queued.min.messages", STAGE_QUEUED_MESSAGES.to_string())
        .set("queued.max.messages.kbytes", STAGE_QUEUED_KBYTES.to_string())
        .set("max.partition.fetch.bytes", fetch_bytes.to_string())
        .set("fetch.max.bytes", fetch_bytes.to_string());
    config
}

/// Records a producer holds before they are acknowledged (`queue.buffering.max.messages`);
/// a send beyond waits.
pub const PRODUCER_QUEUED_MESSAGES: usize = 50_000;
/// KiB of record payload a producer holds before they are acknowledged
/// (`queue.buffering.max.kbytes`).
pub const PRODUCER_QUEUED_KBYTES: usize = 32 << 10;

/// An idempotent producer config for `brokers`, `acks=all`, whose largest record (and record
/// batch) is [`record_size::MESSAGE_MAX_BYTES`].
///
/// What it holds until the broker acknowledges is bounded by [`PRODUCER_QUEUED_MESSAGES`]
/// records (`queue.buffering.max.messages`) and [`PRODUCER_QUEUED_KBYTES`] KiB of payload
/// (`queue.buffering.max.kbytes`; librdkafka's default is 1 GiB); a send beyond either fails
/// with `QueueFull`, on which the sink and the registry wait (the claim producer sends one
/// record at a time).
pub fn producer_config(brokers: &str) -> ClientConfig {
    let mut config = client_config(brokers);
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.max.bytes", record_size::MESSAGE_MAX_BYTES.to_string())
        .set(
            "queue.buffering.max.messages",
            PRODUCER_QUEUED_MESSAGES.to_string(),
        )
        .set("queue.buffering.max.kbytes", PRODUCER_QUEUED_KBYTES.to_string());
    config
}

/// Why a topic cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// The brokers did not answer.
    #[error(
        "cannot reach the Kafka brokers at {brokers} within {timeout:?}: {source}{}",
        .why.as_ref().map(|why| format!("; {why}")).unwrap_or_default()
    )]
    Unreachable {
        /// The bootstrap servers.
        brokers: String,
        /// How long the metadata request waited.
        timeout: Duration,
        /// What librdkafka said (boxed: the error stays small).
        source: Box<rdkafka::error::KafkaError>,
        /// Why, when Weir can tell: the cluster's refusal of a connection meanwhile (a wrong
        /// password, an untrusted certificate), or, with no security protocol set, a pointer to
        /// the security properties ([`refusals::explain`]).
        why: Option<String>,
    },
    /// The brokers do not know the topic.
    #[error("topic `{topic}` does not exist at {brokers}: create it first")]
    Missing {
        /// The topic.
        topic: String,
        /// The bootstrap servers.
        brokers: String,
    },
    /// The topic exists without partitions, or the brokers report another error for it.
    #[error("topic `{topic}` is not available at {brokers}: {why}")]
    Unavailable {
        /// The topic.
        topic: String,
        /// The bootstrap servers.
        brokers: String,
        /// What is wrong.
        why: String,
    },
}

/// Asks the brokers about `topic`: its partition count, or an error that says whether the
/// brokers are unreachable or the topic does not exist.
///
/// Whether asking creates the topic is the client's `allow.auto.create.topics`: false for
/// consumers, true by default for producers (and admin clients, which librdkafka builds as
/// producers), which `weir dev`'s embedded broker obeys. Ask with a consumer, or set it false,
/// to check a topic without creating it.
pub fn topic_partitions<C: ClientContext>(
    client: &Client<C>,
    brokers: &str,
    topic: &str,
    timeout: Duration,
) -> Result<usize, TopicError> {
    let metadata = client
        .fetch_metadata(Some(topic), timeout)
        .map_err(|source| TopicError::Unreachable {
            brokers: brokers.to_string(),
            timeout,
            source: Box::new(source),
            why: refusals::explain(timeout),
        })?;
    let missing = || TopicError::Missing {
        topic: topic.to_string(),
        brokers: brokers.to_string(),
    };
    let unavailable = |why: String| TopicError::Unavailable {
        topic: topic.to_string(),
        brokers: brokers.to_string(),
        why,
    };
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Err(missing());
    };
    match found.error().map(RDKafkaErrorCode::from) {
        None if !found.partitions().is_empty() => Ok(found.partitions().len()),
        None => Err(unavailable("it has no partitions".into())),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) => Err(missing()),
        Some(code) => Err(unavailable(code.to_string())),
    }
}

/// [`topic_partitions`] through `consumer`. When the brokers do not answer, the consumer's
/// pending events are served first (librdkafka queues its reports until a poll), so a refusal
/// reported meanwhile (a wrong password, an untrusted certificate: [`refusals`]) is in the
/// error: the metadata request itself only fails with "Broker transport failure".
pub fn consumer_topic_partitions<C: rdkafka::consumer::ConsumerContext>(
    consumer: &rdkafka::consumer::BaseConsumer<C>,
    brokers: &str,
    topic: &str,
    timeout: Duration,
) -> Result<usize, TopicError> {
    match topic_partitions(
        rdkafka::consumer::Consumer::client(consumer),
        brokers,
        topic,
        timeout,
    ) {
        Err(TopicError::Unreachable {
            brokers,
            timeout,
            source,
            ..
        }) => {
            // Not subscribed and nothing assigned: a poll serves events and returns no record.
            for _ in 0..5 {
                let _ = consumer.poll(Duration::from_millis(100));
            }
            Err(TopicError::Unreachable {
                brokers,
                why: refusals::explain(timeout),
                timeout,
                source,
            })
        }
        other => other,
    }
}

/// Why the brokers at `brokers` cannot be used, when Weir can tell ([`refusals::explain`]), found
/// with a consumer of its own that asks for metadata for up to `timeout` and then serves its
/// events; `None` if they answer. For clients whose reports nobody polls: the admin client
/// serves only its own requests' results.
pub fn diagnose(brokers: &str, timeout: Duration) -> Option<String> {
    let consumer: rdkafka::consumer::BaseConsumer =
        consumer_config(brokers, "weir.diagnose").create().ok()?;
    match consumer_topic_partitions(&consumer, brokers, "weir.diagnose", timeout) {
        Err(TopicError::Unreachable { why, .. }) => why,
        _ => None,
    }
}

/// A producer context that counts delivery failures and keeps the latest one, so a client can
/// say precisely why records did not arrive (an unknown topic, a message too large).
#[derive(Default)]
pub struct DeliveryReport {
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl DeliveryReport {
    /// How many records failed so far, and the latest failure's reason.
    pub fn failures(&self) -> (u64, Option<String>) {
        let last = self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (self.failed.load(Ordering::Relaxed), last)
    }
}

impl ClientContext for DeliveryReport {}

impl ProducerContext for DeliveryReport {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: Self::DeliveryOpaque) {
        if let Err((err, message)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
            *last = Some(format!("{err} (topic {})", message.topic()));
        }
    }
}

/// Where each partition of some topics stands for a consumer group: (committed offset, or the
/// first offset when nothing is committed; end offset), by (topic, partition).
pub type GroupPositions = std::collections::BTreeMap<(String, i32), (i64, i64)>;

/// Where every partition of `topics` stands for `consumer`'s group.
pub fn group_positions<C: rdkafka::consumer::ConsumerContext>(
    consumer: &rdkafka::consumer::BaseConsumer<C>,
    brokers: &str,
    topics: &[String],
    timeout: Duration,
) -> anyhow::Result<GroupPositions> {
    use anyhow::Context as _;
    use rdkafka::consumer::Consumer;
    let mut partitions = rdkafka::TopicPartitionList::new();
    for topic in topics {
        let count = topic_partitions(consumer.client(), brokers, topic, timeout)?;
        for partition in 0..i32::try_from(count).unwrap_or(i32::MAX) {
            partitions.add_partition(topic, partition);
        }
    }
    let committed = consumer
        .committed_offsets(partitions, timeout)
        .context("cannot read the group's committed offsets")?;
    let mut positions = GroupPositions::new();
    for element in committed.elements() {
        let (low, high) = consumer
            .fetch_watermarks(element.topic(), element.partition(), timeout)
            .with_context(|| {
                format!(
                    "cannot read the end of {}/{}",
                    element.topic(),
                    element.partition()
                )
            })?;
        let from = match element.offset() {
            rdkafka::Offset::Offset(offset) => offset,
            _ => low,
        };
        positions.insert((element.topic().to_string(), element.partition()), (from, high));
    }
    Ok(positions)
}

/// The lag of consumer group `group` on `topics`: for every partition, its end offset minus
/// the group's committed offset (or minus its first offset when nothing is committed).
pub fn group_lag(brokers: &str, group: &str, topics: &[String]) -> anyhow::Result<i64> {
    use anyhow::Context as _;
    use rdkafka::consumer::BaseConsumer;
    let consumer: BaseConsumer = consumer_config(brokers, group)
        .create()
        .with_context(|| format!("cannot create a consumer for {brokers}"))?;
    let positions = group_positions(&consumer, brokers, topics, Duration::from_secs(5))
        .with_context(|| format!("group `{group}`"))?;
    Ok(positions.values().map(|&(from, high)| (high - from).max(0)).sum())
}
