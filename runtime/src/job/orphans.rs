//! [`OrphanWatch`]: a member that the group left without a partition, watching for input
//! partitions that nobody consumes.
//!
//! The group may give a member nothing while partitions go unconsumed: tansu, after a kill -9
//! and a restart, once kept assigning every partition to the dead member and never rebalanced
//! again, so the new runtime waited minutes without a partition and without a word. A member
//! with nothing cannot ask the group who holds what (tansu does not answer DescribeGroups), so
//! it watches the partitions themselves: one whose committed offset has not moved between two
//! looks an interval apart, while records wait behind it, has no owner making progress. The
//! member then says so and rejoins the group. A rejoin that changes nothing (the partition has
//! a live owner that is only slow, or waits for a long window to close) doubles the interval,
//! so a healthy pool with more members than partitions pays one rebalance per interval at
//! most, and ever fewer.

use std::time::{Duration, Instant};

/// Where a partition stands for the group: (committed offset, or the first offset when nothing
/// is committed; end offset), by (topic, partition).
pub type Positions = crate::kafka::GroupPositions;

/// The longest interval between two looks, however many rejoins changed nothing.
const MAX_INTERVAL: Duration = Duration::from_secs(600);

/// A partition with records waiting and no progress between two looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stalled {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Records waiting behind the committed offset.
    pub waiting: i64,
    /// How long the committed offset has not moved, at least.
    pub unmoved: Duration,
}

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} ({} records waiting, no commit for {}s)",
            self.topic,
            self.partition,
            self.waiting,
            self.unmoved.as_secs()
        )
    }
}

/// The partitions that had records waiting at both looks, `apart` apart, and whose committed
/// offset did not move between them, in (topic, partition) order.
pub fn stalled(before: &Positions, now: &Positions, apart: Duration) -> Vec<Stalled> {
    now.iter()
        .filter_map(|(at, &(committed, end))| {
            let &(was, was_end) = before.get(at)?;
            (committed == was && was < was_end && committed < end).then(|| Stalled {
                topic: at.0.clone(),
                partition: at.1,
                waiting: end - committed,
                unmoved: apart,
            })
        })
        .collect()
}

/// The watch of one stage's member.
pub struct OrphanWatch {
    first: Duration,
    interval: Duration,
    empty_since: Option<Instant>,
    looked: Option<(Instant, Positions)>,
}

impl OrphanWatch {
    /// A watch that first looks after the member has held nothing for `interval`.
    pub fn new(interval: Duration) -> Self {
        OrphanWatch {
            first: interval,
            interval,
            empty_since: None,
            looked: None,
        }
    }

    /// Called every loop with whether the member holds a partition; `positions` reads where the
    /// partitions stand (only when a look is due). Returns the stalled partitions when the
    /// member should rejoin.
    pub fn check<E>(
        &mut self,
        holds_any: bool,
        now: Instant,
        positions: impl FnOnce() -> Result<Positions, E>,
    ) -> Result<Vec<Stalled>, E> {
        if holds_any {
            self.interval = self.first;
            self.empty_since = None;
            self.looked = None;
            return Ok(Vec::new());
        }
        let since = *self.empty_since.get_or_insert(now);
        let due = match &self.looked {
            None => now.duration_since(since) >= self.interval,
            Some((at, _)) => now.duration_since(*at) >= self.interval,
        };
        if !due {
            return Ok(Vec::new());
        }
        let current = positions()?;
        let found = match &self.looked {
            Some((at, before)) => stalled(before, &current, now.duration_since(*at)),
            None => Vec::new(),
        };
        if found.is_empty() {
            self.looked = Some((now, current));
        } else {
            // A rejoin follows: look afresh, later, in case it changes nothing.
            self.interval = (self.interval * 2).min(MAX_INTERVAL);
            self.empty_since = Some(now);
            self.looked = None;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(positions: &[(i32, i64, i64)]) -> Positions {
        positions
            .iter()
            .map(|&(p, committed, end)| (("in".to_string(), p), (committed, end)))
            .collect()
    }

    #[test]
    fn a_partition_is_stalled_when_records_wait_and_its_commit_does_not_move() {
        let before = at(&[(0, 10, 20), (1, 10, 20), (2, 20, 20), (3, 5, 9)]);
        let now = at(&[(0, 10, 25), (1, 15, 25), (2, 20, 30), (4, 0, 5)]);
        let apart = Duration::from_secs(30);
        assert_eq!(
            stalled(&before, &now, apart),
            [Stalled {
                topic: "in".to_string(),
                partition: 0,
                waiting: 15,
                unmoved: apart,
            }],
            "1 moved, 2 had nothing waiting at the first look, 3 is gone, 4 is new"
        );
    }

    #[test]
    fn the_watch_looks_twice_an_interval_apart_and_backs_off_after_a_rejoin() {
        let interval = Duration::from_secs(30);
        let mut watch = OrphanWatch::new(interval);
        let start = Instant::now();
        let stuck = || Ok::<_, ()>(at(&[(0, 10, 20)]));
        let never = || -> Result<Positions, ()> { panic!("not due") };
        assert_eq!(watch.check(false, start, never), Ok(vec![]));
        assert_eq!(watch.check(false, start + interval / 2, never), Ok(vec![]));
        assert_eq!(
            watch.check(false, start + interval, stuck),
            Ok(vec![]),
            "first look"
        );
        assert_eq!(watch.check(false, start + interval * 3 / 2, never), Ok(vec![]));
        let found = watch.check(false, start + interval * 2, stuck);
        assert_eq!(found.map(|s| s.len()), Ok(1), "second look: stalled");
        // The rejoin changed nothing: the next two looks are twice as far apart.
        let rejoined = start + interval * 2;
        assert_eq!(watch.check(false, rejoined + interval, never), Ok(vec![]));
        assert_eq!(watch.check(false, rejoined + interval * 2, stuck), Ok(vec![]));
        assert_eq!(watch.check(false, rejoined + interval * 3, never), Ok(vec![]));
        assert_eq!(
            watch
                .check(false, rejoined + interval * 4, stuck)
                .map(|s| s.len()),
            Ok(1)
        );
        // A partition assigned: back to the first interval, from scratch.
        let later = rejoined + interval * 5;
        assert_eq!(watch.check(true, later, never), Ok(vec![]));
        assert_eq!(watch.check(false, later, never), Ok(vec![]));
        assert_eq!(watch.check(false, later + interval, stuck), Ok(vec![]));
        assert_eq!(
            watch.check(false, later + interval * 2, stuck).map(|s| s.len()),
            Ok(1)
        );
    }

    #[test]
    fn a_partition_that_moves_between_looks_is_not_stalled() {
        let interval = Duration::from_secs(10);
        let mut watch = OrphanWatch::new(interval);
        let start = Instant::now();
        watch.check(false, start, || Ok::<_, ()>(Positions::new())).ok();
        let mut committed = 0;
        for look in 1..6 {
            committed += 5;
            let positions = at(&[(0, committed, committed + 100)]);
            assert_eq!(
                watch.check(false, start + interval * look, || Ok::<_, ()>(positions)),
                Ok(vec![])
            );
        }
    }
}
