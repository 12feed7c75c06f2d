//! The native baseline of BENCHMARKS.md's engine comparison: the word count `weir run -m
//! word-count` does, written as a plain Rust program with no sandbox and no pipeline.
//!
//! Reads JSON lines `{"value": "...", "timestamp": ms}` from the file named by its argument (or
//! stdin), splits each value into lower-cased runs of letters and digits (copying only the words
//! that are not lower case already, as `examples/word-count` does), counts each word per
//! tumbling window (10 s, or the milliseconds of the second argument) in one `HashMap`, and at the
//! end prints `{"window_start", "window_end", "key", "value"}` per (window, word), windows in
//! order and words sorted, the lines `weir run` prints for the same input.
//!
//! With `--plain`, it is the program as anyone would first write it: every word lower-cased into
//! a new `String`, one `HashMap<(window start, word), count>`.
//!
//! ```sh
//! cargo run --release -p weir-bench --bin wordcount_native -- [--plain] input.jsonl > native.out
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, BufWriter, Write};

#[derive(serde::Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    value: std::borrow::Cow<'a, str>,
    timestamp: i64,
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    let plain = args.next_if_eq("--plain").is_some();
    let input: Box<dyn BufRead> = match args.next().as_deref() {
        None | Some("-") => Box::new(BufReader::new(io::stdin())),
        Some(path) => Box::new(BufReader::new(std::fs::File::open(path)?)),
    };
    let size: i64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let results = if plain {
        count_plain(input, size)?
    } else {
        count(input, size)?
    };
    let mut out = BufWriter::new(io::stdout().lock());
    for ((start, word), count) in results {
        let key = serde_json::to_string(&word).map_err(io::Error::other)?;
        writeln!(
            out,
            r#"{{"window_start":{start},"window_end":{},"key":{key},"value":{count}}}"#,
            start + size
        )?;
    }
    out.flush()
}

/// Sorted counts per (window start, word).
type Counts = Vec<((i64, String), u64)>;

/// The plain program: `to_lowercase` for every word, one map keyed by (window, word).
fn count_plain(input: Box<dyn BufRead>, size: i64) -> io::Result<Counts> {
    let mut counts: HashMap<(i64, String), u64> = HashMap::new();
    for line in input.lines() {
        let line = line?;
        let Ok(record) = serde_json::from_str::<Line>(&line) else {
            continue;
        };
        let start = record.timestamp.div_euclid(size) * size;
        for word in record.value.split(|c: char| !c.is_alphanumeric()) {
            if !word.is_empty() {
                *counts.entry((start, word.to_lowercase())).or_default() += 1;
            }
        }
    }
    let mut results: Counts = counts.into_iter().collect();
    results.sort_unstable();
    Ok(results)
}

/// The tuned program: a map per window, looked up by the borrowed word.
fn count(input: Box<dyn BufRead>, size: i64) -> io::Result<Counts> {
    let mut counts: HashMap<i64, HashMap<String, u64>> = HashMap::new();
    for line in input.lines() {
        let line = line?;
        let Ok(record) = serde_json::from_str::<Line>(&line) else {
            continue;
        };
        let start = record.timestamp.div_euclid(size) * size;
        let window = counts.entry(start).or_default();
        for word in record.value.split(|c: char| !c.is_alphanumeric()) {
            if word.is_empty() {
                continue;
            }
            let lower = word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            let word = if lower {
                Cow::Borrowed(word)
            } else {
                Cow::Owned(word.to_lowercase())
            };
            match window.get_mut(word.as_ref()) {
                Some(count) => *count += 1,
                None => {
                    window.insert(word.into_owned(), 1);
                }
            }
        }
    }
    let mut results: Vec<((i64, String), u64)> = counts
        .into_iter()
        .flat_map(|(start, words)| words.into_iter().map(move |(word, n)| ((start, word), n)))
        .collect();
    results.sort_unstable();
    Ok(results)
}
