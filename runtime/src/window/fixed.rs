//! [`FixedWindows`]: tumbling and hopping windows, whose bounds depend on event time alone.

use super::{Origin, WindowSpec, is_closed};
use crate::record::{FinishItem, Packed, ReduceInput, Window};
use foldhash::HashMap;
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::ops::Range;

/// Accumulators of open tumbling or hopping windows, by window (in closing order) then key.
pub struct FixedWindows {
    size: i64,
    slide: i64,
    lateness: i64,
    open: BTreeMap<Window, OpenWindow>,
    hasher: RandomState,
}

/// Bytes of a key or an accumulator, inline up to 24 (an encoded word, a count), else on the
/// heap.
type Bytes = SmallVec<[u8; 24]>;

/// One open (window, key): its encoded key and accumulator, in one slot of the window's table.
struct Slot {
    key: Bytes,
    acc: Bytes,
}

/// One open window: accumulators by key, and the earliest record that contributed.
struct OpenWindow {
    /// Found by the hash of the key, with [`FixedWindows`]'s hasher.
    keys: HashTable<Slot>,
    first: Origin,
}

impl OpenWindow {
    fn new(first: Origin) -> Self {
        OpenWindow {
            keys: HashTable::new(),
            first,
        }
    }

    /// The slot of `key` (whose hash is `hash`): its index in the table.
    fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        self.keys.find_bucket_index(hash, |slot| slot.key[..] == *key)
    }

    /// The accumulator of `key`.
    fn acc(&self, hash: u64, key: &[u8]) -> Option<&[u8]> {
        self.keys
            .find(hash, |slot| slot.key[..] == *key)
            .map(|slot| &slot.acc[..])
    }

    /// Sets the accumulator of `key`, whose slot is `at` if it has one (an index [`Self::find`]
    /// gave while the table was as it is): in place, with no allocation for one that fits.
    fn set(&mut self, hasher: &RandomState, at: Option<usize>, hash: u64, key: &[u8], acc: &[u8]) {
        let slot = match at.and_then(|at| self.keys.get_bucket_mut(at)) {
            Some(slot) if slot.key[..] == *key => Some(slot),
            _ => self.keys.find_mut(hash, |slot| slot.key[..] == *key),
        };
        match slot {
            Some(slot) => {
                slot.acc.clear();
                slot.acc.extend_from_slice(acc);
            }
            None => {
                self.keys.insert_unique(
                    hash,
                    Slot {
                        key: Bytes::from_slice(key),
                        acc: Bytes::from_slice(acc),
                    },
                    |slot| hasher.hash_one(&slot.key[..]),
                );
            }
        }
    }
}

/// One batch's values per (window, key), in arrival order. Value bytes live in one buffer.
#[derive(Default)]
pub struct FixedStaged {
    index: HashMap<Window, HashMap<Vec<u8>, usize>>,
    groups: Vec<StagedGroup>,
    values: Vec<u8>,
}

struct StagedGroup {
    window: Window,
    key: Vec<u8>,
    values: Vec<Range<usize>>,
    first: Origin,
}

/// A combined batch's pairs, each the only one of its (window, key) in the batch, split into
/// those that fold into an accumulator (with the guest's reduce) and those that start one.
#[derive(Default)]
pub struct UniqueStaged {
    /// Groups of two values: an open accumulator, then the batch's value.
    input: ReduceInput,
    /// What each group of `input` updates, in order.
    folds: Vec<Fold>,
    /// Pairs whose (window, key) has no accumulator yet: the value is the accumulator (a value
    /// and an accumulator have the same encoding).
    fresh: Vec<Fresh>,
    keys: Vec<u8>,
    values: Vec<u8>,
}

/// A pair of a combined batch, to stage: its event time, key, value and origin.
pub struct UniquePair<'a> {
    /// Event time.
    pub t: i64,
    /// The encoded key.
    pub key: &'a [u8],
    /// The encoded value (combined: an accumulator).
    pub value: &'a [u8],
    /// Where it came from.
    pub origin: Origin,
}

/// The bits of a hash that pick the slot where `table` starts probing for it (hashbrown's
/// buckets are a power of two, seven eighths of which it fills before it grows); only an
/// order for lookups, so a wrong guess costs speed, not results.
fn probe_mask(table: &HashTable<Slot>) -> u64 {
    let capacity = table.capacity() as u64;
    if capacity < 8 {
        return 0;
    }
    (capacity * 8 / 7).next_power_of_two() - 1
}

/// A key to look up in a window's table while staging.
#[derive(Clone, Copy)]
struct Lookup {
    /// The window's index in the batch's windows.
    rank: usize,
    /// The slot where its probe starts.
    position: u64,
    hash: u64,
    /// Its pair's index in the batch.
    pair: usize,
}

/// At most this many bins per window when ordering lookups by slot: slots that share a bin are
/// close (a few cache lines), and counting into bins costs no comparison sort.
const ORDER_BINS: u64 = 4096;

/// `lookups` by window, then by the slot where each starts probing (a counting sort into at
/// most [`ORDER_BINS`] bins per window; `masks` holds each window's probe mask by rank).
fn in_slot_order(lookups: Vec<Lookup>, masks: &[u64]) -> Vec<Lookup> {
    if lookups.len() < 64 {
        return lookups;
    }
    // Per window: how far to shift a position to get its bin, and where its bins start.
    let mut shifts = Vec::with_capacity(masks.len());
    let mut starts = Vec::with_capacity(masks.len() + 1);
    let mut bins = 0usize;
    for &mask in masks {
        let slots = mask.saturating_add(1);
        let shift = (u64::BITS - slots.leading_zeros()).saturating_sub(1 + ORDER_BINS.trailing_zeros());
        starts.push(bins);
        bins += usize::try_from((mask >> shift) + 1).unwrap_or(1);
        shifts.push(shift);
    }
    let bin = |l: &Lookup| starts[l.rank] + usize::try_from(l.position >> shifts[l.rank]).unwrap_or(0);
    let mut counts = vec![0usize; bins + 1];
    for lookup in &lookups {
        counts[bin(lookup) + 1] += 1;
    }
    for i in 1..counts.len() {
        counts[i] += counts[i - 1];
    }
    let mut ordered = vec![lookups[0]; lookups.len()];
    for lookup in &lookups {
        let at = &mut counts[bin(lookup)];
        ordered[*at] = *lookup;
        *at += 1;
    }
    ordered
}

/// A staged pair that folds into an open accumulator.
struct Fold {
    window: Window,
    /// The key, in [`UniqueStaged::keys`].
    key: Range<usize>,
    hash: u64,
    /// The accumulator's slot in its window's table when staged: the commit finds it there
    /// without a second lookup (and looks it up again if the key there differs).
    slot: usize,
    origin: Origin,
}

/// A staged pair that starts an accumulator.
struct Fresh {
    window: Window,
    /// The key, in [`UniqueStaged::keys`].
    key: Range<usize>,
    hash: u64,
    /// The value, in [`UniqueStaged::values`].
    value: Range<usize>,
    origin: Origin,
}

impl UniqueStaged {
    /// The reduce call the batch needs: its folds (empty when every pair starts a new
    /// accumulator).
    pub fn input(&self) -> &ReduceInput {
        &self.input
    }
}

/// A staged (window, key) waiting for its reduce result.
pub struct FixedSlot {
    window: Window,
    key: Vec<u8>,
    first: Origin,
}

impl FixedWindows {
    /// Empty state. `spec` must be tumbling or hopping.
    pub fn new(spec: WindowSpec, lateness: i64) -> Self {
        let (size, slide) = match spec {
            WindowSpec::Tumbling { size } => (size, size),
            WindowSpec::Hopping { size, slide } => (size, slide),
            WindowSpec::Session { gap } => (gap, gap),
        };
        FixedWindows {
            size,
            slide,
            lateness,
            open: BTreeMap::new(),
            hasher: RandomState::default(),
        }
    }

    /// The windows containing event time `t`, earliest start first. The starts are computed in
    /// `i128` so that times near the ends of `i64` cannot overflow; a window that would start
    /// before `i64::MIN` is left out and one that would end after `i64::MAX` ends there. The
    /// divisions stay in `i64` (they cannot overflow there, and a 128-bit division is a call
    /// into the compiler's runtime: it was the first line of the engine's profile).
    pub fn windows(&self, t: i64) -> impl Iterator<Item = Window> + use<> {
        let (size, slide) = (i128::from(self.size), i128::from(self.slide));
        let last_start = i128::from(t) - i128::from(t.rem_euclid(self.slide));
        let before = i128::from((self.size - 1) / self.slide);
        let t = i128::from(t);
        let first_start = last_start - before * slide;
        (0..=before)
            .map(move |i| first_start + i * slide)
            .filter(move |&start| t < start + size)
            .filter_map(move |start| {
                let end = i64::try_from(start + size).unwrap_or(i64::MAX);
                Some(Window {
                    start: i64::try_from(start).ok()?,
                    end,
                })
            })
    }

    pub(super) fn combining_pane(&self) -> Option<i64> {
        (self.size == self.slide).then_some(self.size)
    }

    pub(super) fn open_at(&self, t: i64, watermark: i64) -> bool {
        self.windows(t)
            .all(|window| !is_closed(window, watermark, self.lateness))
    }

    pub(super) fn stage(
        &self,
        staged: &mut FixedStaged,
        t: i64,
        key: &[u8],
        value: &[u8],
        origin: Origin,
    ) -> bool {
        let watermark = origin.watermark;
        let mut on_time = false;
        for window in self.windows(t) {
            if is_closed(window, watermark, self.lateness) {
                continue;
            }
            on_time = true;
            let keys = staged.index.entry(window).or_default();
            let slot = match keys.get(key) {
                Some(&slot) => slot,
                None => {
                    let slot = staged.groups.len();
                    keys.insert(key.to_vec(), slot);
                    staged.groups.push(StagedGroup {
                        window,
                        key: key.to_vec(),
                        values: Vec::new(),
                        first: origin,
                    });
                    slot
                }
            };
            let start = staged.values.len();
            staged.values.extend_from_slice(value);
            staged.groups[slot].values.push(start..staged.values.len());
        }
        on_time
    }

    /// Stages the pairs of a combined batch: the batch has no two pairs of one (window, key).
    /// Tumbling windows only (a pair's time is in one window).
    ///
    /// The keys are looked up in each window's table in the order of the slots they probe
    /// first, not in the batch's: a batch finds a few thousand keys in tables too large for
    /// the cache, and in slot order the loads go one way through memory, which the processor
    /// fetches ahead, instead of missing the cache on nearly every key.
    pub(super) fn stage_unique(&self, staged: &mut UniqueStaged, pairs: &[UniquePair<'_>]) {
        let mut lookups = Vec::with_capacity(pairs.len());
        // The batch's windows, by rank: each with its open state (looked up once) and the
        // probe mask of its table.
        let mut windows: Vec<(Window, Option<&OpenWindow>)> = Vec::new();
        let mut masks: Vec<u64> = Vec::new();
        for (i, pair) in pairs.iter().enumerate() {
            let hash = self.hasher.hash_one(pair.key);
            for window in self.windows(pair.t) {
                let rank = match windows.iter().position(|&(w, _)| w == window) {
                    Some(rank) => rank,
                    None => {
                        let open = self.open.get(&window);
                        windows.push((window, open));
                        masks.push(open.map_or(0, |open| probe_mask(&open.keys)));
                        windows.len() - 1
                    }
                };
                lookups.push(Lookup {
                    rank,
                    position: hash & masks[rank],
                    hash,
                    pair: i,
                });
            }
        }
        let lookups = in_slot_order(lookups, &masks);
        for Lookup {
            rank, hash, pair: i, ..
        } in lookups
        {
            let (window, open) = windows[rank];
            let pair = &pairs[i];
            let start = staged.keys.len();
            staged.keys.extend_from_slice(pair.key);
            let key = start..staged.keys.len();
            let found = open.and_then(|open| {
                let slot = open.find(hash, pair.key)?;
                Some((&open.keys.get_bucket(slot)?.acc, slot))
            });
            match found {
                Some((acc, slot)) => {
                    staged.input.push_group([&acc[..], pair.value]);
                    staged.folds.push(Fold {
                        window,
                        key,
                        hash,
                        slot,
                        origin: pair.origin,
                    });
                }
                None => {
                    let start = staged.values.len();
                    staged.values.extend_from_slice(pair.value);
                    staged.fresh.push(Fresh {
                        window,
                        key,
                        hash,
                        value: start..staged.values.len(),
                        origin: pair.origin,
                    });
                }
            }
        }
    }

    /// Stores a [`UniqueStaged`] batch, with the accumulators reduce returned for its folds (one
    /// per group, in order), updating existing accumulators in place.
    pub(super) fn commit_unique(&mut self, staged: UniqueStaged, accs: &Packed) {
        let hasher = &self.hasher;
        let mut accs = accs.iter();
        let mut folds = staged.folds.iter().peekable();
        // The folds first: no slot is added to a table before every fold found its own.
        while let Some((window, origin)) = folds.peek().map(|fold| (fold.window, fold.origin)) {
            let open = self.open.entry(window).or_insert_with(|| OpenWindow::new(origin));
            while let Some(fold) = folds.next_if(|fold| fold.window == window) {
                let Some(acc) = accs.next() else {
                    return;
                };
                open.first = open.first.earlier(fold.origin);
                let key = &staged.keys[fold.key.clone()];
                open.set(hasher, Some(fold.slot), fold.hash, key, acc);
            }
        }
        for fresh in &staged.fresh {
            let open = self
                .open
                .entry(fresh.window)
                .or_insert_with(|| OpenWindow::new(fresh.origin));
            open.first = open.first.earlier(fresh.origin);
            let (key, value) = (
                &staged.keys[fresh.key.clone()],
                &staged.values[fresh.value.clone()],
            );
            open.set(hasher, None, fresh.hash, key, value);
        }
    }

    pub(super) fn groups(&self, staged: FixedStaged) -> (ReduceInput, Vec<FixedSlot>) {
        let mut input = ReduceInput::default();
        let mut slots = Vec::with_capacity(staged.groups.len());
        for group in staged.groups {
            let hash = self.hasher.hash_one(&group.key[..]);
            let acc = self
                .open
                .get(&group.window)
                .and_then(|open| open.acc(hash, &group.key));
            let values = group.values.iter().map(|range| &staged.values[range.clone()]);
            input.push_group(acc.into_iter().chain(values));
            slots.push(FixedSlot {
                window: group.window,
                key: group.key,
                first: group.first,
            });
        }
        (input, slots)
    }

    pub(super) fn commit(&mut self, slots: Vec<FixedSlot>, accs: Vec<Vec<u8>>) {
        for (slot, acc) in slots.into_iter().zip(accs) {
            let hash = self.hasher.hash_one(&slot.key[..]);
            let open = self
                .open
                .entry(slot.window)
                .or_insert_with(|| OpenWindow::new(slot.first));
            open.first = open.first.earlier(slot.first);
            open.set(&self.hasher, None, hash, &slot.key, &acc);
        }
    }

    /// The earliest record any open window depends on.
    pub(super) fn oldest_open(&self) -> Option<Origin> {
        self.open.values().map(|open| open.first).reduce(Origin::earlier)
    }

    pub(super) fn fire(&mut self, watermark: i64) -> Vec<FinishItem> {
        let mut items = Vec::new();
        while let Some(entry) = self.open.first_entry() {
            if !is_closed(*entry.key(), watermark, self.lateness) {
                break;
            }
            let window = *entry.key();
            let mut keys: Vec<Slot> = entry.remove().keys.into_iter().collect();
            keys.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            items.extend(keys.into_iter().map(|slot| FinishItem {
                window,
                key: slot.key.into_vec(),
                acc: slot.acc.into_vec(),
            }));
        }
        items
    }

    pub(super) fn open_keys(&self) -> usize {
        self.open.values().map(|open| open.keys.len()).sum()
    }

    pub(super) fn open_windows(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(spec: WindowSpec, t: i64) -> Vec<(i64, i64)> {
        FixedWindows::new(spec, 0)
            .windows(t)
            .map(|w| (w.start, w.end))
            .collect()
    }

    fn pair<'a>(t: i64, key: &'a [u8], value: &'a [u8], origin: Origin) -> UniquePair<'a> {
        UniquePair {
            t,
            key,
            value,
            origin,
        }
    }

    #[test]
    fn a_fold_whose_slot_moved_still_updates_its_own_key() {
        let mut windows = FixedWindows::new(WindowSpec::Tumbling { size: 10 }, 0);
        let origin = Origin {
            offset: 0,
            watermark: i64::MIN,
        };
        let mut first = UniqueStaged::default();
        windows.stage_unique(&mut first, &[pair(1, b"a", &[1], origin)]);
        windows.commit_unique(first, &Packed::default());
        // A fold of `a`, staged where its slot is now...
        let mut fold = UniqueStaged::default();
        windows.stage_unique(&mut fold, &[pair(2, b"a", &[5], origin)]);
        assert_eq!(fold.input().len(), 1, "`a` folds into its accumulator");
        // ...committed after the table grew and its slots moved.
        let mut many = UniqueStaged::default();
        let keys: Vec<[u8; 4]> = (0..1000u32).map(u32::to_be_bytes).collect();
        let pairs: Vec<UniquePair<'_>> = keys.iter().map(|key| pair(3, key, &[1], origin)).collect();
        windows.stage_unique(&mut many, &pairs);
        windows.commit_unique(many, &Packed::default());
        windows.commit_unique(fold, &Packed::pack([&[6u8][..]]));
        let fired = windows.fire(i64::MAX);
        assert_eq!(fired.len(), 1001);
        let accs: Vec<&[u8]> = fired.iter().map(|item| &item.acc[..]).collect();
        let a = fired.iter().position(|item| item.key == b"a");
        assert_eq!(a.map(|i| accs[i]), Some(&[6u8][..]), "`a` has the fold's result");
        assert_eq!(
            accs.iter().filter(|acc| **acc == [1u8]).count(),
            1000,
            "no other key took it"
        );
    }

    #[test]
    fn tumbling_puts_each_time_in_one_window() {
        let spec = WindowSpec::Tumbling { size: 10 };
        assert_eq!(starts(spec, 0), [(0, 10)]);
        assert_eq!(starts(spec, 9), [(0, 10)]);
        assert_eq!(starts(spec, 10), [(10, 20)]);
        assert_eq!(starts(spec, -1), [(-10, 0)]);
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let hopping = WindowSpec::Hopping { size: 10, slide: 3 };
        for t in [i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX] {
            for spec in [hopping, WindowSpec::Tumbling { size: 7 }] {
                assert!(starts(spec, t).len() <= 4, "t = {t}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn lookups_in_slot_order_are_the_same_lookups_by_window_then_slot(
            found in proptest::collection::vec((0usize..3, proptest::prelude::any::<u64>()), 0..400),
            bits in proptest::collection::vec(0u32..20, 3),
        ) {
            let masks: Vec<u64> = bits.iter().map(|&k| (1u64 << k) - 1).collect();
            let lookups: Vec<Lookup> = found
                .iter()
                .enumerate()
                .map(|(pair, &(rank, hash))| Lookup { rank, position: hash & masks[rank], hash, pair })
                .collect();
            let ordered = in_slot_order(lookups.clone(), &masks);
            let mut got: Vec<usize> = ordered.iter().map(|l| l.pair).collect();
            got.sort_unstable();
            proptest::prop_assert_eq!(got, (0..lookups.len()).collect::<Vec<_>>(), "a permutation");
            if lookups.len() >= 64 {
                // Within a window, positions apart by a bin's width or more come in order.
                for (a, b) in ordered.iter().zip(ordered.iter().skip(1)) {
                    proptest::prop_assert!(a.rank <= b.rank);
                    if a.rank == b.rank {
                        let slots = masks[a.rank] + 1;
                        let width = (slots / ORDER_BINS).max(1);
                        proptest::prop_assert!(a.position / width <= b.position / width);
                    }
                }
            }
        }

        #[test]
        fn the_windows_are_those_of_the_plain_128_bit_computation(
            t in proptest::prelude::any::<i64>(),
            slide in 1i64..1000,
            k in 1i64..5,
        ) {
            let (size, slide) = (slide * k, slide);
            let (size_w, slide_w) = (i128::from(size), i128::from(slide));
            let t_w = i128::from(t);
            let want: Vec<(i64, i64)> = (0..k)
                .map(|i| t_w - t_w.rem_euclid(slide_w) - i128::from(i) * slide_w)
                .filter(|&start| t_w < start + size_w)
                .filter_map(|start| {
                    Some((i64::try_from(start).ok()?, i64::try_from(start + size_w).unwrap_or(i64::MAX)))
                })
                .rev()
                .collect();
            proptest::prop_assert_eq!(starts(WindowSpec::Hopping { size, slide }, t), want);
        }
    }

    #[test]
    fn hopping_puts_each_time_in_size_over_slide_windows() {
        let spec = WindowSpec::Hopping { size: 10, slide: 5 };
        assert_eq!(starts(spec, 7), [(0, 10), (5, 15)]);
        assert_eq!(starts(spec, 5), [(0, 10), (5, 15)]);
        assert_eq!(starts(spec, 4), [(-5, 5), (0, 10)]);
        let uneven = WindowSpec::Hopping { size: 10, slide: 3 };
        for t in -20..20 {
            let got = starts(uneven, t);
            let want: Vec<(i64, i64)> = (-40..40)
                .filter(|s: &i64| s.rem_euclid(3) == 0 && *s <= t && t < s + 10)
                .map(|s| (s, s + 10))
                .collect();
            assert_eq!(got, want, "t = {t}");
        }
    }
}
