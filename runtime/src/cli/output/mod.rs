//! How the control-plane commands (`weir module`, `weir job`, `weir runtime`) print what the
//! server returned: `-o table` (the default: aligned columns, kubectl's habit), `-o wide` (more
//! columns), `-o json` or `-o yaml` (the server's own object, nothing dropped, for scripts).
//!
//! `-o`/`--output` is the format everywhere, as in kubectl; a job's output topic is
//! `--output-topic`. A value that is no format (`-o counts`) is refused with that hint.
//!
//! This file owns the formats and the small cell formatters (ages, sizes, short ids, counts,
//! partition lists). It does not know what a module, a job or a runtime is: `module.rs`,
//! `job.rs` and `runtime.rs` build their tables from it. Records (what `weir run` writes and
//! `weir consume` reads) print through [`records`].

pub mod records;

use anyhow::{Context, Result};
use serde_json::Value;
use std::io::Write;
use std::time::{Duration, SystemTime};

/// What a control-plane command prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// The table with more columns (lists), as `kubectl get -o wide`.
    Wide,
    /// The server's JSON, pretty-printed.
    Json,
    /// The server's object as YAML.
    Yaml,
}

impl Format {
    /// Every format, as `-o` names them.
    pub const NAMES: [&'static str; 4] = ["table", "wide", "json", "yaml"];
}

/// Parses `-o`: a format, or an error that says what `-o` is and where a topic goes.
pub fn parse_format(text: &str) -> Result<Format, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "table" => Ok(Format::Table),
        "wide" => Ok(Format::Wide),
        "json" => Ok(Format::Json),
        "yaml" | "yml" => Ok(Format::Yaml),
        _ => Err(format!(
            "`{text}` is not an output format: -o/--output is how results print ({}); a job's \
             output topic is --output-topic",
            Format::NAMES.join(", ")
        )),
    }
}

/// The `-o` option shared by `weir module`, `weir job` and `weir runtime`.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// How to print: `table` for people, `wide` for more columns, `json` or `yaml` for scripts
    /// (the server's object). (A job's output topic is --output-topic.)
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "format",
        global = true,
        value_name = "table|wide|json|yaml",
        value_parser = parse_format,
        default_value = "table"
    )]
    pub format: Format,
}

/// Renders `value` as JSON or YAML, or calls `table` for the people's view (with `true` for
/// `-o wide`).
pub fn render(format: Format, value: &Value, table: impl FnOnce(bool) -> String) -> Result<String> {
    Ok(match format {
        Format::Table => table(false),
        Format::Wide => table(true),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(value).context("cannot print JSON")?;
            text.push('\n');
            text
        }
        Format::Yaml => serde_norway::to_string(value).context("cannot print YAML")?,
    })
}

/// Writes `text` to stdout.
pub fn print(text: &str) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes()).context("write to stdout")?;
    out.flush().context("write to stdout")
}

/// Columns aligned like `kubectl get`: upper-case headers, each column as wide as its widest
/// cell plus three spaces, the last one unpadded.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells print empty, extra cells are kept.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, each line ending in a newline.
    pub fn render(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, cell) in line.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut text = String::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let mut out = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = line.get(i).map(String::as_str).unwrap_or("");
                out.push_str(cell);
                if i + 1 < columns {
                    let pad = width - cell.chars().count() + 3;
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            text.push_str(out.trim_end());
            text.push('\n');
        }
        text
    }
}

/// `Label:  value` lines with the values aligned, as `kubectl describe` prints.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let mut text = String::new();
    for (key, value) in pairs {
        let pad = width - key.chars().count() + 2;
        text.push_str(key);
        text.push(':');
        text.extend(std::iter::repeat_n(' ', pad));
        text.push_str(value);
        let trimmed = text.trim_end().len();
        text.truncate(trimmed);
        text.push('\n');
    }
    text
}

/// What a table shows for a missing value.
pub const NONE: &str = "<none>";

/// The first 12 hex digits of a sha256 id, as `docker images` shows them.
pub fn short_id(id: &str) -> String {
    id.chars().take(12).collect()
}

/// A byte count for people: `812B`, `132.7KiB`, `64.0MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

/// How long ago an RFC 3339 time was, kubectl-style (`42s`, `7m`, `5h`, `3d`); the text itself
/// when it does not parse, and `0s` for a time in the future (clock skew).
pub fn age(time: &str, now: SystemTime) -> String {
    match humantime::parse_rfc3339_weak(time) {
        Ok(then) => short_duration(now.duration_since(then).unwrap_or(Duration::ZERO)),
        Err(_) => time.to_string(),
    }
}

/// `age` of an optional time, or `<none>`.
pub fn age_or_none(time: Option<&str>, now: SystemTime) -> String {
    time.map_or_else(|| NONE.to_string(), |t| age(t, now))
}

/// A duration in its largest sensible unit: under 2 minutes in seconds, under 2 hours in
/// minutes, under 2 days in hours, else days.
pub fn short_duration(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    match secs {
        0..120 => format!("{secs}s"),
        120..7_200 => format!("{}m", secs / 60),
        7_200..172_800 => format!("{}h", secs / 3_600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// `n` and a noun, singular for one: `1 record`, `20 records`, `0 dead letters`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A list as one cell: comma-separated, or `<none>` when empty.
pub fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        NONE.to_string()
    } else {
        items.join(",")
    }
}

/// `topic/0,1,2;other/5`: assigned partitions grouped by topic, in numeric order.
pub fn partitions(assigned: &[String]) -> String {
    let mut topics: Vec<(&str, Vec<&str>)> = Vec::new();
    for item in assigned {
        let (topic, partition) = item.rsplit_once('/').unwrap_or((item.as_str(), ""));
        match topics.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, partitions)) => partitions.push(partition),
            None => topics.push((topic, vec![partition])),
        }
    }
    if topics.is_empty() {
        return NONE.to_string();
    }
    topics
        .into_iter()
        .map(|(topic, mut partitions)| {
            partitions.sort_by_key(|p| (p.parse::<u64>().unwrap_or(u64::MAX), p.to_string()));
            format!("{topic}/{}", partitions.join(","))
        })
        .collect::<Vec<_>>()
        .join(";")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_align_on_the_widest_cell_and_lines_have_no_trailing_space() {
        let mut table = Table::new(&["NAME", "REVISION", "STATE"]);
        table.row(vec!["wc".into(), "12".into(), "running".into()]);
        table.row(vec!["sensor-stats".into(), "1".into(), "".into()]);
        assert_eq!(
            table.render(),
            "NAME           REVISION   STATE\n\
             wc             12         running\n\
             sensor-stats   1\n"
        );
    }

    #[test]
    fn an_empty_table_prints_its_headers() {
        let table = Table::new(&["ID", "NAME"]);
        assert!(table.is_empty());
        assert_eq!(table.render(), "ID   NAME\n");
    }

    #[test]
    fn short_rows_and_wide_unicode_cells_still_align() {
        let mut table = Table::new(&["A", "B"]);
        table.row(vec!["ünïcode".into(), "x".into()]);
        table.row(vec!["y".into()]);
        assert_eq!(table.render(), "A         B\nünïcode   x\ny\n");
    }

    #[test]
    fn described_fields_align_their_values() {
        let text = fields(&[
            ("Name", "wc".into()),
            ("Last window", NONE.into()),
            ("Input", "".into()),
        ]);
        assert_eq!(text, "Name:         wc\nLast window:  <none>\nInput:\n");
    }

    #[test]
    fn json_and_yaml_print_the_server_object_and_table_calls_the_renderer() {
        let value = json!({"name": "wc", "revision": 2, "spec": {"input": ["lines"]}});
        let text = render(Format::Json, &value, |_| unreachable!()).expect("JSON renders");
        assert_eq!(serde_json::from_str::<Value>(&text).expect("valid JSON"), value);
        let yaml = render(Format::Yaml, &value, |_| unreachable!()).expect("YAML renders");
        let back: Value = serde_norway::from_str(&yaml).expect("valid YAML");
        assert_eq!(back, value);
        assert!(yaml.contains("revision: 2"), "{yaml}");
        let table = render(Format::Table, &value, |wide| format!("wide: {wide}\n")).expect("renders");
        assert_eq!(table, "wide: false\n");
        let wide = render(Format::Wide, &value, |wide| format!("wide: {wide}\n")).expect("renders");
        assert_eq!(wide, "wide: true\n");
    }

    #[test]
    fn output_names_a_format_and_a_topic_gets_a_hint() {
        assert_eq!(parse_format("wide"), Ok(Format::Wide));
        assert_eq!(parse_format("JSON"), Ok(Format::Json));
        assert_eq!(parse_format("yml"), Ok(Format::Yaml));
        let err = parse_format("counts").expect_err("a topic is no format");
        assert!(
            err.contains("table, wide, json, yaml") && err.contains("--output-topic"),
            "{err}"
        );
    }

    #[test]
    fn one_is_singular() {
        assert_eq!(count(1, "record", "records"), "1 record");
        assert_eq!(count(0, "record", "records"), "0 records");
        assert_eq!(count(2, "dead letter", "dead letters"), "2 dead letters");
    }

    #[test]
    fn cells_for_people() {
        assert_eq!(short_id("0123456789abcdef0123"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(human_bytes(812), "812B");
        assert_eq!(human_bytes(135_840), "132.7KiB");
        assert_eq!(human_bytes(64 << 20), "64.0MiB");
        assert_eq!(list_or_none(&[]), NONE);
        assert_eq!(list_or_none(&["a".into(), "b".into()]), "a,b");
    }

    #[test]
    fn ages_in_their_largest_sensible_unit() {
        let now = humantime::parse_rfc3339("2026-11-25T10:00:00Z").expect("valid time");
        assert_eq!(age("2026-11-25T09:59:18Z", now), "42s");
        assert_eq!(age("2026-11-25T09:53:00Z", now), "7m");
        assert_eq!(age("2026-11-25T05:00:00Z", now), "5h");
        assert_eq!(age("2026-11-22T10:00:00Z", now), "3d");
        assert_eq!(
            age("2026-11-25T10:00:05Z", now),
            "0s",
            "a future time is clock skew"
        );
        assert_eq!(age("not a time", now), "not a time");
        assert_eq!(age_or_none(None, now), NONE);
        assert_eq!(
            age("2026-11-25T09:59:59.250Z", now),
            "0s",
            "fractional seconds parse"
        );
    }

    #[test]
    fn partitions_group_by_topic_in_numeric_order() {
        let assigned: Vec<String> = ["a/3", "b/0", "a/1", "a/10", "odd"].map(String::from).to_vec();
        assert_eq!(partitions(&assigned), "a/1,3,10;b/0;odd/");
        assert_eq!(partitions(&[]), NONE);
    }
}
