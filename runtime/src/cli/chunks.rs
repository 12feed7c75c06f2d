//! The input thread of `weir run`: reads lines, parses them into records, and hands them on in
//! chunks of at most one batch, so that reading and parsing run beside the pipeline.
//!
//! A chunk goes out when it is full, or as soon as the reader has nothing more buffered (the
//! next read may block: a slow stdin's records are not held back waiting for more).

use super::input::InputFormat;
use super::output::records::undecodable_line;
use crate::record::InputRecord;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc::{self, Receiver};

/// How much of the input is read at a time.
const READ_BUFFER: usize = 1 << 20;
/// Chunks waiting for the pipeline: bounds the memory the reader can run ahead by.
const CHUNKS_AHEAD: usize = 8;

/// Consecutive input lines, parsed.
#[derive(Default)]
pub struct Chunk {
    /// The records of the lines that parsed, in order.
    pub records: Vec<InputRecord>,
    /// A dead-letter line (JSON) for each line that did not.
    pub undecodable: Vec<String>,
    /// Reading failed after these lines; the input ends here.
    pub failed: Option<io::Error>,
}

/// Starts the input thread over `input` (a path, or `-` for stdin).
pub fn read_chunks(input: &str, format: InputFormat, batch_size: usize) -> Result<Receiver<Chunk>> {
    let source: Box<dyn Read + Send> = if input == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(input).with_context(|| format!("cannot open the input {input}"))?)
    };
    let (tx, rx) = mpsc::sync_channel(CHUNKS_AHEAD);
    std::thread::Builder::new()
        .name("weir-input".into())
        .spawn(move || {
            let mut reader = BufReader::with_capacity(READ_BUFFER, source);
            let mut chunk = Chunk::default();
            let mut line = String::new();
            let mut index = 0u64;
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => {
                        let text = line.strip_suffix('\n').unwrap_or(&line);
                        let text = text.strip_suffix('\r').unwrap_or(text);
                        match format.parse(index, text) {
                            Ok(record) => chunk.records.push(record),
                            Err(message) => chunk.undecodable.push(undecodable_line(index, &message, text)),
                        }
                        index += 1;
                    }
                    Err(err) => {
                        chunk.failed = Some(err);
                        break;
                    }
                }
                let full = chunk.records.len() + chunk.undecodable.len() >= batch_size;
                if (full || reader.buffer().is_empty()) && tx.send(std::mem::take(&mut chunk)).is_err() {
                    return;
                }
            }
            let _ = tx.send(chunk);
        })
        .context("start the input reader thread")?;
    Ok(rx)
}
