//! Collectors that `map` and `transform` write into: [`Emitter`] and [`Outputs`].
//!
//! Both pack what they collect into one buffer plus a small entry per pair (the contract's
//! `emitted` record), so a batch crosses the boundary with two allocations, not two per pair.

use crate::bindings::weir::processor::types::{Emitted, Pair};
use crate::{Error, Output};
use serde::Serialize;
use std::marker::PhantomData;

fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Collects the (key, value) pairs that `map` emits for one batch.
///
/// Keys and values are encoded with postcard as they are emitted.
pub struct Emitter<K, V> {
    pub(crate) source: u32,
    pub(crate) out: Emitted,
    pub(crate) error: Option<Error>,
    _types: PhantomData<fn(K, V)>,
}

impl<K: Serialize, V: Serialize> Emitter<K, V> {
    pub(crate) fn new() -> Self {
        Emitter {
            source: 0,
            out: Emitted {
                data: Vec::new(),
                pairs: Vec::new(),
            },
            error: None,
            _types: PhantomData,
        }
    }

    /// Emits a pair whose event time is the input record's timestamp.
    pub fn emit(&mut self, key: K, value: V) {
        self.push(&key, &value, None);
    }

    /// Emits a pair with its own event time, in milliseconds since the Unix epoch (for example a
    /// time field of the record's JSON value).
    pub fn emit_at(&mut self, timestamp_ms: i64, key: K, value: V) {
        self.push(&key, &value, Some(timestamp_ms));
    }

    fn push(&mut self, key: &K, value: &V, timestamp: Option<i64>) {
        let start = self.out.data.len();
        let encoded = postcard::to_extend(key, std::mem::take(&mut self.out.data)).and_then(|data| {
            let key_len = data.len() - start;
            postcard::to_extend(value, data).map(|data| (data, key_len))
        });
        match encoded {
            Ok((data, key_len)) => {
                let value_len = data.len() - start - key_len;
                self.out.data = data;
                self.out.pairs.push(Pair {
                    source: self.source,
                    key_len: len32(key_len),
                    value_len: len32(value_len),
                    timestamp,
                });
            }
            Err(e) => {
                // postcard hands the buffer back only on success: the batch so far is lost, so
                // the whole record is refused (and the host retries the rest of the batch).
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
    pub(crate) out: Emitted,
}

impl Outputs {
    pub(crate) fn new() -> Self {
        Outputs {
            source: 0,
            out: Emitted {
                data: Vec::new(),
                pairs: Vec::new(),
            },
        }
    }

    /// Writes one output record.
    pub fn emit(&mut self, output: Output) {
        let key = output.key.unwrap_or_default();
        self.out.data.extend_from_slice(&key);
        self.out.data.extend_from_slice(&output.value);
        self.out.pairs.push(Pair {
            source: self.source,
            key_len: len32(key.len()),
            value_len: len32(output.value.len()),
            timestamp: output.timestamp,
        });
    }
}
