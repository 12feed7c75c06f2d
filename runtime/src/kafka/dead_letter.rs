//! Dead letters as Kafka records: the original key, value and headers, plus `weir.*` headers
//! that say what happened and where the record came from, so it can be found and replayed.
//!
//! | header | value |
//! |---|---|
//! | `weir.reason` | `late`, `rejected`, `timeout`, `memory_limit`, `panic`, `undecodable`... |
//! | `weir.stage` | `map`, `window`, `reduce`, `finish`, `shuffle` |
//! | `weir.error` | the details: the guest's message, the limit, the watermark |
//! | `weir.job`, `weir.module` | the job's name and the module's sha256 |
//! | `weir.source.topic`, `.partition`, `.offset`, `.timestamp` | where the record was read |
//! | `weir.window` | `start,end` in ms, for a (window, key) whose finish failed |

use super::sink::Outgoing;
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
        out
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
        out
    }

    fn base(&self, reason: &str, stage: &str, message: &str) -> Outgoing {
        let metrics = crate::metrics::metrics();
        metrics
            .dead_letters
            .with_label_values(&[self.job.as_str(), reason])
            .inc();
        if reason == "late" {
            metrics.late_records.with_label_values(&[self.job.as_str()]).inc();
        }
        Outgoing {
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

#[cfg(test)]
mod tests {
    use super::*;
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
}
