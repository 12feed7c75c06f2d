//! The records that flow through Weir, as the host sees them.
//!
//! These types are also the values that cross the sandbox boundary: they derive wasmtime's
//! component-model traits and match the records of `guest-sdk/wit/weir.wit` field for field, so a
//! batch is lowered into the guest without an intermediate copy.
//!
//! One type per step of the data path, named for it:
//!
//! | step | type | what it is |
//! |---|---|---|
//! | record in | [`InputRecord`] | a Kafka record as read, with its partition and offset |
//! | record in, packed | [`PackedRecords`] | a batch of them in one buffer, for `map-combine-packed` |
//! | map | [`Emitted`] / [`Pair`] | what `map` emitted: (key, value) pairs, with event times |
//! | combine | [`Combined`] / [`CombinedPair`] | a batch's pairs folded by (key, pane) in the guest |
//! | window, reduce | [`ReduceInput`] → [`Packed`] | groups of values for `reduce`, and the accumulators it returns |
//! | fire | [`FinishItem`] / [`FinishInput`] | closed (window, key) accumulators for `finish` |
//! | finish | [`OutputBatch`] / [`OutputEntry`] → [`GuestOutput`] | what `finish` returned, packed, then one record of it |
//! | output | [`OutputRecord`] | a result with its event time and window |
//!
//! Then, outside this module: a pipeline call's [`Outcome`](crate::pipeline::Outcome) holds its
//! output records and dead letters, and an [`Outgoing`](crate::outgoing::Outgoing) is any record
//! on its way to Kafka (output, partial, marker, checkpoint, dead letter). A batch type and its
//! entry type (`OutputBatch`, `OutputEntry`) keep the names of their WIT records.

use serde::Serialize;
use wasmtime::component::{ComponentType, Lift, Lower};

/// A length as the contract's `u32` (batches are far below 4 GiB; the per-call output limit
/// refuses anything near it).
fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Splits the next `len` bytes off the front of `rest`; `None` when fewer remain. Every packed
/// batch is walked with this, so lengths from a guest can never index past its data.
fn take<'a>(rest: &mut &'a [u8], len: u32) -> Option<&'a [u8]> {
    let len = len as usize;
    if len > rest.len() {
        return None;
    }
    let (head, tail) = rest.split_at(len);
    *rest = tail;
    Some(head)
}

/// A record header, as in Kafka.
#[derive(Debug, Clone, PartialEq, Eq, ComponentType, Lift, Lower, Serialize)]
#[component(record)]
pub struct Header {
    /// Header name.
    pub key: String,
    /// Header value.
    pub value: Vec<u8>,
}

/// One input record.
#[derive(Debug, Clone, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct InputRecord {
    /// Record key, if any.
    pub key: Option<Vec<u8>>,
    /// Record value, if any (`None` is a tombstone).
    pub value: Option<Vec<u8>>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Headers, in order.
    pub headers: Vec<Header>,
    /// Partition the record was read from.
    pub partition: i32,
    /// Offset of the record in its partition.
    pub offset: i64,
}

/// One (key, value) pair in an [`Emitted`] batch; its bytes are in [`Emitted::data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Pair {
    /// Index, within the batch, of the input record this pair came from.
    pub source: u32,
    /// Length of the key, which starts where the previous pair's value ended.
    #[component(name = "key-len")]
    pub key_len: u32,
    /// Length of the value, which follows the key.
    #[component(name = "value-len")]
    pub value_len: u32,
    /// Event time chosen by the guest, in milliseconds.
    pub timestamp: Option<i64>,
}

/// The pairs a guest's `map-batch` emitted, packed: every key then value back to back in `data`.
#[derive(Debug, Clone, Default, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Emitted {
    /// Key and value bytes of every pair, in pair order.
    pub data: Vec<u8>,
    /// One entry per pair.
    pub pairs: Vec<Pair>,
}

/// A pair of an [`Emitted`] batch, with its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairRef<'a> {
    /// Index of the input record within the batch.
    pub source: u32,
    /// Encoded key (raw output key for transforms).
    pub key: &'a [u8],
    /// Encoded value (raw output value for transforms).
    pub value: &'a [u8],
    /// Event time chosen by the guest.
    pub timestamp: Option<i64>,
}

impl Emitted {
    /// Appends a pair (native guests build their output with this).
    pub fn push(&mut self, source: u32, key: &[u8], value: &[u8], timestamp: Option<i64>) {
        self.data.extend_from_slice(key);
        self.data.extend_from_slice(value);
        self.pairs.push(Pair {
            source,
            key_len: len32(key.len()),
            value_len: len32(value.len()),
            timestamp,
        });
    }

    /// Whether the pairs' lengths add up to exactly the bytes in `data`.
    pub fn is_consistent(&self) -> bool {
        let total: u64 = self
            .pairs
            .iter()
            .map(|p| u64::from(p.key_len) + u64::from(p.value_len))
            .sum();
        total == self.data.len() as u64
    }

    /// The pairs with their bytes, in order. Stops early if the lengths run past the data (see
    /// [`Emitted::is_consistent`]).
    pub fn iter(&self) -> impl Iterator<Item = PairRef<'_>> {
        let mut rest = self.data.as_slice();
        self.pairs.iter().map_while(move |p| {
            let key = take(&mut rest, p.key_len)?;
            let value = take(&mut rest, p.value_len)?;
            Some(PairRef {
                source: p.source,
                key,
                value,
                timestamp: p.timestamp,
            })
        })
    }
}

/// One record of a [`PackedRecords`] batch; its bytes are in [`PackedRecords::data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ComponentType, Lower)]
#[component(record)]
pub struct PackedRecord {
    /// Length of the key, when the record has one.
    #[component(name = "key-len")]
    pub key_len: Option<u32>,
    /// Length of the value; `None` for a tombstone.
    #[component(name = "value-len")]
    pub value_len: Option<u32>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Partition the record was read from.
    pub partition: i32,
    /// Offset of the record in its partition.
    pub offset: i64,
    /// How many of [`PackedRecords::headers`] are this record's: the next ones, in order.
    pub headers: u32,
}

/// One header of a [`PackedRecords`] batch: its name then value bytes are in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ComponentType, Lower)]
#[component(record)]
pub struct PackedHeader {
    /// Length of the name (UTF-8).
    #[component(name = "name-len")]
    pub name_len: u32,
    /// Length of the value.
    #[component(name = "value-len")]
    pub value_len: u32,
}

/// Input records packed for `map-combine-packed`: every record's key, value and headers back to
/// back in one buffer. Lowering a `list<input-record>` makes the guest allocate a list per
/// record's value, key and headers (a call into the guest each); this makes three per batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, ComponentType, Lower)]
#[component(record)]
pub struct PackedRecords {
    /// Each record's key (when it has one), value (when it has one), then its headers' names
    /// and values, back to back, in record order.
    pub data: Vec<u8>,
    /// One entry per record, in order.
    pub records: Vec<PackedRecord>,
    /// Every record's headers, in order.
    pub headers: Vec<PackedHeader>,
}

impl PackedRecords {
    /// Packs `records` into this batch, reusing its buffers.
    pub fn pack(&mut self, records: &[InputRecord]) {
        self.data.clear();
        self.records.clear();
        self.headers.clear();
        self.records.reserve(records.len());
        for record in records {
            let mut put = |bytes: &[u8]| {
                self.data.extend_from_slice(bytes);
                len32(bytes.len())
            };
            let key_len = record.key.as_deref().map(&mut put);
            let value_len = record.value.as_deref().map(&mut put);
            for header in &record.headers {
                let name_len = put(header.key.as_bytes());
                let value_len = put(&header.value);
                self.headers.push(PackedHeader { name_len, value_len });
            }
            self.records.push(PackedRecord {
                key_len,
                value_len,
                timestamp: record.timestamp,
                partition: record.partition,
                offset: record.offset,
                headers: len32(record.headers.len()),
            });
        }
    }

    /// Capacity held by the buffers, in bytes: a batch that held a large record may be dropped
    /// rather than kept for the next one.
    pub fn capacity_bytes(&self) -> usize {
        self.data.capacity()
            + self.records.capacity() * std::mem::size_of::<PackedRecord>()
            + self.headers.capacity() * std::mem::size_of::<PackedHeader>()
    }
}

/// One (key, pane) of a [`Combined`] batch: the values of every pair with that key whose event
/// time fell in the pane, folded by the guest's reduce; its bytes are in [`Combined::data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct CombinedPair {
    /// Index of the first input record (within the batch) that emitted this key in this pane.
    pub first: u32,
    /// Index of the last one.
    pub last: u32,
    /// Length of the key.
    #[component(name = "key-len")]
    pub key_len: u32,
    /// Length of the folded value.
    #[component(name = "value-len")]
    pub value_len: u32,
    /// How many emitted pairs were folded into this one.
    pub count: u32,
    /// Start of the pane, in ms.
    pub pane: i64,
}

/// What a guest's `map-combine` returns: one pair per (key, pane), and each record's largest
/// event time.
#[derive(Debug, Clone, Default, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Combined {
    /// Key and folded value bytes of every pair, in pair order.
    pub data: Vec<u8>,
    /// One entry per (key, pane), in order of first emission.
    pub pairs: Vec<CombinedPair>,
    /// Per input record: the largest event time of the pairs it emitted, if any.
    pub times: Vec<Option<i64>>,
}

/// A [`CombinedPair`] with its key and value bytes.
pub type CombinedRef<'a> = (&'a CombinedPair, &'a [u8], &'a [u8]);

impl Combined {
    /// The pairs with their key and value bytes, in order, if the batch fits its input of
    /// `records` records: one time per record, every pair from records inside it (`first <=
    /// last`, at least one pair folded), lengths that add up to exactly the data. The error says
    /// what does not fit.
    pub fn checked(&self, records: usize) -> Result<Vec<CombinedRef<'_>>, String> {
        if self.times.len() != records {
            return Err(format!(
                "map-combine returned {} record times for {records} records",
                self.times.len()
            ));
        }
        if let Some(bad) = self
            .pairs
            .iter()
            .find(|p| p.first > p.last || p.last as usize >= records || p.count == 0)
        {
            return Err(format!(
                "map-combine returned a pair from records {}..={} (count {}) in a batch of {records}",
                bad.first, bad.last, bad.count
            ));
        }
        self.split()
            .ok_or_else(|| "map-combine returned pair lengths that do not add up to its data".into())
    }

    /// The pairs with their key and value bytes, in order; `None` when the lengths do not add up
    /// to exactly the data.
    pub fn split(&self) -> Option<Vec<CombinedRef<'_>>> {
        let mut rest = self.data.as_slice();
        let mut out = Vec::with_capacity(self.pairs.len());
        for pair in &self.pairs {
            let key = take(&mut rest, pair.key_len)?;
            let value = take(&mut rest, pair.value_len)?;
            out.push((pair, key, value));
        }
        rest.is_empty().then_some(out)
    }
}

/// Groups of values for a guest's `reduce-batch`, packed. Group `g` is the next `groups[g]`
/// values, folded left to right; the first is the accumulator so far when there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct ReduceInput {
    /// Every value back to back.
    pub data: Vec<u8>,
    /// Length of each value, in order.
    pub lengths: Vec<u32>,
    /// Number of values in each group, in order.
    pub groups: Vec<u32>,
}

impl ReduceInput {
    /// Appends a group of values.
    pub fn push_group<'a>(&mut self, values: impl IntoIterator<Item = &'a [u8]>) {
        let mut count = 0u32;
        for value in values {
            self.data.extend_from_slice(value);
            self.lengths.push(len32(value.len()));
            count += 1;
        }
        self.groups.push(count);
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there is no group.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The groups, each as its values in order (native guests read their input with this).
    pub fn groups(&self) -> Vec<Vec<&[u8]>> {
        let mut values = Packed::split_iter(&self.data, &self.lengths);
        self.groups
            .iter()
            .map(|&n| values.by_ref().take(n as usize).collect())
            .collect()
    }
}

/// Byte strings packed into one buffer, as `reduce-batch` returns its accumulators.
#[derive(Debug, Clone, Default, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Packed {
    /// Every byte string back to back.
    pub data: Vec<u8>,
    /// Length of each, in order.
    pub lengths: Vec<u32>,
}

impl Packed {
    fn split_iter<'a>(data: &'a [u8], lengths: &'a [u32]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = data;
        lengths.iter().map_while(move |&len| take(&mut rest, len))
    }

    /// Whether the lengths add up to the data.
    pub fn is_whole(&self) -> bool {
        let total: u64 = self.lengths.iter().map(|&l| u64::from(l)).sum();
        total == self.data.len() as u64
    }

    /// Number of byte strings.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// The byte strings in order, borrowed; fewer than [`Packed::len`] when the lengths run past
    /// the data (see [`Packed::is_whole`]).
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        Self::split_iter(&self.data, &self.lengths)
    }

    /// The byte strings, or `None` when the lengths do not add up to the data.
    pub fn split(&self) -> Option<Vec<Vec<u8>>> {
        self.is_whole().then(|| self.iter().map(<[u8]>::to_vec).collect())
    }

    /// `strings` packed.
    pub fn pack<'a>(strings: impl IntoIterator<Item = &'a [u8]>) -> Packed {
        let mut packed = Packed::default();
        for string in strings {
            packed.data.extend_from_slice(string);
            packed.lengths.push(len32(string.len()));
        }
        packed
    }
}

/// The guest refuses one element of a batch.
#[derive(Debug, Clone, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct ItemError {
    /// Index of the element within the batch.
    pub index: u32,
    /// The guest's reason.
    pub message: String,
}

/// A half-open window of event time `[start, end)` in milliseconds.
///
/// Windows order by end, then start: the order in which a rising watermark closes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ComponentType, Lift, Lower, Serialize)]
#[component(record)]
pub struct Window {
    /// First millisecond of the window.
    pub start: i64,
    /// First millisecond after the window.
    pub end: i64,
}

impl Ord for Window {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.end, self.start).cmp(&(other.end, other.start))
    }
}

impl PartialOrd for Window {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One closed (window, key) and its accumulator, to finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishItem {
    /// The window.
    pub window: Window,
    /// Encoded key.
    pub key: Vec<u8>,
    /// Encoded accumulator.
    pub acc: Vec<u8>,
}

/// A record for the output topic, as the guest's finish returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestOutput {
    /// Record key.
    pub key: Option<Vec<u8>>,
    /// Record value.
    pub value: Vec<u8>,
}

/// One entry of a [`FinishInput`]; its key then accumulator bytes are in the input's `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FinishEntry {
    /// The window.
    pub window: Window,
    /// Length of the key.
    #[component(name = "key-len")]
    pub key_len: u32,
    /// Length of the accumulator, which follows the key.
    #[component(name = "acc-len")]
    pub acc_len: u32,
}

/// Closed windows for a guest's `finish-batch`, packed.
#[derive(Debug, Clone, Default, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FinishInput {
    /// Every entry's key then accumulator, back to back.
    pub data: Vec<u8>,
    /// One per (window, key).
    pub entries: Vec<FinishEntry>,
}

impl FinishInput {
    /// Packs finish items.
    pub fn pack(items: &[FinishItem]) -> Self {
        let mut input = FinishInput {
            data: Vec::with_capacity(items.iter().map(|i| i.key.len() + i.acc.len()).sum()),
            entries: Vec::with_capacity(items.len()),
        };
        for item in items {
            input.data.extend_from_slice(&item.key);
            input.data.extend_from_slice(&item.acc);
            input.entries.push(FinishEntry {
                window: item.window,
                key_len: len32(item.key.len()),
                acc_len: len32(item.acc.len()),
            });
        }
        input
    }
}

/// One entry of an [`OutputBatch`]; its key (if any) then value bytes are in the batch's `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct OutputEntry {
    /// Length of the key; `None` for a record without a key.
    #[component(name = "key-len")]
    pub key_len: Option<u32>,
    /// Length of the value, which follows the key.
    #[component(name = "value-len")]
    pub value_len: u32,
}

/// Output records from a guest's `finish-batch`, packed.
#[derive(Debug, Clone, Default, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct OutputBatch {
    /// Every record's key then value, back to back.
    pub data: Vec<u8>,
    /// One per record.
    pub entries: Vec<OutputEntry>,
}

impl OutputBatch {
    /// The records, or `None` when the lengths do not add up to the data.
    pub fn unpack(&self) -> Option<Vec<GuestOutput>> {
        let mut rest = self.data.as_slice();
        let mut outputs = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            let key = match entry.key_len {
                Some(len) => Some(take(&mut rest, len)?.to_vec()),
                None => None,
            };
            let value = take(&mut rest, entry.value_len)?.to_vec();
            outputs.push(GuestOutput { key, value });
        }
        rest.is_empty().then_some(outputs)
    }
}

/// A record for the output topic, with its event time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRecord {
    /// Record key.
    pub key: Option<Vec<u8>>,
    /// Record value.
    pub value: Vec<u8>,
    /// Event time: the last millisecond of the window, or the transformed record's time.
    pub timestamp: i64,
    /// The window this record summarises (map/reduce modules).
    pub window: Option<Window>,
}

/// What a module does, as it describes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ComponentType, Lift, Lower, Serialize)]
#[component(enum)]
#[repr(u8)]
#[serde(rename_all = "kebab-case")]
pub enum ModuleKind {
    /// Windowed map/reduce.
    #[component(name = "map-reduce")]
    MapReduce,
    /// Stateless per-record transform.
    #[component(name = "transform")]
    Transform,
}

/// A module's self-description.
#[derive(Debug, Clone, PartialEq, Eq, ComponentType, Lift, Lower, Serialize)]
#[component(record)]
pub struct ModuleInfo {
    /// What the module does.
    pub kind: ModuleKind,
    /// SDK name and version that built it.
    pub sdk: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_lays_out_key_value_then_headers_per_record_and_reuses_its_buffers() {
        let record = |key: Option<&[u8]>, value: Option<&[u8]>, headers: &[(&str, &[u8])]| InputRecord {
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            timestamp: 9,
            headers: headers
                .iter()
                .map(|(k, v)| Header {
                    key: (*k).to_string(),
                    value: v.to_vec(),
                })
                .collect(),
            partition: 1,
            offset: 4,
        };
        let batch = [
            record(Some(b"k"), Some(b"vv"), &[("h", b"x"), ("", b"")]),
            record(None, None, &[]),
            record(Some(b""), Some(b"w"), &[("n", b"yz")]),
        ];
        let mut packed = PackedRecords::default();
        packed.pack(&batch);
        assert_eq!(packed.data, b"kvvhxwnyz");
        let lens: Vec<_> = packed
            .records
            .iter()
            .map(|r| (r.key_len, r.value_len, r.headers))
            .collect();
        assert_eq!(
            lens,
            [(Some(1), Some(2), 2), (None, None, 0), (Some(0), Some(1), 1)]
        );
        let headers: Vec<_> = packed.headers.iter().map(|h| (h.name_len, h.value_len)).collect();
        assert_eq!(headers, [(1, 1), (0, 0), (1, 2)]);
        assert!(
            packed
                .records
                .iter()
                .all(|r| (r.timestamp, r.partition, r.offset) == (9, 1, 4))
        );
        packed.pack(&batch[1..2]);
        assert_eq!(
            (packed.data.len(), packed.records.len(), packed.headers.len()),
            (0, 1, 0)
        );
    }

    #[test]
    fn emitted_pairs_walk_the_buffer_and_inconsistent_lengths_are_caught() {
        let mut e = Emitted::default();
        e.push(0, b"k1", b"v", None);
        e.push(2, b"", b"value", Some(5));
        assert!(e.is_consistent());
        let got: Vec<PairRef<'_>> = e.iter().collect();
        assert_eq!(
            got,
            [
                PairRef {
                    source: 0,
                    key: b"k1",
                    value: b"v",
                    timestamp: None
                },
                PairRef {
                    source: 2,
                    key: b"",
                    value: b"value",
                    timestamp: Some(5)
                },
            ]
        );
        e.pairs[1].value_len = 99;
        assert!(!e.is_consistent());
        assert_eq!(
            e.iter().count(),
            1,
            "iteration stops where the lengths run past the data"
        );
    }

    #[test]
    fn packed_and_output_batches_refuse_lengths_that_do_not_add_up() {
        let packed = Packed {
            data: b"abcde".to_vec(),
            lengths: vec![2, 3],
        };
        assert_eq!(packed.split(), Some(vec![b"ab".to_vec(), b"cde".to_vec()]));
        assert_eq!(
            Packed {
                lengths: vec![2, 2],
                ..packed.clone()
            }
            .split(),
            None
        );
        assert_eq!(
            Packed {
                lengths: vec![9],
                ..packed
            }
            .split(),
            None
        );

        let batch = OutputBatch {
            data: b"kvv".to_vec(),
            entries: vec![
                OutputEntry {
                    key_len: Some(1),
                    value_len: 1,
                },
                OutputEntry {
                    key_len: None,
                    value_len: 1,
                },
            ],
        };
        let outputs = batch.unpack().expect("consistent");
        assert_eq!(
            outputs[0],
            GuestOutput {
                key: Some(b"k".to_vec()),
                value: b"v".to_vec()
            }
        );
        assert_eq!(
            outputs[1],
            GuestOutput {
                key: None,
                value: b"v".to_vec()
            }
        );
        let short = OutputBatch {
            entries: vec![OutputEntry {
                key_len: Some(5),
                value_len: 1,
            }],
            ..batch.clone()
        };
        assert_eq!(short.unpack(), None);
        let long = OutputBatch {
            entries: vec![OutputEntry {
                key_len: None,
                value_len: 1,
            }],
            ..batch
        };
        assert_eq!(long.unpack(), None, "bytes left over are a broken contract too");
    }

    #[test]
    fn reduce_input_groups_values_in_order() {
        let mut input = ReduceInput::default();
        input.push_group([&b"a"[..], b"bc"]);
        input.push_group([&b"d"[..]]);
        assert_eq!(input.len(), 2);
        assert_eq!(input.groups(), vec![vec![&b"a"[..], b"bc"], vec![&b"d"[..]]]);
    }
}
