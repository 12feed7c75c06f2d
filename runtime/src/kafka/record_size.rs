//! How big a record is on the wire, measured the way librdkafka measures it, and the largest
//! record Weir's producers send.
//!
//! librdkafka refuses a record (`MSG_SIZE_TOO_LARGE`, before it is queued) whose key, value,
//! headers and worst-case per-record overhead exceed the producer's `message.max.bytes`; the
//! broker then checks a whole record batch (61 bytes of batch header plus the records) against
//! its own `message.max.bytes` or the topic's `max.message.bytes` (Kafka's default: 1,048,588).
//! [`RECORD_LIMIT`] leaves [`BATCH_MARGIN`] for the batch header below the producer's limit, so
//! a record that fits it also fits a batch of its own on a broker with the default limit.
//!
//! This module only measures; what happens to a record over the limit is the
//! [`Sink`](super::sink::Sink)'s business.

use crate::outgoing::Outgoing;

/// The producer's `message.max.bytes`, set explicitly in
/// [`producer_config`](super::producer_config) (it is also librdkafka's default): the largest
/// record, and the largest record batch, a Weir producer sends.
pub const MESSAGE_MAX_BYTES: usize = 1_000_000;

/// Room left below [`MESSAGE_MAX_BYTES`] for what surrounds a record on the wire: a record
/// batch's header is 61 bytes; the rest is slack against a broker that counts a little
/// differently.
pub const BATCH_MARGIN: usize = 512;

/// The largest record Weir writes, as [`wire_size`] measures it.
pub const RECORD_LIMIT: usize = MESSAGE_MAX_BYTES - BATCH_MARGIN;

// A record at the limit fits a record batch of its own (61 bytes of header) under the
// producer's limit.
const _: () = assert!(RECORD_LIMIT + 61 <= MESSAGE_MAX_BYTES);

/// librdkafka's worst-case per-record overhead in a v2 record batch
/// (`RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD`): the length, timestamp delta, offset delta, key
/// length, value length and header count varints at their widest, and the attributes byte.
pub const RECORD_OVERHEAD: usize = 5 + 1 + 10 + 5 + 5 + 5 + 5;

/// The size librdkafka checks against `message.max.bytes`: key + value + headers + the
/// worst-case record overhead.
pub fn wire_size(record: &Outgoing) -> usize {
    let key = record.key.as_ref().map_or(0, Vec::len);
    let value = record.value.as_ref().map_or(0, Vec::len);
    let headers: usize = record
        .headers
        .iter()
        .map(|(name, value)| header_size(name.len(), value.len()))
        .sum();
    RECORD_OVERHEAD + key + value + headers
}

/// The serialized size of one header: its name and value and their lengths as zigzag
/// varints (librdkafka's `rd_kafka_header_add`).
pub fn header_size(name_len: usize, value_len: usize) -> usize {
    name_len + value_len + varint_size(name_len) + varint_size(value_len)
}

/// The bytes a length takes as a zigzag (signed) varint.
fn varint_size(len: usize) -> usize {
    let mut zigzag = (len as u64).saturating_mul(2);
    let mut bytes = 1;
    while zigzag >= 0x80 {
        zigzag >>= 7;
        bytes += 1;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outgoing::Kind;

    fn record(key: usize, value: usize, headers: &[(&str, usize)]) -> Outgoing {
        Outgoing {
            kind: Kind::Other,
            topic: "t".into(),
            partition: None,
            key: Some(vec![b'k'; key]),
            value: Some(vec![b'v'; value]),
            timestamp: None,
            headers: headers
                .iter()
                .map(|(name, len)| (name.to_string(), vec![b'h'; *len]))
                .collect(),
        }
    }

    #[test]
    fn lengths_are_zigzag_varints() {
        assert_eq!(varint_size(0), 1);
        assert_eq!(varint_size(63), 1);
        assert_eq!(varint_size(64), 2);
        assert_eq!(varint_size(8191), 2);
        assert_eq!(varint_size(8192), 3);
        assert_eq!(varint_size(999_800), 3);
        assert_eq!(varint_size(5_000_000), 4);
    }

    #[test]
    fn a_record_counts_key_value_headers_and_the_worst_case_overhead() {
        assert_eq!(wire_size(&record(0, 0, &[])), 36);
        assert_eq!(wire_size(&record(3, 10, &[])), 36 + 13);
        // "weir.reason" (11) + "late" (4) + one byte for each length.
        assert_eq!(wire_size(&record(0, 0, &[("weir.reason", 4)])), 36 + 17);
        assert_eq!(wire_size(&record(0, 999_800, &[])), 36 + 999_800);
        let tombstone = Outgoing {
            kind: Kind::Other,
            value: None,
            key: None,
            ..record(0, 0, &[])
        };
        assert_eq!(wire_size(&tombstone), 36);
    }
}
