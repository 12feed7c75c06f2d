//! `weir runtime`: the runtimes of a pool, as the server reads their heartbeats
//! (`GET /v1/runtimes`). `list` prints each runtime with its state (`ready`, `unready`,
//! `stopping`, `stopped`, `missing`), version, jobs and partitions, and when it was last heard
//! from; runtimes running no job are listed too. The server judges the states; this file asks
//! and prints.

use super::client::{Client, ClientArgs};
use super::output::{self, NONE, OutputArgs, Table};
use anyhow::Result;
use serde::Deserialize;
use std::time::SystemTime;

/// Arguments of `weir runtime`.
#[derive(Debug, clap::Args)]
pub struct RuntimeArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: RuntimeCommand,
    /// Where the server is.
    #[command(flatten)]
    pub client: ClientArgs,
    /// How to print.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The `weir runtime` commands.
#[derive(Debug, clap::Subcommand)]
pub enum RuntimeCommand {
    /// List the runtimes of the pool (those heard from in the last 10 minutes), with their
    /// state, version, jobs and partitions, whether or not they run a job.
    #[command(visible_alias = "ls")]
    List,
}

/// A runtime as the server describes it (v1); lenient, for printing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiRuntime {
    /// `host/pid`.
    pub runtime: String,
    /// `ready`, `unready`, `stopping`, `stopped` or `missing`.
    pub state: String,
    /// Whether it is the runtime that answered.
    pub this: bool,
    /// Its host.
    pub host: String,
    /// Its process id.
    pub pid: Option<u32>,
    /// The Weir version it runs.
    pub version: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// The URL of its API.
    pub api: Option<String>,
    /// When it was last heard from (RFC 3339).
    pub last_seen: String,
    /// The jobs it runs.
    pub jobs: Vec<ApiHeldJob>,
}

/// A job a runtime runs, with the partitions each stage holds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiHeldJob {
    /// The job.
    pub job: String,
    /// The job's state on that runtime.
    pub state: String,
    /// Its stages.
    pub stages: Vec<ApiHeldStage>,
    /// Recent errors of the job on that runtime.
    pub errors: usize,
}

/// One stage of a held job.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiHeldStage {
    /// `map` or `reduce`.
    pub stage: String,
    /// `topic/partition` it holds.
    pub assigned: Vec<String>,
}

/// The `GET /v1/runtimes` body.
#[derive(Debug, Deserialize)]
struct ApiRuntimeList {
    runtimes: Vec<ApiRuntime>,
}

/// Runs `weir runtime`.
pub fn runtime(args: &RuntimeArgs) -> Result<()> {
    let client = Client::from_args(&args.client)?;
    let now = SystemTime::now();
    match args.command {
        RuntimeCommand::List => {
            let reply = client.get("/runtimes")?;
            let list: ApiRuntimeList = reply.parse("the runtime list")?;
            output::print(&output::render(args.output.format, &reply.body, |wide| {
                list_table(&list.runtimes, now, wide)
            })?)
        }
    }
}

/// The jobs' partitions as one cell: `wc:map=lines/0,1;wc:reduce=weir.wc.repartition/0`, a
/// job without partitions as its name alone.
fn holding(runtime: &ApiRuntime) -> String {
    let mut held = Vec::new();
    for job in &runtime.jobs {
        let stages: Vec<String> = job
            .stages
            .iter()
            .filter(|s| !s.assigned.is_empty())
            .map(|s| format!("{}:{}={}", job.job, s.stage, output::partitions(&s.assigned)))
            .collect();
        if stages.is_empty() {
            held.push(job.job.clone());
        } else {
            held.extend(stages);
        }
    }
    if held.is_empty() {
        NONE.to_string()
    } else {
        held.join(";")
    }
}

/// `RUNTIME STATE VERSION JOBS PARTITIONS LAST-SEEN AGE`, one row per runtime; `wide` adds
/// `HOST API STARTED ERRORS HOLDING` (the partitions of each job and stage).
fn list_table(runtimes: &[ApiRuntime], now: SystemTime, wide: bool) -> String {
    let mut headers = vec![
        "RUNTIME",
        "STATE",
        "VERSION",
        "JOBS",
        "PARTITIONS",
        "LAST-SEEN",
        "AGE",
    ];
    if wide {
        headers.extend(["HOST", "API", "STARTED", "ERRORS", "HOLDING"]);
    }
    let mut table = Table::new(&headers);
    for rt in runtimes {
        let jobs: Vec<String> = rt.jobs.iter().map(|j| j.job.clone()).collect();
        let partitions: usize = rt
            .jobs
            .iter()
            .flat_map(|j| &j.stages)
            .map(|s| s.assigned.len())
            .sum();
        let mut row = vec![
            rt.runtime.clone(),
            rt.state.clone(),
            rt.version.clone(),
            output::list_or_none(&jobs),
            partitions.to_string(),
            output::age(&rt.last_seen, now),
            output::age(&rt.started_at, now),
        ];
        if wide {
            let errors: usize = rt.jobs.iter().map(|j| j.errors).sum();
            row.extend([
                rt.host.clone(),
                rt.api.clone().unwrap_or_else(|| NONE.to_string()),
                rt.started_at.clone(),
                errors.to_string(),
                holding(rt),
            ]);
        }
        table.row(row);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::test_job::now;
    use crate::cli::test_parser::{Cli, Command};
    use clap::Parser;
    use serde_json::json;

    /// Two runtimes as the v1 contract shows them: one running a job, one running none.
    fn sample() -> serde_json::Value {
        json!({"runtimes": [
            {"runtime": "host-a/101", "state": "ready", "this": true, "host": "host-a", "pid": 101,
             "version": "0.1.0", "started_at": "2026-11-25T09:00:00Z", "api": "http://host-a:8080",
             "last_seen": "2026-11-25T09:59:58.500Z",
             "jobs": [{"job": "wc", "revision": 2, "state": "running", "errors": 1, "stages": [
                {"stage": "map", "assigned": ["lines/2", "lines/0"]},
                {"stage": "reduce", "assigned": ["weir.wc.repartition/1"]}]}]},
            {"runtime": "host-b/202", "state": "missing", "this": false, "host": "host-b", "pid": 202,
             "version": "0.1.0", "started_at": "2026-11-25T09:58:00Z", "api": null,
             "last_seen": "2026-11-25T09:59:00Z", "jobs": []}
        ]})
    }

    #[test]
    fn the_runtime_list_has_kubectl_columns_and_a_runtime_without_jobs() {
        let list: ApiRuntimeList = serde_json::from_value(sample()).expect("the contract's list parses");
        assert_eq!(
            list_table(&list.runtimes, now(), false),
            "RUNTIME      STATE     VERSION   JOBS     PARTITIONS   LAST-SEEN   AGE\n\
             host-a/101   ready     0.1.0     wc       3            1s          60m\n\
             host-b/202   missing   0.1.0     <none>   0            60s         2m\n"
        );
        let wide = list_table(&list.runtimes, now(), true);
        let mut lines = wide.lines();
        assert!(
            lines.next().is_some_and(|h| h
                .ends_with("AGE   HOST     API                  STARTED                ERRORS   HOLDING")),
            "{wide}"
        );
        assert!(
            lines.next().is_some_and(|r| r.ends_with(
                "host-a   http://host-a:8080   2026-11-25T09:00:00Z   1        \
                 wc:map=lines/0,2;wc:reduce=weir.wc.repartition/1"
            )),
            "{wide}"
        );
        assert!(
            lines.next().is_some_and(
                |r| r.ends_with("host-b   <none>               2026-11-25T09:58:00Z   0        <none>")
            ),
            "{wide}"
        );
    }

    #[test]
    fn a_job_holding_no_partition_is_named_alone_and_odd_fields_are_tolerated() {
        let rt: ApiRuntime = serde_json::from_value(json!({
            "runtime": "h/1", "jobs": [{"job": "idle", "stages": [{"stage": "map", "assigned": []}]}],
            "future_field": 1
        }))
        .expect("parses");
        assert_eq!(holding(&rt), "idle");
        assert_eq!(rt.pid, None);
    }

    #[test]
    fn list_parses_with_its_alias_and_the_output_format() {
        let cli = Cli::try_parse_from(["weir", "runtime", "ls", "-o", "wide", "--server", "http://h:1"])
            .expect("parses");
        let Command::Runtime(args) = cli.command else {
            panic!("not a runtime command")
        };
        assert!(matches!(args.command, RuntimeCommand::List));
        assert_eq!(args.output.format, output::Format::Wide);
        assert_eq!(args.client.server.as_deref(), Some("http://h:1"));
    }
}
