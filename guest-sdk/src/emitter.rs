//! Collectors that `map` and `transform` write into: [`Emitter`] and [`Outputs`].

use crate::bindings::weir::processor::types::Emitted;
use crate::{Error, Output};
use serde::Serialize;
use std::marker::PhantomData;

/// Collects the (key, value) pairs that `map` emits for one batch.
///
/// Keys and values are encoded with postcard as they are emitted.
pub struct Emitter<K, V> {
    pub(crate) source: u32,
    pub(crate) pairs: Vec<Emitted>,
    pub(crate) error: Option<Error>,
    _types: PhantomData<fn(K, V)>,
}

impl<K: Serialize, V: Serialize> Emitter<K, V> {
    pub(crate) fn new() -> Self {
        Emitter {
            source: 0,
            pairs: Vec::new(),
            error: None,
            _types: PhantomData,
        }
    }

    /// Emits a pair whose event time is the input record's timestamp.
    pub fn emit(&mut self, key: K, value: V) {
        self.push(key, value, None);
    }

    /// Emits a pair with its own event time, in milliseconds since the Unix epoch (for example a
    /// time field of the record's JSON value).
    pub fn emit_at(&mut self, timestamp_ms: i64, key: K, value: V) {
        self.push(key, value, Some(timestamp_ms));
    }

    fn push(&mut self, key: K, value: V, timestamp: Option<i64>) {
        let encoded = postcard::to_allocvec(&key).and_then(|k| Ok((k, postcard::to_allocvec(&value)?)));
        match encoded {
            Ok((key, value)) => self.pairs.push(Emitted {
                source: self.source,
                key,
                value,
                timestamp,
            }),
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(Error::msg(format_args!("cannot encode an emitted pair: {e}")));
                }
            }
        }
    }
}

/// Collects the output records that `transform` writes for one batch.
pub struct Outputs {
    pub(crate) source: u32,
    pub(crate) pairs: Vec<Emitted>,
}

impl Outputs {
    pub(crate) fn new() -> Self {
        Outputs {
            source: 0,
            pairs: Vec::new(),
        }
    }

    /// Writes one output record.
    pub fn emit(&mut self, output: Output) {
        self.pairs.push(Emitted {
            source: self.source,
            key: output.key.unwrap_or_default(),
            value: output.value,
            timestamp: output.timestamp,
        });
    }
}
