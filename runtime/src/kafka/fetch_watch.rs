//! [`FetchWatch`]: notices a partition whose next record batch the broker never returns
//! because it is larger than the consumer's `fetch.max.bytes`.
//!
//! Kafka returns the first record batch of a fetch whole, however large (KIP-74), so a small
//! fetch size only costs round trips there. tansu 0.6 with SQLite storage returns nothing
//! instead: the partition's position stops at that batch and the job is wedged, silently. A
//! stage fetches small by default, for a small footprint ([`super::STAGE_FETCH_BYTES`]), and
//! watches librdkafka's statistics for that signature: a partition whose fetch position has
//! not moved over several reports while the broker has records past it and none are queued.
//! The stage then commits, and rejoins with a larger fetch size (`job/stage.rs`).

use std::collections::HashMap;

/// One partition's figures from a statistics report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchReport {
    /// The next offset the consumer fetches (`next_offset`).
    pub next_offset: i64,
    /// The broker's high watermark (`hi_offset`).
    pub high_watermark: i64,
    /// Records fetched and not yet handed to the stage (`fetchq_cnt`).
    pub queued: i64,
    /// Whether the partition is being fetched (`fetch_state` is `active`).
    pub active: bool,
}

/// A partition the broker stopped returning records of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stuck {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The offset the consumer keeps asking for.
    pub offset: i64,
    /// The broker's high watermark.
    pub high_watermark: i64,
}

/// Counts, per partition, the reports in a row that found it stuck.
#[derive(Debug)]
pub struct FetchWatch {
    reports: u32,
    seen: HashMap<(String, i32), (i64, u32)>,
}

impl FetchWatch {
    /// A watch that calls a partition stuck after `reports` reports in a row without progress
    /// (the first of them sets the position it compares with).
    pub fn new(reports: u32) -> Self {
        FetchWatch {
            reports: reports.max(1),
            seen: HashMap::new(),
        }
    }

    /// Takes a partition's figures from the latest report; returns it when it is stuck.
    pub fn observe(&mut self, topic: &str, partition: i32, report: FetchReport) -> Option<Stuck> {
        let waiting = report.active
            && report.next_offset >= 0
            && report.high_watermark > report.next_offset
            && report.queued == 0;
        let key = (topic.to_string(), partition);
        if !waiting {
            self.seen.remove(&key);
            return None;
        }
        let entry = self.seen.entry(key).or_insert((report.next_offset, 0));
        if entry.0 == report.next_offset {
            entry.1 += 1;
        } else {
            *entry = (report.next_offset, 1);
        }
        (entry.1 > self.reports).then(|| Stuck {
            topic: topic.to_string(),
            partition,
            offset: report.next_offset,
            high_watermark: report.high_watermark,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(next_offset: i64, high_watermark: i64, queued: i64) -> FetchReport {
        FetchReport {
            next_offset,
            high_watermark,
            queued,
            active: true,
        }
    }

    #[test]
    fn a_partition_that_stays_behind_with_nothing_queued_is_stuck_after_the_reports_in_a_row() {
        let mut watch = FetchWatch::new(2);
        assert_eq!(watch.observe("in", 0, report(10, 12, 0)), None);
        assert_eq!(watch.observe("in", 0, report(10, 12, 0)), None);
        let stuck = watch.observe("in", 0, report(10, 13, 0));
        assert_eq!(
            stuck,
            Some(Stuck {
                topic: "in".into(),
                partition: 0,
                offset: 10,
                high_watermark: 13
            })
        );
    }

    #[test]
    fn progress_records_queued_a_partition_caught_up_or_not_fetched_start_the_count_again() {
        let mut watch = FetchWatch::new(2);
        for _ in 0..2 {
            assert_eq!(watch.observe("in", 0, report(10, 12, 0)), None);
        }
        // It moved: counting starts again from the new position.
        assert_eq!(watch.observe("in", 0, report(11, 12, 0)), None);
        assert_eq!(watch.observe("in", 0, report(11, 12, 0)), None);
        // Records waiting for the stage: the broker did return them.
        assert_eq!(watch.observe("in", 0, report(11, 12, 5)), None);
        assert_eq!(watch.observe("in", 0, report(11, 12, 0)), None);
        assert_eq!(watch.observe("in", 0, report(11, 12, 0)), None);
        // Caught up.
        assert_eq!(watch.observe("in", 0, report(12, 12, 0)), None);
        assert_eq!(watch.observe("in", 0, report(12, 12, 0)), None);
        assert_eq!(watch.observe("in", 0, report(12, 12, 0)), None);
        // Paused, stopped or not started: not being fetched.
        let idle = FetchReport {
            active: false,
            ..report(12, 20, 0)
        };
        for _ in 0..4 {
            assert_eq!(watch.observe("in", 0, idle), None);
        }
        // No position yet.
        for _ in 0..4 {
            assert_eq!(watch.observe("in", 0, report(-1001, 20, 0)), None);
        }
    }

    #[test]
    fn partitions_are_counted_apart() {
        let mut watch = FetchWatch::new(1);
        assert_eq!(watch.observe("in", 0, report(5, 9, 0)), None);
        assert_eq!(watch.observe("in", 1, report(5, 9, 0)), None);
        assert_eq!(watch.observe("other", 0, report(5, 9, 0)), None);
        assert!(watch.observe("in", 1, report(5, 9, 0)).is_some());
    }
}
