//! Input records for `weir run`: JSON lines, or raw text lines with a timestamp policy.
//!
//! A JSON line is `{"key": .., "value": .., "timestamp": .., "headers": {..}, "partition": ..,
//! "offset": ..}`, every field optional and no other field accepted (a typo such as `"val"`
//! is an error, not a record without a value). A string key or value is taken as its UTF-8
//! bytes; any other JSON (object, number...) as its compact JSON text; `null` or absent as no
//! key/value. `timestamp` is ms since the epoch or an RFC 3339 string. `headers` maps a name to
//! a value (as a key or value is read), or to an array of values for a name repeated: the
//! shape `weir consume` prints.
//!
//! Timestamp policy, for text lines and JSON lines without a timestamp: line `i` (counting from
//! 0) gets `start + i × interval`, so with the defaults (0, 1s) line 0 is at 0 ms, line 1 at
//! 1000 ms, and a 10s tumbling window holds exactly ten lines.

use crate::record::{Header, InputRecord};
use crate::units::parse_timestamp;
use serde_json::Value;
use std::borrow::Cow;

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
        if let Some(record) = self.parse_plain(index, line) {
            return Ok(record);
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
                .flat_map(|(key, value)| {
                    let values = match value {
                        Value::Array(values) => values,
                        one => vec![one],
                    };
                    values.into_iter().map(move |value| Header {
                        key: key.clone(),
                        value: bytes(value).unwrap_or_default(),
                    })
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
        let key = fields.remove("key").and_then(bytes);
        let value = fields.remove("value").and_then(bytes);
        if let Some(unknown) = fields.keys().next() {
            return Err(format!(
                "unknown field `{unknown}`: a record has only key, value, timestamp, headers, \
                 partition and offset"
            ));
        }
        let record = InputRecord {
            key,
            value,
            timestamp,
            headers,
            partition,
            offset,
        };
        Ok((record, stamped))
    }
}

/// The common shape of a JSON record, read without building a `Value`: string (or null) key
/// and value, an integer (or null) timestamp, nothing else.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainRecord<'a> {
    #[serde(borrow, default)]
    key: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    value: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<i64>,
}

impl InputFormat {
    /// The fast path of [`InputFormat::parse_stamped`] for JSON records of the common shape
    /// ([`PlainRecord`]); `None` for anything else, which the general path then reads (and
    /// explains, when it is not a record).
    fn parse_plain(&self, index: u64, line: &str) -> Option<(InputRecord, bool)> {
        let plain: PlainRecord<'_> = serde_json::from_str(line).ok()?;
        let record = InputRecord {
            key: plain.key.map(|k| k.into_owned().into_bytes()),
            value: plain.value.map(|v| v.into_owned().into_bytes()),
            timestamp: plain.timestamp.unwrap_or_else(|| self.timestamp(index)),
            headers: Vec::new(),
            partition: 0,
            offset: i64::try_from(index).unwrap_or(i64::MAX),
        };
        Some((record, plain.timestamp.is_some()))
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
    fn a_header_repeated_is_an_array_of_values_as_consume_prints_it() {
        let r = JSON
            .parse(0, r#"{"value":"x","headers":{"tag":["a","b"],"one":"1"}}"#)
            .expect("valid record");
        let headers: Vec<(&str, &[u8])> = r
            .headers
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_slice()))
            .collect();
        assert_eq!(
            headers,
            [("one", &b"1"[..]), ("tag", &b"a"[..]), ("tag", &b"b"[..])]
        );
    }

    #[test]
    fn the_fast_path_reads_what_the_general_path_reads() {
        for line in [
            r#"{"value":"plain words","timestamp":12}"#,
            r#"{"key":"k","value":"esc\"aped \u00e9","timestamp":-5}"#,
            r#"{"value":null,"key":null,"timestamp":null}"#,
            r#"{"value":"no time"}"#,
            r#"{}"#,
        ] {
            let fast = JSON.parse_plain(9, line).expect("the common shape");
            let json: Value = serde_json::from_str(line).expect("JSON");
            // The general path, forced: a field the fast path does not take sends it there.
            let Value::Object(mut fields) = json else {
                panic!("an object")
            };
            fields.insert("partition".into(), Value::from(0));
            let slow = JSON
                .parse_stamped(9, &Value::Object(fields).to_string())
                .expect("valid record");
            assert_eq!(fast, slow, "{line}");
        }
        for line in [
            r#"{"value":{"a":1}}"#,
            r#"{"value":"x","timestamp":1.5}"#,
            r#"{"value":"x","headers":{}}"#,
        ] {
            assert!(
                JSON.parse_plain(0, line).is_none(),
                "{line} is for the general path"
            );
        }
    }

    #[test]
    fn bad_json_records_say_why() {
        for (line, why) in [
            ("not json", "not a JSON record"),
            ("[1,2]", "must be an object"),
            (r#"{"timestamp":1.5}"#, "not whole milliseconds"),
            (r#"{"timestamp":"soon"}"#, "RFC 3339"),
            (r#"{"partition":"x"}"#, "partition"),
            (r#"{"val":"typo"}"#, "unknown field `val`"),
            (r#"{"value":"x","header":{"h":"v"}}"#, "unknown field `header`"),
        ] {
            let err = JSON.parse(0, line).expect_err(line);
            assert!(err.contains(why), "{line}: {err}");
        }
    }
}
