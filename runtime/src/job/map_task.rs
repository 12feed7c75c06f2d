//! [`MapTask`]: stage 1 for one input partition: the [`Pipeline`] (map → window → reduce →
//! fire), writing output (or, with the shuffle, partial accumulators and markers) and dead
//! letters.

use super::JobContext;
use super::metered::MeteredGuest;
use super::module_runs::{MapCheckpoint, ModuleRun};
use super::task::{Task, TaskFactory};
use crate::outgoing::Outgoing;
use crate::pipeline::{Outcome, Pipeline};
use crate::record::InputRecord;
use crate::shuffle::{MarkerInfo, marker_records, partial_records, upstream_name};
use anyhow::Context;
use std::sync::Arc;
use std::time::Instant;

/// Stage 1 of one input partition.
pub struct MapTask {
    job: Arc<JobContext>,
    topic: String,
    upstream: String,
    pipeline: Pipeline<MeteredGuest>,
    epoch: i64,
    marker_sent: Option<MarkerInfo>,
    /// When the partition last had records (or the task started).
    last_record: Instant,
    fired: u64,
    /// The modules that read the partition, this one last once it has read something.
    runs: Vec<ModuleRun>,
}

impl MapTask {
    fn emit(&mut self, outcome: Outcome, out: &mut Vec<Outgoing>) {
        let dead_letters = outcome.dead_letters;
        self.fired += super::distinct_windows(outcome.outputs.iter().filter_map(|o| o.window));
        match &self.job.repartition {
            Some(shuffle) => {
                let fired = !outcome.outputs.is_empty();
                out.extend(partial_records(
                    &shuffle.topic,
                    shuffle.partitions,
                    &self.upstream,
                    self.epoch,
                    outcome.outputs,
                ));
                // The windows that closed have all their partials written above: saying so now,
                // not at the next commit, lets the reduce stage fire them a commit cycle sooner.
                if fired {
                    self.send_marker(out);
                }
            }
            None => out.extend(outcome.outputs.into_iter().map(|r| self.job.output_record(r))),
        }
        for dead in &dead_letters {
            out.push(self.job.dead_letters.record(&self.topic, dead));
        }
    }

    /// Whether the partition has had no record for the job's `idle_timeout` (never, when it
    /// is zero).
    fn idle(&self) -> bool {
        let timeout = self.job.config.idle_timeout;
        !timeout.is_zero() && self.last_record.elapsed() >= timeout
    }

    /// Writes a marker to every repartition partition if it says something new: the
    /// watermark (every partial of the windows it closes was written before), the earliest
    /// open session, and the epoch.
    fn send_marker(&mut self, out: &mut Vec<Outgoing>) {
        let info = MarkerInfo {
            epoch: self.epoch,
            watermark: self.pipeline.watermark(),
            open_session: self.pipeline.earliest_open_session().unwrap_or(i64::MAX),
            idle: self.idle(),
        };
        if let Some(shuffle) = &self.job.repartition
            && self.marker_sent != Some(info)
        {
            out.extend(marker_records(
                &shuffle.topic,
                shuffle.partitions,
                &self.upstream,
                info,
            ));
            self.marker_sent = Some(info);
        }
    }
}

impl Task for MapTask {
    fn process(&mut self, records: &[InputRecord], out: &mut Vec<Outgoing>) {
        if let Some(first) = records.first() {
            self.last_record = Instant::now();
            MapCheckpoint::started(
                &mut self.runs,
                self.job.dead_letters.module.as_str(),
                first.offset,
            );
        }
        let outcome = self.pipeline.process(records);
        self.emit(outcome, out);
    }

    fn tick(&mut self, out: &mut Vec<Outgoing>) {
        let outcome = self.pipeline.tick();
        self.emit(outcome, out);
        if self.marker_sent.map(|m| m.idle) != Some(self.idle()) {
            // A new owner announces itself at once, and a partition that has just become idle
            // says so at once, so that the reduce stage stops waiting for it.
            self.send_marker(out);
        }
    }

    fn before_commit(&mut self, out: &mut Vec<Outgoing>) {
        self.send_marker(out);
    }

    fn checkpoint(&mut self) -> Option<(i64, Vec<u8>)> {
        let progress = self.pipeline.checkpoint()?;
        let checkpoint = MapCheckpoint {
            progress,
            runs: self.runs.clone(),
        };
        Some((progress.commit_offset, serde_json::to_vec(&checkpoint).ok()?))
    }

    fn take_fired(&mut self) -> u64 {
        std::mem::take(&mut self.fired)
    }

    fn holding(&self) -> (usize, usize) {
        (self.pipeline.open_windows(), self.pipeline.open_keys())
    }

    fn watermark(&self) -> Option<i64> {
        Some(self.pipeline.watermark()).filter(|&w| w != i64::MIN)
    }
}

/// Makes [`MapTask`]s.
pub struct MapTasks(pub Arc<JobContext>);

impl TaskFactory for MapTasks {
    type Task = MapTask;

    fn create(
        &self,
        topic: &str,
        partition: i32,
        checkpoint: Option<&[u8]>,
        epoch: i64,
    ) -> anyhow::Result<MapTask> {
        let job = &self.0;
        let guest = job.instantiate("map")?;
        let config = job.config.pipeline();
        let checkpoint: Option<MapCheckpoint> = checkpoint
            .map(serde_json::from_slice)
            .transpose()
            .with_context(|| format!("the checkpoint of {topic}/{partition} is not readable"))?;
        let mut runs = Vec::new();
        let pipeline = match checkpoint {
            Some(checkpoint) => {
                runs = checkpoint.runs;
                // This module reads again from the commit offset on.
                let from = checkpoint.progress.commit_offset;
                MapCheckpoint::started(&mut runs, job.dead_letters.module.as_str(), from);
                Pipeline::resume(guest, &config, &checkpoint.progress)
            }
            None => Pipeline::new(guest, &config),
        };
        let pipeline = if job.repartition.is_some() {
            pipeline.emit_partials()
        } else {
            pipeline
        };
        Ok(MapTask {
            job: job.clone(),
            topic: topic.to_string(),
            upstream: upstream_name(topic, partition),
            pipeline,
            epoch,
            marker_sent: None,
            last_record: Instant::now(),
            fired: 0,
            runs,
        })
    }
}
