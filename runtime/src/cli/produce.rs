//! `weir produce`: stdin lines or JSON records → a Kafka topic, so users need no other client.

use super::input::InputFormat;
use crate::kafka::sink::{Outgoing, Sink, SinkError};
use crate::kafka::topic_partitions;
use anyhow::{Context, Result, bail};
use rdkafka::producer::Producer;
use std::io::{self, BufRead};
use std::time::Duration;

/// Arguments of `weir produce`.
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// Topic to write to.
    #[arg(long, short)]
    pub topic: String,
    /// Kafka bootstrap servers.
    #[arg(long, short, env = "WEIR_BROKERS", default_value = "localhost:9092")]
    pub brokers: String,
    /// Read JSON records (`{"key", "value", "timestamp", "headers"}`, as `weir run` reads them)
    /// instead of text lines (each line is a value). Records go to the partition their key hashes
    /// to; records without a key are spread by the producer.
    #[arg(long)]
    pub json: bool,
    /// Key for every record (text lines only).
    #[arg(long, short)]
    pub key: Option<String>,
    /// How long to wait for the broker to acknowledge everything at the end.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub flush_timeout: Duration,
}

/// Runs `weir produce`.
pub fn produce(args: &ProduceArgs) -> Result<()> {
    let mut sink = Sink::new(&args.brokers, args.flush_timeout)
        .with_context(|| format!("cannot create a producer for {}", args.brokers))?;
    topic_partitions(
        sink.producer().client(),
        &args.brokers,
        &args.topic,
        Duration::from_secs(10),
    )?;
    // JSON records keep their own timestamps; text lines get the broker's time (no policy).
    let format = InputFormat {
        lines: !args.json,
        start: 0,
        interval: 0,
    };
    let mut count = 0u64;
    for (index, line) in io::stdin().lock().lines().enumerate() {
        let line = line.context("cannot read stdin")?;
        let (mut record, stamped) = match format.parse_stamped(index as u64, &line) {
            Ok(parsed) => parsed,
            Err(why) => bail!("line {} is not a record: {why}", index + 1),
        };
        if !args.json {
            record.key = args.key.as_ref().map(|k| k.as_bytes().to_vec());
        }
        let outgoing = Outgoing {
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
            "{failed} of {count} records were not delivered to {}: {reason}",
            args.topic
        ),
        Err(err) => return Err(err.into()),
    }
    eprintln!("weir produce: {count} records to {}", args.topic);
    Ok(())
}
