//! `weir job status NAME`: a job as the server describes it, printed like `kubectl describe`:
//! its fields (with the records in and out and the dead letters summed over the pool, and the
//! watermark), a row per runtime (version, revision, state, errors, when it last reported), a
//! row per runtime and stage (partitions, lag, records in and out, dead letters, open windows,
//! watermark, last window fired), the runtimes' recent errors and the revision history. The
//! console's job page shows the same figures; rates are for the console, which samples them.

use super::job::{ApiJob, module_label, number_or_none, or_config, spec_text};
use super::output::{self, NONE, Table, fields};
use serde::Deserialize;
use serde_json::Value;
use std::time::SystemTime;

/// A job's status, summed over runtimes and per runtime.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiJobStatus {
    /// Records not yet consumed, over all input partitions.
    pub lag: Option<i64>,
    /// Input partitions assigned to some runtime.
    pub assigned_partitions: Option<u64>,
    /// When a window last fired.
    pub last_window_fired_at: Option<String>,
    /// Per runtime.
    pub runtimes: Vec<ApiRuntimeStatus>,
}

/// What one runtime reports for a job.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiRuntimeStatus {
    /// `host/pid`.
    pub runtime: String,
    /// The revision it runs.
    pub revision: Option<u64>,
    /// The module id it runs.
    pub module: String,
    /// `running`, `starting`, `failed` or `paused`.
    pub state: String,
    /// Its stages.
    pub stages: Vec<ApiStageStatus>,
    /// Its recent errors.
    pub errors: Vec<ApiRuntimeError>,
    /// When it last reported.
    pub updated_at: String,
    /// The Weir version it runs (empty from servers before 0.1).
    pub version: String,
}

/// One stage (map or reduce) on one runtime.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiStageStatus {
    /// `map` or `reduce`.
    pub stage: String,
    /// `topic/partition` it is assigned.
    pub assigned: Vec<String>,
    /// Records not yet consumed on those partitions.
    pub lag: Option<i64>,
    /// Records read.
    pub records_in: Option<u64>,
    /// Records written (output, or partials to the shuffle).
    pub records_out: Option<u64>,
    /// Records set aside to the dead letters.
    pub dead_letters: Option<u64>,
    /// Windows holding state at the last commit.
    pub open_windows: Option<u64>,
    /// The stage's event-time watermark there (RFC 3339).
    pub watermark: Option<String>,
    /// When it last fired a window.
    pub last_window_fired_at: Option<String>,
}

/// An error a runtime reported.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiRuntimeError {
    /// When.
    pub at: String,
    /// What.
    pub message: String,
}

/// Indents every line by two spaces.
fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// The sum of a stage counter over every runtime and stage; `None` when no stage reports it.
fn total(job: &ApiJob, field: impl Fn(&ApiStageStatus) -> Option<u64>) -> Option<u64> {
    job.status
        .runtimes
        .iter()
        .flat_map(|r| &r.stages)
        .filter_map(field)
        .reduce(|a, b| a.saturating_add(b))
}

/// The job's watermark as the console shows it: the smallest its runtimes report for its last
/// stage (reduce, else map).
fn watermark(job: &ApiJob) -> Option<String> {
    let of = |stage: &str| {
        job.status
            .runtimes
            .iter()
            .flat_map(|r| &r.stages)
            .filter(|s| s.stage == stage)
            .filter_map(|s| s.watermark.clone())
            .min()
    };
    of("reduce").or_else(|| of("map"))
}

/// The stage whose output is the job's, as the console counts it: `reduce` when the job has
/// one (a windowed job with the shuffle, or one whose runtimes report a reduce stage), else
/// `map`.
fn output_stage(job: &ApiJob) -> &'static str {
    let shuffles = job.spec.get("shuffle").and_then(Value::as_bool) != Some(false)
        && job.spec.get("window").is_some_and(|window| !window.is_null());
    let reported = job
        .status
        .runtimes
        .iter()
        .flat_map(|r| &r.stages)
        .any(|s| s.stage == "reduce");
    if shuffles || reported { "reduce" } else { "map" }
}

/// `in, out, dead letters` over the pool, as the console counts them: in is what the map stage
/// read from the input, out what the job's last stage wrote (not the partials the map stage
/// writes for the reduce stage, which reads them again), dead letters those of every stage;
/// `<none>` before any runtime reported.
fn records(job: &ApiJob) -> String {
    let of = |stage: &'static str, field: fn(&ApiStageStatus) -> Option<u64>| {
        move |s: &ApiStageStatus| if s.stage == stage { field(s) } else { None }
    };
    let records_in = total(job, of("map", |s| s.records_in));
    let records_out = total(job, of(output_stage(job), |s| s.records_out));
    let dead = total(job, |s| s.dead_letters);
    if records_in.is_none() && records_out.is_none() && dead.is_none() {
        return NONE.to_string();
    }
    let n = |v: Option<u64>| v.unwrap_or(0);
    format!(
        "{} in, {} out, {} (counted by each runtime since it started the job)",
        n(records_in),
        n(records_out),
        super::output::count(n(dead), "dead letter", "dead letters")
    )
}

/// `status`: the job's fields, a row per runtime, a row per (runtime, stage), the runtimes'
/// errors, the history.
pub(super) fn describe(job: &ApiJob, now: SystemTime) -> String {
    let spec = |key: &str| spec_text(job, key);
    let last = &job.status.last_window_fired_at;
    let mut text = fields(&[
        ("Name", job.name.clone()),
        ("Revision", job.revision.to_string()),
        ("State", job.state.clone()),
        ("Source", job.source.clone()),
        (
            "Module",
            format!("{} ({})", module_label(&job.module), job.module.id),
        ),
        ("Input", spec("input")),
        ("Output", spec("output")),
        ("Window", spec("window")),
        ("Lag", number_or_none(job.status.lag)),
        ("Partitions", number_or_none(job.status.assigned_partitions)),
        ("Records", records(job)),
        ("Watermark", watermark(job).unwrap_or_else(|| NONE.to_string())),
        (
            "Last window",
            last.as_deref().map_or_else(
                || NONE.to_string(),
                |t| format!("{t} ({} ago)", output::age(t, now)),
            ),
        ),
        ("Created", or_config(job.created_at.as_deref(), &job.source)),
        ("Updated", or_config(job.updated_at.as_deref(), &job.source)),
    ]);

    let mut runtimes = Table::new(&[
        "RUNTIME", "VERSION", "REVISION", "STATE", "MODULE", "ERRORS", "SEEN",
    ]);
    let mut stages = Table::new(&[
        "RUNTIME",
        "STAGE",
        "ASSIGNED",
        "LAG",
        "RECORDS-IN",
        "RECORDS-OUT",
        "DEAD-LETTERS",
        "OPEN-WINDOWS",
        "WATERMARK",
        "LAST-WINDOW",
    ]);
    let mut errors = Table::new(&["RUNTIME", "AT", "MESSAGE"]);
    for rt in &job.status.runtimes {
        runtimes.row(vec![
            rt.runtime.clone(),
            if rt.version.is_empty() {
                NONE.to_string()
            } else {
                rt.version.clone()
            },
            number_or_none(rt.revision),
            rt.state.clone(),
            output::short_id(&rt.module),
            rt.errors.len().to_string(),
            output::age(&rt.updated_at, now),
        ]);
        for stage in &rt.stages {
            stages.row(vec![
                rt.runtime.clone(),
                stage.stage.clone(),
                output::partitions(&stage.assigned),
                number_or_none(stage.lag),
                number_or_none(stage.records_in),
                number_or_none(stage.records_out),
                number_or_none(stage.dead_letters),
                number_or_none(stage.open_windows),
                stage.watermark.clone().unwrap_or_else(|| NONE.to_string()),
                output::age_or_none(stage.last_window_fired_at.as_deref(), now),
            ]);
        }
        for error in &rt.errors {
            errors.row(vec![rt.runtime.clone(), error.at.clone(), error.message.clone()]);
        }
    }
    text.push_str("\nRuntimes:\n");
    if runtimes.is_empty() && job.state == "paused" {
        text.push_str("  <none>: the job is paused\n");
    } else if runtimes.is_empty() {
        text.push_str("  <none>: no runtime has reported this job yet\n");
    } else {
        text.push_str(&indent(&runtimes.render()));
    }
    if !stages.is_empty() {
        text.push_str("\nStages:\n");
        text.push_str(&indent(&stages.render()));
    }
    if !errors.is_empty() {
        text.push_str("\nErrors:\n");
        text.push_str(&indent(&errors.render()));
    }
    if !job.history.is_empty() {
        text.push_str("\nHistory:\n");
        text.push_str(&indent(&super::job_history::history_table(
            &job.history,
            job.revision,
        )));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::test_job::{ID, now, sample};
    use serde_json::json;

    #[test]
    fn status_shows_each_runtime_each_stage_with_its_figures_and_the_errors() {
        let job: ApiJob = serde_json::from_value(sample()).expect("parses");
        let text = describe(&job, now());
        let expected_rows = "\
Runtimes:
  RUNTIME      VERSION   REVISION   STATE      MODULE         ERRORS   SEEN
  host-a/101   0.1.0     2          running    3f2a1b9c0d12   0        2s
  host-b/202   <none>    2          starting   3f2a1b9c0d12   1        1s

Stages:
  RUNTIME      STAGE    ASSIGNED                LAG   RECORDS-IN   RECORDS-OUT   DEAD-LETTERS   OPEN-WINDOWS   WATERMARK                  LAST-WINDOW
  host-a/101   map      lines/0,2,10            5     1500         800           3              2              2026-11-25T09:59:40.000Z   10s
  host-a/101   reduce   weir.wc.repartition/1   0     40           20            0              1              2026-11-25T09:59:30.000Z   <none>

Errors:
  RUNTIME      AT                     MESSAGE
  host-b/202   2026-11-25T09:59:00Z   input topic missing

History:
  REVISION      AT                     MODULE         KEPT   CHANGES
  1             2026-11-25T09:00:00Z   aaaabbbbcccc   no     (created)
  2 (current)   2026-11-25T09:58:00Z   3f2a1b9c0d12   no     (not recorded)
";
        assert!(text.ends_with(expected_rows), "{text}");
        assert!(
            text.starts_with("Name:         wc\nRevision:     2\nState:        running\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!("Module:       word-count@3f2a1b9c0d12 ({ID})\n")),
            "{text}"
        );
        assert!(text.contains("Input:        lines\n"), "{text}");
        assert!(
            text.contains(
                "Records:      1500 in, 20 out, 3 dead letters (counted by each runtime since it started the job)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("Watermark:    2026-11-25T09:59:30.000Z\n"),
            "the reduce stage's: {text}"
        );
        assert!(
            text.contains("Last window:  2026-11-25T09:59:50Z (10s ago)\n"),
            "{text}"
        );
    }

    #[test]
    fn records_in_are_the_map_stages_and_out_the_last_stages() {
        let stage = |stage: &str, records_in: u64, records_out: u64| json!({"stage": stage, "records_in": records_in, "records_out": records_out});
        let job = |spec: Value, stages: Vec<Value>| -> ApiJob {
            serde_json::from_value(json!({"name": "wc", "spec": spec,
                "status": {"runtimes": [{"runtime": "h/1", "stages": stages}]}}))
            .expect("parses")
        };
        // 20 lines in, 900 partials from map to reduce, 173 results out.
        let shuffled = job(
            json!({"window": "tumbling:10s"}),
            vec![stage("map", 20, 900), stage("reduce", 900, 173)],
        );
        assert!(
            records(&shuffled).starts_with("20 in, 173 out, "),
            "{}",
            records(&shuffled)
        );
        // Before the reduce stage reports, nothing is out yet (not the partials).
        let early = job(json!({"window": "tumbling:10s"}), vec![stage("map", 20, 900)]);
        assert!(
            records(&early).starts_with("20 in, 0 out, "),
            "{}",
            records(&early)
        );
        // Without the shuffle the map stage writes the output.
        let unshuffled = job(
            json!({"window": "tumbling:10s", "shuffle": false}),
            vec![stage("map", 20, 173)],
        );
        assert!(
            records(&unshuffled).starts_with("20 in, 173 out, "),
            "{}",
            records(&unshuffled)
        );
    }

    #[test]
    fn a_job_no_runtime_reported_says_so_without_figures() {
        let job: ApiJob = serde_json::from_value(json!({"name": "wc"})).expect("parses");
        let text = describe(&job, now());
        assert!(text.contains("no runtime has reported this job yet"), "{text}");
        assert!(text.contains("Records:      <none>\n"), "{text}");
        assert!(text.contains("Watermark:    <none>\n"), "{text}");
        assert!(!text.contains("Stages:"), "{text}");
        let paused: ApiJob =
            serde_json::from_value(json!({"name": "wc", "state": "paused"})).expect("parses");
        assert!(describe(&paused, now()).contains("<none>: the job is paused\n"));
    }

    #[test]
    fn a_transform_without_watermark_uses_the_map_stage_or_none() {
        let job: ApiJob = serde_json::from_value(json!({"name": "t", "status": {"runtimes": [
            {"runtime": "h/1", "stages": [
                {"stage": "map", "assigned": ["in/0"], "records_in": 4, "watermark": "2026-11-25T09:00:00.000Z"},
                {"stage": "map", "assigned": ["in/1"], "records_in": 1, "watermark": "2026-11-25T08:00:00.000Z"}]}]}}))
        .expect("parses");
        assert_eq!(watermark(&job).as_deref(), Some("2026-11-25T08:00:00.000Z"));
        assert_eq!(
            records(&job),
            "5 in, 0 out, 0 dead letters (counted by each runtime since it started the job)"
        );
    }
}
