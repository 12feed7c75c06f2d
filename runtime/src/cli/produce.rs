//! `weir produce`: stdin lines or JSON records → a Kafka topic, so users need no other client.

use super::input::InputFormat;
use crate::kafka::{DeliveryReport, producer_config, topic_partitions};
use anyhow::{Context, Result, bail};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
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
    let producer: ThreadedProducer<DeliveryReport> = producer_config(&args.brokers)
        .create_with_context(DeliveryReport::default())
        .with_context(|| format!("cannot create a producer for {}", args.brokers))?;
    topic_partitions(
        producer.client(),
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
        let mut headers = OwnedHeaders::new();
        for header in &record.headers {
            headers = headers.insert(Header {
                key: &header.key,
                value: Some(&header.value),
            });
        }
        let mut message: BaseRecord<'_, Vec<u8>, Vec<u8>> = BaseRecord::to(&args.topic).headers(headers);
        if let Some(key) = &record.key {
            message = message.key(key);
        }
        if let Some(value) = &record.value {
            message = message.payload(value);
        }
        if stamped {
            message = message.timestamp(record.timestamp);
        }
        let mut message = Some(message);
        while let Some(pending) = message.take() {
            match producer.send(pending) {
                Ok(()) => {}
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    producer.poll(Duration::from_millis(50));
                    message = Some(back);
                }
                Err((err, _)) => bail!("cannot send line {} to {}: {err}", index + 1, args.topic),
            }
        }
        count += 1;
    }
    producer.flush(args.flush_timeout).with_context(|| {
        format!(
            "the broker did not acknowledge every record within {:?}",
            args.flush_timeout
        )
    })?;
    let (failed, first) = producer.context().failures();
    if failed > 0 {
        bail!(
            "{failed} of {count} records were not delivered to {}: {}",
            args.topic,
            first.unwrap_or_default()
        );
    }
    eprintln!("weir produce: {count} records to {}", args.topic);
    Ok(())
}
