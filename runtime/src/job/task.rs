//! [`Task`]: what a stage runs for each partition it is assigned, and how a stage makes one.

use crate::kafka::dead_letter::DeadLetterTopic;
use crate::outgoing::Outgoing;
use crate::record::InputRecord;

/// The per-partition work of a stage: turns input records into records to write, and says
/// what to persist before committing.
pub trait Task: Send {
    /// Processes a batch of the partition's records, in offset order.
    fn process(&mut self, records: &[InputRecord], out: &mut Vec<Outgoing>);

    /// Called on every loop of the stage, records or not (processing time moves on).
    fn tick(&mut self, _out: &mut Vec<Outgoing>) {}

    /// Records to write before the checkpoint, and after everything processed so far
    /// (stage 1's watermark markers).
    fn before_commit(&mut self, _out: &mut Vec<Outgoing>) {}

    /// The offset to commit and the checkpoint (JSON) to persist first; `None` before the
    /// first record.
    fn checkpoint(&mut self) -> Option<(i64, Vec<u8>)>;

    /// Windows fired since the last call.
    fn take_fired(&mut self) -> u64;

    /// (open windows, open (window, key) groups) now.
    fn holding(&self) -> (usize, usize);

    /// The task's event-time watermark (ms), once it has one.
    fn watermark(&self) -> Option<i64> {
        None
    }
}

/// Where a stage sets aside what it cannot write: its job's dead-letter topic. A supertrait of
/// [`TaskFactory`], so that a stage can hand it to its sink (`Sink::for_job`), which turns a
/// record too large to write into a dead letter instead of failing on it.
pub trait DeadLetters {
    /// The job's dead-letter topic and the headers of its dead letters.
    fn dead_letters(&self) -> &DeadLetterTopic;
}

/// Makes the tasks of one stage.
pub trait TaskFactory: DeadLetters + Send + 'static {
    /// The task type.
    type Task: Task;

    /// A task for `topic`/`partition`, resuming from `checkpoint` when there is one. `epoch`
    /// is this owner's fencing token for the partition: larger than any earlier owner's.
    fn create(
        &self,
        topic: &str,
        partition: i32,
        checkpoint: Option<&[u8]>,
        epoch: i64,
    ) -> anyhow::Result<Self::Task>;
}
