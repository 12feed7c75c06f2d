//! Reading a job's dead-letter topic back: [`StoredDeadLetter`] (a dead letter with the
//! `weir.*` headers [`super::dead_letter`] wrote, decoded), the newest ones ([`recent`]), those
//! after a cursor ([`after`], to follow the topic) and all of them from a cursor on ([`each`],
//! to replay them).

use anyhow::Result;
use rdkafka::message::Message;

/// How many records a backward read takes per step.
const STEP: i64 = 500;

pub use super::topic_reader::{Cursor, format_cursor, parse_cursor};

/// Where a dead letter's record was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePosition {
    /// The input topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// A dead letter as read back from the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeadLetter {
    /// Its partition in the dead-letter topic.
    pub partition: i32,
    /// Its offset in the dead-letter topic.
    pub offset: i64,
    /// The record's timestamp (the original record's, for a record read from the input).
    pub timestamp: Option<i64>,
    /// The original key.
    pub key: Option<Vec<u8>>,
    /// The original value (its head, when `weir.truncated` says it was cut).
    pub value: Option<Vec<u8>>,
    /// Every header: the original record's, then the `weir.*` ones.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Which dead letters a read keeps.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these reasons (`weir.reason`); every reason when empty.
    pub reasons: Vec<String>,
    /// Only those set aside at or after this time (ms since the epoch): the `weir.at` header,
    /// or the record's timestamp for dead letters written before that header.
    pub since: Option<i64>,
}

impl Filter {
    /// Whether `dead` passes.
    pub fn keeps(&self, dead: &StoredDeadLetter) -> bool {
        let reason_ok = self.reasons.is_empty()
            || dead
                .header("weir.reason")
                .is_some_and(|r| self.reasons.contains(&r));
        let time_ok = match self.since {
            Some(since) => dead.at().is_some_and(|at| at >= since),
            None => true,
        };
        reason_ok && time_ok
    }
}

impl StoredDeadLetter {
    /// The last value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        crate::outgoing::last_header(&self.headers, name)
    }

    /// When it was set aside (ms): `weir.at`, else the record's timestamp.
    pub fn at(&self) -> Option<i64> {
        self.header("weir.at")
            .and_then(|v| v.parse().ok())
            .or(self.timestamp)
    }

    /// Where its record was read, when it concerns an input record.
    pub fn source(&self) -> Option<SourcePosition> {
        Some(SourcePosition {
            topic: self.header("weir.source.topic")?,
            partition: self.header("weir.source.partition")?.parse().ok()?,
            offset: self.header("weir.source.offset")?.parse().ok()?,
        })
    }

    /// The original record's headers (every header not `weir.*`).
    pub fn original_headers(&self) -> impl Iterator<Item = &(String, Vec<u8>)> {
        self.headers.iter().filter(|(k, _)| !k.starts_with("weir."))
    }

    fn from_message<M: Message>(message: &M) -> Self {
        StoredDeadLetter {
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers: super::message_headers(message),
        }
    }
}

/// A reader of a dead-letter topic.
pub type DeadLetterReader = super::topic_reader::TopicReader;

/// Reads `[start, end)` of `partition` as dead letters.
fn range(
    reader: &DeadLetterReader,
    partition: i32,
    start: i64,
    end: i64,
    each: &mut dyn FnMut(StoredDeadLetter),
) -> Result<()> {
    reader.range(partition, start, end, &mut |m| {
        each(StoredDeadLetter::from_message(m));
    })
}

/// A page of dead letters, oldest first, and where to go on from.
#[derive(Debug, Clone)]
pub struct Page {
    /// The dead letters, by the time they were set aside.
    pub dead_letters: Vec<StoredDeadLetter>,
    /// The end of each partition when read: [`after`] this cursor gives the next ones.
    pub next: Cursor,
    /// Whether older matches may exist beyond what was scanned (`max_scan` per partition).
    pub more: bool,
}

/// The newest `limit` dead letters `filter` keeps, reading each partition backwards at most
/// `max_scan` records.
pub fn recent(reader: &DeadLetterReader, filter: &Filter, limit: usize, max_scan: i64) -> Result<Page> {
    let mut found = Vec::new();
    let mut next = Cursor::new();
    let mut more = false;
    for (partition, (low, high)) in reader.bounds()? {
        next.insert(partition, high);
        let floor = low.max(high - max_scan);
        let mut end = high;
        let mut kept = 0;
        while end > floor && kept < limit {
            let start = (end - STEP).max(floor);
            let mut step = Vec::new();
            range(reader, partition, start, end, &mut |d| {
                if filter.keeps(&d) {
                    step.push(d);
                }
            })?;
            kept += step.len();
            found.extend(step);
            end = start;
        }
        more |= end > low;
    }
    found.sort_by_key(|d| (d.at().unwrap_or(i64::MIN), d.partition, d.offset));
    let skip = found.len().saturating_sub(limit);
    more |= skip > 0;
    Ok(Page {
        dead_letters: found.split_off(skip),
        next,
        more,
    })
}

/// The dead letters `filter` keeps after `cursor` (from the start of partitions it does not
/// name), at most `limit` per partition, oldest first.
pub fn after(reader: &DeadLetterReader, cursor: &Cursor, filter: &Filter, limit: usize) -> Result<Page> {
    let mut found = Vec::new();
    let mut next = Cursor::new();
    let mut more = false;
    for (partition, (low, high)) in reader.bounds()? {
        let start = cursor.get(&partition).copied().unwrap_or(low).max(low);
        let end = high.min(start.saturating_add(i64::try_from(limit).unwrap_or(i64::MAX)));
        more |= end < high;
        range(reader, partition, start, end, &mut |d| {
            if filter.keeps(&d) {
                found.push(d);
            }
        })?;
        next.insert(partition, end.max(start));
    }
    found.sort_by_key(|d| (d.at().unwrap_or(i64::MIN), d.partition, d.offset));
    Ok(Page {
        dead_letters: found,
        next,
        more,
    })
}

/// Hands every dead letter after `cursor` up to the ends of the partitions now to `each`, and
/// returns those ends.
pub fn each(
    reader: &DeadLetterReader,
    cursor: &Cursor,
    each: &mut dyn FnMut(StoredDeadLetter),
) -> Result<Cursor> {
    let mut next = Cursor::new();
    for (partition, (low, high)) in reader.bounds()? {
        let start = cursor.get(&partition).copied().unwrap_or(low).max(low);
        range(reader, partition, start, high, each)?;
        next.insert(partition, high.max(start));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead(reason: &str, at: Option<i64>, timestamp: i64) -> StoredDeadLetter {
        let mut headers = vec![
            ("trace".to_string(), b"t1".to_vec()),
            ("weir.reason".to_string(), reason.as_bytes().to_vec()),
            ("weir.source.topic".to_string(), b"lines".to_vec()),
            ("weir.source.partition".to_string(), b"2".to_vec()),
            ("weir.source.offset".to_string(), b"41".to_vec()),
        ];
        if let Some(at) = at {
            headers.push(("weir.at".to_string(), at.to_string().into_bytes()));
        }
        StoredDeadLetter {
            partition: 0,
            offset: 0,
            timestamp: Some(timestamp),
            key: None,
            value: Some(b"x".to_vec()),
            headers,
        }
    }

    #[test]
    fn a_filter_keeps_reasons_and_times_and_reads_old_dead_letters_by_timestamp() {
        let filter = Filter {
            reasons: vec!["rejected".into(), "panic".into()],
            since: Some(100),
        };
        assert!(filter.keeps(&dead("rejected", Some(150), 5)));
        assert!(!filter.keeps(&dead("late", Some(150), 5)));
        assert!(!filter.keeps(&dead("panic", Some(50), 500)), "weir.at wins");
        assert!(
            filter.keeps(&dead("panic", None, 500)),
            "no weir.at: the timestamp"
        );
        assert!(Filter::default().keeps(&dead("late", None, 0)));
    }

    #[test]
    fn a_dead_letter_says_where_its_record_came_from_and_keeps_its_own_headers() {
        let d = dead("rejected", None, 0);
        assert_eq!(
            d.source(),
            Some(SourcePosition {
                topic: "lines".into(),
                partition: 2,
                offset: 41
            })
        );
        let original: Vec<&str> = d.original_headers().map(|(k, _)| k.as_str()).collect();
        assert_eq!(original, vec!["trace"]);
    }

    #[test]
    fn cursors_read_back_what_they_print() {
        let cursor: Cursor = [(0, 15), (1, 3)].into_iter().collect();
        assert_eq!(format_cursor(&cursor), "0:15,1:3");
        assert_eq!(parse_cursor("0:15,1:3"), Some(cursor));
        assert_eq!(parse_cursor("0=15"), None);
        assert_eq!(parse_cursor(""), Some(Cursor::new()));
    }
}
