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

/// A (key, value) pair emitted by a guest's `map-batch`.
#[derive(Debug, Clone, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Emitted {
    /// Index, within the batch, of the input record this pair came from.
    pub source: u32,
    /// Encoded grouping key (raw output key for transforms).
    pub key: Vec<u8>,
    /// Encoded value (raw output value for transforms).
    pub value: Vec<u8>,
    /// Event time chosen by the guest, in milliseconds.
    pub timestamp: Option<i64>,
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

/// Values to fold into one accumulator.
#[derive(Debug, Clone, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct ReduceGroup {
    /// The accumulator so far.
    pub acc: Option<Vec<u8>>,
    /// Values to fold into it, in order.
    pub values: Vec<Vec<u8>>,
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
