//! The fast path for tumbling windows: the guest maps *and combines* a batch (`map-combine`), so
//! one pair per (key, window) crosses the boundary and the host stages a few thousand pairs
//! instead of one per emitted value.
//!
//! It gives exactly what the per-pair path would, or it is not taken:
//! - the pane is the window size, so a pane is exactly one window, and folding a key's values in
//!   the guest in input order then folding the result into the window's accumulator is the same
//!   left-to-right fold (reduce is associative);
//! - the guest reports each record's largest event time, from which the host rebuilds the
//!   watermark before every record, as the per-pair path moves it;
//! - a combined pair is used only if its window is still open at the watermark before the *last*
//!   record that contributed to it (so it was open for every contributor: none of its values is
//!   late). Otherwise, and when the guest call or the reduce fails, the batch goes through the
//!   per-pair path, which sorts out late records, dead letters and isolation as always.

use super::{Pipeline, TimeMode};
use crate::guest::Guest;
use crate::record::InputRecord;
use crate::window::Origin;

impl<G: Guest> Pipeline<G> {
    /// Maps, windows and reduces `records` through the guest's `map-combine`. Returns false, with
    /// nothing changed, when the batch must take the per-pair path instead.
    pub(super) fn process_combined(&mut self, records: &[InputRecord]) -> bool {
        if self.time != TimeMode::Event || records.is_empty() {
            return false;
        }
        let Some(pane) = self.store.combining_pane() else {
            return false;
        };
        let Some(Ok(combined)) = self.guest.map_combine(records, pane) else {
            return false;
        };
        let Some(pairs) = combined.split() else {
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
        let mut staged = self.store.stage_new();
        let mut emitted = 0u64;
        for (pair, key, value) in pairs {
            let (first, last) = (pair.first as usize, pair.last as usize);
            if !self.store.open_at(pair.pane, before[last]) {
                return false;
            }
            let origin = Origin {
                offset: records[first].offset,
                watermark: before[first],
            };
            self.store.stage(&mut staged, pair.pane, key, value, origin);
            emitted += u64::from(pair.count);
        }
        let (input, pending) = self.store.groups(staged);
        if !input.is_empty() {
            match self.guest.reduce_batch(&input) {
                Ok(accs) => self.store.commit(pending, accs),
                Err(_) => return false,
            }
        }
        self.watermark = watermark;
        self.stats.pairs += emitted;
        true
    }
}
