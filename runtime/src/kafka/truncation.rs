//! [`fit`]: cuts a dead letter down to a size limit, keeping the head of what it carries and
//! saying what was cut in a `weir.truncated` header.
//!
//! A dead letter is the original record plus `weir.*` headers, so a record just under the
//! broker's limit makes a dead letter just over it; written as is it would be refused, and the
//! stage would restart and meet it again, forever (DESIGN.md section 6: nothing Weir writes may
//! wedge a job). What is cut, in this order, each only as far as needed:
//!
//! 1. the value, keeping its head;
//! 2. the key, keeping its head;
//! 3. the original record's headers (those before the dead letter's own `weir.reason`),
//!    dropping the last ones first;
//! 4. the `weir.error` text (a guest's message can be long), at a UTF-8 character boundary.
//!
//! The other `weir.*` headers (reason, stage, job, module, source, window) are never cut: they
//! are what lets the record be found and replayed.
//!
//! `weir.truncated` holds one `FIELD:ORIGINAL>KEPT` entry per cut, separated by commas, in the
//! order the cuts were made: FIELD is `value`, `key`, `weir.error` (lengths in bytes) or
//! `headers` (a count of headers). For example `value:999800>999180`, or
//! `value:5000000>0,key:2000000>998712`. A dead letter cut again at a smaller limit (after a
//! broker refused it) gets its entries appended: `value:999800>999180,value:999180>499421`.

use super::record_size::{header_size, wire_size};
use crate::outgoing::Outgoing;

/// The header naming what was cut.
pub const TRUNCATED: &str = "weir.truncated";

/// Room for one new `weir.truncated` entry: the longest, `weir.error:N>M` with two 20-digit
/// numbers and a comma, is 53 bytes.
const ENTRY_ROOM: usize = 64;
/// At most one entry per kind of cut.
const MAX_NEW_ENTRIES: usize = 4;

/// What [`fit`] did to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Nothing was cut: the record already fitted (or had nothing left to cut).
    Untouched,
    /// The record was cut for the first time.
    Truncated,
    /// The record had been cut before, at a larger limit, and was cut again.
    TruncatedAgain,
}

/// Cuts the dead letter `record` until [`wire_size`] says it fits in `limit` bytes, and names
/// what was cut in a `weir.truncated` header (the last header). A record that fits is left
/// exactly as it was.
pub fn fit(record: &mut Outgoing, limit: usize) -> Fit {
    if wire_size(record) <= limit {
        return Fit::Untouched;
    }
    // An earlier cut's header is the record's last: entries get appended to it.
    let earlier = match record.headers.last() {
        Some((name, _)) if name == TRUNCATED => record.headers.pop().map(|(_, notes)| notes),
        _ => None,
    };
    let earlier_len = earlier.as_ref().map_or(0, |notes| notes.len() + 1);
    let room = header_size(TRUNCATED.len(), earlier_len + MAX_NEW_ENTRIES * ENTRY_ROOM);
    let target = limit.saturating_sub(room);
    let mut entries = Vec::new();

    let over = excess(record, target);
    cut_head("value", record.value.as_mut(), over, &mut entries);
    let over = excess(record, target);
    cut_head("key", record.key.as_mut(), over, &mut entries);
    drop_original_headers(record, target, &mut entries);
    let over = excess(record, target);
    if over > 0
        && let Some((_, message)) = record
            .headers
            .iter_mut()
            .rev()
            .find(|(name, _)| name == "weir.error")
    {
        cut_text("weir.error", message, over, &mut entries);
    }

    if entries.is_empty() {
        if let Some(notes) = earlier {
            record.headers.push((TRUNCATED.to_string(), notes));
        }
        return Fit::Untouched;
    }
    let again = earlier.is_some();
    let mut notes = earlier
        .map(|mut notes| {
            notes.push(b',');
            notes
        })
        .unwrap_or_default();
    notes.extend_from_slice(entries.join(",").as_bytes());
    record.headers.push((TRUNCATED.to_string(), notes));
    if again {
        Fit::TruncatedAgain
    } else {
        Fit::Truncated
    }
}

/// How many bytes `record` has beyond `target`.
fn excess(record: &Outgoing, target: usize) -> usize {
    wire_size(record).saturating_sub(target)
}

/// Keeps the head of `bytes`, `over` bytes shorter.
fn cut_head(field: &str, bytes: Option<&mut Vec<u8>>, over: usize, entries: &mut Vec<String>) {
    let Some(bytes) = bytes else { return };
    if over == 0 || bytes.is_empty() {
        return;
    }
    let before = bytes.len();
    bytes.truncate(before.saturating_sub(over));
    entries.push(format!("{field}:{before}>{}", bytes.len()));
}

/// Like [`cut_head`], but never splits a UTF-8 character.
fn cut_text(field: &str, text: &mut Vec<u8>, over: usize, entries: &mut Vec<String>) {
    if over == 0 || text.is_empty() {
        return;
    }
    let before = text.len();
    let mut keep = before.saturating_sub(over);
    while keep > 0 && text.get(keep).is_some_and(|b| b & 0xC0 == 0x80) {
        keep -= 1;
    }
    text.truncate(keep);
    entries.push(format!("{field}:{before}>{keep}"));
}

/// Drops the original record's headers (those before the last `weir.reason`), last first,
/// until the record fits `target`.
fn drop_original_headers(record: &mut Outgoing, target: usize, entries: &mut Vec<String>) {
    let Some(original) = record.headers.iter().rposition(|(name, _)| name == "weir.reason") else {
        return;
    };
    let mut over = excess(record, target);
    let mut kept = original;
    while kept > 0 && over > 0 {
        kept -= 1;
        let (name, value) = record.headers.remove(kept);
        over = over.saturating_sub(header_size(name.len(), value.len()));
    }
    if kept < original {
        entries.push(format!("headers:{original}>{kept}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::record_size::RECORD_LIMIT;
    use crate::outgoing::Kind;

    fn dead_letter(key: usize, value: usize, original_headers: usize, error: &str) -> Outgoing {
        let mut headers: Vec<(String, Vec<u8>)> = (0..original_headers)
            .map(|i| (format!("h{i}"), vec![b'h'; 1000]))
            .collect();
        headers.extend(
            [
                ("weir.reason", "rejected"),
                ("weir.stage", "map"),
                ("weir.error", error),
                ("weir.job", "orders"),
                ("weir.module", "ab12"),
                ("weir.source.topic", "in"),
                ("weir.source.partition", "0"),
                ("weir.source.offset", "7"),
                ("weir.source.timestamp", "1700000000000"),
            ]
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())),
        );
        Outgoing {
            kind: Kind::DeadLetter {
                reason: "late",
                cut: false,
            },
            topic: "orders.dead-letters".into(),
            partition: None,
            key: Some((0..key).map(|i| (i % 251) as u8).collect()),
            value: Some((0..value).map(|i| (i % 253) as u8).collect()),
            timestamp: Some(1_700_000_000_000),
            headers,
        }
    }

    /// The `(field, original, kept)` entries of a `weir.truncated` header.
    fn entries(notes: &str) -> Vec<(String, usize, usize)> {
        notes
            .split(',')
            .map(|entry| {
                let (field, lengths) = entry.rsplit_once(':').expect("FIELD:ORIGINAL>KEPT");
                let (before, after) = lengths.split_once('>').expect("ORIGINAL>KEPT");
                (
                    field.to_string(),
                    before.parse().expect("a number"),
                    after.parse().expect("a number"),
                )
            })
            .collect()
    }

    #[test]
    fn a_dead_letter_under_the_limit_is_untouched_byte_for_byte() {
        let original = dead_letter(10, 900_000, 3, "not JSON");
        let mut record = original.clone();
        assert_eq!(fit(&mut record, RECORD_LIMIT), Fit::Untouched);
        assert_eq!(record, original);
    }

    #[test]
    fn a_999_800_byte_value_keeps_its_head_and_says_so() {
        let original = dead_letter(0, 999_800, 0, "expected value at line 1 column 1");
        let mut record = original.clone();
        assert_eq!(fit(&mut record, RECORD_LIMIT), Fit::Truncated);
        assert!(wire_size(&record) <= RECORD_LIMIT);
        let notes = record.header(TRUNCATED).expect("a weir.truncated header");
        let kept = record.value.as_ref().map_or(0, Vec::len);
        assert_eq!(notes, format!("value:999800>{kept}"));
        assert!(kept > 998_000, "only what the headers need is cut: kept {kept}");
        let value = original.value.as_deref().unwrap_or_default();
        assert_eq!(record.value.as_deref(), Some(&value[..kept]));
        // Every other header is intact, and the new one comes last.
        assert_eq!(record.headers[..original.headers.len()], original.headers[..]);
        assert_eq!(record.headers.len(), original.headers.len() + 1);
        assert_eq!(record.key, original.key);
    }

    #[test]
    fn a_5_mb_value_is_cut_too() {
        let mut record = dead_letter(16, 5_000_000, 2, "boom");
        assert_eq!(fit(&mut record, RECORD_LIMIT), Fit::Truncated);
        assert!(wire_size(&record) <= RECORD_LIMIT);
        let notes = entries(&record.header(TRUNCATED).unwrap_or_default());
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].0, "value");
        assert_eq!(notes[0].1, 5_000_000);
        assert_eq!(Some(notes[0].2), record.value.as_ref().map(Vec::len));
        assert_eq!(record.key.as_ref().map(Vec::len), Some(16));
        assert_eq!(record.header("h1").map(|h| h.len()), Some(1000));
    }

    #[test]
    fn a_huge_key_is_cut_once_the_value_is_gone() {
        let mut record = dead_letter(2_000_000, 100, 0, "boom");
        assert_eq!(fit(&mut record, RECORD_LIMIT), Fit::Truncated);
        assert!(wire_size(&record) <= RECORD_LIMIT);
        let notes = entries(&record.header(TRUNCATED).unwrap_or_default());
        let kept = record.key.as_ref().map_or(0, Vec::len);
        assert_eq!(
            notes,
            vec![("value".into(), 100, 0), ("key".into(), 2_000_000, kept)]
        );
        assert!(kept > 998_000);
    }

    #[test]
    fn original_headers_go_last_first_and_weir_headers_stay() {
        let mut record = dead_letter(0, 10, 1500, "boom");
        assert_eq!(fit(&mut record, RECORD_LIMIT), Fit::Truncated);
        assert!(wire_size(&record) <= RECORD_LIMIT);
        let notes = entries(&record.header(TRUNCATED).unwrap_or_default());
        assert_eq!(notes[0], ("value".into(), 10, 0));
        let (field, before, kept) = notes[1].clone();
        assert_eq!((field.as_str(), before), ("headers", 1500));
        assert!(record.header(&format!("h{}", kept - 1)).is_some());
        assert!(record.header(&format!("h{kept}")).is_none());
        for name in ["weir.reason", "weir.error", "weir.source.offset", "weir.job"] {
            assert!(record.header(name).is_some(), "{name} was dropped");
        }
    }

    #[test]
    fn a_huge_error_message_is_cut_at_a_character_boundary() {
        let message = "é".repeat(700_000);
        let mut record = dead_letter(0, 0, 0, &message);
        assert_eq!(fit(&mut record, 100_000), Fit::Truncated);
        assert!(wire_size(&record) <= 100_000);
        let error = record
            .headers
            .iter()
            .find(|(k, _)| k == "weir.error")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        assert!(std::str::from_utf8(&error).is_ok());
        assert!(error.len() > 99_000);
        assert_eq!(
            entries(&record.header(TRUNCATED).unwrap_or_default()),
            vec![("weir.error".into(), 1_400_000, error.len())]
        );
    }

    #[test]
    fn a_second_cut_appends_to_the_first() {
        let mut record = dead_letter(0, 999_800, 0, "boom");
        assert_eq!(fit(&mut record, RECORD_LIMIT), Fit::Truncated);
        let first = record.value.as_ref().map_or(0, Vec::len);
        assert_eq!(fit(&mut record, RECORD_LIMIT / 2), Fit::TruncatedAgain);
        assert!(wire_size(&record) <= RECORD_LIMIT / 2);
        let second = record.value.as_ref().map_or(0, Vec::len);
        let truncated: Vec<_> = record.headers.iter().filter(|(k, _)| k == TRUNCATED).collect();
        assert_eq!(truncated.len(), 1);
        assert_eq!(
            entries(&record.header(TRUNCATED).unwrap_or_default()),
            vec![("value".into(), 999_800, first), ("value".into(), first, second)]
        );
    }

    #[test]
    fn an_input_header_named_weir_truncated_is_not_taken_for_ours() {
        let mut record = dead_letter(0, 999_800, 0, "boom");
        record
            .headers
            .insert(0, (TRUNCATED.into(), b"value:1>0".to_vec()));
        assert_eq!(fit(&mut record, RECORD_LIMIT), Fit::Truncated);
        assert_eq!(record.headers[0], (TRUNCATED.to_string(), b"value:1>0".to_vec()));
        let notes = entries(&record.header(TRUNCATED).unwrap_or_default());
        assert_eq!(notes[0].1, 999_800);
    }
}
