//! [`StageObserver`]: where a stage reports what it does, to the Prometheus metrics and to the
//! job's status, with the label values resolved once per stage.

use super::status::JobStatus;
use crate::metrics::metrics;
use prometheus::{Gauge, Histogram, IntCounter, IntGauge};
use rdkafka::statistics::Statistics;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What a stage's tasks hold now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// Windows open now.
    pub open_windows: usize,
    /// (window, key) accumulators open now.
    pub open_keys: usize,
    /// The smallest watermark (ms) of the tasks that have one.
    pub watermark: Option<i64>,
}

/// The metrics and status of one stage of one job.
pub struct StageObserver {
    job: String,
    stage: &'static str,
    status: Arc<JobStatus>,
    records_in: IntCounter,
    records_out: IntCounter,
    windows_fired: IntCounter,
    last_fired: Gauge,
    open_windows: IntGauge,
    open_keys: IntGauge,
    commit: Histogram,
    assigned: IntGauge,
    restarts: IntCounter,
    rejoins: IntCounter,
}

impl StageObserver {
    /// The observer of `stage` of `job`.
    pub fn new(job: &str, stage: &'static str, status: Arc<JobStatus>) -> Self {
        let m = metrics();
        let labels = [job, stage];
        StageObserver {
            job: job.to_string(),
            stage,
            status,
            records_in: m.records_in.with_label_values(&labels),
            records_out: m.records_out.with_label_values(&labels),
            windows_fired: m.windows_fired.with_label_values(&labels),
            last_fired: m.last_window_fired.with_label_values(&labels),
            open_windows: m.open_windows.with_label_values(&labels),
            open_keys: m.open_keys.with_label_values(&labels),
            commit: m.commit_duration.with_label_values(&labels),
            assigned: m.assigned_partitions.with_label_values(&labels),
            restarts: m.stage_restarts.with_label_values(&labels),
            rejoins: m.group_rejoins.with_label_values(&labels),
        }
    }

    /// Records consumed, records written, dead letters set aside and windows fired in one loop.
    pub fn progressed(&self, records_in: usize, records_out: usize, dead: usize, fired: u64) {
        self.records_in.inc_by(records_in as u64);
        self.records_out.inc_by(records_out as u64);
        if fired > 0 {
            self.windows_fired.inc_by(fired);
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            self.last_fired.set(now.as_secs_f64());
        }
        if records_in > 0 || records_out > 0 || dead > 0 || fired > 0 {
            let counts = (records_in as u64, records_out as u64, dead as u64);
            self.status.progressed(self.stage, counts, fired);
        }
    }

    /// What the tasks hold now.
    pub fn holding(&self, activity: Activity) {
        self.open_windows
            .set(i64::try_from(activity.open_windows).unwrap_or(i64::MAX));
        self.open_keys
            .set(i64::try_from(activity.open_keys).unwrap_or(i64::MAX));
        self.status
            .holding(self.stage, activity.open_windows, activity.watermark);
    }

    /// A commit cycle took `elapsed`.
    pub fn committed(&self, elapsed: Duration) {
        self.commit.observe(elapsed.as_secs_f64());
    }

    /// Partitions moved: `kind` is `assigned`, `revoked` or `lost`.
    pub fn rebalanced(&self, kind: &str, topic: &str, partition: i32) {
        metrics()
            .rebalances
            .with_label_values(&[self.job.as_str(), self.stage, kind])
            .inc();
        if kind != "assigned" {
            let partition = partition.to_string();
            let labels = [self.job.as_str(), self.stage, topic, partition.as_str()];
            // The series may never have been set (no statistics yet); nothing to remove then.
            let _absent = metrics().consumer_lag.remove_label_values(&labels);
        }
    }

    /// The partitions the stage holds now, as `topic/partition`.
    pub fn holds(&self, partitions: Vec<String>) {
        self.assigned
            .set(i64::try_from(partitions.len()).unwrap_or(i64::MAX));
        self.status.assigned(self.stage, partitions.into_iter());
    }

    /// The stage has joined its group.
    pub fn joined(&self) {
        self.status.joined(self.stage);
    }

    /// The stage restarts after `error`.
    pub fn restarted(&self, error: &anyhow::Error) {
        self.restarts.inc();
        self.status.error(format!("{} stage: {error:#}", self.stage));
    }

    /// The member held nothing while `stalled` went unconsumed, and rejoins its group.
    pub fn rejoined(&self, stalled: &str) {
        self.rejoins.inc();
        self.status.error(format!(
            "{} stage: no partition here while {stalled} went unconsumed; rejoined the group",
            self.stage
        ));
    }

    /// The consumer's statistics: the lag of each partition it fetches.
    pub fn statistics(&self, statistics: &Statistics) {
        for (topic, t) in &statistics.topics {
            for (&partition, p) in &t.partitions {
                // Partition -1 is librdkafka's internal "unassigned" queue; a lag of -1 means
                // no committed offset or high watermark known yet.
                if partition < 0 || !p.desired || p.consumer_lag < 0 {
                    continue;
                }
                let label = partition.to_string();
                metrics()
                    .consumer_lag
                    .with_label_values(&[self.job.as_str(), self.stage, topic.as_str(), label.as_str()])
                    .set(p.consumer_lag);
                self.status
                    .lag(self.stage, format!("{topic}/{partition}"), p.consumer_lag);
            }
        }
    }

    /// The stage stopped: its partitions are no longer held here.
    pub fn stopped(&self) {
        self.holds(Vec::new());
        self.holding(Activity::default());
    }
}
