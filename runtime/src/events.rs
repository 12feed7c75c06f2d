//! Events worth a metric and a log line, each a type whose `emit` is the one place it is
//! counted (after Vector's `internal_events`): the code that makes a record (an encoder such as
//! [`crate::kafka::dead_letter`]) never counts; the code that acts on it emits the event.
//!
//! A stage's per-loop figures (records in and out, windows fired, commits) go through its
//! [`StageObserver`](crate::job::observe::StageObserver) instead, which resolves their labels
//! once per stage.

use crate::metrics::metrics;

/// A job's sink queued a dead letter (each once: a record sent again after the broker refused
/// it is not counted again). Counts `weir_dead_letters_total{job,reason}`, and
/// `weir_late_records_total{job}` for a late record.
pub struct DeadLetterWritten<'a> {
    /// The job.
    pub job: &'a str,
    /// Why the record was set aside.
    pub reason: &'a str,
}

impl DeadLetterWritten<'_> {
    /// Counts it.
    pub fn emit(self) {
        let m = metrics();
        m.dead_letters.with_label_values(&[self.job, self.reason]).inc();
        if self.reason == "late" {
            m.late_records.with_label_values(&[self.job]).inc();
        }
    }
}

/// A dead letter was cut to fit a size limit. Counts `weir_dead_letters_truncated_total{job}`,
/// once per dead letter (the cut itself is logged where it is made).
pub struct DeadLetterCut<'a> {
    /// The job.
    pub job: &'a str,
}

impl DeadLetterCut<'_> {
    /// Counts it.
    pub fn emit(self) {
        metrics()
            .dead_letters_truncated
            .with_label_values(&[self.job])
            .inc();
    }
}

/// A job's sink gave a record up, so that the job goes on: the broker kept refusing it as too
/// large. Counts `weir_records_dropped_total{job}` and logs where the record came from.
pub struct RecordDropped<'a> {
    /// The job (empty for a plain sink).
    pub job: &'a str,
    /// The record.
    pub record: &'a crate::outgoing::Outgoing,
    /// Its size as librdkafka measures it.
    pub size: usize,
    /// Why it was given up.
    pub why: &'a str,
}

impl RecordDropped<'_> {
    /// Counts and logs it.
    pub fn emit(self) {
        let header = |name: &str| self.record.header(name).unwrap_or_default();
        tracing::error!(
            job = self.job,
            topic = self.record.topic,
            size = self.size,
            reason = header("weir.reason"),
            source_topic = header("weir.source.topic"),
            source_partition = header("weir.source.partition"),
            source_offset = header("weir.source.offset"),
            "a record is dropped, so that the job goes on: {}",
            self.why
        );
        metrics().records_dropped.with_label_values(&[self.job]).inc();
    }
}
