//! [`Reducer`]: stage 2 of the shuffle for one repartition partition, without I/O: decode →
//! merge ([`MergeState`]) → fold with the guest's reduce → finish. The reduce stage drives it
//! from Kafka and the property tests from plain vectors, so the two cannot disagree.

use super::{MergeCheckpoint, MergeState, MergedGroup, ShuffleMessage, Taken, decode, fold, single_partial};
use crate::guest::Guest;
use crate::pipeline::{DeadLetter, Outcome, Reason, Stage, finish};
use crate::record::InputRecord;
use crate::window::WindowSpec;

/// Stage 2 of one repartition partition.
pub struct Reducer<G> {
    guest: G,
    state: MergeState,
    fired: Vec<MergedGroup>,
    replayed: u64,
}

impl<G: Guest> Reducer<G> {
    /// A reducer waiting for a marker from each of `upstreams` (`topic/partition` names).
    pub fn new(
        guest: G,
        spec: WindowSpec,
        lateness: i64,
        upstreams: impl IntoIterator<Item = String>,
    ) -> Self {
        Reducer {
            guest,
            state: MergeState::new(spec, lateness, upstreams),
            fired: Vec::new(),
            replayed: 0,
        }
    }

    /// Resumes from `checkpoint`: feed the partition from its `commit_offset` on. Results that
    /// fire again before the checkpoint's position were written before and are not output.
    pub fn resume(mut self, checkpoint: &MergeCheckpoint) -> Self {
        self.state.resume(checkpoint);
        self
    }

    /// Processes a batch of repartition records, in offset order. A record that is not Weir's
    /// is handed to `undecodable` with the reason, and skipped. A partial that comes after its
    /// window fired (see [`Taken::Late`]) is a `late` dead letter, once (not again in a
    /// replay), shown as a record of its own ([`single_partial`]).
    pub fn process(
        &mut self,
        records: &[InputRecord],
        mut undecodable: impl FnMut(&InputRecord, String),
    ) -> Outcome {
        let mut late = Vec::new();
        for record in records {
            match decode(record) {
                Ok(ShuffleMessage::Partials {
                    upstream,
                    epoch,
                    window,
                    entries,
                }) => {
                    for (key, acc) in entries {
                        let taken = self
                            .state
                            .partial(upstream, epoch, window, key, acc, record.offset);
                        if taken == Taken::Late && !self.state.replaying() {
                            let message = format!(
                                "a partial of {upstream} for [{}, {}) came after that window had \
                                 fired (the job's event time was past it): its records came after \
                                 the other partitions' event time, in a partition added to the \
                                 topic or back from idleness",
                                window.start, window.end
                            );
                            let partial = single_partial(record, upstream, epoch, window, key, acc);
                            let mut dead =
                                DeadLetter::for_record(Reason::Late, Stage::Window, message, &partial);
                            dead.window = Some(window);
                            late.push(dead);
                        }
                    }
                }
                Ok(ShuffleMessage::Marker {
                    upstream,
                    epoch,
                    watermark,
                    open_session,
                    idle,
                }) => {
                    self.state
                        .marker(upstream, epoch, watermark, open_session, idle, record.offset);
                    let closed = self.state.take_closed();
                    if self.state.replaying() {
                        self.replayed += closed.len() as u64;
                    } else {
                        self.fired.extend(closed);
                    }
                }
                Err(reason) => {
                    self.state.advance(record.offset);
                    undecodable(record, reason);
                }
            }
        }
        let mut outcome = Outcome {
            dead_letters: late,
            ..Outcome::default()
        };
        if self.fired.is_empty() {
            return outcome;
        }
        let items = fold(&mut self.guest, std::mem::take(&mut self.fired), &mut outcome);
        finish(&mut self.guest, &items, &mut outcome);
        outcome
    }

    /// The progress to persist before committing; `None` before the first record.
    pub fn checkpoint(&mut self) -> Option<MergeCheckpoint> {
        self.state.checkpoint()
    }

    /// The merge state, for its figures.
    pub fn state(&self) -> &MergeState {
        &self.state
    }

    /// Results that fired again during a replay and were not output.
    pub fn replayed_results(&self) -> u64 {
        self.replayed
    }
}
