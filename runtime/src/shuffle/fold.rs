//! Stage 2's reduce: folds the partials of each closed (window, key) with the guest's reduce.

use super::MergedGroup;
use crate::guest::Guest;
use crate::pipeline::{DeadLetter, Outcome, Stage, isolate};
use crate::record::{FinishItem, ReduceInput};

/// Folds each group's partials into one accumulator (a group with one partial needs no call).
/// A group whose reduce fails goes to the dead letters with its window and key; the others are
/// returned, in order, ready to finish.
pub fn fold<G: Guest>(guest: &mut G, groups: Vec<MergedGroup>, out: &mut Outcome) -> Vec<FinishItem> {
    let mut folded: Vec<Option<FinishItem>> = Vec::with_capacity(groups.len());
    let mut to_reduce = Vec::new();
    for (i, mut group) in groups.into_iter().enumerate() {
        if group.partials.len() == 1 {
            let acc = group.partials.pop().unwrap_or_default();
            folded.push(Some(FinishItem {
                window: group.window,
                key: group.key,
                acc,
            }));
        } else {
            folded.push(None);
            to_reduce.push((i, group));
        }
    }
    let failures = isolate(
        &to_reduce,
        &mut |batch| {
            let mut input = ReduceInput::default();
            for (_, group) in batch {
                input.push_group(group.partials.iter().map(Vec::as_slice));
            }
            guest.reduce_batch(&input)
        },
        &mut |offset, accs| {
            for ((i, group), acc) in to_reduce[offset..].iter().zip(accs) {
                folded[*i] = Some(FinishItem {
                    window: group.window,
                    key: group.key.clone(),
                    acc,
                });
            }
        },
    );
    for failure in failures {
        let (_, group) = &to_reduce[failure.index];
        out.dead_letters.push(DeadLetter {
            reason: crate::pipeline::reason(&failure.error),
            stage: Stage::Reduce,
            message: crate::pipeline::message(&failure.error),
            record: None,
            window: Some(group.window),
            key: Some(group.key.clone()),
        });
    }
    folded.into_iter().flatten().collect()
}
