//! Collectors that `map` and `transform` write into: [`Emitter`] and [`Outputs`].
//!
//! Both pack what they collect into one buffer plus a small entry per pair (the contract's
//! `emitted` record), so a batch crosses the boundary with two allocations, not two per pair.

use crate::bindings::weir::processor::types::{Emitted, Pair};
use crate::combine::Combining;
use crate::encode::encode_into;
use crate::packed::len32;
use crate::{Error, Output};
use serde::Serialize;
use std::borrow::Borrow;
use std::marker::PhantomData;

/// Collects the (key, value) pairs that `map` emits for one batch.
///
/// Keys and values are encoded with postcard as they are emitted; when the host asks for a
/// combined batch (`map-combine`), the values of each (key, pane) are folded with the module's
/// reduce instead, and encoded once per (key, pane).
pub struct Emitter<K, V> {
    pub(crate) source: u32,
    /// The current record's timestamp: the event time of pairs emitted without one.
    pub(crate) record_time: i64,
    pub(crate) sink: Sink<V>,
    pub(crate) error: Option<Error>,
    _types: PhantomData<fn(K)>,
}

/// Where an [`Emitter`] puts pairs.
pub(crate) enum Sink<V> {
    /// Every pair, encoded (`map-batch`).
    Packed(Emitted),
    /// Folded per (key, pane) (`map-combine`).
    Combining(Combining<V>),
}

impl<K: Serialize, V: Serialize> Emitter<K, V> {
    fn with_sink(sink: Sink<V>) -> Self {
        Emitter {
            source: 0,
            record_time: 0,
            sink,
            error: None,
            _types: PhantomData,
        }
    }

    /// An emitter that packs every pair.
    pub(crate) fn new() -> Self {
        Emitter::with_sink(Sink::Packed(Emitted {
            data: Vec::new(),
            pairs: Vec::new(),
        }))
    }

    /// An emitter that folds the values of each (key, pane of `pane_size` ms) with `reduce`.
    pub(crate) fn combining(pane_size: i64, reduce: fn(V, V) -> V) -> Self {
        Emitter::with_sink(Sink::Combining(Combining::new(pane_size, reduce)))
    }

    /// Emits a pair whose event time is the input record's timestamp.
    pub fn emit(&mut self, key: K, value: V) {
        self.push(&key, value, None);
    }

    /// Emits a pair with its own event time, in milliseconds since the Unix epoch (for example a
    /// time field of the record's JSON value).
    pub fn emit_at(&mut self, timestamp_ms: i64, key: K, value: V) {
        self.push(&key, value, Some(timestamp_ms));
    }

    /// As [`Emitter::emit`], with the key borrowed: `out.emit_borrowed(word, 1)` with `word: &str`
    /// for a `String` key saves an allocation per pair. `Q` must serialize exactly as the `K` it
    /// borrows from does (true of `str` for `String`, `[T]` for `Vec<T>`).
    pub fn emit_borrowed<Q>(&mut self, key: &Q, value: V)
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.push(key, value, None);
    }

    fn push<Q: Serialize + ?Sized>(&mut self, key: &Q, value: V, timestamp: Option<i64>) {
        let result = match &mut self.sink {
            Sink::Packed(out) => pack(out, self.source, key, &value, timestamp),
            Sink::Combining(combining) => {
                combining.add(self.source, timestamp.unwrap_or(self.record_time), key, value)
            }
        };
        if let Err(e) = result {
            // The batch so far may be lost, so the whole record is refused (and the host
            // retries the rest of the batch).
            if self.error.is_none() {
                self.error = Some(e);
            }
        }
    }
}

/// Appends one encoded pair to `out`.
fn pack<Q: Serialize + ?Sized, V: Serialize>(
    out: &mut Emitted,
    source: u32,
    key: &Q,
    value: &V,
    timestamp: Option<i64>,
) -> Result<(), Error> {
    let start = out.data.len();
    let encoded = encode_into(key, &mut out.data).and_then(|()| {
        let key_len = out.data.len() - start;
        encode_into(value, &mut out.data).map(|()| key_len)
    });
    let key_len = match encoded {
        Ok(key_len) => key_len,
        Err(e) => {
            out.data.truncate(start);
            return Err(Error::msg(format_args!("cannot encode an emitted pair: {e}")));
        }
    };
    let value_len = out.data.len() - start - key_len;
    out.pairs.push(Pair {
        source,
        key_len: len32(key_len),
        value_len: len32(value_len),
        timestamp,
    });
    Ok(())
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
