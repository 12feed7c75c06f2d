//! `weir job`: the jobs a pool of `weir serve` runtimes runs. `create`, `list`, `status`,
//! `update`, `pause`, `resume`, `rollback`, `history`, `reset`, `logs`, `rm`.
//!
//! A job's spec comes from flags (`--module M --input T --output O --window W ...`), from a
//! spec file (`-f spec.toml|spec.json|spec.yaml`, `-` for stdin; the same fields as a `[[job]]`
//! of `weir serve`'s config), or both, flags winning. `update` without `-f` changes only what
//! its flags name: it reads the job's current spec and sends it back with those fields changed.
//! The server validates specs and resolves module refs; this file builds the request and prints
//! the answer (`status` is printed by `job_status.rs`).
//!
//! The answers are read into `Api*` types of this file ([`ApiJob`], [`ApiJobStatus`]...):
//! lenient copies of what the v1 API sends (every field defaulted, so an older or newer server
//! still prints), named apart from the server's own strict types (`job::status`,
//! `registry::Revision`) they mirror.

use super::client::{Client, ClientArgs, segment};
use super::job_spec::{SpecFlags, check_complete, name_spec, overlay, read_spec};
use super::job_status::describe;
pub use super::job_status::{ApiJobStatus, ApiRuntimeError, ApiRuntimeStatus, ApiStageStatus};
use super::output::{self, NONE, OutputArgs, Table};
use anyhow::{Result, bail};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::SystemTime;
use ureq::http::Method;

/// Arguments of `weir job`.
#[derive(Debug, clap::Args)]
pub struct JobArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: JobCommand,
    /// Where the server is.
    #[command(flatten)]
    pub client: ClientArgs,
    /// How to print.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The `weir job` commands.
#[derive(Debug, clap::Subcommand)]
pub enum JobCommand {
    /// Create a job from flags or a spec file (-f).
    Create {
        /// The job's name (optional with -f when the file names it).
        name: Option<String>,
        /// The job's fields.
        #[command(flatten)]
        spec: Box<SpecFlags>,
    },
    /// List the jobs with their revision, state, module, lag and partitions.
    #[command(visible_alias = "ls")]
    List,
    /// Show a job: its spec, and per runtime its revision, partitions, lag and errors.
    #[command(visible_alias = "describe")]
    Status {
        /// The job's name.
        name: String,
    },
    /// Change a job (a new revision): only the fields the flags name, or the whole spec with -f.
    /// A new module takes over at a window boundary.
    Update {
        /// The job's name.
        name: String,
        /// The fields to change.
        #[command(flatten)]
        spec: Box<SpecFlags>,
    },
    /// Stop consuming; the job keeps its place and resumes where it stopped.
    Pause {
        /// The job's name.
        name: String,
    },
    /// Resume a paused job.
    Resume {
        /// The job's name.
        name: String,
    },
    /// Make a new revision with the previous revision's spec, or with a kept revision's
    /// (--to-revision; `weir job history` shows which are kept).
    Rollback {
        /// The job's name.
        name: String,
        /// The revision to return to (default: the one before the current).
        #[arg(long, value_name = "N")]
        to_revision: Option<u64>,
    },
    /// Every revision of a job: when, its module, whether its spec is kept for rollback, and
    /// what it changed in the spec, field by field.
    History {
        /// The job's name.
        name: String,
    },
    /// Move a job's input partitions (replay or skip input): its stages start afresh there,
    /// windows computed again from the records. A running job is refused unless --pause.
    Reset {
        /// The job's name.
        name: String,
        /// `earliest`, `latest`, a time (RFC 3339 like 2026-11-27T18:00:00Z, or ms since the
        /// epoch), or offsets (`0=120,1=300`, or `topic:0=120` for several input topics).
        #[arg(long, value_name = "earliest|latest|TIME|OFFSETS")]
        to: String,
        /// Pause a running job for the reset and resume it after.
        #[arg(long)]
        pause: bool,
    },
    /// The job's guest log lines, from every runtime: when, level, stage, partition and
    /// offsets of the batch, runtime, message. -f follows new ones (Ctrl-C stops).
    Logs {
        /// The job's name.
        name: String,
        /// Keep printing new lines as they come.
        #[arg(long, short = 'f')]
        follow: bool,
        /// How many of the newest lines to print first (1 to 1000).
        #[arg(long, short = 'n', default_value_t = 100)]
        limit: usize,
    },
    /// Delete a job.
    #[command(visible_alias = "delete")]
    Rm {
        /// The job's name.
        name: String,
    },
}

/// A job as the server describes it (v1); lenient, for printing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiJob {
    /// Its name.
    pub name: String,
    /// Its current revision.
    pub revision: u64,
    /// `running` or `paused`.
    pub state: String,
    /// `api` or `config`.
    pub source: String,
    /// The module its current revision runs.
    pub module: ApiModuleRef,
    /// Its spec (module resolved to an id).
    pub spec: Map<String, Value>,
    /// Created at (RFC 3339); none for a job of a runtime's config file (older servers send
    /// `null`, newer ones leave it out).
    pub created_at: Option<String>,
    /// Last changed at (RFC 3339); none for a config-file job.
    pub updated_at: Option<String>,
    /// Its revisions, oldest first.
    pub history: Vec<ApiRevision>,
    /// What the runtimes report.
    pub status: ApiJobStatus,
}

/// A module as a job names it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiModuleRef {
    /// sha256 id.
    pub id: String,
    /// Name, if any.
    pub name: Option<String>,
}

/// One revision of a job.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiRevision {
    /// Its number.
    pub revision: u64,
    /// Its module id.
    pub module: String,
    /// When it was made.
    pub at: String,
    /// What it changed in the spec of the revision before.
    pub changes: Vec<super::job_history::Change>,
    /// Whether its spec is kept for `rollback --to-revision`.
    pub kept: bool,
}

/// The `GET /v1/jobs` body.
#[derive(Debug, Deserialize)]
struct ApiJobList {
    jobs: Vec<ApiJob>,
}

/// Runs `weir job`.
pub fn job(args: &JobArgs) -> Result<()> {
    let client = Client::from_args(&args.client)?;
    let format = args.output.format;
    let now = SystemTime::now();
    let path = |name: &str, action: &str| format!("/jobs/{}{action}", segment(name));
    let (reply, done) = match &args.command {
        JobCommand::Create { name, spec } => {
            let mut body = match &spec.file {
                Some(file) => read_spec(file)?.into_map(),
                None => Map::new(),
            };
            overlay(&mut body, spec.fields().into_map());
            name_spec(&mut body, name.as_deref())?;
            check_complete(&body)?;
            (
                client.send_json(Method::POST, "/jobs", Some(&Value::Object(body)))?,
                "created",
            )
        }
        JobCommand::List => {
            let reply = client.get("/jobs")?;
            let list: ApiJobList = reply.parse("the job list")?;
            return output::print(&output::render(format, &reply.body, |wide| {
                list_table(&list.jobs, now, wide)
            })?);
        }
        JobCommand::Status { name } => {
            let reply = client.get(&path(name, ""))?;
            let job: ApiJob = reply.parse("the job")?;
            return output::print(&output::render(format, &reply.body, |_| describe(&job, now))?);
        }
        JobCommand::Update { name, spec } => {
            let fields = spec.fields().into_map();
            let mut body = match &spec.file {
                Some(file) => read_spec(file)?.into_map(),
                None if fields.is_empty() => {
                    bail!(
                        "nothing to change: give the fields to change (--module, --window, ...) or a spec file (-f)"
                    )
                }
                None => {
                    let job: ApiJob = client.get(&path(name, ""))?.parse("the job")?;
                    job.spec
                }
            };
            overlay(&mut body, fields);
            name_spec(&mut body, Some(name))?;
            (
                client.send_json(Method::PUT, &path(name, ""), Some(&Value::Object(body)))?,
                "updated",
            )
        }
        JobCommand::Pause { name } => (
            client.send_json(Method::POST, &path(name, "/pause"), None)?,
            "paused",
        ),
        JobCommand::Resume { name } => (
            client.send_json(Method::POST, &path(name, "/resume"), None)?,
            "resumed",
        ),
        JobCommand::Rollback {
            name,
            to_revision: None,
        } => (
            client.send_json(Method::POST, &path(name, "/rollback"), None)?,
            "rolled back to the previous revision's spec",
        ),
        JobCommand::Rollback {
            name,
            to_revision: Some(to),
        } => (
            client.send_json(
                Method::POST,
                &path(name, "/rollback"),
                Some(&serde_json::json!({ "to_revision": to })),
            )?,
            "rolled back to an earlier revision's spec",
        ),
        JobCommand::History { name } => {
            let reply = client.get(&path(name, ""))?;
            let job: ApiJob = reply.parse("the job")?;
            let history = serde_json::json!({ "name": job.name, "revision": job.revision, "history": reply.body.get("history") });
            return output::print(&output::render(format, &history, |_| {
                super::job_history::history_table(&job.history, job.revision)
            })?);
        }
        JobCommand::Reset { name, to, pause } => {
            let body = serde_json::json!({ "to": to, "pause": pause });
            let reply = client.send_json(Method::POST, &path(name, "/reset"), Some(&body))?;
            let reset: super::job_reset::ResetReply = reply.parse("the reset")?;
            return output::print(&output::render(format, &reply.body, |_| reset.summary())?);
        }
        JobCommand::Logs { name, follow, limit } => {
            return super::job_logs::logs(&client, &path(name, "/logs"), *limit, *follow, format);
        }
        JobCommand::Rm { name } => {
            client.delete(&path(name, ""))?;
            let value = serde_json::json!({ "deleted": name });
            return output::print(&output::render(format, &value, |_| {
                format!("job {name} deleted\n")
            })?);
        }
    };
    let job: ApiJob = reply.parse("the request")?;
    output::print(&output::render(format, &reply.body, |_| changed(&job, done))?)
}

/// The sentence after a change: `job wc updated: revision 2, running, module word-count@3f2a…`.
fn changed(job: &ApiJob, done: &str) -> String {
    format!(
        "job {} {done}: revision {}, {}, module {}\n",
        job.name,
        job.revision,
        job.state,
        module_label(&job.module)
    )
}

/// `name@shortid`, or the short id of an unnamed module.
pub(super) fn module_label(module: &ApiModuleRef) -> String {
    match module.name.as_deref() {
        Some(name) if !name.is_empty() => format!("{name}@{}", output::short_id(&module.id)),
        _ => output::short_id(&module.id),
    }
}

/// A time, or what stands for it: a config-file job has no creation or change time.
pub(super) fn or_config(time: Option<&str>, source: &str) -> String {
    match time {
        Some(time) => time.to_string(),
        None if source == "config" => format!("{NONE} (a runtime's config file)"),
        None => NONE.to_string(),
    }
}

pub(super) fn number_or_none<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| NONE.to_string(), |v| v.to_string())
}

/// `NAME REVISION STATE MODULE LAG PARTITIONS LAST-WINDOW AGE`, one row per job; `wide` adds
/// `INPUT OUTPUT WINDOW SOURCE RUNTIMES ERRORS`.
fn list_table(jobs: &[ApiJob], now: SystemTime, wide: bool) -> String {
    let mut headers = vec![
        "NAME",
        "REVISION",
        "STATE",
        "MODULE",
        "LAG",
        "PARTITIONS",
        "LAST-WINDOW",
        "AGE",
    ];
    if wide {
        headers.extend(["INPUT", "OUTPUT", "WINDOW", "SOURCE", "RUNTIMES", "ERRORS"]);
    }
    let mut table = Table::new(&headers);
    for job in jobs {
        let mut row = vec![
            job.name.clone(),
            job.revision.to_string(),
            job.state.clone(),
            module_label(&job.module),
            number_or_none(job.status.lag),
            number_or_none(job.status.assigned_partitions),
            output::age_or_none(job.status.last_window_fired_at.as_deref(), now),
            output::age_or_none(job.created_at.as_deref(), now),
        ];
        if wide {
            let errors: usize = job.status.runtimes.iter().map(|r| r.errors.len()).sum();
            row.extend([
                spec_text(job, "input"),
                spec_text(job, "output"),
                spec_text(job, "window"),
                job.source.clone(),
                job.status.runtimes.len().to_string(),
                errors.to_string(),
            ]);
        }
        table.row(row);
    }
    table.render()
}

/// A field of the job's spec as a cell: text as it is, a list comma-separated, `<none>` when
/// absent.
pub(super) fn spec_text(job: &ApiJob, key: &str) -> String {
    match job.spec.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Null) | None => NONE.to_string(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::test_job::{OLD, now, sample};
    use crate::cli::test_parser::{Cli, Command};
    use clap::Parser;
    use serde_json::json;

    #[test]
    fn the_job_list_has_kubectl_columns() {
        let job: ApiJob = serde_json::from_value(sample()).expect("the contract's job parses");
        let fresh: ApiJob = serde_json::from_value(json!({
            "name": "fresh", "revision": 1, "state": "paused", "module": {"id": OLD, "name": null},
            "created_at": "2026-11-25T09:59:30Z", "status": {"runtimes": []}
        }))
        .expect("a job without status figures parses");
        assert_eq!(
            list_table(&[job.clone(), fresh.clone()], now(), false),
            "NAME    REVISION   STATE     MODULE                    LAG      PARTITIONS   LAST-WINDOW   AGE\n\
             wc      2          running   word-count@3f2a1b9c0d12   12       6            10s           60m\n\
             fresh   1          paused    aaaabbbbcccc              <none>   <none>       <none>        30s\n"
        );
        let wide = list_table(&[job, fresh], now(), true);
        let mut lines = wide.lines();
        assert!(
            lines.next().is_some_and(
                |h| h.ends_with("AGE   INPUT    OUTPUT   WINDOW         SOURCE   RUNTIMES   ERRORS")
            ),
            "{wide}"
        );
        assert!(
            lines
                .next()
                .is_some_and(|r| r.ends_with("60m   lines    counts   tumbling:10s   api      2          1")),
            "{wide}"
        );
        assert!(
            lines
                .next()
                .is_some_and(|r| r.ends_with("30s   <none>   <none>   <none>                  0          0")),
            "{wide}"
        );
    }

    #[test]
    fn a_config_file_job_without_creation_time_lists_and_describes() {
        // What `weir dev` and `weir serve --config` answered before 0.1: `created_at: null`.
        for job in [
            json!({"name": "word-count", "revision": 0, "state": "running", "source": "config",
                   "module": {"id": "word-count", "name": null},
                   "created_at": null, "updated_at": null, "status": {"runtimes": []}}),
            json!({"name": "word-count", "revision": 0, "state": "running", "source": "config",
                   "module": {"id": "word-count"}, "status": {"runtimes": []}}),
        ] {
            let reply: ApiJobList = serde_json::from_value(json!({ "jobs": [job.clone()] }))
                .expect("a job list with a config-file job parses");
            let table = list_table(&reply.jobs, now(), false);
            assert!(
                table.ends_with("word-count   0          running   word-count   <none>   <none>       <none>        <none>\n"),
                "{table}"
            );
            let parsed: ApiJob = serde_json::from_value(job).expect("parses");
            let text = describe(&parsed, now());
            assert!(
                text.contains("Created:      <none> (a runtime's config file)\n"),
                "{text}"
            );
        }
    }

    #[test]
    fn changes_print_one_sentence() {
        let job: ApiJob = serde_json::from_value(sample()).expect("parses");
        assert_eq!(
            changed(&job, "updated"),
            "job wc updated: revision 2, running, module word-count@3f2a1b9c0d12\n"
        );
    }

    #[test]
    fn dash_o_is_the_format_and_a_topic_there_gets_a_hint() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(
                ["weir", "job", "create", "wc", "--module", "m"]
                    .iter()
                    .chain(args),
            )
        };
        let err = parse(&["--output", "counts"]).expect_err("counts is no format");
        assert!(err.to_string().contains("--output-topic"), "{err}");
        for args in [&["-o", "wide"][..], &["--output", "wide"], &["--format", "wide"]] {
            let cli = parse(args).expect("a format");
            let Command::Job(job) = cli.command else {
                panic!("not a job command")
            };
            assert_eq!(job.output.format, output::Format::Wide, "{args:?}");
        }
        let module = Cli::try_parse_from(["weir", "module", "list", "--output", "json"]).expect("parses");
        let Command::Module(module) = module.command else {
            panic!("not a module command")
        };
        assert_eq!(module.output.format, output::Format::Json);
    }

    #[test]
    fn create_flags_parse_beside_the_output_format() {
        let cli = Cli::try_parse_from([
            "weir",
            "job",
            "create",
            "wc",
            "--module",
            "word-count",
            "--input",
            "a,b",
            "--input",
            "c",
            "--output-topic",
            "counts",
            "--window",
            "hopping:10s,5s",
            "--memory",
            "64MiB",
            "--shuffle",
            "false",
            "-o",
            "json",
            "--server",
            "http://h:1",
        ])
        .expect("parses");
        let Command::Job(args) = cli.command else {
            panic!("not a job command")
        };
        assert_eq!(args.output.format, output::Format::Json);
        assert_eq!(args.client.server.as_deref(), Some("http://h:1"));
        let JobCommand::Create { name, spec } = args.command else {
            panic!("not create")
        };
        assert_eq!(name.as_deref(), Some("wc"));
        assert_eq!(
            Value::Object(spec.fields().into_map()),
            json!({"module": "word-count", "input": ["a", "b", "c"], "output": "counts",
                   "window": "hopping:10s,5s", "shuffle": false, "limits": {"memory": "64MiB"}})
        );
    }
}
