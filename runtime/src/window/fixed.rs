//! [`FixedWindows`]: tumbling and hopping windows, whose bounds depend on event time alone.

use super::{Origin, WindowSpec, is_closed};
use crate::record::{FinishItem, ReduceInput, Window};
use foldhash::HashMap;
use std::collections::BTreeMap;
use std::ops::Range;

/// Accumulators of open tumbling or hopping windows, by window (in closing order) then key.
pub struct FixedWindows {
    size: i64,
    slide: i64,
    lateness: i64,
    open: BTreeMap<Window, OpenWindow>,
}

/// One open window: accumulators by key, and the earliest record that contributed.
struct OpenWindow {
    keys: HashMap<Vec<u8>, Vec<u8>>,
    first: Origin,
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
    /// What each group of `input` updates: its window, and its key in `keys`.
    folds: Vec<(Window, Range<usize>, Origin)>,
    /// (Window, key, value) of pairs whose (window, key) has no accumulator yet: the value is
    /// the accumulator (a value and an accumulator have the same encoding).
    fresh: Vec<(Window, Range<usize>, Range<usize>, Origin)>,
    keys: Vec<u8>,
    values: Vec<u8>,
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

    /// Stages a pair of a combined batch at event time `t`: the batch has no other pair of its
    /// (window, key). Tumbling windows only (`t` is in one window).
    pub(super) fn stage_unique(
        &self,
        staged: &mut UniqueStaged,
        t: i64,
        key: &[u8],
        value: &[u8],
        origin: Origin,
    ) {
        for window in self.windows(t) {
            let start = staged.keys.len();
            staged.keys.extend_from_slice(key);
            let key_range = start..staged.keys.len();
            match self.open.get(&window).and_then(|open| open.keys.get(key)) {
                Some(acc) => {
                    staged.input.push_group([acc.as_slice(), value]);
                    staged.folds.push((window, key_range, origin));
                }
                None => {
                    let start = staged.values.len();
                    staged.values.extend_from_slice(value);
                    staged
                        .fresh
                        .push((window, key_range, start..staged.values.len(), origin));
                }
            }
        }
    }

    /// Stores a [`UniqueStaged`] batch, with the accumulators reduce returned for its folds (one
    /// per group, in order), updating existing accumulators in place.
    pub(super) fn commit_unique(&mut self, staged: UniqueStaged, accs: Vec<Vec<u8>>) {
        for ((window, key, origin), acc) in staged.folds.into_iter().zip(accs) {
            let key = &staged.keys[key];
            let open = self.open_window(window, origin);
            match open.keys.get_mut(key) {
                Some(old) => *old = acc,
                None => {
                    open.keys.insert(key.to_vec(), acc);
                }
            }
        }
        for (window, key, value, origin) in staged.fresh {
            self.open_window(window, origin)
                .keys
                .insert(staged.keys[key].to_vec(), staged.values[value].to_vec());
        }
    }

    /// `window`'s state, opened if new, now depending on `origin` too.
    fn open_window(&mut self, window: Window, origin: Origin) -> &mut OpenWindow {
        let open = self.open.entry(window).or_insert_with(|| OpenWindow {
            keys: HashMap::default(),
            first: origin,
        });
        open.first = open.first.earlier(origin);
        open
    }

    pub(super) fn groups(&self, staged: FixedStaged) -> (ReduceInput, Vec<FixedSlot>) {
        let mut input = ReduceInput::default();
        let mut slots = Vec::with_capacity(staged.groups.len());
        for group in staged.groups {
            let acc = self
                .open
                .get(&group.window)
                .and_then(|open| open.keys.get(&group.key));
            let values = group.values.iter().map(|range| &staged.values[range.clone()]);
            input.push_group(acc.map(Vec::as_slice).into_iter().chain(values));
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
            self.open_window(slot.window, slot.first)
                .keys
                .insert(slot.key, acc);
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
            let mut keys: Vec<(Vec<u8>, Vec<u8>)> = entry.remove().keys.into_iter().collect();
            keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            items.extend(keys.into_iter().map(|(key, acc)| FinishItem { window, key, acc }));
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
