//! The fast path for tumbling windows: the guest maps *and combines* a batch (`map-combine`), so
//! one pair per (key, window) crosses the boundary and the host stages a few thousand pairs
//! instead of one per emitted value.
//!
//! It gives exactly what the per-pair path would, or it is not taken:
//! - the pane is the window size, so a pane is exactly one window, and folding a key's values in
//!   the guest in input order then folding the result into the window's accumulator is the same
//!   left-to-right fold (reduce is associative). Each (window, key) has one pair in the batch:
//!   it folds into the window's accumulator, or, the first time, becomes it (a value is a valid
//!   accumulator), with no reduce call;
//! - the guest reports each record's largest event time, from which the host rebuilds the
//!   watermark before every record, as the per-pair path moves it;
//! - a combined pair is used only if its window is still open at the watermark before the *last*
//!   record that contributed to it (so it was open for every contributor: none of its values is
//!   late). Otherwise, and when the guest call or the reduce fails, the batch goes through the
//!   per-pair path, which sorts out late records, dead letters and isolation as always.

use super::{Pipeline, TimeMode};
use crate::guest::Guest;
use crate::record::{Combined, InputRecord, ModuleKind, Packed};
use crate::window::{Origin, UniquePair, UniqueStaged};

impl<G: Guest> Pipeline<G> {
    /// The pane size batches of this pipeline may be combined over (see [`Guest::map_combine`]):
    /// the window size for a map/reduce module on tumbling windows in event time, else `None`.
    /// Another instance of the same module may combine a batch ahead of time, on another thread,
    /// for [`Pipeline::process_premapped`].
    pub fn combining_pane(&self) -> Option<i64> {
        if self.time != TimeMode::Event || self.kind != ModuleKind::MapReduce {
            return None;
        }
        self.store.combining_pane()
    }

    /// Maps, windows and reduces `records` through a combined map: `premapped` when another
    /// instance made it, else this pipeline's guest's. Returns false, with nothing changed, when
    /// the batch must take the per-pair path instead.
    pub(super) fn process_combined(&mut self, records: &[InputRecord], premapped: Option<Combined>) -> bool {
        let Some(pane) = self.combining_pane() else {
            return false;
        };
        if records.is_empty() {
            return false;
        }
        let combined = match premapped {
            Some(combined) => combined,
            None => match self.guest.map_combine(records, pane) {
                Some(Ok(combined)) => combined,
                _ => return false,
            },
        };
        self.apply_combined(records, &combined, pane)
    }

    fn apply_combined(&mut self, records: &[InputRecord], combined: &Combined, pane: i64) -> bool {
        let Ok(pairs) = combined.checked(records.len()) else {
            return false;
        };
        // The watermark before each record, as the per-pair path moves it.
        let mut watermark = self.watermark;
        let mut before = Vec::with_capacity(records.len());
        for time in &combined.times {
            before.push(watermark.current());
            if let Some(t) = time {
                watermark.observe(*t);
            }
        }
        let mut unique = Vec::with_capacity(combined.pairs.len());
        let mut emitted = 0u64;
        for (pair, key, value) in pairs {
            let (first, last) = (pair.first as usize, pair.last as usize);
            // A pane that is not a window start (one before i64::MIN, or a guest's mistake)
            // could share its window with another pair of the batch: the per-pair path is exact.
            if pair.pane.rem_euclid(pane) != 0 || !self.store.open_at(pair.pane, before[last]) {
                return false;
            }
            let origin = Origin {
                offset: records[first].offset,
                watermark: before[first],
            };
            unique.push(UniquePair {
                t: pair.pane,
                key,
                value,
                origin,
            });
            emitted += u64::from(pair.count);
        }
        let mut staged = UniqueStaged::default();
        if !self.store.stage_unique(&mut staged, &unique) {
            return false;
        }
        let input = staged.input();
        let accs = if input.is_empty() {
            Packed::default()
        } else {
            match self.guest.reduce_packed(input) {
                Ok(accs) if accs.is_whole() && accs.len() == input.len() => accs,
                _ => return false,
            }
        };
        self.store.commit_unique(staged, &accs);
        self.watermark = watermark;
        self.stats.pairs += emitted;
        true
    }
}
