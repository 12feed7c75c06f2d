//! Fire: closed (window, key) accumulators → the guest's finish → output records.

use super::{DeadLetter, Outcome, Stage, isolate, message, reason};
use crate::guest::Guest;
use crate::record::{FinishItem, OutputRecord};

/// Finishes `items` in order, appending their output records (stamped with the window's last
/// millisecond) to `out`. A (window, key) whose finish fails goes to the dead letters; the
/// others are still finished.
pub fn finish<G: Guest>(guest: &mut G, items: &[FinishItem], out: &mut Outcome) {
    let outputs = &mut out.outputs;
    let failures = isolate(
        items,
        &mut |batch| guest.finish_batch(batch),
        &mut |offset, got| {
            for (item, output) in items[offset..].iter().zip(got) {
                outputs.push(OutputRecord {
                    key: output.key,
                    value: output.value,
                    timestamp: item.window.end.saturating_sub(1),
                    window: Some(item.window),
                });
            }
        },
    );
    for failure in failures {
        let item = &items[failure.index];
        out.dead_letters.push(DeadLetter {
            reason: reason(&failure.error),
            stage: Stage::Finish,
            message: message(&failure.error),
            record: None,
            window: Some(item.window),
            key: Some(item.key.clone()),
        });
    }
}
