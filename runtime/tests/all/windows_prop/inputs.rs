//! Inputs: records of (key, amount, token) pairs, and the input records they become.

use super::*;

/// One pair a record's map emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PairSpec {
    pub(super) key: String,
    pub(super) amount: u64,
    /// Event time chosen by map; `None` means the record's timestamp.
    pub(super) time: Option<i64>,
}

/// One input record: its timestamp and the pairs map turns it into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rec {
    pub(super) timestamp: i64,
    pub(super) pairs: Vec<PairSpec>,
}

/// The token of pair `j` of record `i`: what the concatenating reducer joins.
pub(super) fn token(i: usize, j: usize) -> String {
    if j == 0 {
        format!("r{i}")
    } else {
        format!("r{i}.{j}")
    }
}

/// The record's value, as the test guest parses it: `key amount token time-or-dash` per pair,
/// joined with `;`. The offset is the record's index.
pub(super) fn input_record(i: usize, rec: &Rec) -> InputRecord {
    let text: Vec<String> = rec
        .pairs
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let time = p.time.map_or_else(|| "-".to_string(), |t| t.to_string());
            format!("{} {} {} {time}", p.key, p.amount, token(i, j))
        })
        .collect();
    InputRecord {
        key: None,
        value: Some(text.join(";").into_bytes()),
        timestamp: rec.timestamp,
        headers: Vec::new(),
        partition: 0,
        offset: i64::try_from(i).expect("small index"),
    }
}
