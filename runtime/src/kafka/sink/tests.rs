//! The [`Sink`](super::Sink) against librdkafka's mock broker: records over the limit are set
//! aside or cut, records under it are written byte for byte, and a broker that refuses records
//! as too large costs records, never a restart loop.

use super::*;
use crate::kafka::consumer_config;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::time::Instant;

const DEAD_LETTERS: &str = "orders.dead-letters";

fn dead_letters() -> DeadLetterTopic {
    DeadLetterTopic {
        topic: DEAD_LETTERS.into(),
        job: "sink-test".into(),
        module: "ab12".into(),
    }
}

fn record(topic: &str, value: Vec<u8>) -> Outgoing {
    Outgoing {
        kind: Kind::Other,
        topic: topic.into(),
        partition: Some(0),
        key: Some(b"c1".to_vec()),
        value: Some(value),
        timestamp: Some(1_700_000_000_000),
        headers: vec![("trace".into(), b"t1".to_vec())],
    }
}

/// A one-broker mock cluster with one-partition topics `topics`.
fn cluster(topics: &[&str]) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let cluster = MockCluster::new(1).expect("a mock cluster");
    for topic in topics {
        cluster.create_topic(topic, 1, 1).expect("a mock topic");
    }
    cluster
}

/// The first `count` records of partition 0 of `topic`, as written.
fn read(brokers: &str, topic: &str, count: usize) -> Vec<Outgoing> {
    let consumer: BaseConsumer = consumer_config(brokers, "sink-test")
        .create()
        .expect("a consumer");
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(topic, 0, Offset::Beginning)
        .expect("an offset");
    consumer.assign(&partitions).expect("an assignment");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut records = Vec::new();
    while records.len() < count && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            records.push(as_outgoing(&message.detach()));
        }
    }
    records
}

fn as_outgoing(message: &OwnedMessage) -> Outgoing {
    Outgoing {
        kind: Kind::Other,
        topic: message.topic().to_string(),
        partition: Some(message.partition()),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        timestamp: message.timestamp().to_millis(),
        headers: crate::kafka::message_headers(message),
    }
}

#[test]
fn a_plain_sink_reports_a_record_over_the_limit() {
    let mut sink = Sink::new("127.0.0.1:1", Duration::from_secs(1)).expect("a producer");
    let big = record("out", vec![b'x'; 2_000_000]);
    match sink.send(&big) {
        Err(SinkError::TooLarge { topic, size, limit }) => {
            assert_eq!(
                (topic.as_str(), size, limit),
                ("out", wire_size(&big), RECORD_LIMIT)
            );
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(sink.send(&record("out", vec![b'x'; 1000])).is_ok());
}

#[test]
fn a_job_sink_sets_a_2_mb_record_aside_and_writes_the_others_byte_for_byte() {
    let cluster = cluster(&["out", DEAD_LETTERS]);
    let brokers = cluster.bootstrap_servers();
    let mut sink = Sink::for_job(&brokers, Duration::from_secs(20), dead_letters()).expect("a producer");
    let small = record("out", b"small".to_vec());
    let near = record(
        "out",
        vec![b'n'; RECORD_LIMIT - wire_size(&record("out", Vec::new()))],
    );
    let big = record("out", (0..2_000_000u32).map(|i| (i % 241) as u8).collect());
    sink.send_all([&small, &big, &near]).expect("sent");
    sink.flush().expect("flushed");

    let out = read(&brokers, "out", 2);
    assert_eq!(out, vec![small, near]);
    let dead = read(&brokers, DEAD_LETTERS, 1);
    assert_eq!(dead.len(), 1);
    let dead = &dead[0];
    assert!(wire_size(dead) <= RECORD_LIMIT);
    assert_eq!(dead.header("weir.reason").as_deref(), Some("too_large"));
    assert_eq!(dead.header("weir.stage").as_deref(), Some("sink"));
    assert_eq!(dead.header("weir.sink.topic").as_deref(), Some("out"));
    let kept = dead.value.as_ref().map_or(0, Vec::len);
    assert_eq!(
        dead.header("weir.truncated"),
        Some(format!("value:2000000>{kept}"))
    );
    let value = big.value.as_deref().unwrap_or_default();
    assert_eq!(dead.value.as_deref(), Some(&value[..kept]));
}

#[test]
fn a_job_sink_cuts_a_dead_letter_over_the_limit() {
    let cluster = cluster(&[DEAD_LETTERS]);
    let brokers = cluster.bootstrap_servers();
    let mut sink = Sink::for_job(&brokers, Duration::from_secs(20), dead_letters()).expect("a producer");
    let mut dead = record(DEAD_LETTERS, vec![b'x'; 5_000_000]);
    dead.headers.push(("weir.reason".into(), b"rejected".to_vec()));
    sink.send(&dead).expect("sent");
    sink.flush().expect("flushed");
    let written = read(&brokers, DEAD_LETTERS, 1);
    assert_eq!(written.len(), 1);
    assert!(wire_size(&written[0]) <= RECORD_LIMIT);
    let kept = written[0].value.as_ref().map_or(0, Vec::len);
    assert_eq!(
        written[0].header("weir.truncated"),
        Some(format!("value:5000000>{kept}"))
    );
    assert_eq!(written[0].header("weir.reason").as_deref(), Some("rejected"));
}

#[test]
fn a_record_the_broker_refuses_as_too_large_is_sent_again_under_a_lower_limit() {
    let cluster = cluster(&["out", DEAD_LETTERS]);
    let brokers = cluster.bootstrap_servers();
    let mut sink = Sink::for_job(&brokers, Duration::from_secs(20), dead_letters()).expect("a producer");
    // Warm up (producer id, metadata), so that the refusal hits the record's request.
    sink.send(&record("out", b"first".to_vec())).expect("sent");
    sink.flush().expect("flushed");
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let refused = record("out", vec![b'r'; 600_000]);
    sink.send(&refused).expect("sent");
    sink.flush().expect("a refusal is no flush failure");
    assert_eq!(sink.limit("out"), RECORD_LIMIT / 2);
    // 600 kB is over the halved limit: it went to the dead letters, cut.
    let dead = read(&brokers, DEAD_LETTERS, 1);
    assert_eq!(dead.len(), 1);
    assert!(wire_size(&dead[0]) <= RECORD_LIMIT);
    assert_eq!(dead[0].header("weir.reason").as_deref(), Some("too_large"));
    // A small record refused the same way is written again as it was.
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let small = record("out", b"second".to_vec());
    sink.send(&small).expect("sent");
    sink.flush().expect("a refusal is no flush failure");
    let out = read(&brokers, "out", 2);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1], small);
}

#[test]
fn a_broker_that_refuses_everything_costs_records_not_a_restart_loop() {
    let cluster = cluster(&["out", DEAD_LETTERS]);
    let brokers = cluster.bootstrap_servers();
    let mut sink = Sink::for_job(&brokers, Duration::from_secs(20), dead_letters()).expect("a producer");
    sink.send(&record("out", b"first".to_vec())).expect("sent");
    sink.flush().expect("flushed");
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; 64],
    );
    let dropped = crate::metrics::metrics()
        .records_dropped
        .with_label_values(&["sink-test"]);
    let before = dropped.get();
    let started = Instant::now();
    sink.send(&record("out", vec![b'r'; 100_000])).expect("sent");
    sink.flush().expect("given up, not failed");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(dropped.get(), before + 1);
    cluster.clear_request_errors(RDKafkaApiKey::Produce);
    // The producer still works.
    let after = record("out", b"after".to_vec());
    sink.send(&after).expect("sent");
    sink.flush().expect("flushed");
    assert_eq!(read(&brokers, "out", 2).get(1), Some(&after));
}

#[test]
fn a_dead_letter_is_counted_once_when_queued_not_when_made_nor_when_sent_again() {
    let cluster = cluster(&["out", DEAD_LETTERS]);
    let brokers = cluster.bootstrap_servers();
    // A job name of its own: the metrics are the process's.
    let topic = DeadLetterTopic {
        job: "sink-count".into(),
        ..dead_letters()
    };
    let m = crate::metrics::metrics();
    let undecodable = m.dead_letters.with_label_values(&["sink-count", "undecodable"]);
    let too_large = m.dead_letters.with_label_values(&["sink-count", "too_large"]);
    let cut = m.dead_letters_truncated.with_label_values(&["sink-count"]);
    let mut sink = Sink::for_job(&brokers, Duration::from_secs(20), topic.clone()).expect("a producer");
    sink.send(&record("out", b"first".to_vec())).expect("sent");
    sink.flush().expect("flushed");
    let input = |value: Vec<u8>| crate::record::InputRecord {
        key: None,
        value: Some(value),
        timestamp: 5,
        headers: Vec::new(),
        partition: 0,
        offset: 7,
    };

    // Made, not yet queued: nothing counted (the encoder counts nothing).
    let small = topic.undecodable("in", "map", "not UTF-8", &input(b"\xff".to_vec()));
    assert_eq!(
        small.kind,
        Kind::DeadLetter {
            reason: "undecodable",
            cut: false
        }
    );
    assert_eq!(undecodable.get(), 0);
    sink.send(&small).expect("sent");
    sink.flush().expect("flushed");
    assert_eq!(undecodable.get(), 1);

    // Refused by the broker once, then sent again under a halved limit, which cuts it: one
    // dead letter, one cut.
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let big = topic.undecodable("in", "map", "not UTF-8", &input(vec![0xff; 600_000]));
    sink.send(&big).expect("sent");
    sink.flush().expect("a refusal is no flush failure");
    assert_eq!(undecodable.get(), 2);
    assert_eq!(cut.get(), 1);
    let written = read(&brokers, DEAD_LETTERS, 2);
    assert_eq!(written.len(), 2);
    assert!(written[1].header("weir.truncated").is_some());

    // An output record over the limit becomes a too_large dead letter, counted as such.
    sink.send(&record("out", vec![b'o'; 2_000_000])).expect("sent");
    sink.flush().expect("flushed");
    assert_eq!(too_large.get(), 1);
    assert_eq!(cut.get(), 2);
    assert_eq!(undecodable.get(), 2);
}
