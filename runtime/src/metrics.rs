//! The runtime's Prometheus metrics (DESIGN.md section 8): `weir_` names, base units (seconds,
//! records), `_total` counters, histograms for latencies.
//!
//! One process-wide set ([`metrics()`]), rendered in the text format by [`render`] for
//! `GET /metrics`. Labels: `job` and `stage` (`map`, `reduce`) on everything per job; `call`
//! (`map`, `reduce`, `finish`) on guest calls; `kind` on traps (`timeout`, `memory_limit`,
//! `panic`...) and rebalances (`assigned`, `revoked`, `lost`); `reason` on dead letters (the
//! same names as the `weir.reason` dead-letter header).

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::LazyLock;

/// Guest call buckets, in seconds: from 50 µs (a small batch of a Rust guest) to the 1 s default
/// call limit and beyond.
const CALL_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0,
];
/// Commit cycle buckets, in seconds: a flush and a commit round trip to the broker.
const COMMIT_BUCKETS: &[f64] = &[
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0,
];

/// Every metric the runtime exports.
pub struct Metrics {
    registry: Registry,
    /// `weir_records_in_total{job,stage}`: records consumed.
    pub records_in: IntCounterVec,
    /// `weir_records_out_total{job,stage}`: records written (output, or partials to the shuffle).
    pub records_out: IntCounterVec,
    /// `weir_guest_call_duration_seconds{job,call}`: time in one guest batch call.
    pub guest_call_duration: HistogramVec,
    /// `weir_guest_traps_total{job,kind}`: guest calls stopped by a trap or a limit.
    pub guest_traps: IntCounterVec,
    /// `weir_dead_letters_total{job,reason}`: records set aside.
    pub dead_letters: IntCounterVec,
    /// `weir_dead_letters_truncated_total{job}`: dead letters cut to fit the producer's size
    /// limit (their `weir.truncated` header says what was cut).
    pub dead_letters_truncated: IntCounterVec,
    /// `weir_guest_log_lines_dropped_total{job}`: guest log lines over the job's rate limit.
    pub guest_log_lines_dropped: IntCounterVec,
    /// `weir_records_dropped_total{job}`: records the broker kept refusing as too large, even
    /// cut down, and that were given up so that the job goes on (each is logged).
    pub records_dropped: IntCounterVec,
    /// `weir_late_records_total{job}`: records whose windows had all closed.
    pub late_records: IntCounterVec,
    /// `weir_windows_fired_total{job,stage}`: windows closed and written.
    pub windows_fired: IntCounterVec,
    /// `weir_last_window_fired_timestamp_seconds{job,stage}`: when a window last fired.
    pub last_window_fired: GaugeVec,
    /// `weir_open_windows{job,stage}`: windows holding state.
    pub open_windows: IntGaugeVec,
    /// `weir_open_keys{job,stage}`: (window, key) accumulators held.
    pub open_keys: IntGaugeVec,
    /// `weir_commit_duration_seconds{job,stage}`: a commit cycle (flush, checkpoint, commit).
    pub commit_duration: HistogramVec,
    /// `weir_consumer_lag{job,stage,topic,partition}`: records between the committed offset and
    /// the end of the partition, for the partitions this runtime holds.
    pub consumer_lag: IntGaugeVec,
    /// `weir_assigned_partitions{job,stage}`: partitions this runtime holds.
    pub assigned_partitions: IntGaugeVec,
    /// `weir_rebalances_total{job,stage,kind}`: partitions assigned, revoked or lost.
    pub rebalances: IntCounterVec,
    /// `weir_stage_restarts_total{job,stage}`: stages restarted from their checkpoints.
    pub stage_restarts: IntCounterVec,
    /// `weir_group_rejoins_total{job,stage}`: rejoins of a member left without a partition
    /// while input partitions went unconsumed.
    pub group_rejoins: IntCounterVec,
    /// `weir_module_cache_hits_total`: module loads served by the compile cache.
    pub module_cache_hits: IntCounter,
    /// `weir_module_cache_misses_total`: module loads that compiled (or read the disk cache).
    pub module_cache_misses: IntCounter,
    /// `weir_module_disk_cache_hits_total`: compilations answered by the on-disk compile cache.
    pub module_disk_cache_hits: IntCounter,
    /// `weir_jobs{state}`: jobs on this runtime by state.
    pub jobs: IntGaugeVec,
    /// `weir_registry_caught_up`: 1 once the runtime has read the registry to its end.
    pub registry_caught_up: Gauge,
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The metrics in Prometheus' text format.
pub fn render() -> String {
    let mut buffer = Vec::new();
    if let Err(err) = TextEncoder::new().encode(&metrics().registry.gather(), &mut buffer) {
        tracing::warn!("cannot encode the metrics: {err}");
    }
    String::from_utf8_lossy(&buffer).into_owned()
}

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let r = Register(registry.clone());
        let job_stage = &["job", "stage"];
        let metrics = Metrics {
            records_in: r.counters("weir_records_in_total", "Records consumed.", job_stage),
            records_out: r.counters(
                "weir_records_out_total",
                "Records written: output records, or partial accumulators sent to the shuffle.",
                job_stage,
            ),
            guest_call_duration: r.histograms(
                "weir_guest_call_duration_seconds",
                "Duration of one guest batch call.",
                &["job", "call"],
                CALL_BUCKETS,
            ),
            guest_traps: r.counters(
                "weir_guest_traps_total",
                "Guest calls stopped by a trap or a limit, by kind.",
                &["job", "kind"],
            ),
            dead_letters: r.counters(
                "weir_dead_letters_total",
                "Records set aside to the dead-letter topic, by reason.",
                &["job", "reason"],
            ),
            dead_letters_truncated: r.counters(
                "weir_dead_letters_truncated_total",
                "Dead letters cut to fit the producer's size limit.",
                &["job"],
            ),
            guest_log_lines_dropped: r.counters(
                "weir_guest_log_lines_dropped_total",
                "Guest log lines dropped over the job's rate limit.",
                &["job"],
            ),
            records_dropped: r.counters(
                "weir_records_dropped_total",
                "Records given up after the broker refused them as too large, even cut down.",
                &["job"],
            ),
            late_records: r.counters(
                "weir_late_records_total",
                "Records whose windows had all closed when they arrived.",
                &["job"],
            ),
            windows_fired: r.counters(
                "weir_windows_fired_total",
                "Windows closed and written.",
                job_stage,
            ),
            last_window_fired: r.gauges_f64(
                "weir_last_window_fired_timestamp_seconds",
                "Unix time at which a window last fired.",
                job_stage,
            ),
            open_windows: r.gauges("weir_open_windows", "Windows holding state.", job_stage),
            open_keys: r.gauges("weir_open_keys", "(window, key) accumulators held.", job_stage),
            commit_duration: r.histograms(
                "weir_commit_duration_seconds",
                "Duration of a commit cycle: write, wait for the broker, checkpoint, commit.",
                job_stage,
                COMMIT_BUCKETS,
            ),
            consumer_lag: r.gauges(
                "weir_consumer_lag",
                "Records between the committed offset and the end of a partition this runtime holds.",
                &["job", "stage", "topic", "partition"],
            ),
            assigned_partitions: r.gauges(
                "weir_assigned_partitions",
                "Partitions this runtime holds.",
                job_stage,
            ),
            rebalances: r.counters(
                "weir_rebalances_total",
                "Partitions assigned to, revoked from or lost by this runtime.",
                &["job", "stage", "kind"],
            ),
            stage_restarts: r.counters(
                "weir_stage_restarts_total",
                "Stages restarted from their last checkpoints after an error.",
                job_stage,
            ),
            group_rejoins: r.counters(
                "weir_group_rejoins_total",
                "Rejoins of a member the group left without a partition while input partitions \
                 went unconsumed.",
                job_stage,
            ),
            module_cache_hits: r.counter(
                "weir_module_cache_hits_total",
                "Module loads served by the in-memory cache of compiled modules.",
            ),
            module_cache_misses: r.counter(
                "weir_module_cache_misses_total",
                "Module loads that validated and compiled the component (or read the disk cache).",
            ),
            module_disk_cache_hits: r.counter(
                "weir_module_disk_cache_hits_total",
                "Module compilations answered by the on-disk compile cache.",
            ),
            jobs: r.gauges("weir_jobs", "Jobs known to this runtime, by state.", &["state"]),
            registry_caught_up: r.gauge(
                "weir_registry_caught_up",
                "1 once this runtime has read the registry topic to its end.",
            ),
            registry,
        };
        r.gauges("weir_build_info", "The running Weir version.", &["version"])
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        metrics
    }
}

/// Creates metrics and registers them. Names and help texts are constants, so a failure here
/// is a programming error caught by the tests; it is logged rather than panicking in service.
struct Register(Registry);

impl Register {
    fn add<M: prometheus::core::Collector + Clone + 'static>(&self, metric: M) -> M {
        if let Err(err) = self.0.register(Box::new(metric.clone())) {
            tracing::error!("cannot register a metric: {err}");
        }
        metric
    }

    fn counters(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.add(IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| broken(name, e)))
    }

    fn counter(&self, name: &str, help: &str) -> IntCounter {
        self.add(IntCounter::new(name, help).unwrap_or_else(|e| broken(name, e)))
    }

    fn gauges(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        self.add(IntGaugeVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| broken(name, e)))
    }

    fn gauges_f64(&self, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
        self.add(GaugeVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| broken(name, e)))
    }

    fn gauge(&self, name: &str, help: &str) -> Gauge {
        self.add(Gauge::new(name, help).unwrap_or_else(|e| broken(name, e)))
    }

    fn histograms(&self, name: &str, help: &str, labels: &[&str], buckets: &[f64]) -> HistogramVec {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.add(HistogramVec::new(opts, labels).unwrap_or_else(|e| broken(name, e)))
    }
}

/// A metric definition that prometheus refuses: only a bad constant in this file can cause it.
#[allow(clippy::panic)]
fn broken(name: &str, err: prometheus::Error) -> ! {
    panic!("metric {name} is defined wrongly: {err}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_registered_and_renders() {
        let m = metrics();
        m.records_in.with_label_values(&["wc", "map"]).inc_by(3);
        m.guest_call_duration
            .with_label_values(&["wc", "map"])
            .observe(0.002);
        m.consumer_lag
            .with_label_values(&["wc", "map", "lines", "0"])
            .set(7);
        m.module_cache_hits.inc();
        m.dead_letters_truncated.with_label_values(&["wc"]).inc();
        m.records_dropped.with_label_values(&["wc"]).inc();
        m.guest_log_lines_dropped.with_label_values(&["wc"]).inc();
        let text = render();
        for name in [
            "weir_records_in_total{job=\"wc\",stage=\"map\"} 3",
            "weir_guest_call_duration_seconds_bucket{call=\"map\",job=\"wc\",le=\"0.0025\"} 1",
            "weir_consumer_lag{job=\"wc\",partition=\"0\",stage=\"map\",topic=\"lines\"} 7",
            "weir_build_info{version=",
            "# TYPE weir_module_cache_misses_total counter",
            "# TYPE weir_registry_caught_up gauge",
            "weir_dead_letters_truncated_total{job=\"wc\"}",
            "weir_records_dropped_total{job=\"wc\"}",
            "weir_guest_log_lines_dropped_total{job=\"wc\"}",
        ] {
            assert!(text.contains(name), "missing {name} in:\n{text}");
        }
    }
}
