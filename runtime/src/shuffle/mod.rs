//! The keyed shuffle that makes a reduce global (DESIGN.md section 5).
//!
//! Input partitions are rarely keyed by the reduce key: any line can hold any word. So stage 1
//! (one task per input partition) maps and combines per (window, key), and when its watermark
//! closes a window it writes the window's **partial accumulators** to the job's repartition
//! topic, keyed by the reduce key, then a **watermark marker** to every repartition partition.
//! Stage 2 ([`MergeState`], one per repartition partition) merges the partials of every
//! upstream partition and fires once all of them have passed the window.
//!
//! Shuffle traffic is one record per (window, key, upstream partition), not one per input word.
//!
//! On the wire (records of the repartition topic):
//! - a partial: key = encoded reduce key, value = encoded accumulator, headers
//!   `weir.upstream` (`topic/partition`) and `weir.window` (start and end, 16 bytes big-endian);
//! - a marker: no key, empty value, headers `weir.upstream` and `weir.watermark` (8 bytes).

mod fold;
mod merge;

pub use fold::fold;
pub use merge::{MergeCheckpoint, MergeState, MergedGroup};

use crate::kafka::sink::Outgoing;
use crate::record::{InputRecord, OutputRecord, Window};

/// Header naming the upstream input partition, `topic/partition`.
pub const UPSTREAM: &str = "weir.upstream";
/// Header holding a partial's window.
pub const WINDOW: &str = "weir.window";
/// Header holding a marker's watermark.
pub const WATERMARK: &str = "weir.watermark";

/// The name of an upstream partition in headers and checkpoints.
pub fn upstream_name(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}

/// A record of the repartition topic, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShuffleMessage<'a> {
    /// A partial accumulator of one (window, key) from one upstream partition.
    Partial {
        /// `topic/partition` of the input it came from.
        upstream: &'a str,
        /// The window.
        window: Window,
        /// Encoded reduce key.
        key: &'a [u8],
        /// Encoded accumulator.
        acc: &'a [u8],
    },
    /// The upstream partition's watermark: every partial of the windows it closes was sent.
    Marker {
        /// `topic/partition` of the input.
        upstream: &'a str,
        /// The watermark, in ms.
        watermark: i64,
    },
}

/// Stage 1's output for the repartition topic: a fired window's partial accumulator.
pub fn partial_record(topic: &str, upstream: &str, partial: OutputRecord) -> Outgoing {
    let window = partial.window.unwrap_or(Window { start: 0, end: 0 });
    let mut bounds = Vec::with_capacity(16);
    bounds.extend_from_slice(&window.start.to_be_bytes());
    bounds.extend_from_slice(&window.end.to_be_bytes());
    Outgoing {
        topic: topic.to_string(),
        partition: None,
        key: partial.key,
        value: Some(partial.value),
        timestamp: Some(partial.timestamp),
        headers: vec![
            (UPSTREAM.into(), upstream.as_bytes().to_vec()),
            (WINDOW.into(), bounds),
        ],
    }
}

/// Stage 1's watermark marker, one per repartition partition.
pub fn marker_records(topic: &str, partitions: i32, upstream: &str, watermark: i64) -> Vec<Outgoing> {
    (0..partitions)
        .map(|partition| Outgoing {
            topic: topic.to_string(),
            partition: Some(partition),
            key: None,
            value: Some(Vec::new()),
            timestamp: None,
            headers: vec![
                (UPSTREAM.into(), upstream.as_bytes().to_vec()),
                (WATERMARK.into(), watermark.to_be_bytes().to_vec()),
            ],
        })
        .collect()
}

/// Decodes a repartition record; the error says what is wrong with it.
pub fn decode(record: &InputRecord) -> Result<ShuffleMessage<'_>, String> {
    let header = |name: &str| {
        record
            .headers
            .iter()
            .find(|h| h.key == name)
            .map(|h| &h.value[..])
    };
    let upstream = header(UPSTREAM)
        .ok_or("no weir.upstream header")
        .and_then(|v| std::str::from_utf8(v).map_err(|_| "weir.upstream is not UTF-8"))?;
    if let Some(bytes) = header(WATERMARK) {
        let bytes: [u8; 8] = bytes.try_into().map_err(|_| "weir.watermark is not 8 bytes")?;
        return Ok(ShuffleMessage::Marker {
            upstream,
            watermark: i64::from_be_bytes(bytes),
        });
    }
    let bounds = header(WINDOW).ok_or("neither weir.window nor weir.watermark header")?;
    let (start, end) = match (bounds.get(..8), bounds.get(8..)) {
        (Some(start), Some(end)) if bounds.len() == 16 => (start, end),
        _ => return Err("weir.window is not 16 bytes".into()),
    };
    let start = i64::from_be_bytes(start.try_into().map_err(|_| "weir.window start")?);
    let end = i64::from_be_bytes(end.try_into().map_err(|_| "weir.window end")?);
    Ok(ShuffleMessage::Partial {
        upstream,
        window: Window { start, end },
        key: record.key.as_deref().unwrap_or_default(),
        acc: record.value.as_deref().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Header;

    fn as_input(out: Outgoing) -> InputRecord {
        InputRecord {
            key: out.key,
            value: out.value,
            timestamp: out.timestamp.unwrap_or(0),
            headers: out
                .headers
                .into_iter()
                .map(|(key, value)| Header { key, value })
                .collect(),
            partition: out.partition.unwrap_or(0),
            offset: 0,
        }
    }

    #[test]
    fn partials_and_markers_round_trip() -> Result<(), String> {
        let partial = partial_record(
            "r",
            "lines/3",
            OutputRecord {
                key: Some(b"k".to_vec()),
                value: b"acc".to_vec(),
                timestamp: 9,
                window: Some(Window { start: -10, end: 10 }),
            },
        );
        let record = as_input(partial);
        assert_eq!(
            decode(&record)?,
            ShuffleMessage::Partial {
                upstream: "lines/3",
                window: Window { start: -10, end: 10 },
                key: b"k",
                acc: b"acc"
            }
        );
        let markers = marker_records("r", 3, "lines/3", i64::MIN + 1);
        assert_eq!(
            markers.iter().map(|m| m.partition).collect::<Vec<_>>(),
            [Some(0), Some(1), Some(2)]
        );
        let record = as_input(markers[1].clone());
        assert_eq!(
            decode(&record)?,
            ShuffleMessage::Marker {
                upstream: "lines/3",
                watermark: i64::MIN + 1
            }
        );
        Ok(())
    }

    #[test]
    fn foreign_records_are_refused_with_a_reason() {
        let mut record = as_input(marker_records("r", 1, "x/0", 5).remove(0));
        record.headers[1].value.pop();
        assert_eq!(decode(&record), Err("weir.watermark is not 8 bytes".into()));
        record.headers.clear();
        assert_eq!(decode(&record), Err("no weir.upstream header".into()));
    }
}
