//! [`Outgoing`]: a record to write to Kafka, whoever makes it: a job's output, a dead letter, a
//! shuffle partial or watermark marker, a progress checkpoint, a record `weir produce` or
//! `weir dev` publishes.
//!
//! It sits below both the sink that sends it ([`crate::kafka::sink`]) and the code that makes
//! one (`shuffle`, `job`, `kafka::dead_letter`, the CLI), so none of those need reach into
//! another's module for it. It knows nothing of producers or topics' limits.

/// What a record to write is. Whoever writes it counts it by this, never by its headers: a
/// stage tells its output from its dead letters, and a job's sink counts each dead letter
/// once, when it first queues it (see [`crate::events`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// A job's output.
    Output,
    /// Partial accumulators for the shuffle's second stage.
    Partial,
    /// A shuffle watermark marker.
    Marker,
    /// A partition's checkpoint on the progress topic.
    Checkpoint,
    /// A dead letter, set aside for `reason` (`late`, `rejected`, `too_large`...).
    DeadLetter {
        /// Why.
        reason: &'static str,
        /// Whether it was cut to fit the size limit.
        cut: bool,
    },
    /// Anything else: what `weir produce`, `weir dev` or a replay publishes, or a record the
    /// broker refused, read back from its delivery report to send again.
    #[default]
    Other,
}

impl Kind {
    /// Whether this is a dead letter.
    pub fn is_dead_letter(self) -> bool {
        matches!(self, Kind::DeadLetter { .. })
    }
}

/// A record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// What it is, for counting.
    pub kind: Kind,
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
