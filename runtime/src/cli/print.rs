//! Renders output records and dead letters as JSON lines for `weir run`.

use crate::pipeline::DeadLetter;
use crate::record::{InputRecord, OutputRecord};
use serde_json::{Value, json};

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

/// A record as JSON: partition, offset, timestamp, key and value (text, JSON or hex).
pub fn record_json(record: &InputRecord) -> Value {
    json!({
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": record.key.as_deref().map(|k| bytes_json(k, false)),
        "value": record.value.as_deref().map(|v| bytes_json(v, false)),
    })
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
