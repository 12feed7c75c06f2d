//! [`Output`] records and the [`Window`] they summarise.

use crate::Result;
use serde::Serialize;

/// A half-open window of event time, `[start, end)`, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// First millisecond in the window.
    pub start: i64,
    /// First millisecond after the window.
    pub end: i64,
}

/// A record for the output topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The record key; `None` writes a record without a key.
    pub key: Option<Vec<u8>>,
    /// The record value.
    pub value: Vec<u8>,
    /// Event time for the output record (transforms only; a window's output takes its end).
    pub timestamp: Option<i64>,
}

impl Output {
    /// An output record with this value and no key.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Output {
            key: None,
            value: value.into(),
            timestamp: None,
        }
    }

    /// An output record whose value is `value` as JSON.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        Ok(Output::new(serde_json::to_vec(value)?))
    }

    /// Sets the record key.
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The default output of a window: the value
    /// `{"window_start": ms, "window_end": ms, "key": key, "value": value}` keyed by
    /// `{"window_start": ms, "window_end": ms, "key": key}`, so a compacted output topic keeps one
    /// record per (window, key).
    pub fn window_json<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        window: Window,
        key: &K,
        value: &V,
    ) -> Result<Self> {
        #[derive(Serialize)]
        struct WindowKey<'a, K: ?Sized> {
            window_start: i64,
            window_end: i64,
            key: &'a K,
        }
        #[derive(Serialize)]
        struct WindowValue<'a, K: ?Sized, V: ?Sized> {
            window_start: i64,
            window_end: i64,
            key: &'a K,
            value: &'a V,
        }
        let record_key = serde_json::to_vec(&WindowKey {
            window_start: window.start,
            window_end: window.end,
            key,
        })?;
        let record_value = serde_json::to_vec(&WindowValue {
            window_start: window.start,
            window_end: window.end,
            key,
            value,
        })?;
        Ok(Output::new(record_value).with_key(record_key))
    }
}
