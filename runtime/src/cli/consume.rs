//! `weir consume`: a Kafka topic → JSON lines on stdout, so users need no other client.

use super::print::record_json;
use crate::kafka::source::input_record;
use crate::kafka::{consumer_config, topic_partitions};
use anyhow::{Context, Result, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Arguments of `weir consume`.
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// Topic to read.
    #[arg(long, short)]
    pub topic: String,
    /// Kafka bootstrap servers.
    #[arg(long, short, env = "WEIR_BROKERS", default_value = "localhost:9092")]
    pub brokers: String,
    /// Consumer group; without one, read the whole topic from the beginning and commit nothing.
    #[arg(long, short)]
    pub group: Option<String>,
    /// Stop after this many records.
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// Stop when no record has arrived for this long (default: run until interrupted).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub idle_timeout: Option<Duration>,
}

/// Runs `weir consume`.
pub fn consume(args: &ConsumeArgs) -> Result<()> {
    let group = args
        .group
        .clone()
        .unwrap_or_else(|| format!("weir-consume-{}", std::process::id()));
    let consumer: BaseConsumer = consumer_config(&args.brokers, &group)
        .create()
        .with_context(|| format!("cannot create a consumer for {}", args.brokers))?;
    topic_partitions(
        consumer.client(),
        &args.brokers,
        &args.topic,
        Duration::from_secs(10),
    )?;
    consumer
        .subscribe(&[&args.topic])
        .with_context(|| format!("cannot subscribe to {}", args.topic))?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut seen = 0u64;
    let mut last = Instant::now();
    while args.count.is_none_or(|n| seen < n) {
        if args.idle_timeout.is_some_and(|idle| last.elapsed() >= idle) {
            break;
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = match message {
            Ok(message) => message,
            Err(err) => bail!("cannot read {}: {err}", args.topic),
        };
        last = Instant::now();
        let record = input_record(&message);
        writeln!(out, "{}", record_json(&record)).context("write to stdout")?;
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
