//! Property tests of windowed map/reduce through [`weir::pipeline::Pipeline`].
//!
//! A native test guest (no Wasm) maps records to (key, amount, token) pairs, reduces them to the
//! sum of the amounts (commutative) and the comma-joined tokens (not commutative: it records the
//! order values were folded in), and finishes each (window, key) as a JSON object.
//!
//! An independent reference, written from the documented semantics rather than from the
//! production code, simulates the stream record by record:
//! - the watermark is the largest event time seen minus the out-of-orderness, updated after each
//!   record that emitted pairs;
//! - a window `[start, end)` is closed once `end + lateness <= watermark`;
//! - tumbling: the one window containing `t`; hopping: every `[s, s + size)` with `s` a multiple
//!   of the slide and `s <= t < s + size`; session: per key, `[t, t + gap)` merged (to a fixpoint)
//!   with the open sessions of that key it overlaps or touches, tokens in session-start order then
//!   the new one; a closed session is final;
//! - a pair is late when every window it would go to is closed at the watermark before its
//!   record; a record all of whose pairs are late is a `Late` dead letter;
//! - values fold per (window, key) in input order; a window fires at the end of the batch whose
//!   record moved the watermark past `end + lateness`, in closing order, and everything else at
//!   `close()`.
//!
//! The properties check, for random inputs delivered out of order (with late data, allowed
//! lateness, out-of-orderness, pairs carrying their own event times, records with no pairs) and
//! random batch sizes, that the pipeline produces exactly the reference's outputs, in the
//! reference's batches and order, the same late records, watermark and statistics, for all three
//! window kinds. Deterministic examples with hand-computed results come first. The crash
//! properties check the offset rule: a run that checkpoints, goes on, crashes and resumes from
//! the checkpoint writes every result, only final ones, and the same dead letters.
//!
//! One concern a file: [`inputs`] (records of pairs), [`guest`] (the native test guest),
//! [`run`] (what a run produced; the pipeline's run), [`reference`] (the model), [`examples`]
//! (hand-computed), [`generators`] (random cases and the check against the reference),
//! [`properties`] (the reference properties), [`crash`] (crash and resume), [`resume_chain`]
//! (resumes within resumes).

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;
use weir::guest::{Guest, GuestError};
use weir::pipeline::{Checkpoint, DeadLetter, Outcome, Pipeline, PipelineConfig, Reason, Stage, TimeMode};
use weir::record::{
    Combined, CombinedPair, Emitted, FinishItem, GuestOutput, InputRecord, ModuleKind, OutputRecord,
    ReduceInput, Window,
};
use weir::window::WindowSpec;

mod crash;
mod examples;
mod generators;
mod guest;
mod inputs;
mod properties;
mod reference;
mod resume_chain;
mod run;

use crash::*;
use examples::*;
use generators::*;
use guest::*;
use inputs::*;
use reference::*;
use run::*;
