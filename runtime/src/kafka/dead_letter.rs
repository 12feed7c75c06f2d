//! Dead letters as Kafka records: the original key, value and headers, plus `weir.*` headers
//! that say what happened and where the record came from, so it can be found and replayed.
//!
//! | header | value |
//! |---|---|
//! | `weir.reason` | `late`, `rejected`, `timeout`, `memory_limit`, `panic`, `undecodable`, `too_large`... |
//! | `weir.stage` | `map`, `window`, `reduce`, `finish`, `shuffle`, `sink` (for `too_large`) |
//! | `weir.error` | the details: the guest's message, the limit, the watermark |
//! | `weir.job`, `weir.module` | the job's name and the module's sha256 |
//! | `weir.at` | when it was set aside, in ms since the epoch (the record keeps its own timestamp) |
//! | `weir.source.topic`, `.partition`, `.offset`, `.timestamp` | where the record was read |
//! | `weir.window` | `start,end` in ms, for a (window, key) whose finish failed |
//! | `weir.sink.topic`, `.partition` | for `too_large`: the topic (and partition, when Weir chose one) the record was meant for |
//! | `weir.truncated` | only on a dead letter cut to fit the size limit: what was cut, as `FIELD:ORIGINAL>KEPT` entries separated by commas, e.g. `value:999800>999180` (FIELD is `value`, `key`, `weir.error`, in bytes, or `headers`, a count); see [`truncation`](super::truncation) |
//!
//! Every dead letter fits the producer's limit ([`RECORD_LIMIT`]): one over it keeps the head of
//! its value (then key, then original headers, then error text) and says so in
//! `weir.truncated`; the other `weir.*` headers are never cut. A record Weir meant to write
//! elsewhere (output, a shuffle partial, a checkpoint) that is over its topic's limit becomes a
//! `too_large` dead letter carrying its head ([`DeadLetterTopic::too_large`]), so a record too
//! big to write never stops a job.

use super::record_size::RECORD_LIMIT;
use super::truncation::{Fit, fit};
use crate::outgoing::{Kind, Outgoing};
use crate::pipeline::DeadLetter;
use crate::record::InputRecord;

/// Who sets dead letters aside, for their headers.
#[derive(Debug, Clone)]
pub struct DeadLetterTopic {
    /// The dead-letter topic.
    pub topic: String,
    /// The job's name.
    pub job: String,
    /// The module's sha256.
    pub module: String,
}

impl DeadLetterTopic {
    /// The record for a dead letter of the pipeline, read from `source_topic`.
    pub fn record(&self, source_topic: &str, dead: &DeadLetter) -> Outgoing {
        let stage = serde_json::to_value(dead.stage)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut out = self.base(dead.reason.as_str(), &stage, &dead.message);
        if let Some(record) = &dead.record {
            self.with_source(&mut out, source_topic, record);
        } else {
            out.key.clone_from(&dead.key);
        }
        if let Some(window) = dead.window {
            out.headers.push((
                "weir.window".into(),
                format!("{},{}", window.start, window.end).into_bytes(),
            ));
        }
        self.fitted(out)
    }

    /// The record for an input record Weir could not even hand to the module.
    pub fn undecodable(
        &self,
        source_topic: &str,
        stage: &str,
        message: &str,
        record: &InputRecord,
    ) -> Outgoing {
        let mut out = self.base("undecodable", stage, message);
        self.with_source(&mut out, source_topic, record);
        self.fitted(out)
    }

    /// The dead letter for `record`, which Weir meant to write to its topic but which is
    /// `size` bytes ([`wire_size`](super::record_size::wire_size)), over that topic's `limit`:
    /// reason `too_large`, stage `sink`, the record's key, value and headers followed by the
    /// `weir.*` ones, cut to fit.
    pub fn too_large(&self, record: &Outgoing, size: usize, limit: usize) -> Outgoing {
        let message = format!(
            "a record of {size} bytes for topic `{}` is over its limit of {limit} bytes",
            record.topic
        );
        let mut out = self.base("too_large", "sink", &message);
        out.key.clone_from(&record.key);
        out.value.clone_from(&record.value);
        out.timestamp = record.timestamp;
        let meant_for = std::iter::once(("weir.sink.topic".to_string(), record.topic.clone().into_bytes()))
            .chain(
                record
                    .partition
                    .map(|p| ("weir.sink.partition".to_string(), p.to_string().into_bytes())),
            );
        let weir = std::mem::take(&mut out.headers);
        out.headers = record
            .headers
            .iter()
            .cloned()
            .chain(weir)
            .chain(meant_for)
            .collect();
        self.fitted(out)
    }

    /// `dead`, a dead letter for this topic, cut to `limit` bytes if it is over
    /// ([`truncation`](super::truncation)), and what was done. A dead letter's
    /// [`Kind::DeadLetter`] says it was cut; the sink counts it when it queues it.
    pub fn fit(&self, mut dead: Outgoing, limit: usize) -> (Outgoing, Fit) {
        let before = dead.value.as_ref().map_or(0, Vec::len);
        let done = fit(&mut dead, limit);
        if done != Fit::Untouched {
            if let Kind::DeadLetter { cut, .. } = &mut dead.kind {
                *cut = true;
            }
            tracing::warn!(
                job = self.job,
                topic = dead.topic,
                "a dead letter with a value of {before} bytes was cut to fit {limit} bytes"
            );
        }
        (dead, done)
    }

    /// [`Self::fit`] under [`RECORD_LIMIT`], for a dead letter just made.
    fn fitted(&self, dead: Outgoing) -> Outgoing {
        self.fit(dead, RECORD_LIMIT).0
    }

    fn base(&self, reason: &'static str, stage: &str, message: &str) -> Outgoing {
        Outgoing {
            kind: Kind::DeadLetter { reason, cut: false },
            topic: self.topic.clone(),
            partition: None,
            key: None,
            value: None,
            timestamp: None,
            headers: vec![
                ("weir.reason".into(), reason.as_bytes().to_vec()),
                ("weir.stage".into(), stage.as_bytes().to_vec()),
                ("weir.error".into(), message.as_bytes().to_vec()),
                ("weir.job".into(), self.job.as_bytes().to_vec()),
                ("weir.module".into(), self.module.as_bytes().to_vec()),
                ("weir.at".into(), now_ms().to_string().into_bytes()),
            ],
        }
    }

    fn with_source(&self, out: &mut Outgoing, topic: &str, record: &InputRecord) {
        out.key.clone_from(&record.key);
        out.value.clone_from(&record.value);
        out.timestamp = Some(record.timestamp);
        let original = record.headers.iter().map(|h| (h.key.clone(), h.value.clone()));
        let source = [
            ("weir.source.topic", topic.to_string()),
            ("weir.source.partition", record.partition.to_string()),
            ("weir.source.offset", record.offset.to_string()),
            ("weir.source.timestamp", record.timestamp.to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v.into_bytes()));
        let weir = std::mem::take(&mut out.headers);
        out.headers = original.chain(weir).chain(source).collect();
    }
}

/// The wall clock in ms since the epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::record_size::wire_size;
    use crate::pipeline::{Reason, Stage};
    use crate::record::Header;

    #[test]
    fn a_late_record_keeps_its_bytes_and_says_where_it_came_from() {
        let topic = DeadLetterTopic {
            topic: "dlq".into(),
            job: "wc".into(),
            module: "ab12".into(),
        };
        let record = InputRecord {
            key: Some(b"k".to_vec()),
            value: Some(b"late line".to_vec()),
            timestamp: 5,
            headers: vec![Header {
                key: "trace".into(),
                value: b"t1".to_vec(),
            }],
            partition: 2,
            offset: 41,
        };
        let dead = DeadLetter::for_record(Reason::Late, Stage::Window, "too late".into(), &record);
        let out = topic.record("lines", &dead);
        assert_eq!(out.topic, "dlq");
        assert_eq!(out.value.as_deref(), Some(&b"late line"[..]));
        let header = |name: &str| {
            out.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(header("trace").as_deref(), Some("t1"));
        assert_eq!(header("weir.reason").as_deref(), Some("late"));
        assert_eq!(header("weir.stage").as_deref(), Some("window"));
        assert_eq!(header("weir.job").as_deref(), Some("wc"));
        assert_eq!(header("weir.module").as_deref(), Some("ab12"));
        assert_eq!(header("weir.source.topic").as_deref(), Some("lines"));
        assert_eq!(header("weir.source.partition").as_deref(), Some("2"));
        assert_eq!(header("weir.source.offset").as_deref(), Some("41"));
    }

    fn orders() -> DeadLetterTopic {
        DeadLetterTopic {
            topic: "orders.dead-letters".into(),
            job: "orders".into(),
            module: "ab12".into(),
        }
    }

    fn input(value: Vec<u8>) -> InputRecord {
        InputRecord {
            key: Some(b"c1".to_vec()),
            value: Some(value),
            timestamp: 1_700_000_000_000,
            headers: vec![Header {
                key: "trace".into(),
                value: b"t1".to_vec(),
            }],
            partition: 0,
            offset: 7,
        }
    }

    fn rejected(value: Vec<u8>) -> (InputRecord, Outgoing) {
        let record = input(value);
        let dead = DeadLetter::for_record(
            Reason::Rejected,
            Stage::Map,
            "expected value at line 1 column 1".into(),
            &record,
        );
        let out = orders().record("orders", &dead);
        (record, out)
    }

    fn kept(out: &Outgoing) -> usize {
        out.value.as_ref().map_or(0, Vec::len)
    }

    #[test]
    fn a_rejected_record_of_999_800_bytes_is_cut_under_the_limit_and_says_so() {
        let value: Vec<u8> = (0..999_800u32).map(|i| (i % 251) as u8).collect();
        let (_, out) = rejected(value.clone());
        assert!(wire_size(&out) <= RECORD_LIMIT, "{} bytes", wire_size(&out));
        assert_eq!(
            out.header("weir.truncated"),
            Some(format!("value:999800>{}", kept(&out)))
        );
        assert_eq!(out.value.as_deref(), Some(&value[..kept(&out)]));
        assert_eq!(out.key.as_deref(), Some(&b"c1"[..]));
        assert_eq!(out.header("weir.reason").as_deref(), Some("rejected"));
        assert_eq!(
            out.header("weir.error").as_deref(),
            Some("expected value at line 1 column 1")
        );
        assert_eq!(out.header("weir.source.offset").as_deref(), Some("7"));
        assert_eq!(out.header("trace").as_deref(), Some("t1"));
    }

    #[test]
    fn a_rejected_record_of_5_mb_is_cut_under_the_limit_too() {
        let (_, out) = rejected(vec![b'x'; 5_000_000]);
        assert!(wire_size(&out) <= RECORD_LIMIT);
        assert!(kept(&out) > 998_000);
        assert_eq!(
            out.header("weir.truncated"),
            Some(format!("value:5000000>{}", kept(&out)))
        );
    }

    #[test]
    fn a_dead_letter_under_the_limit_is_written_byte_for_byte() {
        let value = vec![b'x'; 900_000];
        let (record, out) = rejected(value.clone());
        assert_eq!(out.value, Some(value));
        assert_eq!(out.key, record.key);
        assert_eq!(out.header("weir.truncated"), None);
        assert_eq!(
            out.headers.last().map(|(k, _)| k.as_str()),
            Some("weir.source.timestamp")
        );
    }

    #[test]
    fn a_2_mb_output_record_becomes_a_too_large_dead_letter_that_fits() {
        let output = Outgoing {
            kind: Kind::Output,
            topic: "big-orders".into(),
            partition: Some(2),
            key: Some(b"c1".to_vec()),
            value: Some((0..2_000_000u32).map(|i| (i % 241) as u8).collect()),
            timestamp: Some(1_700_000_000_000),
            headers: vec![("trace".into(), b"t1".to_vec())],
        };
        let size = wire_size(&output);
        let out = orders().too_large(&output, size, RECORD_LIMIT);
        assert_eq!(out.topic, "orders.dead-letters");
        assert!(wire_size(&out) <= RECORD_LIMIT);
        assert_eq!(out.header("weir.reason").as_deref(), Some("too_large"));
        assert_eq!(out.header("weir.stage").as_deref(), Some("sink"));
        let error = out.header("weir.error").unwrap_or_default();
        assert!(
            error.contains("big-orders") && error.contains(&size.to_string()),
            "{error}"
        );
        assert!(error.contains(&RECORD_LIMIT.to_string()), "{error}");
        assert_eq!(out.header("weir.sink.topic").as_deref(), Some("big-orders"));
        assert_eq!(out.header("weir.sink.partition").as_deref(), Some("2"));
        assert_eq!(out.header("weir.job").as_deref(), Some("orders"));
        assert_eq!(out.header("trace").as_deref(), Some("t1"));
        assert_eq!(
            out.header("weir.truncated"),
            Some(format!("value:2000000>{}", kept(&out)))
        );
        let value = output.value.as_deref().unwrap_or_default();
        assert_eq!(out.value.as_deref(), Some(&value[..kept(&out)]));
        assert_eq!(out.key, output.key);
        assert_eq!(out.timestamp, output.timestamp);
    }
}
