//! [`Outgoing`]: a record to write to Kafka, whoever makes it: a job's output, a dead letter, a
//! shuffle partial or watermark marker, a progress checkpoint, a record `weir produce` or
//! `weir dev` publishes.
//!
//! It sits below both the sink that sends it ([`crate::kafka::sink`]) and the code that makes
//! one (`shuffle`, `job`, `kafka::dead_letter`, the CLI), so none of those need reach into
//! another's module for it. It knows nothing of producers or topics' limits.

/// A record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Topic.
    pub topic: String,
    /// Partition; `None` lets the key choose (the producer's hash), or spreads keyless records.
    pub partition: Option<i32>,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value (`None` is a tombstone).
    pub value: Option<Vec<u8>>,
    /// Timestamp in ms; `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
    /// Headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Outgoing {
    /// The value of the last header named `name`, as text (invalid UTF-8 replaced).
    pub fn header(&self, name: &str) -> Option<String> {
        last_header(&self.headers, name)
    }
}

/// The value of the last header named `name` in `headers`, as text (invalid UTF-8 replaced):
/// what a record to write and a stored dead letter ([`crate::kafka::dead_letter_reader`]) both
/// answer for a header.
pub fn last_header(headers: &[(String, Vec<u8>)], name: &str) -> Option<String> {
    headers
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
}
