//! [`MergeState`]: stage 2 of the shuffle, for one repartition partition.
//!
//! It keeps the **latest partial accumulator per (upstream partition, window, key)**: a partial
//! that arrives again (stage 1 replaying after a crash or a rebalance) overwrites the one before,
//! so it never counts twice. Its watermark is the **minimum of the upstream partitions'
//! watermarks** (each upstream's largest marker: markers only move forward), and a (window, key)
//! fires once that watermark passes `end + lateness`, merging the partials of every upstream.
//! For session windows the partials of one key that overlap or touch merge into one session.
//!
//! The offset rule holds here too: [`MergeState::checkpoint`] commits the earliest offset that
//! an unfired partial came from. Partials of windows that have already closed at the current
//! watermark are dropped as stale, which also makes a replay from the commit exact.

use crate::record::Window;
use crate::window::{WindowSpec, is_closed};
use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A partial accumulator and the repartition offset it was read at.
struct Partial {
    acc: Vec<u8>,
    offset: i64,
}

/// The latest partials of one key, by (window, upstream index).
type KeyPartials = BTreeMap<(Window, u32), Partial>;

/// A closed (window, key) and the partials to fold into its result, in a fixed order (window
/// start, then upstream) so that the result does not depend on arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedGroup {
    /// The window (for sessions, the union of the merged partials' windows).
    pub window: Window,
    /// Encoded reduce key.
    pub key: Vec<u8>,
    /// Encoded partial accumulators.
    pub partials: Vec<Vec<u8>>,
}

/// What stage 2 persists before committing a repartition partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeCheckpoint {
    /// The offset to commit: the earliest partial that an unfired window needs.
    pub commit_offset: i64,
    /// The offset after the last record processed.
    pub position: i64,
    /// Each upstream partition's watermark (`topic/partition` → ms) at `position`.
    pub watermarks: BTreeMap<String, i64>,
}

/// Stage-2 state of one repartition partition.
pub struct MergeState {
    sessions: bool,
    lateness: i64,
    names: Vec<String>,
    index: HashMap<String, u32>,
    watermarks: Vec<i64>,
    keys: HashMap<Vec<u8>, KeyPartials>,
    position: Option<i64>,
    fired_at: i64,
    stale: u64,
}

impl MergeState {
    /// Empty state that waits for a marker from each of `upstreams` (`topic/partition` names)
    /// before anything fires.
    pub fn new(spec: WindowSpec, lateness: i64, upstreams: impl IntoIterator<Item = String>) -> Self {
        let mut state = MergeState {
            sessions: matches!(spec, WindowSpec::Session { .. }),
            lateness,
            names: Vec::new(),
            index: HashMap::default(),
            watermarks: Vec::new(),
            keys: HashMap::default(),
            position: None,
            fired_at: i64::MIN,
            stale: 0,
        };
        for name in upstreams {
            state.upstream(&name);
        }
        state
    }

    /// Restores the upstream watermarks of a checkpoint; feed the partition from its
    /// `commit_offset` on.
    pub fn resume(&mut self, checkpoint: &MergeCheckpoint) {
        for (name, &watermark) in &checkpoint.watermarks {
            self.marker(name, watermark);
        }
        self.fired_at = self.watermark();
        self.position = Some(checkpoint.commit_offset);
    }

    fn upstream(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        self.watermarks.push(i64::MIN);
        i
    }

    /// Notes the offset of a record read (partial or marker).
    pub fn advance(&mut self, offset: i64) {
        let next = offset.saturating_add(1);
        self.position = Some(self.position.map_or(next, |p| p.max(next)));
    }

    /// Takes a partial from `upstream`; returns false when its window has already closed here
    /// (a replayed duplicate of a partial that has fired), in which case it is dropped.
    pub fn partial(&mut self, upstream: &str, window: Window, key: &[u8], acc: &[u8], offset: i64) -> bool {
        self.advance(offset);
        if is_closed(window, self.fired_at, self.lateness) {
            self.stale += 1;
            return false;
        }
        let up = self.upstream(upstream);
        let partial = Partial {
            acc: acc.to_vec(),
            offset,
        };
        match self.keys.get_mut(key) {
            Some(partials) => {
                partials.insert((window, up), partial);
            }
            None => {
                self.keys
                    .insert(key.to_vec(), BTreeMap::from([((window, up), partial)]));
            }
        }
        true
    }

    /// Takes a marker: `upstream` has sent every partial of the windows closed at `watermark`.
    pub fn marker(&mut self, upstream: &str, watermark: i64) {
        let up = self.upstream(upstream) as usize;
        self.watermarks[up] = self.watermarks[up].max(watermark);
    }

    /// The minimum of the upstream watermarks (`i64::MIN` until each has sent a marker).
    pub fn watermark(&self) -> i64 {
        self.watermarks.iter().copied().min().unwrap_or(i64::MIN)
    }

    /// Partials dropped because their window had already fired.
    pub fn stale_partials(&self) -> u64 {
        self.stale
    }

    /// Open (window, key, upstream) partials.
    pub fn open_partials(&self) -> usize {
        self.keys.values().map(BTreeMap::len).sum()
    }

    /// Open (window, key) groups and distinct open windows: a scan of every partial.
    pub fn open_groups(&self) -> (usize, usize) {
        let mut windows = std::collections::BTreeSet::new();
        let mut groups = 0;
        for partials in self.keys.values() {
            let mut last = None;
            for &(window, _) in partials.keys() {
                if last != Some(window) {
                    groups += 1;
                    windows.insert(window);
                    last = Some(window);
                }
            }
        }
        (windows.len(), groups)
    }

    /// Removes and returns every (window, key) that closed at the current watermark, in closing
    /// order (window end, start, key).
    pub fn take_closed(&mut self) -> Vec<MergedGroup> {
        let watermark = self.watermark();
        if watermark <= self.fired_at {
            return Vec::new();
        }
        self.fired_at = watermark;
        let (sessions, lateness) = (self.sessions, self.lateness);
        let mut fired = Vec::new();
        self.keys.retain(|key, partials| {
            if sessions {
                take_sessions(key, partials, watermark, lateness, &mut fired);
            } else {
                take_fixed(key, partials, watermark, lateness, &mut fired);
            }
            !partials.is_empty()
        });
        fired.sort_by(|a, b| (a.window, &a.key).cmp(&(b.window, &b.key)));
        fired
    }

    /// The progress to persist before committing; `None` before the first record.
    pub fn checkpoint(&self) -> Option<MergeCheckpoint> {
        let position = self.position?;
        let oldest = self
            .keys
            .values()
            .flat_map(|partials| partials.values().map(|p| p.offset))
            .min();
        Some(MergeCheckpoint {
            commit_offset: oldest.map_or(position, |o| o.min(position)),
            position,
            watermarks: self
                .names
                .iter()
                .cloned()
                .zip(self.watermarks.iter().copied())
                .filter(|&(_, w)| w > i64::MIN)
                .collect(),
        })
    }
}

/// Fixed windows: the closed windows are a prefix of the (window, upstream) order.
fn take_fixed(
    key: &[u8],
    partials: &mut KeyPartials,
    watermark: i64,
    lateness: i64,
    fired: &mut Vec<MergedGroup>,
) {
    while let Some(entry) = partials.first_entry() {
        let window = entry.key().0;
        if !is_closed(window, watermark, lateness) {
            break;
        }
        let mut group = MergedGroup {
            window,
            key: key.to_vec(),
            partials: Vec::new(),
        };
        while let Some(entry) = partials.first_entry() {
            if entry.key().0 != window {
                break;
            }
            group.partials.push(entry.remove().acc);
        }
        fired.push(group);
    }
}

/// Session windows: partials of the key that overlap or touch merge; a merged session fires
/// when its end has closed.
fn take_sessions(
    key: &[u8],
    partials: &mut KeyPartials,
    watermark: i64,
    lateness: i64,
    fired: &mut Vec<MergedGroup>,
) {
    let mut by_start: Vec<(Window, u32)> = partials.keys().copied().collect();
    by_start.sort_by_key(|&(w, up)| (w.start, w.end, up));
    let mut i = 0;
    while i < by_start.len() {
        let mut merged = by_start[i].0;
        let mut j = i + 1;
        while j < by_start.len() && by_start[j].0.start <= merged.end {
            merged.end = merged.end.max(by_start[j].0.end);
            j += 1;
        }
        if is_closed(merged, watermark, lateness) {
            let members = &by_start[i..j];
            fired.push(MergedGroup {
                window: merged,
                key: key.to_vec(),
                partials: members
                    .iter()
                    .filter_map(|id| partials.remove(id).map(|p| p.acc))
                    .collect(),
            });
        }
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: i64, end: i64) -> Window {
        Window { start, end }
    }

    fn tumbling() -> MergeState {
        MergeState::new(
            WindowSpec::Tumbling { size: 10 },
            0,
            ["in/0".to_string(), "in/1".to_string()],
        )
    }

    #[test]
    fn fires_when_every_upstream_has_passed_the_window() {
        let mut state = tumbling();
        assert!(state.partial("in/0", w(0, 10), b"a", b"1", 0));
        state.marker("in/0", 10);
        assert!(state.take_closed().is_empty(), "in/1 has not said anything yet");
        assert!(state.partial("in/1", w(0, 10), b"a", b"2", 1));
        state.marker("in/1", 9);
        assert!(state.take_closed().is_empty(), "in/1 has not closed [0, 10)");
        state.marker("in/1", 12);
        let fired = state.take_closed();
        assert_eq!(
            fired,
            [MergedGroup {
                window: w(0, 10),
                key: b"a".to_vec(),
                partials: vec![b"1".to_vec(), b"2".to_vec()],
            }]
        );
        assert_eq!(state.watermark(), 10);
    }

    #[test]
    fn a_partial_sent_again_overwrites_and_a_fired_one_is_dropped() {
        let mut state = tumbling();
        state.partial("in/0", w(0, 10), b"a", b"1", 0);
        state.partial("in/0", w(0, 10), b"a", b"1", 1);
        state.marker("in/0", 10);
        state.marker("in/1", 10);
        assert_eq!(
            state.take_closed()[0].partials.len(),
            1,
            "the duplicate overwrote"
        );
        assert!(
            !state.partial("in/0", w(0, 10), b"a", b"1", 5),
            "[0, 10) has fired"
        );
        assert_eq!(state.stale_partials(), 1);
        assert_eq!(state.open_partials(), 0);
    }

    #[test]
    fn checkpoint_commits_the_oldest_unfired_partial_and_resume_skips_what_fired() {
        let mut state = tumbling();
        state.partial("in/0", w(0, 10), b"a", b"1", 0);
        state.partial("in/0", w(10, 20), b"a", b"1", 1);
        state.marker("in/0", 10);
        state.marker("in/1", 10);
        state.advance(2);
        state.take_closed();
        let checkpoint = state.checkpoint().expect("records were read");
        assert_eq!(checkpoint.commit_offset, 1);
        assert_eq!(checkpoint.position, 3);

        let mut resumed = tumbling();
        resumed.resume(&checkpoint);
        assert!(!resumed.partial("in/0", w(0, 10), b"a", b"1", 0), "fired before");
        assert!(resumed.partial("in/0", w(10, 20), b"a", b"1", 1));
        resumed.marker("in/0", 20);
        resumed.marker("in/1", 20);
        let fired = resumed.take_closed();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].window, w(10, 20));
    }

    #[test]
    fn session_partials_of_one_key_merge_across_upstreams() {
        let mut state = MergeState::new(
            WindowSpec::Session { gap: 5 },
            0,
            ["in/0".to_string(), "in/1".to_string()],
        );
        state.partial("in/0", w(0, 6), b"k", b"1", 0);
        state.partial("in/1", w(6, 12), b"k", b"2", 1);
        state.partial("in/1", w(30, 35), b"k", b"3", 2);
        state.marker("in/0", 40);
        state.marker("in/1", 20);
        let fired = state.take_closed();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].window, w(0, 12));
        assert_eq!(fired[0].partials, [b"1".to_vec(), b"2".to_vec()]);
        assert_eq!(state.open_partials(), 1);
    }
}
