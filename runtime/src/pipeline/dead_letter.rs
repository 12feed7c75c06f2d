//! [`DeadLetter`]: a record (or a closed window) the pipeline could not process, and why.

use crate::guest::FailureKind;
use crate::record::{InputRecord, Window};
use serde::Serialize;

/// Why something went to the dead-letter output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The module refused the record with an error of its own.
    Rejected,
    /// A guest call failed on it (trap, limit, broken contract).
    Failed(FailureKind),
    /// Every window it belongs to had already closed.
    Late,
}

impl Reason {
    /// A short stable name: `rejected`, `late`, or the failure kind (`timeout`, `panic`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Rejected => "rejected",
            Reason::Late => "late",
            Reason::Failed(kind) => kind.as_str(),
        }
    }

    /// Whether the same record gets the same verdict every time. A deadline, the memory limit
    /// and the output limit depend on the clock, on how records were batched into a call and
    /// on what the instance did before, so a replay may fail where the first run did not (or
    /// the other way round).
    pub fn is_deterministic(self) -> bool {
        !matches!(
            self,
            Reason::Failed(FailureKind::Timeout | FailureKind::MemoryLimit | FailureKind::OutputLimit)
        )
    }
}

/// Which step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The guest's map.
    Map,
    /// Window assignment (late records).
    Window,
    /// The guest's reduce.
    Reduce,
    /// The guest's finish, for a closed window.
    Finish,
}

/// One thing the pipeline set aside, with everything needed to find and replay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Why.
    pub reason: Reason,
    /// Where in the pipeline.
    pub stage: Stage,
    /// Details for people: the guest's message, the panic, the limit, the watermark.
    pub message: String,
    /// The input record, when the failure concerns one.
    pub record: Option<InputRecord>,
    /// The window, for a failed finish.
    pub window: Option<Window>,
    /// The encoded key, for a failed finish.
    pub key: Option<Vec<u8>>,
}

impl DeadLetter {
    /// A dead letter about one input record.
    pub fn for_record(reason: Reason, stage: Stage, message: String, record: &InputRecord) -> Self {
        DeadLetter {
            reason,
            stage,
            message,
            record: Some(record.clone()),
            window: None,
            key: None,
        }
    }
}
