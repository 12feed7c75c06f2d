//! Input records for `weir run`: JSON lines, or raw text lines with a timestamp policy.
//!
//! A JSON line is `{"key": .., "value": .., "timestamp": .., "headers": {..}, "partition": ..,
//! "offset": ..}`, every field optional. A string key or value is taken as its UTF-8 bytes; any
//! other JSON (object, number...) as its compact JSON text; `null` or absent as no key/value.
//! `timestamp` is ms since the epoch or an RFC 3339 string.
//!
//! Timestamp policy, for text lines and JSON lines without a timestamp: line `i` (counting from
//! 0) gets `start + i × interval`, so with the defaults (0, 1s) line 0 is at 0 ms, line 1 at
//! 1000 ms, and a 10s tumbling window holds exactly ten lines.

use super::units::parse_timestamp;
use crate::record::{Header, InputRecord};
use serde_json::Value;

/// How records are read.
#[derive(Debug, Clone, Copy)]
pub struct InputFormat {
    /// Raw text lines (true) or JSON lines (false).
    pub lines: bool,
    /// Timestamp of line 0, in ms.
    pub start: i64,
    /// Milliseconds between consecutive lines.
    pub interval: i64,
}

impl InputFormat {
    /// The policy's timestamp for line `index`.
    fn timestamp(&self, index: u64) -> i64 {
        let index = i64::try_from(index).unwrap_or(i64::MAX);
        self.start.saturating_add(index.saturating_mul(self.interval))
    }

    /// Parses line `index` of the input into a record (offset = line index, partition 0).
    pub fn parse(&self, index: u64, line: &str) -> Result<InputRecord, String> {
        self.parse_stamped(index, line).map(|(record, _)| record)
    }

    /// As [`InputFormat::parse`], and whether the timestamp came from the line itself (false:
    /// the policy's).
    pub fn parse_stamped(&self, index: u64, line: &str) -> Result<(InputRecord, bool), String> {
        let offset = i64::try_from(index).unwrap_or(i64::MAX);
        if self.lines {
            let record = InputRecord {
                key: None,
                value: Some(line.as_bytes().to_vec()),
                timestamp: self.timestamp(index),
                headers: Vec::new(),
                partition: 0,
                offset,
            };
            return Ok((record, false));
        }
        let json: Value = serde_json::from_str(line).map_err(|e| format!("not a JSON record: {e}"))?;
        let Value::Object(mut fields) = json else {
            return Err("a JSON record must be an object like {\"key\": .., \"value\": ..}".into());
        };
        let stamped = fields.get("timestamp").is_some_and(|t| !t.is_null());
        let timestamp = match fields.remove("timestamp") {
            None | Some(Value::Null) => self.timestamp(index),
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| format!("timestamp {n} is not whole milliseconds"))?,
            Some(Value::String(s)) => parse_timestamp(&s)?,
            Some(other) => return Err(format!("timestamp {other} is neither ms nor an RFC 3339 string")),
        };
        let headers = match fields.remove("headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map
                .into_iter()
                .map(|(key, value)| Header {
                    key,
                    value: bytes(value).unwrap_or_default(),
                })
                .collect(),
            Some(_) => return Err("headers must be an object of name → value".into()),
        };
        let partition = match fields.remove("partition") {
            None => 0,
            Some(v) => v
                .as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .ok_or("partition must be a small integer")?,
        };
        let offset = match fields.remove("offset") {
            None => offset,
            Some(v) => v.as_i64().ok_or("offset must be an integer")?,
        };
        let record = InputRecord {
            key: fields.remove("key").and_then(bytes),
            value: fields.remove("value").and_then(bytes),
            timestamp,
            headers,
            partition,
            offset,
        };
        Ok((record, stamped))
    }
}

/// A JSON field as record bytes: strings as UTF-8, other values as compact JSON, null as none.
fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.into_bytes()),
        other => Some(other.to_string().into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: InputFormat = InputFormat {
        lines: false,
        start: 0,
        interval: 1000,
    };

    #[test]
    fn text_lines_follow_the_timestamp_policy() {
        let f = InputFormat {
            lines: true,
            start: 5_000,
            interval: 250,
        };
        let r = f.parse(4, "hello").expect("a line is always a record");
        assert_eq!(
            (r.timestamp, r.offset, r.value.as_deref()),
            (6_000, 4, Some(&b"hello"[..]))
        );
    }

    #[test]
    fn json_records_take_strings_as_bytes_and_objects_as_json() {
        let r = JSON
            .parse(
                3,
                r#"{"key":"k","value":{"a":1},"timestamp":"1970-01-01T00:00:02Z","headers":{"h":"v"}}"#,
            )
            .expect("valid record");
        assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(r.value.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(r.timestamp, 2_000);
        assert_eq!(
            r.headers,
            vec![Header {
                key: "h".into(),
                value: b"v".to_vec()
            }]
        );
        let r = JSON.parse(7, r#"{"value":"x"}"#).expect("valid record");
        assert_eq!((r.timestamp, r.offset, r.key), (7_000, 7, None));
        let stamped = |line: &str| JSON.parse_stamped(0, line).map(|(_, s)| s);
        assert_eq!(stamped(r#"{"value":"x","timestamp":5}"#), Ok(true));
        assert_eq!(stamped(r#"{"value":"x","timestamp":null}"#), Ok(false));
        assert_eq!(stamped(r#"{"value":"x"}"#), Ok(false));
    }

    #[test]
    fn bad_json_records_say_why() {
        for (line, why) in [
            ("not json", "not a JSON record"),
            ("[1,2]", "must be an object"),
            (r#"{"timestamp":1.5}"#, "not whole milliseconds"),
            (r#"{"timestamp":"soon"}"#, "RFC 3339"),
            (r#"{"partition":"x"}"#, "partition"),
        ] {
            let err = JSON.parse(0, line).expect_err(line);
            assert!(err.contains(why), "{line}: {err}");
        }
    }
}
