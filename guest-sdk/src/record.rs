//! [`Record`]: one input record as `map` and `transform` see it.
//!
//! A view into the batch the host passed: either a list of records (`map-batch`) or one packed
//! buffer (`map-combine-packed`). Either way `map` reads the bytes where they are, uncopied.

use crate::bindings::exports::weir::processor::combiner::{PackedHeader, PackedRecords};
use crate::bindings::weir::processor::types::{Header, InputRecord};
use crate::packed::take;
use crate::{Error, Result};
use serde::de::DeserializeOwned;

/// One input record: key, value, timestamp, headers and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    timestamp: i64,
    partition: i32,
    offset: i64,
    headers: Headers<'a>,
}

/// A record's headers, where the batch keeps them.
#[derive(Debug, Clone, Copy)]
enum Headers<'a> {
    /// A record of a `list<input-record>`.
    Listed(&'a [Header]),
    /// A record of a `packed-records` batch: the names and values back to back in `data`
    /// (names checked UTF-8 when the record was unpacked), their lengths in `lengths`.
    Packed {
        data: &'a [u8],
        lengths: &'a [PackedHeader],
    },
}

impl<'a> Record<'a> {
    /// A view of one record of a `list<input-record>`.
    pub(crate) fn listed(record: &'a InputRecord) -> Self {
        Record {
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            timestamp: record.timestamp,
            partition: record.partition,
            offset: record.offset,
            headers: Headers::Listed(&record.headers),
        }
    }

    /// The record's value; empty when the record has none (a tombstone).
    pub fn value(&self) -> &'a [u8] {
        self.value.unwrap_or_default()
    }

    /// The value as UTF-8 text.
    pub fn text(&self) -> Result<&'a str> {
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
    pub fn key(&self) -> Option<&'a [u8]> {
        self.key
    }

    /// The record's timestamp, in milliseconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The value of the first header with this name.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// All headers, in order, as (name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + use<'a> {
        HeaderIter(self.headers)
    }

    /// The input partition the record was read from.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The record's offset in its input partition.
    pub fn offset(&self) -> i64 {
        self.offset
    }
}

/// Walks a record's headers, listed or packed.
struct HeaderIter<'a>(Headers<'a>);

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Headers::Listed(rest) => {
                let (first, tail) = rest.split_first()?;
                *rest = tail;
                Some((first.key.as_str(), first.value.as_slice()))
            }
            Headers::Packed { data, lengths } => {
                let (first, tail) = lengths.split_first()?;
                *lengths = tail;
                let (name, rest) = data.split_at_checked(first.name_len as usize)?;
                let (value, rest) = rest.split_at_checked(first.value_len as usize)?;
                *data = rest;
                // Checked when the record was unpacked; an unchecked name ends the walk.
                Some((std::str::from_utf8(name).ok()?, value))
            }
        }
    }
}

/// The records of a packed batch, in order: each a view into the batch's buffer, or an error
/// when its lengths run past the buffer or a header name is not UTF-8 (the host never sends
/// such a batch).
pub(crate) fn unpack(batch: &PackedRecords) -> impl Iterator<Item = Result<Record<'_>>> {
    let mut data = batch.data.as_slice();
    let mut headers = batch.headers.as_slice();
    batch.records.iter().map(move |meta| {
        let past = || Error::msg("a packed record runs past the batch's data");
        let mut next = |len: u32| take(&mut data, len).ok_or_else(past);
        let key = meta.key_len.map(&mut next).transpose()?;
        let value = meta.value_len.map(&mut next).transpose()?;
        let (lengths, rest) = headers
            .split_at_checked(meta.headers as usize)
            .ok_or_else(|| Error::msg("a packed record's headers run past the batch's"))?;
        headers = rest;
        // The headers' bytes, each name checked, in one pass.
        let header_start = data;
        for header in lengths {
            let name = take(&mut data, header.name_len).ok_or_else(past)?;
            std::str::from_utf8(name).map_err(|_| Error::msg("a header name is not UTF-8"))?;
            take(&mut data, header.value_len).ok_or_else(past)?;
        }
        let header_data = &header_start[..header_start.len() - data.len()];
        Ok(Record {
            key,
            value,
            timestamp: meta.timestamp,
            partition: meta.partition,
            offset: meta.offset,
            headers: Headers::Packed {
                data: header_data,
                lengths,
            },
        })
    })
}
