//! [`JobLog`]: a job's guest log lines on one runtime: tagged with the job, stage, module,
//! runtime and the partition and offsets of the batch, limited to [`LINES_PER_SECOND`] per job
//! (the lines over it are counted, and a line says how many were dropped), logged to the
//! runtime's tracing and published to the job's logs topic `weir.JOB.logs`, where
//! `GET /v1/jobs/{name}/logs` (`weir job logs`) reads the lines of every runtime of the pool.
//!
//! The topic is the bounded store of recent lines a ring in memory would be, shared by the
//! pool and kept across restarts (the broker's retention bounds it); each line is a
//! [`LogLine`] as JSON, keyed by the job.

use crate::engine::guest_log::{GuestLogLevel, GuestLogLine, GuestLogSink};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use utoipa::ToSchema;

/// Guest log lines a job may publish per second on one runtime; the rest are dropped and
/// counted.
pub const LINES_PER_SECOND: u32 = 100;
/// Characters of a message kept.
const MESSAGE_CHARS: usize = 2000;

/// One line of a job's log, as the logs topic and the API carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogLine {
    /// When (RFC 3339, ms).
    pub at: String,
    /// `trace`, `debug`, `info`, `warn`, `error`.
    pub level: String,
    /// The job.
    pub job: String,
    /// `map` or `reduce`.
    pub stage: String,
    /// The guest call: `map`, `reduce`, `finish`.
    pub call: String,
    /// The module's id.
    pub module: String,
    /// The runtime (`host/pid`).
    pub runtime: String,
    /// The partition of the batch's input records (of the stage's input topic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// The first and last offsets of the batch (the log import does not say which record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets: Option<(i64, i64)>,
    /// What the guest said (at most 2000 characters), or, for a line of Weir's own, how many
    /// lines were dropped.
    pub message: String,
    /// On a line of Weir's own: how many guest lines were dropped over the rate limit since
    /// the previous such line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
}

struct Budget {
    window_start: Instant,
    used: u32,
    dropped: u64,
}

/// A job's guest log on this runtime.
pub struct JobLog {
    job: String,
    module: String,
    runtime: String,
    topic: String,
    producer: Option<BaseProducer>,
    budget: Mutex<Budget>,
    dropped_total: AtomicU64,
}

impl JobLog {
    /// The log of `job` running `module` on `runtime`, published to `topic` (only traced
    /// when no producer can be made).
    pub fn new(brokers: &str, job: &str, module: &str, runtime: &str, topic: &str) -> Self {
        // Lines are best effort: no idempotence, one ack, small batches.
        let producer = crate::kafka::client_config(brokers)
            .set("enable.idempotence", "false")
            .set("acks", "1")
            .set("linger.ms", "50")
            .set("queue.buffering.max.messages", "10000")
            .create()
            .map_err(|err| tracing::warn!(job, "guest logs will not be published: {err}"))
            .ok();
        JobLog {
            job: job.to_string(),
            module: module.to_string(),
            runtime: runtime.to_string(),
            topic: topic.to_string(),
            producer,
            budget: Mutex::new(Budget {
                window_start: Instant::now(),
                used: 0,
                dropped: 0,
            }),
            dropped_total: AtomicU64::new(0),
        }
    }

    /// A log that only goes to the runtime's tracing (tests, and tools without brokers).
    pub fn traced(job: &str, module: &str, runtime: &str) -> Self {
        JobLog {
            job: job.to_string(),
            module: module.to_string(),
            runtime: runtime.to_string(),
            topic: String::new(),
            producer: None,
            budget: Mutex::new(Budget {
                window_start: Instant::now(),
                used: 0,
                dropped: 0,
            }),
            dropped_total: AtomicU64::new(0),
        }
    }

    /// The sink of `stage`'s guests.
    pub fn for_stage(self: &Arc<Self>, stage: &'static str) -> Arc<dyn GuestLogSink> {
        Arc::new(StageLog {
            log: Arc::clone(self),
            stage,
        })
    }

    /// How many lines were dropped over the rate limit so far.
    pub fn dropped(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
    }

    /// Whether a line may go out at `now`; when a new second starts after lines were dropped,
    /// also how many.
    fn admit(&self, now: Instant) -> (bool, Option<u64>) {
        let mut budget = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        let mut report = None;
        if now.duration_since(budget.window_start) >= Duration::from_secs(1) {
            budget.window_start = now;
            budget.used = 0;
            if budget.dropped > 0 {
                report = Some(std::mem::take(&mut budget.dropped));
            }
        }
        if budget.used < LINES_PER_SECOND {
            budget.used += 1;
            (true, report)
        } else {
            budget.dropped += 1;
            self.dropped_total.fetch_add(1, Ordering::Relaxed);
            crate::metrics::metrics()
                .guest_log_lines_dropped
                .with_label_values(&[self.job.as_str()])
                .inc();
            (false, report)
        }
    }

    fn line(&self, stage: &str, level: &str, call: &str, message: String) -> LogLine {
        LogLine {
            at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            level: level.to_string(),
            job: self.job.clone(),
            stage: stage.to_string(),
            call: call.to_string(),
            module: self.module.clone(),
            runtime: self.runtime.clone(),
            partition: None,
            offsets: None,
            message,
            dropped: None,
        }
    }

    fn dropped_line(&self, stage: &str, dropped: u64) -> LogLine {
        LogLine {
            dropped: Some(dropped),
            ..self.line(
                stage,
                "warn",
                "",
                format!(
                    "{dropped} guest log line{} dropped: over this job's limit of \
                     {LINES_PER_SECOND} lines a second on this runtime",
                    if dropped == 1 { " was" } else { "s were" }
                ),
            )
        }
    }

    fn take(&self, stage: &str, line: GuestLogLine) {
        let (admitted, dropped) = self.admit(Instant::now());
        if let Some(dropped) = dropped {
            self.publish(&self.dropped_line(stage, dropped));
        }
        if !admitted {
            return;
        }
        let message: String = line.message.chars().take(MESSAGE_CHARS).collect();
        let mut out = self.line(stage, line.level.as_str(), line.site.call, message);
        out.partition = line.site.partition;
        out.offsets = line.site.offsets;
        trace(&out, line.level);
        self.publish(&out);
    }

    fn publish(&self, line: &LogLine) {
        let Some(producer) = &self.producer else {
            return;
        };
        let Ok(value) = serde_json::to_vec(line) else {
            return;
        };
        let record: BaseRecord<'_, str, [u8]> = BaseRecord::to(self.topic.as_str())
            .key(self.job.as_str())
            .payload(value.as_slice());
        if let Err((err, _)) = producer.send(record) {
            tracing::debug!(job = self.job, "a guest log line was not published: {err}");
        }
        producer.poll(Duration::ZERO);
    }
}

impl Drop for JobLog {
    fn drop(&mut self) {
        let pending = std::mem::take(&mut self.budget.lock().unwrap_or_else(|e| e.into_inner()).dropped);
        if pending > 0 {
            self.publish(&self.dropped_line("", pending));
        }
        if let Some(producer) = &self.producer
            && let Err(err) = producer.flush(Duration::from_secs(2))
        {
            tracing::debug!(job = self.job, "guest log lines not flushed: {err}");
        }
    }
}

/// The runtime's tracing event for a guest line, with its job, stage, module, partition and
/// offsets as fields.
fn trace(line: &LogLine, level: GuestLogLevel) {
    let (job, stage, module) = (&line.job, &line.stage, &line.module);
    let partition = line.partition.unwrap_or(-1);
    let (first, last) = line.offsets.unwrap_or((-1, -1));
    let message = &line.message;
    macro_rules! event {
        ($level:ident) => {
            tracing::$level!(target: "weir::guest", job, stage, module, partition, first_offset = first, last_offset = last, "{message}")
        };
    }
    match level {
        GuestLogLevel::Trace => event!(trace),
        GuestLogLevel::Debug => event!(debug),
        GuestLogLevel::Info => event!(info),
        GuestLogLevel::Warn => event!(warn),
        GuestLogLevel::Error => event!(error),
    }
}

/// A job's log as one stage's guests see it.
struct StageLog {
    log: Arc<JobLog>,
    stage: &'static str,
}

impl GuestLogSink for StageLog {
    fn log(&self, line: GuestLogLine) {
        self.log.take(self.stage, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_logs_at_most_its_rate_and_then_says_how_many_lines_it_dropped() {
        let log = JobLog::traced("wc", "m", "h/1");
        let start = log
            .budget
            .lock()
            .map(|b| b.window_start)
            .unwrap_or_else(|_| Instant::now());
        let admitted = (0..150).filter(|_| log.admit(start).0).count();
        assert_eq!(admitted, LINES_PER_SECOND as usize);
        assert_eq!(log.dropped(), 50);
        assert_eq!(log.admit(start + Duration::from_secs(1)), (true, Some(50)));
        let line = log.dropped_line("map", 50);
        assert_eq!(line.dropped, Some(50));
        assert!(
            line.message.contains("50 guest log lines were dropped"),
            "{}",
            line.message
        );
    }

    #[test]
    fn a_line_round_trips_as_json_without_the_fields_it_lacks() {
        let log = JobLog::traced("wc", "m", "h/1");
        let mut line = log.line("map", "warn", "map", "hello".into());
        let json = serde_json::to_value(&line).expect("serializes");
        assert!(
            json.get("partition").is_none() && json.get("dropped").is_none(),
            "{json}"
        );
        line.partition = Some(2);
        line.offsets = Some((40, 52));
        let back: LogLine =
            serde_json::from_slice(&serde_json::to_vec(&line).expect("serializes")).expect("reads");
        assert_eq!(back, line);
    }
}
