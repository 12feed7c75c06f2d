//! `weir job logs NAME [-f]`: a job's guest log lines from every runtime, like `rpk transform
//! logs`: the newest, then (with `-f`) each new one as it comes, polled once a second.

use super::client::Client;
use super::output::{self, Format};
use anyhow::Result;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// One line as the server shows it (lenient, for printing).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Line {
    at: String,
    level: String,
    stage: String,
    call: String,
    runtime: String,
    partition: Option<i32>,
    offsets: Option<(i64, i64)>,
    message: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Page {
    lines: Vec<Line>,
    next: String,
}

/// `2026-11-27T18:00:00.123Z WARN  map   p2@40..52  host/123  the message`.
fn text(line: &Line) -> String {
    let place = match (line.partition, line.offsets) {
        (Some(p), Some((a, b))) if a == b => format!("p{p}@{a}"),
        (Some(p), Some((a, b))) => format!("p{p}@{a}..{b}"),
        (Some(p), None) => format!("p{p}"),
        _ => "-".to_string(),
    };
    let stage = if line.call.is_empty() || line.call == line.stage {
        line.stage.clone()
    } else {
        format!("{}/{}", line.stage, line.call)
    };
    format!(
        "{} {:<5} {:<6} {:<14} {}  {}\n",
        line.at,
        line.level.to_uppercase(),
        if stage.is_empty() { "-" } else { stage.as_str() },
        place,
        line.runtime,
        line.message.replace('\n', "\n    ")
    )
}

fn print(page: &Page, raw: &Value, format: Format) -> Result<()> {
    let raws = raw
        .get("lines")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (line, raw) in page.lines.iter().zip(raws) {
        match format {
            Format::Json | Format::Yaml => output::print(&format!("{raw}\n"))?,
            Format::Table | Format::Wide => output::print(&text(line))?,
        }
    }
    Ok(())
}

/// Prints the newest `limit` lines of the job at `path` (`/jobs/NAME/logs`), then, when
/// `follow`, the new ones every second until interrupted. `-o json` prints the server's
/// answer, or when following one line object a line.
pub fn logs(client: &Client, path: &str, limit: usize, follow: bool, format: Format) -> Result<()> {
    let reply = client.get(&format!("{path}?limit={}", limit.clamp(1, 1000)))?;
    let page: Page = reply.parse("the job's logs")?;
    if !follow {
        if page.lines.is_empty() && matches!(format, Format::Table | Format::Wide) {
            eprintln!("no guest log lines yet (a module logs with weir_sdk::log)");
        }
        return output::print(&output::render(format, &reply.body, |_| {
            page.lines.iter().map(text).collect()
        })?);
    }
    print(&page, &reply.body, format)?;
    let mut next = page.next;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let reply = client.get(&format!("{path}?after={}", super::client::segment(&next)))?;
        let page: Page = reply.parse("the job's logs")?;
        print(&page, &reply.body, format)?;
        next = page.next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_when_how_where_and_what() {
        let line = Line {
            at: "2026-11-27T18:00:00.123Z".into(),
            level: "warn".into(),
            stage: "map".into(),
            call: "map".into(),
            runtime: "h/1".into(),
            partition: Some(2),
            offsets: Some((40, 52)),
            message: "probing".into(),
        };
        assert_eq!(
            text(&line),
            "2026-11-27T18:00:00.123Z WARN  map    p2@40..52      h/1  probing\n"
        );
    }
}
