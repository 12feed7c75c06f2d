//! [`Combining`]: the state of a `map-combine` call, folding each (key, pane)'s values in the
//! guest so that one pair per (key, pane) crosses the boundary instead of one per emission.

use crate::Error;
use crate::bindings::exports::weir::processor::combiner::{Combined, CombinedPair};
use crate::encode::{append, encode_into};
use crate::packed::len32;
use hashbrown::HashTable;
use serde::Serialize;
use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A deterministic, fast hasher for the index (no per-instance seed: a module has no entropy to
/// spare, and its keys come from its own map).
type FastHash = foldhash::fast::FixedState;

/// How many (key, pane)s the previous call had: the next one sizes its index for as many, so a
/// batch does not rehash its way up from empty.
static SLOTS_HINT: AtomicUsize = AtomicUsize::new(0);

/// One (key, pane) so far.
struct Slot<V> {
    /// The key's bytes in [`Combining::keys`].
    key: Range<usize>,
    pane: i64,
    /// Always `Some` between calls to [`Combining::add`]; taken while folding.
    value: Option<V>,
    first: u32,
    last: u32,
    count: u32,
}

/// The (key, pane)s of one pane: indices into [`Combining::slots`], looked up by the encoded key
/// (whose bytes live in [`Combining::keys`], so a new key costs no allocation of its own).
struct Pane {
    start: i64,
    index: HashTable<usize>,
}

/// Folds the values of each (key, pane) of one batch, in emission order.
pub(crate) struct Combining<V> {
    pane_size: i64,
    reduce: fn(V, V) -> V,
    hasher: FastHash,
    /// Usually one or two: a batch spans little event time.
    panes: Vec<Pane>,
    /// The event time of the previous pair and the index of its pane: a record's pairs usually
    /// share its time, and the pane is then not worked out again (an `i64` division and a
    /// lookup each).
    last: Option<(i64, usize)>,
    slots: Vec<Slot<V>>,
    keys: Vec<u8>,
    scratch: Vec<u8>,
    /// Per record so far: the largest event time of its pairs.
    pub(crate) times: Vec<Option<i64>>,
}

impl<V: Serialize> Combining<V> {
    /// Empty state for panes of `pane_size` ms (at least 1) folded with `reduce`.
    pub(crate) fn new(pane_size: i64, reduce: fn(V, V) -> V) -> Self {
        let hint = SLOTS_HINT.load(Ordering::Relaxed);
        Combining {
            pane_size: pane_size.max(1),
            reduce,
            hasher: FastHash::default(),
            panes: Vec::new(),
            last: None,
            slots: Vec::with_capacity(hint),
            keys: Vec::with_capacity(hint * 8),
            scratch: Vec::new(),
            times: Vec::new(),
        }
    }

    /// The start of the pane holding `t`; `t` itself when that start is before `i64::MIN` (such
    /// a pair then only combines with pairs at the very same time, which is still exact).
    fn pane_of(&self, t: i64) -> i64 {
        t.checked_sub(t.rem_euclid(self.pane_size)).unwrap_or(t)
    }

    /// The index of the pane holding event time `t`, added if new.
    fn pane(&mut self, t: i64) -> usize {
        let start = self.pane_of(t);
        if let Some(i) = self.panes.iter().position(|p| p.start == start) {
            return i;
        }
        let hint = SLOTS_HINT.load(Ordering::Relaxed);
        self.panes.push(Pane {
            start,
            index: HashTable::with_capacity(hint),
        });
        self.panes.len() - 1
    }

    /// Folds one emitted pair at event time `t` from record `source` (the last record started).
    pub(crate) fn add<Q: Serialize + ?Sized>(
        &mut self,
        source: u32,
        t: i64,
        key: &Q,
        value: V,
    ) -> Result<(), Error> {
        if let Some(time) = self.times.last_mut() {
            *time = Some(time.map_or(t, |m| m.max(t)));
        }
        let pane = match self.last {
            Some((time, pane)) if time == t => pane,
            _ => {
                let pane = self.pane(t);
                self.last = Some((t, pane));
                pane
            }
        };
        let start = self.panes[pane].start;
        self.scratch.clear();
        encode_into(key, &mut self.scratch)
            .map_err(|e| Error::msg(format_args!("cannot encode an emitted key: {e}")))?;
        let scratch = self.scratch.as_slice();
        let hash = self.hasher.hash_one(scratch);
        let (slots, keys) = (&self.slots, &self.keys);
        let found = self.panes[pane]
            .index
            .find(hash, |&i| same_bytes(&keys[slots[i].key.clone()], scratch))
            .copied();
        match found {
            Some(i) => {
                let slot = &mut self.slots[i];
                slot.value = Some(match slot.value.take() {
                    Some(acc) => (self.reduce)(acc, value),
                    None => value,
                });
                slot.last = source;
                slot.count = slot.count.saturating_add(1);
            }
            None => {
                let begin = self.keys.len();
                append(&mut self.keys, &self.scratch);
                let i = self.slots.len();
                self.slots.push(Slot {
                    key: begin..self.keys.len(),
                    pane: start,
                    value: Some(value),
                    first: source,
                    last: source,
                    count: 1,
                });
                let (slots, keys, hasher) = (&self.slots, &self.keys, &self.hasher);
                self.panes[pane]
                    .index
                    .insert_unique(hash, i, |&j| hasher.hash_one(&keys[slots[j].key.clone()]));
            }
        }
        Ok(())
    }

    /// The combined batch: one pair per (key, pane), in order of first emission.
    pub(crate) fn finish(self) -> Result<Combined, Error> {
        SLOTS_HINT.store(self.slots.len(), Ordering::Relaxed);
        let mut data = Vec::with_capacity(self.keys.len() + self.slots.len() * 4);
        let mut pairs = Vec::with_capacity(self.slots.len());
        for slot in self.slots {
            let key = &self.keys[slot.key];
            append(&mut data, key);
            let start = data.len();
            let value = slot
                .value
                .ok_or_else(|| Error::msg("a combined value went missing while folding"))?;
            encode_into(&value, &mut data)
                .map_err(|e| Error::msg(format_args!("cannot encode a combined value: {e}")))?;
            pairs.push(CombinedPair {
                first: slot.first,
                last: slot.last,
                key_len: len32(key.len()),
                value_len: len32(data.len() - start),
                count: slot.count,
                pane: slot.pane,
            });
        }
        Ok(Combined {
            data,
            pairs,
            times: self.times,
        })
    }
}

/// Whether `a` and `b` hold the same bytes: eight at a time. A slice's `==` calls `memcmp`, which
/// in a WebAssembly guest is wasi-libc's byte-at-a-time loop behind a call, for keys that are
/// mostly a few bytes long.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a, mut b) = (a, b);
    while let (Some((x, rest_a)), Some((y, rest_b))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        if u64::from_ne_bytes(*x) != u64::from_ne_bytes(*y) {
            return false;
        }
        (a, b) = (rest_a, rest_b);
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    #[test]
    fn same_bytes_agrees_with_slice_equality_at_every_length_and_difference() {
        let base: Vec<u8> = (0u8..40).collect();
        for len in 0..base.len() {
            let a = &base[..len];
            assert!(same_bytes(a, a));
            assert!(!same_bytes(a, &base[..len + 1]), "lengths differ at {len}");
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 0x80;
                assert!(!same_bytes(a, &b), "a byte differs at {at} of {len}");
            }
        }
    }
}
