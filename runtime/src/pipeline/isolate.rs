//! Failure isolation: when a guest call fails on a batch, find the element that caused it.
//!
//! An element the guest refuses by index is set aside and the rest retried. A trap or limit
//! hit names no element, so the batch is split in halves and each half retried, down to the
//! single element that fails: a poison record costs O(log n) extra calls, and every other
//! record of its batch is still processed, in order.

use crate::guest::{FailureKind, GuestError};

/// One element that could not be processed, and why.
pub struct Failure {
    /// Index of the element in the slice given to [`isolate`].
    pub index: usize,
    /// What the guest said or what stopped it.
    pub error: GuestError,
}

/// Calls `call` on `items`, splitting around failures; `accept` gets each successful call's
/// result with the offset of its first element, in order. Returns the elements that failed.
pub fn isolate<T, R>(
    items: &[T],
    call: &mut dyn FnMut(&[T]) -> Result<R, GuestError>,
    accept: &mut dyn FnMut(usize, R),
) -> Vec<Failure> {
    let mut failures = Vec::new();
    run(items, 0, call, accept, &mut failures);
    failures
}

fn run<T, R>(
    items: &[T],
    offset: usize,
    call: &mut dyn FnMut(&[T]) -> Result<R, GuestError>,
    accept: &mut dyn FnMut(usize, R),
    failures: &mut Vec<Failure>,
) {
    if items.is_empty() {
        return;
    }
    match call(items) {
        Ok(result) => accept(offset, result),
        Err(GuestError::Rejected { index, message }) if (index as usize) < items.len() => {
            let index = index as usize;
            run(&items[..index], offset, call, accept, failures);
            failures.push(Failure {
                index: offset + index,
                error: GuestError::Rejected { index: 0, message },
            });
            run(&items[index + 1..], offset + index + 1, call, accept, failures);
        }
        Err(GuestError::Rejected { index, message }) => {
            let error = GuestError::Failed {
                kind: FailureKind::Contract,
                message: format!("refused element {index} of a batch of {}: {message}", items.len()),
            };
            split(items, offset, error, call, accept, failures);
        }
        Err(error) => split(items, offset, error, call, accept, failures),
    }
}

fn split<T, R>(
    items: &[T],
    offset: usize,
    error: GuestError,
    call: &mut dyn FnMut(&[T]) -> Result<R, GuestError>,
    accept: &mut dyn FnMut(usize, R),
    failures: &mut Vec<Failure>,
) {
    if items.len() == 1 {
        failures.push(Failure { index: offset, error });
        return;
    }
    let mid = items.len() / 2;
    run(&items[..mid], offset, call, accept, failures);
    run(&items[mid..], offset + mid, call, accept, failures);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake guest that doubles numbers, traps on 13 and refuses 7.
    fn call(items: &[u32], calls: &mut usize) -> Result<Vec<u32>, GuestError> {
        *calls += 1;
        if items.contains(&13) {
            return Err(GuestError::Failed {
                kind: FailureKind::Panic,
                message: "13".into(),
            });
        }
        if let Some(i) = items.iter().position(|&x| x == 7) {
            return Err(GuestError::Rejected {
                index: i as u32,
                message: "no sevens".into(),
            });
        }
        Ok(items.iter().map(|x| x * 2).collect())
    }

    #[test]
    fn sets_aside_exactly_the_bad_elements_and_keeps_order() {
        let items: Vec<u32> = (0..40).collect();
        let mut calls = 0;
        let mut out = Vec::new();
        let failures = isolate(
            &items,
            &mut |b| call(b, &mut calls),
            &mut |offset, r: Vec<u32>| {
                assert_eq!(r.first().map(|x| x / 2), items.get(offset).copied());
                out.extend(r);
            },
        );
        let failed: Vec<usize> = failures.iter().map(|f| f.index).collect();
        assert_eq!(failed, [7, 13]);
        let want: Vec<u32> = (0..40).filter(|x| *x != 7 && *x != 13).map(|x| x * 2).collect();
        assert_eq!(out, want);
        assert!(calls < 20, "bisection should take O(log n) calls, took {calls}");
        assert!(matches!(
            failures[1].error,
            GuestError::Failed {
                kind: FailureKind::Panic,
                ..
            }
        ));
    }

    #[test]
    fn an_index_out_of_range_is_a_contract_failure_isolated_by_bisection() {
        let items = [1u32, 2, 3];
        let failures = isolate(
            &items,
            &mut |b: &[u32]| -> Result<(), GuestError> {
                if b.contains(&2) {
                    Err(GuestError::Rejected {
                        index: 99,
                        message: "bad".into(),
                    })
                } else {
                    Ok(())
                }
            },
            &mut |_, ()| {},
        );
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].index, 1);
        assert!(matches!(
            failures[0].error,
            GuestError::Failed {
                kind: FailureKind::Contract,
                ..
            }
        ));
    }
}
