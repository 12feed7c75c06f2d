//! [`ReduceTask`]: stage 2 for one repartition partition: the [`Reducer`] (merge the partials
//! of every input partition, fold them with the guest's reduce, finish), writing its output and
//! dead letters.

use super::JobContext;
use super::metered::MeteredGuest;
use super::task::{Task, TaskFactory};
use crate::outgoing::Outgoing;
use crate::record::InputRecord;
use crate::shuffle::{MergeCheckpoint, Reducer};
use anyhow::Context;
use std::sync::Arc;

/// Stage 2 of one repartition partition.
pub struct ReduceTask {
    job: Arc<JobContext>,
    topic: String,
    reducer: Reducer<MeteredGuest>,
    fired: u64,
}

impl Task for ReduceTask {
    fn process(&mut self, records: &[InputRecord], out: &mut Vec<Outgoing>) {
        let (job, topic) = (&self.job, &self.topic);
        let outcome = self.reducer.process(records, |record, reason| {
            let message = format!("not a record of Weir's shuffle: {reason}");
            out.push(job.dead_letters.undecodable(topic, "shuffle", &message, record));
        });
        self.fired += super::distinct_windows(outcome.outputs.iter().filter_map(|o| o.window));
        out.extend(outcome.outputs.into_iter().map(|o| self.job.output_record(o)));
        out.extend(
            outcome
                .dead_letters
                .iter()
                .map(|d| self.job.dead_letters.record(&self.topic, d)),
        );
    }

    fn checkpoint(&mut self) -> Option<(i64, Vec<u8>)> {
        let checkpoint = self.reducer.checkpoint()?;
        Some((checkpoint.commit_offset, serde_json::to_vec(&checkpoint).ok()?))
    }

    fn take_fired(&mut self) -> u64 {
        std::mem::take(&mut self.fired)
    }

    fn holding(&self) -> (usize, usize) {
        self.reducer.state().open_groups()
    }

    fn watermark(&self) -> Option<i64> {
        Some(self.reducer.state().watermark()).filter(|&w| w != i64::MIN)
    }
}

/// Makes [`ReduceTask`]s.
pub struct ReduceTasks(pub Arc<JobContext>);

impl TaskFactory for ReduceTasks {
    type Task = ReduceTask;

    fn create(
        &self,
        topic: &str,
        partition: i32,
        checkpoint: Option<&[u8]>,
        _epoch: i64,
    ) -> anyhow::Result<ReduceTask> {
        let job = &self.0;
        let mut reducer = Reducer::new(
            job.instantiate("reduce")?,
            job.config.window()?,
            job.lateness_ms(),
            job.upstreams.iter().cloned(),
        );
        if let Some(bytes) = checkpoint {
            let checkpoint: MergeCheckpoint = serde_json::from_slice(bytes)
                .with_context(|| format!("the checkpoint of {topic}/{partition} is not readable"))?;
            reducer = reducer.resume(&checkpoint);
        }
        Ok(ReduceTask {
            job: job.clone(),
            topic: topic.to_string(),
            reducer,
            fired: 0,
        })
    }
}
