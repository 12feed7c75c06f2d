//! The keyed shuffle that makes a reduce global (DESIGN.md section 5).
//!
//! Input partitions are rarely keyed by the reduce key: any line can hold any word. So stage 1
//! (one task per input partition) maps and combines per (window, key), and when its watermark
//! closes a window it writes the window's **partial accumulators** to the job's repartition
//! topic, keyed by the reduce key, then a **watermark marker** to every repartition partition.
//! Stage 2 ([`MergeState`], one per repartition partition) merges the partials of every
//! upstream partition and fires once all of them have passed the window.
//!
//! Shuffle traffic is one record per (window, repartition partition, upstream partition), not
//! one per input word nor one per key: a fired window's partials are packed by the partition
//! their key goes to.
//!
//! On the wire (records of the repartition topic), everything Weir needs is in the value, so
//! the records stay small and carry no headers (tansu 0.6 stores each header as a row of its own
//! and reads them back with a scan: headers made the broker, not Weir, the bottleneck):
//! - partials: no key; value = `b`, the upstream (`u16` length + UTF-8), the writer's epoch, the
//!   window's start and end (`i64` big-endian each), then for each partial the encoded reduce
//!   key and the encoded accumulator (`u32` big-endian length + bytes each). Every key of the
//!   record goes to its partition, `fnv1a(key) mod N`, chosen by Weir so that it does not
//!   depend on a client's partitioner; a record packs at most [`PACK_BYTES`] of partials;
//! - a single partial (the first packed-less format, still read; and how a late partial is
//!   shown in the dead letters): key = encoded reduce key; value = `p`, the upstream, the epoch,
//!   the window's start and end, then the encoded accumulator;
//! - a marker: no key; value = `m`, the upstream, the epoch, the watermark and the earliest
//!   start of an open session window (`i64::MAX` when none; `i64` big-endian each); one to
//!   every partition. An *idle* marker is the same with the tag `i`: the upstream has had no
//!   record for the job's `idle_timeout`, and stops holding the reduce stage back until its
//!   next plain marker.
//!
//! The **epoch** names the owner: each owner of an input partition writes with the epoch it
//! claimed when the partition was assigned to it (see `kafka::claim`). Stage 2 counts the
//! records of an older epoch written after a newer one, but still takes them (see `merge` for
//! why fencing is not enforced yet). Records of the first format (`P`, `M`: no epoch, no
//! session start) still decode, with epoch 0.

mod fold;
mod merge;
mod reducer;

pub use fold::fold;
pub use merge::{MergeCheckpoint, MergeState, MergedGroup, Taken, UpstreamMark};
pub use reducer::Reducer;

use crate::outgoing::{Kind, Outgoing};
use crate::record::{InputRecord, OutputRecord, Window};

/// First byte of a packed record of partials.
const PARTIALS: u8 = b'b';
/// First byte of a single partial's value.
const PARTIAL: u8 = b'p';
/// At most this many bytes of partials go into one repartition record (well under the
/// producer's and brokers' message size limits); more make another record.
pub const PACK_BYTES: usize = 256 * 1024;
/// First byte of a marker's value.
const MARKER: u8 = b'm';
/// First byte of an idle marker's value.
const IDLE_MARKER: u8 = b'i';
/// First byte of a partial of the first format (no epoch).
const PARTIAL_V1: u8 = b'P';
/// First byte of a marker of the first format (no epoch, no session start).
const MARKER_V1: u8 = b'M';

/// The name of an upstream partition in the shuffle's records and in checkpoints.
pub fn upstream_name(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}

/// A record of the repartition topic, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShuffleMessage<'a> {
    /// Partial accumulators of one window from one upstream partition.
    Partials {
        /// `topic/partition` of the input they came from.
        upstream: &'a str,
        /// The writer's fencing epoch for that input partition.
        epoch: i64,
        /// The window.
        window: Window,
        /// (Encoded reduce key, encoded accumulator) of each partial.
        entries: Vec<(&'a [u8], &'a [u8])>,
    },
    /// The upstream partition's progress: every partial of the windows it closes was sent.
    Marker {
        /// `topic/partition` of the input.
        upstream: &'a str,
        /// The writer's fencing epoch for that input partition.
        epoch: i64,
        /// The watermark, in ms.
        watermark: i64,
        /// The earliest start of a session window still open upstream (`i64::MAX` if none):
        /// a merged session that ends before it can fire.
        open_session: i64,
        /// The upstream has been idle for the job's `idle_timeout`.
        idle: bool,
    },
}

/// The repartition partition of a reduce key: FNV-1a, stable across processes and versions.
pub fn partition_of(key: &[u8], partitions: i32) -> i32 {
    let hash = key.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let partitions = u64::try_from(partitions.max(1)).unwrap_or(1);
    i32::try_from(hash % partitions).unwrap_or(0)
}

fn envelope(tag: u8, upstream: &str, extra: usize) -> Vec<u8> {
    let name = &upstream.as_bytes()[..upstream.len().min(usize::from(u16::MAX))];
    let mut value = Vec::with_capacity(3 + name.len() + extra);
    value.push(tag);
    value.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_be_bytes());
    value.extend_from_slice(name);
    value
}

/// The head of a partials value (packed or single): tag, upstream, epoch and window, with room
/// for `extra` bytes more.
fn partials_envelope(tag: u8, upstream: &str, epoch: i64, window: Window, extra: usize) -> Vec<u8> {
    let mut value = envelope(tag, upstream, 24 + extra);
    value.extend_from_slice(&epoch.to_be_bytes());
    value.extend_from_slice(&window.start.to_be_bytes());
    value.extend_from_slice(&window.end.to_be_bytes());
    value
}

/// Stage 1's output for the repartition topic (`partitions` partitions): fired windows'
/// partial accumulators, written by the owner of `upstream` at `epoch`, packed into one record
/// per (window, partition) (more when they exceed [`PACK_BYTES`]), in the order of the
/// partials' windows.
pub fn partial_records(
    topic: &str,
    partitions: i32,
    upstream: &str,
    epoch: i64,
    partials: Vec<OutputRecord>,
) -> Vec<Outgoing> {
    let mut out = Vec::new();
    // The records being filled, by partition, for the window of `current`.
    let mut open: std::collections::BTreeMap<i32, Outgoing> = std::collections::BTreeMap::new();
    let mut current: Option<Window> = None;
    for partial in partials {
        let window = partial.window.unwrap_or(Window { start: 0, end: 0 });
        if current != Some(window) {
            out.extend(std::mem::take(&mut open).into_values());
            current = Some(window);
        }
        let key = partial.key.unwrap_or_default();
        let partition = partition_of(&key, partitions);
        let header = 3 + upstream.len() + 24;
        if open
            .get(&partition)
            .and_then(|r| r.value.as_ref())
            .is_some_and(|v| v.len() - header + 8 + key.len() + partial.value.len() > PACK_BYTES)
            && let Some(full) = open.remove(&partition)
        {
            out.push(full);
        }
        let record = open.entry(partition).or_insert_with(|| Outgoing {
            kind: Kind::Partial,
            topic: topic.to_string(),
            partition: Some(partition),
            key: None,
            value: Some(partials_envelope(PARTIALS, upstream, epoch, window, 0)),
            timestamp: Some(partial.timestamp),
            headers: Vec::new(),
        });
        if let Some(value) = record.value.as_mut() {
            for bytes in [key.as_slice(), partial.value.as_slice()] {
                value.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
                value.extend_from_slice(bytes);
            }
        }
    }
    out.extend(open.into_values());
    out
}

/// One partial as a record of its own (the single-partial format): how a late partial is shown
/// in the dead letters, keyed by its reduce key.
pub fn partial_record(
    topic: &str,
    partitions: i32,
    upstream: &str,
    epoch: i64,
    partial: OutputRecord,
) -> Outgoing {
    let window = partial.window.unwrap_or(Window { start: 0, end: 0 });
    let key = partial.key.unwrap_or_default();
    let mut value = partials_envelope(PARTIAL, upstream, epoch, window, partial.value.len());
    value.extend_from_slice(&partial.value);
    Outgoing {
        kind: Kind::Partial,
        topic: topic.to_string(),
        partition: Some(partition_of(&key, partitions)),
        key: Some(key),
        value: Some(value),
        timestamp: Some(partial.timestamp),
        headers: Vec::new(),
    }
}

/// One partial of a packed repartition record `from`, as a record of the single-partial format
/// at the same place (partition, offset, timestamp): what a late partial's dead letter shows.
pub fn single_partial(
    from: &InputRecord,
    upstream: &str,
    epoch: i64,
    window: Window,
    key: &[u8],
    acc: &[u8],
) -> InputRecord {
    let mut value = partials_envelope(PARTIAL, upstream, epoch, window, acc.len());
    value.extend_from_slice(acc);
    InputRecord {
        key: Some(key.to_vec()),
        value: Some(value),
        timestamp: from.timestamp,
        headers: Vec::new(),
        partition: from.partition,
        offset: from.offset,
    }
}

/// What a stage-1 marker says about its upstream partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkerInfo {
    /// The writer's fencing epoch.
    pub epoch: i64,
    /// The upstream's watermark.
    pub watermark: i64,
    /// The earliest start of a session window still open upstream (`i64::MAX` if none).
    pub open_session: i64,
    /// No record for the job's `idle_timeout`: stop waiting for this upstream.
    pub idle: bool,
}

/// Stage 1's marker, one per repartition partition.
pub fn marker_records(topic: &str, partitions: i32, upstream: &str, info: MarkerInfo) -> Vec<Outgoing> {
    let tag = if info.idle { IDLE_MARKER } else { MARKER };
    let mut value = envelope(tag, upstream, 24);
    value.extend_from_slice(&info.epoch.to_be_bytes());
    value.extend_from_slice(&info.watermark.to_be_bytes());
    value.extend_from_slice(&info.open_session.to_be_bytes());
    (0..partitions)
        .map(|partition| Outgoing {
            kind: Kind::Marker,
            topic: topic.to_string(),
            partition: Some(partition),
            key: None,
            value: Some(value.clone()),
            timestamp: None,
            headers: Vec::new(),
        })
        .collect()
}

/// Splits `n` bytes off the front of `rest`.
fn take<'a>(rest: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], String> {
    if rest.len() < n {
        return Err(format!("the value ends inside the {what}"));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn take_i64(rest: &mut &[u8], what: &str) -> Result<i64, String> {
    let bytes = take(rest, 8, what)?;
    Ok(i64::from_be_bytes(
        bytes.try_into().map_err(|_| what.to_string())?,
    ))
}

/// Splits a `u32` big-endian length and that many bytes off the front of `rest`.
fn take_u32_bytes<'a>(rest: &mut &'a [u8], what: &str) -> Result<&'a [u8], String> {
    // Not `take(rest, 4, &format!(..))`: this runs for every key of every partial, and the
    // message is only needed when the value is cut short.
    let Some((len, tail)) = rest.split_first_chunk::<4>() else {
        return Err(format!("the value ends inside the {what}'s length"));
    };
    *rest = tail;
    let len = u32::from_be_bytes(*len);
    take(rest, usize::try_from(len).unwrap_or(usize::MAX), what)
}

/// Decodes a repartition record; the error says what is wrong with it.
pub fn decode(record: &InputRecord) -> Result<ShuffleMessage<'_>, String> {
    let mut rest = record.value.as_deref().ok_or("no value")?;
    let tag = take(&mut rest, 1, "tag")?[0];
    let len = take(&mut rest, 2, "upstream's length")?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    let upstream = std::str::from_utf8(take(&mut rest, len, "upstream")?)
        .map_err(|_| "the upstream is not UTF-8".to_string())?;
    match tag {
        MARKER | IDLE_MARKER | MARKER_V1 => {
            let (epoch, watermark, open_session) = if tag != MARKER_V1 {
                (
                    take_i64(&mut rest, "epoch")?,
                    take_i64(&mut rest, "watermark")?,
                    take_i64(&mut rest, "open session start")?,
                )
            } else {
                (0, take_i64(&mut rest, "watermark")?, i64::MAX)
            };
            if !rest.is_empty() {
                return Err(format!("{} bytes after the marker", rest.len()));
            }
            Ok(ShuffleMessage::Marker {
                upstream,
                epoch,
                watermark,
                open_session,
                idle: tag == IDLE_MARKER,
            })
        }
        PARTIAL | PARTIAL_V1 => {
            let epoch = if tag == PARTIAL {
                take_i64(&mut rest, "epoch")?
            } else {
                0
            };
            let start = take_i64(&mut rest, "window start")?;
            let end = take_i64(&mut rest, "window end")?;
            Ok(ShuffleMessage::Partials {
                upstream,
                epoch,
                window: Window { start, end },
                entries: vec![(record.key.as_deref().unwrap_or_default(), rest)],
            })
        }
        PARTIALS => {
            let epoch = take_i64(&mut rest, "epoch")?;
            let start = take_i64(&mut rest, "window start")?;
            let end = take_i64(&mut rest, "window end")?;
            let mut entries = Vec::new();
            while !rest.is_empty() {
                let key = take_u32_bytes(&mut rest, "key")?;
                let acc = take_u32_bytes(&mut rest, "accumulator")?;
                entries.push((key, acc));
            }
            Ok(ShuffleMessage::Partials {
                upstream,
                epoch,
                window: Window { start, end },
                entries,
            })
        }
        other => Err(format!("unknown tag 0x{other:02x} (expected b, p, m or i)")),
    }
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
            4,
            "lines/3",
            7,
            OutputRecord {
                key: Some(b"k".to_vec()),
                value: b"acc".to_vec(),
                timestamp: 9,
                window: Some(Window { start: -10, end: 10 }),
            },
        );
        assert_eq!(partial.partition, Some(partition_of(b"k", 4)));
        let record = as_input(partial);
        assert_eq!(
            decode(&record)?,
            ShuffleMessage::Partials {
                upstream: "lines/3",
                epoch: 7,
                window: Window { start: -10, end: 10 },
                entries: vec![(&b"k"[..], &b"acc"[..])],
            }
        );
        let info = MarkerInfo {
            epoch: 8,
            watermark: i64::MIN + 1,
            open_session: 42,
            idle: true,
        };
        let markers = marker_records("r", 3, "lines/3", info);
        assert_eq!(
            markers.iter().map(|m| m.partition).collect::<Vec<_>>(),
            [Some(0), Some(1), Some(2)]
        );
        let record = as_input(markers[1].clone());
        assert_eq!(
            decode(&record)?,
            ShuffleMessage::Marker {
                upstream: "lines/3",
                epoch: 8,
                watermark: i64::MIN + 1,
                open_session: 42,
                idle: true,
            }
        );
        Ok(())
    }

    fn partial(start: i64, key: &str, acc: &[u8]) -> OutputRecord {
        OutputRecord {
            key: Some(key.as_bytes().to_vec()),
            value: acc.to_vec(),
            timestamp: start + 9,
            window: Some(Window {
                start,
                end: start + 10,
            }),
        }
    }

    #[test]
    fn partials_are_packed_per_window_and_partition_and_read_back_in_order() -> Result<(), String> {
        let keys: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
        let mut partials: Vec<OutputRecord> = keys.iter().map(|k| partial(0, k, b"1")).collect();
        partials.extend(keys.iter().take(5).map(|k| partial(10, k, b"22")));
        let records = partial_records("r", 3, "in/1", 4, partials);
        // Window [0, 10) over 3 partitions, then [10, 20) over the partitions of its 5 keys.
        let later: std::collections::BTreeSet<i32> = keys
            .iter()
            .take(5)
            .map(|k| partition_of(k.as_bytes(), 3))
            .collect();
        assert_eq!(records.len(), 3 + later.len());
        let mut seen = Vec::new();
        for out in records {
            let partition = out.partition.unwrap_or(-1);
            assert_eq!(out.key, None);
            let record = as_input(out);
            let ShuffleMessage::Partials {
                upstream,
                epoch,
                window,
                entries,
            } = decode(&record)?
            else {
                return Err("not partials".into());
            };
            assert_eq!((upstream, epoch), ("in/1", 4));
            for (key, acc) in entries {
                assert_eq!(
                    partition_of(key, 3),
                    partition,
                    "a key packed into another partition's record"
                );
                seen.push((
                    window.start,
                    String::from_utf8_lossy(key).into_owned(),
                    acc.to_vec(),
                ));
            }
        }
        seen.sort();
        let mut want: Vec<(i64, String, Vec<u8>)> =
            keys.iter().map(|k| (0, k.clone(), b"1".to_vec())).collect();
        want.extend(keys.iter().take(5).map(|k| (10, k.clone(), b"22".to_vec())));
        want.sort();
        assert_eq!(seen, want);
        Ok(())
    }

    #[test]
    fn a_full_record_is_closed_and_another_one_started() -> Result<(), String> {
        let big = vec![7u8; PACK_BYTES / 3];
        let records = partial_records(
            "r",
            1,
            "in/0",
            0,
            (0..5).map(|i| partial(0, &format!("k{i}"), &big)).collect(),
        );
        let sizes: Vec<usize> = records
            .iter()
            .map(|r| match decode(&as_input(r.clone())) {
                Ok(ShuffleMessage::Partials { entries, .. }) => entries.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert!(
            records
                .iter()
                .all(|r| r.value.as_ref().is_some_and(|v| v.len() <= PACK_BYTES + 64))
        );
        let mut truncated = as_input(records[0].clone());
        if let Some(value) = truncated.value.as_mut() {
            value.truncate(value.len() - 1);
        }
        assert_eq!(
            decode(&truncated),
            Err("the value ends inside the accumulator".into())
        );
        // Cut inside the last accumulator's 4-byte length.
        if let Some(value) = truncated.value.as_mut() {
            value.truncate(value.len() + 1 - big.len() - 2);
        }
        assert_eq!(
            decode(&truncated),
            Err("the value ends inside the accumulator's length".into())
        );
        Ok(())
    }

    #[test]
    fn records_of_the_first_format_decode_with_epoch_zero() -> Result<(), String> {
        let mut value = envelope(MARKER_V1, "in/0", 8);
        value.extend_from_slice(&5i64.to_be_bytes());
        let record = InputRecord {
            key: None,
            value: Some(value),
            timestamp: 0,
            headers: Vec::new(),
            partition: 0,
            offset: 0,
        };
        assert_eq!(
            decode(&record)?,
            ShuffleMessage::Marker {
                upstream: "in/0",
                epoch: 0,
                watermark: 5,
                open_session: i64::MAX,
                idle: false,
            }
        );
        Ok(())
    }

    #[test]
    fn foreign_records_are_refused_with_a_reason() {
        let info = MarkerInfo {
            epoch: 1,
            watermark: 5,
            open_session: i64::MAX,
            idle: false,
        };
        let mut record = as_input(marker_records("r", 1, "x/0", info).remove(0));
        if let Some(value) = record.value.as_mut() {
            value.pop();
        }
        assert_eq!(
            decode(&record),
            Err("the value ends inside the open session start".into())
        );
        record.value = Some(b"hello".to_vec());
        assert_eq!(decode(&record), Err("the value ends inside the upstream".into()));
        record.value = Some(b"X\x00\x00".to_vec());
        assert_eq!(
            decode(&record),
            Err("unknown tag 0x58 (expected b, p, m or i)".into())
        );
        record.value = None;
        assert_eq!(decode(&record), Err("no value".into()));
    }

    #[test]
    fn keys_spread_over_every_partition_the_same_way_every_time() {
        let seen: std::collections::BTreeSet<i32> = (0..200)
            .map(|i| partition_of(format!("word{i}").as_bytes(), 6))
            .collect();
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
        assert_eq!(partition_of(b"alpha", 6), partition_of(b"alpha", 6));
        assert_eq!(partition_of(b"", 0), 0);
    }
}
