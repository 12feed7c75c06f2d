//! [`Guest`]: the three batch calls the pipeline makes into a module.
//!
//! The Wasm engine implements it ([`crate::engine::WasmGuest`]); so can native Rust code, which is
//! how the benches compare Wasm against native and how unit tests drive the pipeline without a
//! component.

use crate::record::{
    Combined, Emitted, FinishItem, GuestOutput, InputRecord, ModuleKind, Packed, ReduceInput,
};
use std::fmt;

/// A module the pipeline can call, one batch at a time.
pub trait Guest {
    /// What the module does.
    fn kind(&self) -> ModuleKind;

    /// Maps a batch of records to (key, value) pairs. Every pair's `source` must index into
    /// `records` ([`crate::engine::WasmGuest`] checks this of the guest).
    fn map_batch(&mut self, records: &[InputRecord]) -> Result<Emitted, GuestError>;

    /// Maps a batch as [`Guest::map_batch`] would, then folds the values of pairs that share a
    /// key and a pane of `pane_size` ms (left to right, with the module's reduce), so one pair per
    /// (key, pane) comes back. `None` when the module cannot (it does not export the optional
    /// `combiner` interface); the pipeline then uses [`Guest::map_batch`].
    fn map_combine(
        &mut self,
        _records: &[InputRecord],
        _pane_size: i64,
    ) -> Option<Result<Combined, GuestError>> {
        None
    }

    /// Folds each group into one accumulator; returns one per group, in order.
    fn reduce_batch(&mut self, input: &ReduceInput) -> Result<Vec<Vec<u8>>, GuestError>;

    /// [`Guest::reduce_batch`] with the accumulators in one buffer, as the contract returns
    /// them: no allocation per group. Whole ([`Packed::is_whole`]) and one per group.
    fn reduce_packed(&mut self, input: &ReduceInput) -> Result<Packed, GuestError> {
        let accs = self.reduce_batch(input)?;
        Ok(Packed::pack(accs.iter().map(Vec::as_slice)))
    }

    /// Turns closed windows into output records.
    fn finish_batch(&mut self, items: &[FinishItem]) -> Result<Vec<GuestOutput>, GuestError>;
}

/// Why a guest call failed. The failure concerns that batch only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestError {
    /// The guest returned an error for one element of the batch (an input record, a reduce group
    /// or a finish item). The rest of the batch can be retried without it.
    Rejected {
        /// Index of the element within the batch.
        index: u32,
        /// The guest's message.
        message: String,
    },
    /// The call was stopped: a trap, a limit or a broken contract. The guest instance was
    /// replaced; which element caused it is unknown until the batch is bisected.
    Failed {
        /// What stopped the call.
        kind: FailureKind,
        /// Details for people: a panic message, the limit that was hit.
        message: String,
    },
}

/// What stopped a guest call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The call ran past its deadline (an infinite loop, or too much work for one batch).
    Timeout,
    /// The guest tried to grow its linear memory beyond the job's limit.
    MemoryLimit,
    /// The call returned more bytes than the job's per-call output limit.
    OutputLimit,
    /// The guest panicked (a Rust `panic!`, an `unreachable` instruction).
    Panic,
    /// Any other WebAssembly trap (out-of-bounds access, division by zero, stack overflow...).
    Trap,
    /// The guest broke the contract: wrong number of results, an index out of range.
    Contract,
}

impl FailureKind {
    /// A short stable name, for metrics labels and dead-letter headers.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::MemoryLimit => "memory_limit",
            FailureKind::OutputLimit => "output_limit",
            FailureKind::Panic => "panic",
            FailureKind::Trap => "trap",
            FailureKind::Contract => "contract",
        }
    }
}

impl GuestError {
    /// The guest refuses element `index` of the batch (an index past `u32::MAX` saturates):
    /// what a native [`Guest`] returns where the SDK's glue would return an item error.
    pub fn rejected(index: usize, message: impl fmt::Display) -> Self {
        GuestError::Rejected {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            message: message.to_string(),
        }
    }
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestError::Rejected { index, message } => {
                write!(f, "the module refused element {index} of the batch: {message}")
            }
            GuestError::Failed { kind, message } => write!(f, "{}: {message}", kind.as_str()),
        }
    }
}

impl std::error::Error for GuestError {}

/// Checks that a finish or reduce call returned one result per element.
pub(crate) fn expect_len<T>(what: &str, got: Vec<T>, want: usize) -> Result<Vec<T>, GuestError> {
    expect_count(what, got.len(), want).map(|()| got)
}

/// `Ok` when a call that got `want` inputs returned `got` results, else a broken contract.
pub(crate) fn expect_count(what: &str, got: usize, want: usize) -> Result<(), GuestError> {
    if got == want {
        Ok(())
    } else {
        Err(GuestError::Failed {
            kind: FailureKind::Contract,
            message: format!("{what} returned {got} results for {want} inputs"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_names_the_element_and_saturates_an_index_past_u32() {
        let err = GuestError::rejected(7, "not a number");
        assert_eq!(
            err.to_string(),
            "the module refused element 7 of the batch: not a number"
        );
        let far = usize::try_from(u64::from(u32::MAX) + 1).unwrap_or(usize::MAX);
        assert!(matches!(
            GuestError::rejected(far, "x"),
            GuestError::Rejected { index: u32::MAX, .. }
        ));
    }
}
