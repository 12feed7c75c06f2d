//! The records that flow through Weir, as the host sees them.
//!
//! These types are also the values that cross the sandbox boundary: they derive wasmtime's
//! component-model traits and match the records of `guest-sdk/wit/weir.wit` field for field, so a
//! batch is lowered into the guest without an intermediate copy.

use serde::Serialize;
use wasmtime::component::{ComponentType, Lift, Lower};

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
            key_len: u32::try_from(key.len()).unwrap_or(u32::MAX),
            value_len: u32::try_from(value.len()).unwrap_or(u32::MAX),
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
            let (key_len, value_len) = (p.key_len as usize, p.value_len as usize);
            if key_len.checked_add(value_len)? > rest.len() {
                return None;
            }
            let (key, tail) = rest.split_at(key_len);
            let (value, tail) = tail.split_at(value_len);
            rest = tail;
            Some(PairRef {
                source: p.source,
                key,
                value,
                timestamp: p.timestamp,
            })
        })
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
            self.lengths.push(u32::try_from(value.len()).unwrap_or(u32::MAX));
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
        lengths.iter().map_while(move |&len| {
            let len = len as usize;
            if len > rest.len() {
                return None;
            }
            let (item, tail) = rest.split_at(len);
            rest = tail;
            Some(item)
        })
    }

    /// The byte strings, or `None` when the lengths do not add up to the data.
    pub fn split(&self) -> Option<Vec<Vec<u8>>> {
        let total: u64 = self.lengths.iter().map(|&l| u64::from(l)).sum();
        if total != self.data.len() as u64 {
            return None;
        }
        Some(
            Self::split_iter(&self.data, &self.lengths)
                .map(<[u8]>::to_vec)
                .collect(),
        )
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

/// One closed (window, key) and its accumulator, for `finish-batch`.
#[derive(Debug, Clone, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FinishItem {
    /// The window.
    pub window: Window,
    /// Encoded key.
    pub key: Vec<u8>,
    /// Encoded accumulator.
    pub acc: Vec<u8>,
}

/// A record for the output topic, as the guest returns it.
#[derive(Debug, Clone, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct GuestOutput {
    /// Record key.
    pub key: Option<Vec<u8>>,
    /// Record value.
    pub value: Vec<u8>,
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
