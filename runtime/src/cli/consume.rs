//! `weir consume`: a Kafka topic → stdout, as JSON lines (`-o json`, the default: the shape
//! `weir produce --json` reads back) or as text for people (`-o text`), headers included, so
//! a dead letter's `weir.reason` and `weir.error` show. Users need no other client.
//!
//! Without `--group` it reads every partition from the beginning without joining a group
//! (nothing to wait for, nothing committed); with one it joins the group and commits what it
//! printed. `--idle-timeout` counts from the moment partitions are assigned, never the
//! connection and group join before.

use super::output::records::{record_json, record_text};
use crate::kafka::source::input_record;
use crate::kafka::{consumer_config, consumer_topic_partitions};
use anyhow::{Context, Result, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Arguments of `weir consume`.
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// Topic to read.
    #[arg(long, short)]
    pub topic: String,
    /// Kafka bootstrap servers (`weir dev` prints the `export WEIR_BROKERS=...` line).
    #[arg(long, short, env = "WEIR_BROKERS", default_value = "localhost:9092")]
    pub brokers: String,
    /// Kafka client properties of a secured cluster (`-X KEY=VALUE`).
    #[command(flatten)]
    pub kafka: super::kafka_properties::KafkaPropertyArgs,
    /// Consumer group; without one, read the whole topic from the beginning and commit nothing.
    #[arg(long, short)]
    pub group: Option<String>,
    /// Stop after this many records.
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// Stop when no record has arrived for this long, counted from when the topic's partitions
    /// are assigned (default: run until interrupted).
    #[arg(long, value_parser = crate::units::parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// How to print each record: `json` (one JSON object per line, with its headers) or `text`
    /// (its value and each header on lines of their own).
    #[arg(long = "output", short = 'o', value_enum, default_value_t = RecordFormat::Json)]
    pub format: RecordFormat,
}

/// How `weir consume` prints a record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFormat {
    /// `{"partition", "offset", "timestamp", "key", "value", "headers"}`, one per line.
    #[default]
    Json,
    /// For people: the record's place, time and key, then its value and headers, indented.
    Text,
}

/// Runs `weir consume`.
pub fn consume(args: &ConsumeArgs) -> Result<()> {
    args.kafka.install_with_env()?;
    let group = args
        .group
        .clone()
        .unwrap_or_else(|| format!("weir-consume-{}", std::process::id()));
    let consumer: BaseConsumer = consumer_config(&args.brokers, &group)
        .create()
        .with_context(|| format!("cannot create a consumer for {}", args.brokers))?;
    let partitions =
        consumer_topic_partitions(&consumer, &args.brokers, &args.topic, Duration::from_secs(10))?;
    if args.group.is_some() {
        consumer
            .subscribe(&[&args.topic])
            .with_context(|| format!("cannot subscribe to {}", args.topic))?;
    } else {
        let mut assignment = TopicPartitionList::new();
        for partition in 0..i32::try_from(partitions).unwrap_or(i32::MAX) {
            assignment
                .add_partition_offset(&args.topic, partition, Offset::Beginning)
                .with_context(|| format!("cannot read {}/{partition}", args.topic))?;
        }
        consumer
            .assign(&assignment)
            .with_context(|| format!("cannot read {}", args.topic))?;
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut seen = 0u64;
    // When the last record arrived, or when the partitions were assigned: the idle clock.
    let mut last: Option<Instant> = None;
    while args.count.is_none_or(|n| seen < n) {
        if last.is_none() && assigned(&consumer) {
            last = Some(Instant::now());
        }
        let idle = args
            .idle_timeout
            .zip(last)
            .is_some_and(|(idle, last)| last.elapsed() >= idle);
        if idle {
            break;
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = match message {
            Ok(message) => message,
            Err(err) => bail!("cannot read {}: {err}", args.topic),
        };
        last = Some(Instant::now());
        let record = input_record(&message);
        match args.format {
            RecordFormat::Json => writeln!(out, "{}", record_json(&record)),
            RecordFormat::Text => writeln!(out, "{}", record_text(&record)),
        }
        .context("write to stdout")?;
        out.flush().context("write to stdout")?;
        if args.group.is_some() {
            consumer
                .store_offset_from_message(&message)
                .and_then(|()| consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Async))
                .context("cannot commit the consumer group's offset")?;
        }
        seen += 1;
    }
    Ok(())
}

/// Whether the consumer holds partitions yet (a group member gets them after its join).
fn assigned(consumer: &BaseConsumer) -> bool {
    consumer.assignment().is_ok_and(|list| list.count() > 0)
}
