//! [`Record`]: one input record as `map` and `transform` see it.

use crate::bindings::weir::processor::types::InputRecord;
use crate::{Error, Result};
use serde::de::DeserializeOwned;

/// One input record: key, value, timestamp, headers and where it came from.
#[derive(Debug, Clone)]
pub struct Record {
    inner: InputRecord,
}

impl Record {
    pub(crate) fn new(inner: InputRecord) -> Self {
        Record { inner }
    }

    /// The record's value; empty when the record has none (a tombstone).
    pub fn value(&self) -> &[u8] {
        self.inner.value.as_deref().unwrap_or_default()
    }

    /// The value as UTF-8 text.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(self.value()).map_err(|e| {
            Error::msg(format_args!(
                "record value is not UTF-8 text (invalid byte at position {})",
                e.valid_up_to()
            ))
        })
    }

    /// The value parsed as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(self.value())
            .map_err(|e| Error::msg(format_args!("record value is not the expected JSON: {e}")))
    }

    /// The record's key, if it has one.
    pub fn key(&self) -> Option<&[u8]> {
        self.inner.key.as_deref()
    }

    /// The record's timestamp, in milliseconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.inner.timestamp
    }

    /// The value of the first header with this name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.inner
            .headers
            .iter()
            .find(|h| h.key == name)
            .map(|h| h.value.as_slice())
    }

    /// All headers, in order, as (name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.inner
            .headers
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_slice()))
    }

    /// The input partition the record was read from.
    pub fn partition(&self) -> i32 {
        self.inner.partition
    }

    /// The record's offset in its input partition.
    pub fn offset(&self) -> i64 {
        self.inner.offset
    }
}
