//! [`Checkpoint`]: what a partition's pipeline must persist so that a crash loses nothing and
//! replay duplicates nothing that already fired.
//!
//! The offset rule: commit `commit_offset`, the earliest offset that a still-open window depends
//! on (or the position, when none is open). Everything before it is in windows that have fired.
//! To resume, read from `commit_offset` with the watermark set to `commit_watermark` (the
//! watermark just before that record): the watermark then moves exactly as it did the first
//! time, so every window and late decision comes out the same. Windows that had already fired
//! (`end + lateness <= watermark`) are rebuilt but not fired again, and dead letters of records
//! before `position` are not reported twice (except failures that depend on the clock or on
//! batching, such as a timeout: see [`super::Reason::is_deterministic`]). Output written after
//! the checkpoint may be written again: at-least-once, keyed by (window, key), so a compacted
//! topic or a reader that keeps the last value per key sees each result once.

use serde::{Deserialize, Serialize};

/// A partition's progress, to persist before committing `commit_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The offset to commit: replay starts here.
    pub commit_offset: i64,
    /// The watermark just before the record at `commit_offset`.
    pub commit_watermark: i64,
    /// The offset after the last record processed.
    pub position: i64,
    /// The watermark after the last record processed: every window with
    /// `end + lateness <= watermark` has fired.
    pub watermark: i64,
}

/// While replaying after a restore: what was already done before the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Replay {
    /// Records before this offset were processed before (their dead letters were reported).
    pub until_offset: i64,
    /// Windows closed at this watermark had fired before.
    pub fired_through: i64,
}
