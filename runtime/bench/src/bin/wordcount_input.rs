//! Writes the input of BENCHMARKS.md's engine comparison: JSON lines `{"value": "...",
//! "timestamp": ms}` of 15 words each, drawn from a Zipf distribution over 5,000 invented words
//! (each line's first word capitalized), with timestamps rising evenly over 200 s (20 tumbling
//! windows of 10 s). Deterministic: the same arguments give the same bytes.
//!
//! ```sh
//! cargo run --release -p weir-bench --bin wordcount_input -- 1000000 > input.jsonl
//! ```

use std::io::{self, BufWriter, Write};

use weir_test_support::Rng as SplitMix;

const VOCABULARY: usize = 5_000;
const WORDS_PER_LINE: usize = 15;
const SPAN_MS: u64 = 200_000;

fn main() -> io::Result<()> {
    let lines: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mut rng = SplitMix(0x5eed);
    let vocabulary: Vec<String> = (0..VOCABULARY)
        .map(|_| {
            let len = 2 + (rng.next() % 5) as usize;
            (0..len)
                .map(|_| char::from(b'a' + (rng.next() % 26) as u8))
                .collect()
        })
        .collect();
    // Zipf (s = 1): the cumulative weights of ranks 1..=VOCABULARY, searched by binary search.
    let mut cumulative = Vec::with_capacity(VOCABULARY);
    let mut total = 0.0;
    for rank in 1..=VOCABULARY {
        total += 1.0 / rank as f64;
        cumulative.push(total);
    }
    let mut out = BufWriter::new(io::stdout().lock());
    let mut value = String::new();
    for i in 0..lines {
        value.clear();
        for w in 0..WORDS_PER_LINE {
            let x = rng.unit() * total;
            let rank = cumulative.partition_point(|&c| c < x).min(VOCABULARY - 1);
            let word = &vocabulary[rank];
            if w == 0 {
                let mut chars = word.chars();
                value.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                value.push_str(chars.as_str());
            } else {
                value.push(' ');
                value.push_str(word);
            }
        }
        let timestamp = i * SPAN_MS / lines.max(1);
        writeln!(out, r#"{{"value":"{value}","timestamp":{timestamp}}}"#)?;
    }
    out.flush()
}
