//! `weir produce`: stdin lines or JSON records → a Kafka topic, so users need no other client.
//!
//! The topic must exist: it is looked up first, with a client that cannot create it, so a typo
//! fails even on a broker that creates topics on first use (`weir dev`'s). `--create` makes a
//! missing topic instead. JSON records are read strictly (an unknown field is an error naming
//! it, not a record without a value); `--key` is the key of text lines, and of JSON records
//! that have none.

use super::input::InputFormat;
use crate::kafka::admin::{Admin, TopicSpec};
use crate::kafka::sink::{Sink, SinkError};
use crate::kafka::{TopicError, consumer_config, consumer_topic_partitions};
use crate::outgoing::{Kind, Outgoing};
use anyhow::{Context, Result, bail};
use rdkafka::consumer::BaseConsumer;
use std::io::{self, BufRead};
use std::time::Duration;

/// Arguments of `weir produce`.
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// Topic to write to; it must exist, unless --create.
    #[arg(long, short)]
    pub topic: String,
    /// Kafka bootstrap servers (`weir dev` prints the `export WEIR_BROKERS=...` line).
    #[arg(long, short, env = "WEIR_BROKERS", default_value = "localhost:9092")]
    pub brokers: String,
    /// Kafka client properties of a secured cluster (`-X KEY=VALUE`).
    #[command(flatten)]
    pub kafka: super::kafka_properties::KafkaPropertyArgs,
    /// Read JSON records (`{"key", "value", "timestamp", "headers"}`, as `weir run` reads them
    /// and `weir consume` prints them; any other field is an error) instead of text lines (each
    /// line is a value). Records go to the partition their key hashes to; records without a key
    /// are spread by the producer.
    #[arg(long)]
    pub json: bool,
    /// Key of every text line; with --json, the key of records that have none.
    #[arg(long, short)]
    pub key: Option<String>,
    /// Create the topic when it does not exist (with --partitions partitions).
    #[arg(long)]
    pub create: bool,
    /// Partitions of a topic --create makes (a broker without the admin API, such as
    /// `weir dev`'s, uses its own default).
    #[arg(long, default_value_t = 1, requires = "create", value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub partitions: i32,
    /// How long to wait for the broker to acknowledge everything at the end.
    #[arg(long, default_value = "30s", value_parser = crate::units::parse_duration)]
    pub flush_timeout: Duration,
}

/// `1 record`, `2 records`.
fn records(n: u64) -> String {
    super::output::count(n, "record", "records")
}

/// Checks that the topic exists (without creating it), or creates it with `--create`.
fn check_topic(args: &ProduceArgs) -> Result<()> {
    // A consumer never asks the broker to create the topic it looks up.
    let lookup: BaseConsumer = consumer_config(&args.brokers, "weir-produce")
        .create()
        .with_context(|| format!("cannot create a client for {}", args.brokers))?;
    let timeout = Duration::from_secs(10);
    match consumer_topic_partitions(&lookup, &args.brokers, &args.topic, timeout) {
        Ok(_) => Ok(()),
        Err(TopicError::Missing { .. }) if args.create => {
            Admin::new(&args.brokers)?
                .create(&[TopicSpec {
                    name: args.topic.clone(),
                    partitions: args.partitions,
                    config: Vec::new(),
                }])
                .with_context(|| format!("cannot create topic `{}`", args.topic))?;
            eprintln!("weir produce: created topic `{}`", args.topic);
            Ok(())
        }
        Err(TopicError::Missing { topic, brokers }) => bail!(
            "topic `{topic}` does not exist at {brokers}: check its name, or pass --create to \
             create it"
        ),
        Err(err) => Err(err.into()),
    }
}

/// Runs `weir produce`.
pub fn produce(args: &ProduceArgs) -> Result<()> {
    args.kafka.install_with_env()?;
    check_topic(args)?;
    let mut sink = Sink::new(&args.brokers, args.flush_timeout)
        .with_context(|| format!("cannot create a producer for {}", args.brokers))?;
    // The topic was just found, so the brokers answer: connected now, the producer has its id
    // by the time stdin's first line comes (else the first send waited 0.5 to 1 s for it).
    sink.connect(Duration::from_secs(2));
    // JSON records keep their own timestamps; text lines get the broker's time (no policy).
    let format = InputFormat {
        lines: !args.json,
        start: 0,
        interval: 0,
    };
    let key = args.key.as_ref().map(|k| k.as_bytes().to_vec());
    let mut count = 0u64;
    for (index, line) in io::stdin().lock().lines().enumerate() {
        let line = line.context("cannot read stdin")?;
        let (mut record, stamped) = match format.parse_stamped(index as u64, &line) {
            Ok(parsed) => parsed,
            Err(why) => bail!("line {} is not a record: {why}", index + 1),
        };
        if record.key.is_none() {
            record.key.clone_from(&key);
        }
        let outgoing = Outgoing {
            kind: Kind::Other,
            topic: args.topic.clone(),
            partition: None,
            key: record.key,
            value: record.value,
            timestamp: stamped.then_some(record.timestamp),
            headers: record.headers.into_iter().map(|h| (h.key, h.value)).collect(),
        };
        sink.send(&outgoing)
            .with_context(|| format!("cannot send line {}", index + 1))?;
        count += 1;
    }
    match sink.flush() {
        Ok(()) => {}
        Err(SinkError::Flush(timeout)) => {
            bail!("the broker did not acknowledge every record within {timeout:?}")
        }
        Err(SinkError::Delivery {
            count: failed,
            reason,
        }) => bail!(
            "{failed} of {} were not delivered to {}: {reason}",
            records(count),
            args.topic
        ),
        Err(err) => return Err(err.into()),
    }
    eprintln!("weir produce: {} to {}", records(count), args.topic);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_record_is_singular() {
        assert_eq!(records(0), "0 records");
        assert_eq!(records(1), "1 record");
        assert_eq!(records(25), "25 records");
    }
}
