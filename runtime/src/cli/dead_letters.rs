//! `weir dead-letters`: a job's dead letters, over the API. `list` (the newest, as a table or
//! the server's JSON), `tail` (the newest, then each new one as it comes, until Ctrl-C) and
//! `replay` (publish them back to the job's input once its module is fixed).

use super::client::{Client, ClientArgs, segment};
use super::output::{self, Format, NONE, OutputArgs, Table, count};
use anyhow::Result;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use ureq::http::Method;

/// Arguments of `weir dead-letters`.
#[derive(Debug, clap::Args)]
pub struct DeadLettersArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DeadLettersCommand,
    /// Where the server is.
    #[command(flatten)]
    pub client: ClientArgs,
    /// How to print.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Which dead letters.
#[derive(Debug, Clone, clap::Args)]
pub struct Selection {
    /// Only these reasons, comma-separated: rejected, late, timeout, memory_limit,
    /// output_limit, panic, trap, contract, undecodable, too_large.
    #[arg(long)]
    pub reason: Option<String>,
    /// Only those set aside since: a duration back from now (10m), an RFC 3339 time or ms.
    #[arg(long)]
    pub since: Option<String>,
}

/// The `weir dead-letters` commands.
#[derive(Debug, clap::Subcommand)]
pub enum DeadLettersCommand {
    /// The newest dead letters of a job, oldest first: when, why, where the record was read,
    /// the error and the head of the record.
    #[command(visible_alias = "ls")]
    List {
        /// The job's name.
        job: String,
        /// Which ones.
        #[command(flatten)]
        selection: Selection,
        /// How many (1 to 1000).
        #[arg(long, short = 'n', default_value_t = 100)]
        limit: usize,
    },
    /// The newest dead letters of a job, then each new one as it is set aside (Ctrl-C stops).
    Tail {
        /// The job's name.
        job: String,
        /// Which ones.
        #[command(flatten)]
        selection: Selection,
        /// How many of the existing ones to print first.
        #[arg(long, short = 'n', default_value_t = 10)]
        limit: usize,
    },
    /// Publish a job's dead letters back to its input topics (original keys, values,
    /// timestamps and headers), for the fixed module to process: those no module of the job
    /// will read again, and never one twice.
    Replay {
        /// The job's name.
        job: String,
        /// Which ones (default: every reason but `late`).
        #[command(flatten)]
        selection: Selection,
        /// Say what would be replayed; publish nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// One dead letter as the server shows it (lenient, for printing).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct ApiDeadLetter {
    partition: i32,
    offset: i64,
    at: Option<String>,
    reason: String,
    stage: Option<String>,
    error: Option<String>,
    module: Option<String>,
    source: Option<Source>,
    key: Option<String>,
    value: Option<String>,
    value_bytes: usize,
    value_truncated: bool,
    truncated: Option<String>,
    replayed: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Source {
    topic: String,
    partition: i32,
    offset: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Page {
    topic: String,
    dead_letters: Vec<ApiDeadLetter>,
    next: String,
    more: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Replay {
    replayed: usize,
    topics: BTreeMap<String, usize>,
    skipped: Vec<Skip>,
    filtered_out: usize,
    dry_run: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Skip {
    why: String,
    count: usize,
}

/// Percent-encodes a query value.
fn query(pairs: &[(&str, Option<String>)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", segment(v))))
        .collect();
    if encoded.is_empty() {
        String::new()
    } else {
        format!("?{}", encoded.join("&"))
    }
}

/// Runs `weir dead-letters`.
pub fn dead_letters(args: &DeadLettersArgs) -> Result<()> {
    let client = Client::from_args(&args.client)?;
    let format = args.output.format;
    let path = |job: &str| format!("/jobs/{}/dead-letters", segment(job));
    match &args.command {
        DeadLettersCommand::List {
            job,
            selection,
            limit,
        } => {
            let reply = client.get(&format!(
                "{}{}",
                path(job),
                query(&[
                    ("limit", Some(limit.to_string())),
                    ("reason", selection.reason.clone()),
                    ("since", selection.since.clone()),
                ])
            ))?;
            let page: Page = reply.parse("the dead-letter list")?;
            output::print(&output::render(format, &reply.body, |wide| {
                if page.dead_letters.is_empty() {
                    return format!("no dead letters in `{}`{}\n", page.topic, filtered(selection));
                }
                let mut text = table(&page.dead_letters, wide);
                if page.more {
                    text.push_str(&format!(
                        "(older ones not shown: --limit {} shows up to 1000)\n",
                        page.dead_letters.len()
                    ));
                }
                text
            })?)
        }
        DeadLettersCommand::Tail {
            job,
            selection,
            limit,
        } => tail(&client, &path(job), selection, *limit, format),
        DeadLettersCommand::Replay {
            job,
            selection,
            dry_run,
        } => {
            let body = json!({
                "reason": selection.reason,
                "since": selection.since,
                "dry_run": dry_run,
            });
            let reply = client.send_json(Method::POST, &format!("{}/replay", path(job)), Some(&body))?;
            let replay: Replay = reply.parse("the replay")?;
            output::print(&output::render(format, &reply.body, |_| {
                replay_summary(job, &replay)
            })?)
        }
    }
}

fn filtered(selection: &Selection) -> String {
    let mut parts = Vec::new();
    if let Some(reason) = &selection.reason {
        parts.push(format!("reason {reason}"));
    }
    if let Some(since) = &selection.since {
        parts.push(format!("since {since}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// `job wc: replayed 30 dead letters to lines; skipped 2: ...`.
fn replay_summary(job: &str, replay: &Replay) -> String {
    let verb = if replay.dry_run {
        "would replay"
    } else {
        "replayed"
    };
    let mut text = format!(
        "job {job}: {verb} {}",
        count(replay.replayed as u64, "dead letter", "dead letters")
    );
    if !replay.topics.is_empty() {
        let topics: Vec<String> = replay.topics.iter().map(|(t, n)| format!("{n} to {t}")).collect();
        text.push_str(&format!(" ({})", topics.join(", ")));
    }
    text.push('\n');
    for skip in &replay.skipped {
        text.push_str(&format!("  skipped {}: {}\n", skip.count, skip.why));
    }
    if replay.filtered_out > 0 {
        text.push_str(&format!(
            "  {} left out by --reason/--since (the default leaves out `late`)\n",
            replay.filtered_out
        ));
    }
    text
}

fn source(dead: &ApiDeadLetter) -> String {
    dead.source.as_ref().map_or_else(
        || NONE.to_string(),
        |s| format!("{}/{}@{}", s.topic, s.partition, s.offset),
    )
}

fn value_cell(dead: &ApiDeadLetter, width: usize) -> String {
    let Some(value) = &dead.value else {
        return NONE.to_string();
    };
    let head: String = value.chars().take(width).collect();
    if dead.value_truncated || value.chars().count() > width {
        format!("{head}…")
    } else {
        head
    }
}

fn error_cell(dead: &ApiDeadLetter, width: usize) -> String {
    let error = dead.error.as_deref().unwrap_or(NONE).replace('\n', " ");
    if error.chars().count() > width {
        format!("{}…", error.chars().take(width).collect::<String>())
    } else {
        error
    }
}

/// `AT REASON SOURCE ERROR VALUE`; `wide` adds `STAGE KEY BYTES MODULE POSITION TRUNCATED
/// REPLAYED` and shows the error and value whole.
fn table(dead_letters: &[ApiDeadLetter], wide: bool) -> String {
    let mut headers = vec!["AT", "REASON", "SOURCE", "ERROR", "VALUE"];
    if wide {
        headers.extend([
            "STAGE",
            "KEY",
            "BYTES",
            "MODULE",
            "POSITION",
            "TRUNCATED",
            "REPLAYED",
        ]);
    }
    let (error_width, value_width) = if wide { (usize::MAX, 200) } else { (60, 40) };
    let mut table = Table::new(&headers);
    for dead in dead_letters {
        let mut row = vec![
            dead.at.clone().unwrap_or_else(|| NONE.to_string()),
            dead.reason.clone(),
            source(dead),
            error_cell(dead, error_width),
            value_cell(dead, value_width),
        ];
        if wide {
            row.extend([
                dead.stage.clone().unwrap_or_else(|| NONE.to_string()),
                dead.key.clone().unwrap_or_else(|| NONE.to_string()),
                dead.value_bytes.to_string(),
                dead.module
                    .as_deref()
                    .map_or_else(|| NONE.to_string(), output::short_id),
                format!("{}@{}", dead.partition, dead.offset),
                dead.truncated.clone().unwrap_or_else(|| "no".to_string()),
                if dead.replayed { "yes" } else { "no" }.to_string(),
            ]);
        }
        table.row(row);
    }
    table.render()
}

/// One line per dead letter, for `tail` (a table cannot align rows still to come).
fn tail_line(dead: &ApiDeadLetter) -> String {
    format!(
        "{}  {}  {}  {}  {}\n",
        dead.at.as_deref().unwrap_or(NONE),
        dead.reason,
        source(dead),
        error_cell(dead, 80),
        value_cell(dead, 60)
    )
}

/// Prints the newest `limit` dead letters, then polls for new ones every second.
fn tail(client: &Client, path: &str, selection: &Selection, limit: usize, format: Format) -> Result<()> {
    let print_page = |page: &Page, raw: &Value| -> Result<()> {
        for (dead, raw) in page.dead_letters.iter().zip(
            raw.get("dead_letters")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        ) {
            match format {
                Format::Json | Format::Yaml => output::print(&format!("{raw}\n"))?,
                Format::Table | Format::Wide => output::print(&tail_line(dead))?,
            }
        }
        Ok(())
    };
    let filters = |extra: (&str, Option<String>)| {
        query(&[
            extra,
            ("reason", selection.reason.clone()),
            ("since", selection.since.clone()),
        ])
    };
    let first = client.get(&format!(
        "{path}{}",
        filters(("limit", Some(limit.max(1).to_string())))
    ))?;
    let page: Page = first.parse("the dead-letter list")?;
    if limit > 0 {
        print_page(&page, &first.body)?;
    }
    let mut next = page.next;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let reply = client.get(&format!("{path}{}", filters(("after", Some(next.clone())))))?;
        let page: Page = reply.parse("the dead-letter list")?;
        print_page(&page, &reply.body)?;
        next = page.next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_row_says_when_why_where_and_what() {
        let dead = ApiDeadLetter {
            at: Some("2026-11-27T18:00:00.000Z".into()),
            reason: "rejected".into(),
            error: Some("this record is refused on purpose".into()),
            source: Some(Source {
                topic: "lines".into(),
                partition: 2,
                offset: 41,
            }),
            value: Some("x".repeat(50)),
            value_bytes: 50,
            ..ApiDeadLetter::default()
        };
        let text = table(std::slice::from_ref(&dead), false);
        assert!(text.starts_with("AT"), "{text}");
        assert!(
            text.contains("lines/2@41") && text.contains("refused on purpose"),
            "{text}"
        );
        assert!(text.contains(&format!("{}…", "x".repeat(40))), "{text}");
        let wide = table(&[dead], true);
        assert!(
            wide.contains("REPLAYED") && wide.contains(&"x".repeat(50)),
            "{wide}"
        );
    }

    #[test]
    fn query_values_are_encoded_and_absent_ones_left_out() {
        assert_eq!(
            query(&[("reason", Some("rejected,panic".into())), ("since", None)]),
            "?reason=rejected%2Cpanic"
        );
        assert_eq!(query(&[("since", None)]), "");
    }
}
