//! The two kinds of module: [`MapReduce`] and [`Transform`].

use crate::{Emitter, Output, Outputs, Record, Result, Window};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A windowed map/reduce module: the word-count shape.
///
/// Implement it on a unit struct and mark the impl with [`#[weir_sdk::processor]`](macro@crate::processor).
pub trait MapReduce {
    /// The grouping key `map` emits (`String` for word count).
    type Key: Serialize + DeserializeOwned;
    /// The value `map` emits and `reduce` folds (`u64` for word count).
    type Value: Serialize + DeserializeOwned;

    /// Emits zero or more (key, value) pairs for one input record.
    fn map(record: &Record<'_>, out: &mut Emitter<Self::Key, Self::Value>) -> Result<()>;

    /// Combines two values into one. Must be associative: `reduce(reduce(a, b), c)` equals
    /// `reduce(a, reduce(b, c))`.
    fn reduce(a: Self::Value, b: Self::Value) -> Self::Value;

    /// Turns a closed window's result for one key into the output record. The default is
    /// [`Output::window_json`].
    fn finish(window: Window, key: Self::Key, value: Self::Value) -> Result<Output>
    where
        Self::Key: Serialize,
    {
        Output::window_json(window, &key, &value)
    }
}

/// A stateless per-record transform: filter, reshape or route records, no windows.
///
/// Implement it on a unit struct and mark the impl with [`#[weir_sdk::processor]`](macro@crate::processor).
pub trait Transform {
    /// Writes zero or more output records for one input record.
    fn transform(record: &Record<'_>, out: &mut Outputs) -> Result<()>;
}
