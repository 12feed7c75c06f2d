//! [`ReduceTask`]: stage 2 for one repartition partition: merges the partials of every input
//! partition ([`MergeState`]), folds them with the guest's reduce, finishes and writes output.

use super::JobContext;
use super::metered::MeteredGuest;
use super::task::{Task, TaskFactory};
use crate::kafka::sink::Outgoing;
use crate::pipeline::{Outcome, finish};
use crate::record::InputRecord;
use crate::shuffle::{MergeCheckpoint, MergeState, ShuffleMessage, decode, fold};
use anyhow::Context;
use std::sync::Arc;

/// Stage 2 of one repartition partition.
pub struct ReduceTask {
    job: Arc<JobContext>,
    topic: String,
    state: MergeState,
    guest: MeteredGuest,
    fired: u64,
}

impl Task for ReduceTask {
    fn process(&mut self, records: &[InputRecord], out: &mut Vec<Outgoing>) {
        for record in records {
            match decode(record) {
                Ok(ShuffleMessage::Partial {
                    upstream,
                    window,
                    key,
                    acc,
                }) => {
                    self.state.partial(upstream, window, key, acc, record.offset);
                }
                Ok(ShuffleMessage::Marker { upstream, watermark }) => {
                    self.state.advance(record.offset);
                    self.state.marker(upstream, watermark);
                }
                Err(reason) => {
                    self.state.advance(record.offset);
                    let message = format!("not a record of Weir's shuffle: {reason}");
                    out.push(
                        self.job
                            .dead_letters
                            .undecodable(&self.topic, "shuffle", &message, record),
                    );
                }
            }
        }
        let groups = self.state.take_closed();
        if groups.is_empty() {
            return;
        }
        self.fired += super::distinct_windows(groups.iter().map(|g| g.window));
        let mut outcome = Outcome::default();
        let items = fold(&mut self.guest, groups, &mut outcome);
        finish(&mut self.guest, &items, &mut outcome);
        out.extend(outcome.outputs.into_iter().map(|o| self.job.output_record(o)));
        out.extend(
            outcome
                .dead_letters
                .iter()
                .map(|d| self.job.dead_letters.record(&self.topic, d)),
        );
    }

    fn checkpoint(&self) -> Option<(i64, Vec<u8>)> {
        let checkpoint = self.state.checkpoint()?;
        Some((checkpoint.commit_offset, serde_json::to_vec(&checkpoint).ok()?))
    }

    fn take_fired(&mut self) -> u64 {
        std::mem::take(&mut self.fired)
    }

    fn holding(&self) -> (usize, usize) {
        self.state.open_groups()
    }
}

/// Makes [`ReduceTask`]s.
pub struct ReduceTasks(pub Arc<JobContext>);

impl TaskFactory for ReduceTasks {
    type Task = ReduceTask;

    fn create(&self, topic: &str, partition: i32, checkpoint: Option<&[u8]>) -> anyhow::Result<ReduceTask> {
        let job = &self.0;
        let mut state = MergeState::new(
            job.config.window,
            job.lateness_ms(),
            job.upstreams.iter().cloned(),
        );
        if let Some(bytes) = checkpoint {
            let checkpoint: MergeCheckpoint = serde_json::from_slice(bytes)
                .with_context(|| format!("the checkpoint of {topic}/{partition} is not readable"))?;
            state.resume(&checkpoint);
        }
        Ok(ReduceTask {
            job: job.clone(),
            topic: topic.to_string(),
            state,
            guest: job.instantiate()?,
            fired: 0,
        })
    }
}
