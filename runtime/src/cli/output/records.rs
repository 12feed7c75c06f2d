//! Records as people and scripts read them: output records and dead letters as JSON lines for
//! `weir run`, and the records `weir consume` reads as JSON lines or as text. It does not know
//! the control plane's objects (modules, jobs): [`super`] prints those.

use crate::pipeline::DeadLetter;
use crate::record::{Header, InputRecord, OutputRecord};
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

/// Bytes as JSON: the JSON they contain, else their text, else `{"hex": ..}`.
fn bytes_json(bytes: &[u8], parse: bool) -> Value {
    if parse && let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        return value;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_string()),
        Err(_) => json!({ "hex": hex::encode(bytes) }),
    }
}

/// One output line: the value as it is when it is single-line text (JSON from `finish`), else
/// as a JSON string; with `with_keys`, an object with key, value and timestamp.
pub fn output_line(record: &OutputRecord, with_keys: bool) -> String {
    if with_keys {
        let key = record.key.as_deref().map(|k| bytes_json(k, true));
        return json!({ "key": key, "value": bytes_json(&record.value, true), "timestamp": record.timestamp })
            .to_string();
    }
    match std::str::from_utf8(&record.value) {
        Ok(text) if !text.contains('\n') => text.to_string(),
        _ => bytes_json(&record.value, false).to_string(),
    }
}

/// A record as JSON: partition, offset, timestamp, key and value (text, JSON or hex), and its
/// headers as `{"name": "value"}` ([`headers_json`]): the shape `weir produce --json` reads.
pub fn record_json(record: &InputRecord) -> Value {
    json!({
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": record.key.as_deref().map(|k| bytes_json(k, false)),
        "value": record.value.as_deref().map(|v| bytes_json(v, false)),
        "headers": headers_json(&record.headers),
    })
}

/// Headers as a JSON object, name → value (text, else `{"hex": ..}`); a name that occurs more
/// than once maps to the array of its values, in order.
pub fn headers_json(headers: &[Header]) -> Value {
    let mut map = Map::new();
    for header in headers {
        let value = bytes_json(&header.value, false);
        match map.get_mut(&header.key) {
            None => {
                map.insert(header.key.clone(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
    Value::Object(map)
}

/// A record as text for people: a line with its place, time and key, then its value and each
/// header (`weir.reason: late`) indented on lines of their own.
///
/// ```text
/// partition 1, offset 7, 2024-05-01T10:00:00.000Z, key "k1"
///   value: the quick brown fox
///   header weir.reason: late
/// ```
pub fn record_text(record: &InputRecord) -> String {
    let time = u64::try_from(record.timestamp).map_or_else(
        |_| format!("{} ms", record.timestamp),
        |ms| {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
            humantime::format_rfc3339_millis(at).to_string()
        },
    );
    let key = record
        .key
        .as_deref()
        .map_or_else(|| "no key".to_string(), |k| format!("key {}", quoted(k)));
    let mut text = format!(
        "partition {}, offset {}, {time}, {key}\n",
        record.partition, record.offset
    );
    let value = record
        .value
        .as_deref()
        .map_or_else(|| "(none)".to_string(), text_of);
    let _ = writeln!(text, "  value: {}", indented(&value));
    for header in &record.headers {
        let _ = writeln!(
            text,
            "  header {}: {}",
            header.key,
            indented(&text_of(&header.value))
        );
    }
    text
}

/// Bytes as text: the text itself, else `hex:...`.
fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => format!("hex:{}", hex::encode(bytes)),
    }
}

/// A key in double quotes (as JSON writes a string), or `hex:...`.
fn quoted(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_string()).to_string(),
        Err(_) => format!("hex:{}", hex::encode(bytes)),
    }
}

/// A multi-line text with its later lines indented under the first's label.
fn indented(text: &str) -> String {
    text.trim_end_matches('\n').replace('\n', "\n    ")
}

/// One dead-letter line: reason, stage, message and the record (or window and key).
pub fn dead_letter_line(dead: &DeadLetter) -> String {
    let mut line = json!({
        "reason": dead.reason.as_str(),
        "stage": dead.stage,
        "message": dead.message,
    });
    if let Some(record) = &dead.record {
        line["record"] = record_json(record);
    }
    if let Some(window) = &dead.window {
        line["window"] = json!({ "start": window.start, "end": window.end });
    }
    if let Some(key) = &dead.key {
        line["key_hex"] = Value::String(hex::encode(key));
    }
    line.to_string()
}

/// A line of input that is not a record.
pub fn undecodable_line(line_number: u64, message: &str, text: &str) -> String {
    json!({
        "reason": "undecodable",
        "stage": "input",
        "message": message,
        "line": line_number + 1,
        "text": text,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead_letter() -> InputRecord {
        let header = |key: &str, value: &[u8]| Header {
            key: key.into(),
            value: value.to_vec(),
        };
        InputRecord {
            key: Some(b"k1".to_vec()),
            value: Some(b"first line\nsecond line".to_vec()),
            timestamp: 1_714_557_600_000,
            headers: vec![
                header("weir.reason", b"late"),
                header("weir.error", b"the window had fired"),
                header("tag", b"a"),
                header("tag", b"b"),
                header("bin", &[0xff, 0x00]),
            ],
            partition: 1,
            offset: 7,
        }
    }

    #[test]
    fn json_records_carry_their_headers_repeated_names_as_arrays() {
        let json = record_json(&dead_letter());
        assert_eq!(
            json["headers"],
            json!({"weir.reason": "late", "weir.error": "the window had fired",
                   "tag": ["a", "b"], "bin": {"hex": "ff00"}})
        );
        assert_eq!(json["key"], "k1");
        let bare = InputRecord {
            headers: Vec::new(),
            ..dead_letter()
        };
        assert_eq!(record_json(&bare)["headers"], json!({}));
    }

    #[test]
    fn text_records_show_value_and_headers_on_lines_of_their_own() {
        assert_eq!(
            record_text(&dead_letter()),
            "partition 1, offset 7, 2024-05-01T10:00:00.000Z, key \"k1\"\n\
             \x20 value: first line\n\
             \x20   second line\n\
             \x20 header weir.reason: late\n\
             \x20 header weir.error: the window had fired\n\
             \x20 header tag: a\n\
             \x20 header tag: b\n\
             \x20 header bin: hex:ff00\n"
        );
        let bare = InputRecord {
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: -5,
            ..dead_letter()
        };
        assert_eq!(
            record_text(&bare),
            "partition 1, offset 7, -5 ms, no key\n  value: (none)\n"
        );
    }
}
