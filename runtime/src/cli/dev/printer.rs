//! The printer of `weir dev`: reads the output topic and prints one line per window, with its
//! word counts, most frequent first (for session windows, one line per batch of sessions that
//! close together).

use super::OUTPUT;
use crate::kafka::consumer_config;
use crate::window::WindowSpec;
use anyhow::{Context, Result};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, Instant};

/// How long the printer waits after a window's latest record before printing the window: the
/// records of one window are written together, so they arrive within a few milliseconds.
pub(super) const QUIET: Duration = Duration::from_millis(300);

/// A record of the output topic: word count's default `finish`.
#[derive(Debug, Deserialize)]
struct WindowCount {
    window_start: i64,
    window_end: i64,
    key: String,
    value: u64,
}

/// The records of one line received so far.
pub(super) struct Pending {
    /// The window, or for sessions the span of those received.
    start: i64,
    end: i64,
    counts: BTreeMap<String, u64>,
    last: Instant,
}

/// Reads the output topic into [`WindowLines`].
pub(super) struct Printer {
    consumer: BaseConsumer,
    /// The lines received, not printed yet.
    pub(super) lines: WindowLines,
}

impl Printer {
    /// A reader of every partition of the output topic from the beginning (no group: nothing
    /// to wait for).
    pub(super) fn new(brokers: &str, partitions: i32, window: WindowSpec) -> Result<Self> {
        let consumer: BaseConsumer = consumer_config(brokers, "weir-dev-printer")
            .create()
            .with_context(|| format!("cannot create a consumer for {brokers}"))?;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment
                .add_partition_offset(OUTPUT, partition, Offset::Beginning)
                .context("output assignment")?;
        }
        consumer
            .assign(&assignment)
            .with_context(|| format!("cannot read `{OUTPUT}`"))?;
        Ok(Printer {
            consumer,
            lines: WindowLines::new(window),
        })
    }

    /// Waits up to `timeout` for records and adds what arrives to the pending lines.
    pub(super) fn poll(&mut self, timeout: Duration) -> Result<()> {
        let mut timeout = timeout;
        while let Some(message) = self.consumer.poll(timeout) {
            timeout = Duration::ZERO;
            let message = message.with_context(|| format!("cannot read `{OUTPUT}`"))?;
            let payload = message.payload().unwrap_or_default();
            match serde_json::from_slice(payload) {
                Ok(count) => self.lines.add(count),
                Err(err) => eprintln!(
                    "weir dev: skipped a record of `{OUTPUT}` that is not a word count ({err}): {}",
                    String::from_utf8_lossy(payload)
                ),
            }
        }
        Ok(())
    }
}

/// Groups word counts into lines to print: one per window, or with session windows (one per
/// key, each with its own bounds) one per batch of sessions that close together.
pub(super) struct WindowLines {
    sessions: bool,
    /// The lines received and not printed yet, by window.
    pub(super) pending: BTreeMap<(i64, i64), Pending>,
    printed: BTreeSet<(i64, i64)>,
    /// Words counted in the records received.
    pub(super) counted: u64,
}

impl WindowLines {
    fn new(window: WindowSpec) -> Self {
        WindowLines {
            sessions: matches!(window, WindowSpec::Session { .. }),
            pending: BTreeMap::new(),
            printed: BTreeSet::new(),
            counted: 0,
        }
    }

    /// Adds one record of the output topic.
    fn add(&mut self, count: WindowCount) {
        let (start, end) = (count.window_start, count.window_end);
        let line = if self.sessions {
            (i64::MIN, i64::MIN)
        } else {
            (start, end)
        };
        let pending = self.pending.entry(line).or_insert_with(|| Pending {
            start,
            end,
            counts: BTreeMap::new(),
            last: Instant::now(),
        });
        pending.start = pending.start.min(start);
        pending.end = pending.end.max(end);
        // Anyone can write to `counts`: no count may overflow.
        let slot = pending.counts.entry(count.key).or_default();
        *slot = slot.saturating_add(count.value);
        pending.last = Instant::now();
        self.counted = self.counted.saturating_add(count.value);
    }

    /// Prints (and forgets) the lines that got no record for [`QUIET`] before `now`.
    pub(super) fn print_quiet(&mut self, out: &mut impl Write, now: Instant) -> Result<()> {
        let quiet: Vec<(i64, i64)> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.last) >= QUIET)
            .map(|(line, _)| *line)
            .collect();
        for line in quiet {
            let Some(pending) = self.pending.remove(&line) else {
                continue;
            };
            let label = if self.sessions {
                Label::Sessions
            } else if self.printed.insert(line) {
                Label::Window
            } else {
                Label::More
            };
            writeln!(
                out,
                "{}",
                window_line(pending.start, pending.end, &pending.counts, label)
            )
            .context("write to stdout")?;
        }
        out.flush().context("write to stdout")
    }
}

/// What a printed line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    /// A window's counts.
    Window,
    /// Counts of a window already printed, which arrived later (they add to it).
    More,
    /// The sessions that closed together, spanning the line's bounds.
    Sessions,
}

/// `[12:00:00–12:00:10) UTC  7 words: the=3 fox=2 dog=1 ...`, most frequent first.
fn window_line(start: i64, end: i64, counts: &BTreeMap<String, u64>, label: Label) -> String {
    let mut sorted: Vec<(&String, &u64)> = counts.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let total = counts.values().fold(0u64, |sum, n| sum.saturating_add(*n));
    let words = sorted
        .iter()
        .map(|(word, n)| format!("{word}={n}"))
        .collect::<Vec<_>>()
        .join(" ");
    let (what, more) = match label {
        Label::Window => ("", ""),
        Label::More => ("", " more"),
        Label::Sessions => (" sessions", ""),
    };
    format!(
        "[{}–{}) UTC{what}  {total}{more} words: {words}",
        clock(start),
        clock(end)
    )
}

/// The UTC time of day of `ms` since the epoch: `HH:MM:SS`, with `.mmm` when not on a second.
fn clock(ms: i64) -> String {
    let seconds = ms.div_euclid(1000).rem_euclid(86_400);
    let time = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    match ms.rem_euclid(1000) {
        0 => time,
        millis => format!("{time}.{millis:03}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_prints_most_frequent_first_in_utc() {
        let counts: BTreeMap<String, u64> = [("fox", 2), ("the", 3), ("dog", 2), ("a", 1)]
            .into_iter()
            .map(|(w, n)| (w.to_string(), n))
            .collect();
        // 2024-01-01T12:00:00Z
        let start = 1_704_110_400_000;
        assert_eq!(
            window_line(start, start + 10_000, &counts, Label::Window),
            "[12:00:00–12:00:10) UTC  8 words: the=3 dog=2 fox=2 a=1"
        );
        assert!(window_line(start, start + 10_000, &counts, Label::More).contains(" 8 more words: "));
        assert_eq!(
            window_line(start + 250, start + 2_250, &counts, Label::Sessions),
            "[12:00:00.250–12:00:02.250) UTC sessions  8 words: the=3 dog=2 fox=2 a=1"
        );
    }

    #[test]
    fn sessions_that_close_together_print_as_one_line() -> Result<()> {
        let mut lines = WindowLines::new(WindowSpec::Session { gap: 2_000 });
        for (start, key) in [(1_000, "a"), (1_003, "b"), (1_001, "a")] {
            lines.add(WindowCount {
                window_start: start,
                window_end: start + 2_000,
                key: key.into(),
                value: 1,
            });
        }
        let mut out = Vec::new();
        lines.print_quiet(&mut out, Instant::now() + QUIET)?;
        assert_eq!(
            String::from_utf8_lossy(&out),
            "[00:00:01–00:00:03.003) UTC sessions  3 words: a=2 b=1\n"
        );
        assert_eq!(lines.counted, 3);
        Ok(())
    }
}
