//! [`MergeState`]: stage 2 of the shuffle, for one repartition partition.
//!
//! It keeps the **latest partial accumulator per (upstream partition, window, key)**: a partial
//! that arrives again (stage 1 replaying after a crash or a rebalance) overwrites the one before,
//! so it never counts twice. Each upstream's progress is its **mark**: the largest watermark any
//! of its owners has sent, with that marker's open-session start, and the newest epoch seen.
//!
//! Two owners of one input partition at once (a zombie, or tansu handing the partition out
//! before revoking it) both write, and both are taken: event-time processing from a checkpoint
//! is deterministic, so their partials agree, and a marker vouches for partials its own writer
//! sent before it. Ignoring the older epoch was tried and is wrong on tansu: it can give a
//! partition to a second member without revoking it from the first, and when that second
//! member then stops, the first goes on as the only owner under the older epoch, ignored
//! forever (the nemesis test found it). Fencing needs the superseded owner to notice and claim
//! again first; until then epochs are carried and counted, not enforced.
//!
//! The **frontier** is the event time up to which every result is final: the minimum of the
//! upstream watermarks less the lateness (an upstream that said it is idle is left out until
//! its next plain marker, unless every upstream is idle), and for sessions also just before the earliest start
//! of a session still open upstream (such a session may yet join one of ours: a merged session
//! fires only when no upstream can still send a partial that overlaps or touches it). A (merged)
//! window fires when its end reaches the frontier. Firing is decided after each marker, so the
//! result does not depend on how records are batched.
//!
//! A partial whose window ends at or before the highest frontier fired so far cannot join its
//! window any more. Usually it is a replayed duplicate of one that fired, and is dropped: its
//! upstream sent a marker past it before (stage 1 fires a window when its watermark reaches
//! `end + lateness`, then sends the marker), so it ends at or before that upstream's mark less
//! the lateness. A partial sent for the first time ends after its upstream's previous marker;
//! behind the frontier, its records came after the job's event time had passed them: an
//! upstream heard of for the first time (a partition added to the topic while the job runs) or
//! one back from idleness. Such a partial is [`Taken::Late`], for the caller to dead-letter,
//! never dropped silently.
//!
//! The offset rule holds here too: [`MergeState::checkpoint`] commits the earliest offset that
//! an unfired partial came from, with the marks and frontier **as they were just before that
//! offset**. A resume from it replays the partition exactly as it went the first time; what
//! fired before the checkpoint's position fires again only into [`MergeState::replaying`]
//! results, which the caller does not write again.

use crate::record::Window;
use crate::window::WindowSpec;
use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};

/// A partial accumulator, the repartition offset it was read at, and its writer's epoch.
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

/// What became of a partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Kept until its window fires.
    Kept,
    /// A replayed copy of a partial whose window fired: dropped.
    Duplicate,
    /// Sent for the first time after its window fired: its records missed the window.
    Late,
}

/// What stage 2 knows of one upstream partition's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamMark {
    /// The newest fencing epoch seen for it.
    pub epoch: i64,
    /// That epoch's largest watermark (`i64::MIN` before its first marker).
    pub watermark: i64,
    /// The earliest start of a session still open upstream, at that marker.
    pub open_session: i64,
    /// The upstream said it is idle (no record for the job's `idle_timeout`) and has not
    /// sent a plain marker since: it does not hold the frontier back.
    #[serde(default)]
    pub idle: bool,
}

impl UpstreamMark {
    /// Nothing heard from this upstream (at `epoch`): holds every window back.
    fn unheard(epoch: i64) -> Self {
        UpstreamMark {
            epoch,
            watermark: i64::MIN,
            open_session: i64::MIN,
            idle: false,
        }
    }
}

/// What stage 2 persists before committing a repartition partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeCheckpoint {
    /// The offset to commit: the earliest partial that an unfired window needs.
    pub commit_offset: i64,
    /// The offset after the last record processed: what fires on a replay before it was
    /// written before.
    pub position: i64,
    /// Each upstream partition's watermark (`topic/partition` → ms) at `position`, for people.
    pub watermarks: BTreeMap<String, i64>,
    /// Each upstream's mark just before `commit_offset`, to replay from there exactly.
    #[serde(default)]
    pub marks: BTreeMap<String, UpstreamMark>,
    /// The frontier fired through just before `commit_offset`; `None` in checkpoints of the
    /// first format (resumed from `watermarks`, as they were written).
    #[serde(default)]
    pub fired_through: Option<i64>,
    /// Whether `marks` names exactly the upstreams known just before `commit_offset`, heard
    /// from or not (an upstream first heard of later is left out, as it was then). False in
    /// older checkpoints, which left out the upstreams never heard from.
    #[serde(default)]
    pub all_upstreams: bool,
}

/// A change of the marks or the frontier, kept until the commit offset passes it, so that the
/// checkpoint can say what they were at the commit offset.
struct Undo {
    offset: i64,
    upstream: u32,
    /// `None`: the upstream was not known yet.
    mark: Option<UpstreamMark>,
    fired_through: i64,
}

/// Stage-2 state of one repartition partition.
pub struct MergeState {
    sessions: bool,
    lateness: i64,
    names: Vec<String>,
    index: HashMap<String, u32>,
    marks: Vec<UpstreamMark>,
    keys: HashMap<Vec<u8>, KeyPartials>,
    position: Option<i64>,
    fired_through: i64,
    undo: VecDeque<Undo>,
    replay_until: i64,
    stale: u64,
    late: u64,
    older_owners: u64,
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
            marks: Vec::new(),
            keys: HashMap::default(),
            position: None,
            fired_through: i64::MIN,
            undo: VecDeque::new(),
            replay_until: i64::MIN,
            stale: 0,
            late: 0,
            older_owners: 0,
        };
        for name in upstreams {
            state.upstream(&name, None);
        }
        state
    }

    /// Restores a checkpoint; feed the partition from its `commit_offset` on. The upstreams
    /// known are the checkpoint's (an upstream given to [`MergeState::new`] that the
    /// checkpoint does not know, a partition added since, counts from its first record on, as
    /// it did when the checkpoint was written), so that the replay goes exactly as before.
    pub fn resume(&mut self, checkpoint: &MergeCheckpoint) {
        match checkpoint.fired_through {
            Some(fired_through) => {
                if checkpoint.all_upstreams {
                    self.names.clear();
                    self.index.clear();
                    self.marks.clear();
                }
                for (name, mark) in &checkpoint.marks {
                    let up = self.upstream(name, None) as usize;
                    self.marks[up] = *mark;
                }
                self.fired_through = fired_through;
            }
            None => {
                // The first format kept the watermarks at `position` only.
                for (name, &watermark) in &checkpoint.watermarks {
                    let up = self.upstream(name, None) as usize;
                    self.marks[up] = UpstreamMark {
                        epoch: 0,
                        watermark,
                        open_session: i64::MAX,
                        idle: false,
                    };
                }
                self.fired_through = self.frontier();
            }
        }
        self.position = Some(checkpoint.commit_offset);
        self.replay_until = checkpoint.position;
    }

    /// The index of upstream `name`; one first heard of in the record at `offset` becomes
    /// known from that offset on (and holds the frontier back until its first marker).
    fn upstream(&mut self, name: &str, offset: Option<i64>) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        self.marks.push(UpstreamMark::unheard(i64::MIN));
        if let Some(offset) = offset {
            self.undo.push_back(Undo {
                offset,
                upstream: i,
                mark: None,
                fired_through: self.fired_through,
            });
        }
        i
    }

    /// Notes the offset of a record read (partial, marker, or one that is neither).
    pub fn advance(&mut self, offset: i64) {
        let next = offset.saturating_add(1);
        self.position = Some(self.position.map_or(next, |p| p.max(next)));
    }

    /// Whether the record last read comes before the position of the checkpoint this state
    /// resumed from: what fires now was written before.
    pub fn replaying(&self) -> bool {
        self.position.is_some_and(|p| p <= self.replay_until)
    }

    /// Notes a record of `upstream` written at `epoch`: counts it when an owner with a newer
    /// epoch has written before (two owners at once). Its records are still taken: see the
    /// module doc for why stage 2 does not ignore them yet.
    fn note_epoch(&mut self, up: u32, epoch: i64) {
        if epoch < self.marks[up as usize].epoch {
            self.older_owners += 1;
        }
    }

    fn remember(&mut self, upstream: u32, offset: i64) {
        self.undo.push_back(Undo {
            offset,
            upstream,
            mark: Some(self.marks[upstream as usize]),
            fired_through: self.fired_through,
        });
    }

    /// Takes a partial from `upstream` (written at `epoch`), read at `offset`; see [`Taken`].
    pub fn partial(
        &mut self,
        upstream: &str,
        epoch: i64,
        window: Window,
        key: &[u8],
        acc: &[u8],
        offset: i64,
    ) -> Taken {
        self.advance(offset);
        let up = self.upstream(upstream, Some(offset));
        self.note_epoch(up, epoch);
        if window.end <= self.fired_through {
            let passed = self.marks[up as usize].watermark.saturating_sub(self.lateness);
            if window.end <= passed {
                self.stale += 1;
                return Taken::Duplicate;
            }
            self.late += 1;
            return Taken::Late;
        }
        // Sent again: the value is the later one, but the offset stays the earliest, so that a
        // replay from the checkpoint has the partial wherever the first run had it (from a
        // later offset, the partial would be missing until its copy, and what merges with it
        // could fire without it).
        let keep = |partials: &mut KeyPartials| {
            partials
                .entry((window, up))
                .and_modify(|partial| partial.acc = acc.to_vec())
                .or_insert_with(|| Partial {
                    acc: acc.to_vec(),
                    offset,
                });
        };
        match self.keys.get_mut(key) {
            Some(partials) => keep(partials),
            None => {
                let mut partials = KeyPartials::new();
                keep(&mut partials);
                self.keys.insert(key.to_vec(), partials);
            }
        }
        Taken::Kept
    }

    /// Takes a marker of `upstream` read at `offset`: at `epoch`, it has sent every partial of
    /// the windows closed at `watermark`, and its earliest open session starts at
    /// `open_session`; `idle` when it has had no record for the job's idle timeout. Markers
    /// only move an upstream's watermark forward, whichever owner wrote them.
    pub fn marker(
        &mut self,
        upstream: &str,
        epoch: i64,
        watermark: i64,
        open_session: i64,
        idle: bool,
        offset: i64,
    ) {
        self.advance(offset);
        let up = self.upstream(upstream, Some(offset));
        self.note_epoch(up, epoch);
        let mark = self.marks[up as usize];
        let next = UpstreamMark {
            epoch: mark.epoch.max(epoch),
            watermark: mark.watermark.max(watermark),
            open_session: match watermark.cmp(&mark.watermark) {
                Ordering::Greater => open_session,
                Ordering::Equal => open_session.min(mark.open_session),
                Ordering::Less => mark.open_session,
            },
            idle,
        };
        if next != mark {
            self.remember(up, offset);
            self.marks[up as usize] = next;
        }
    }

    /// The upstreams that hold the frontier back: the active ones, or all of them when every
    /// one is idle (then nothing moves on until one gets records again).
    fn holding_back(&self) -> impl Iterator<Item = &UpstreamMark> {
        let all_idle = self.marks.iter().all(|m| m.idle);
        self.marks.iter().filter(move |m| all_idle || !m.idle)
    }

    /// The minimum of the watermarks of the upstreams that hold the frontier back
    /// (`i64::MIN` until each has sent a marker).
    pub fn watermark(&self) -> i64 {
        self.holding_back().map(|m| m.watermark).min().unwrap_or(i64::MIN)
    }

    /// The event time through which every (merged) window is final; see the module doc.
    fn frontier(&self) -> i64 {
        let watermark = self.watermark();
        let mut frontier = if watermark == i64::MAX {
            i64::MAX
        } else {
            watermark.saturating_sub(self.lateness)
        };
        if self.sessions {
            let open = self
                .holding_back()
                .map(|m| m.open_session)
                .min()
                .unwrap_or(i64::MIN);
            frontier = frontier.min(open.saturating_sub(1));
        }
        frontier
    }

    /// Partials dropped because their window had already fired.
    pub fn stale_partials(&self) -> u64 {
        self.stale
    }

    /// Partials sent for the first time after their window fired (see [`Taken::Late`]).
    pub fn late_partials(&self) -> u64 {
        self.late
    }

    /// Records written by an owner after one with a newer epoch had written (two owners of
    /// one input partition at once).
    pub fn older_owner_records(&self) -> u64 {
        self.older_owners
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

    /// Removes and returns every (window, key) that the frontier has reached, in closing order
    /// (window end, start, key). Call it after every marker.
    pub fn take_closed(&mut self) -> Vec<MergedGroup> {
        let frontier = self.frontier();
        if frontier <= self.fired_through {
            return Vec::new();
        }
        self.fired_through = frontier;
        let sessions = self.sessions;
        let mut fired = Vec::new();
        self.keys.retain(|key, partials| {
            if sessions {
                take_sessions(key, partials, frontier, &mut fired);
            } else {
                take_fixed(key, partials, frontier, &mut fired);
            }
            !partials.is_empty()
        });
        fired.sort_by(|a, b| {
            (a.window.end, a.window.start, &a.key).cmp(&(b.window.end, b.window.start, &b.key))
        });
        fired
    }

    /// The progress to persist before committing; `None` before the first record. Forgets
    /// what no later checkpoint can need.
    pub fn checkpoint(&mut self) -> Option<MergeCheckpoint> {
        let position = self.position?;
        let oldest = self
            .keys
            .values()
            .flat_map(|partials| partials.values().map(|p| p.offset))
            .min();
        let commit_offset = oldest.map_or(position, |o| o.min(position));
        while self.undo.front().is_some_and(|u| u.offset < commit_offset) {
            self.undo.pop_front();
        }
        let mut marks: Vec<Option<UpstreamMark>> = self.marks.iter().copied().map(Some).collect();
        let mut fired_through = self.fired_through;
        for undo in self.undo.iter().rev() {
            marks[undo.upstream as usize] = undo.mark;
            fired_through = undo.fired_through;
        }
        Some(MergeCheckpoint {
            commit_offset,
            position: position.max(self.replay_until),
            watermarks: self
                .names
                .iter()
                .zip(&self.marks)
                .filter(|(_, m)| m.watermark > i64::MIN)
                .map(|(name, m)| (name.clone(), m.watermark))
                .collect(),
            marks: self
                .names
                .iter()
                .zip(marks)
                .filter_map(|(name, mark)| Some((name.clone(), mark?)))
                .collect(),
            fired_through: Some(fired_through),
            all_upstreams: true,
        })
    }
}

/// Fixed windows: the closed windows are a prefix of the (window, upstream) order.
fn take_fixed(key: &[u8], partials: &mut KeyPartials, frontier: i64, fired: &mut Vec<MergedGroup>) {
    while let Some(entry) = partials.first_entry() {
        let window = entry.key().0;
        if window.end > frontier {
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
/// when its end has reached the frontier.
fn take_sessions(key: &[u8], partials: &mut KeyPartials, frontier: i64, fired: &mut Vec<MergedGroup>) {
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
        if merged.end <= frontier {
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

    /// A marker without session information, at epoch 1.
    fn mark(state: &mut MergeState, upstream: &str, watermark: i64, offset: i64) -> Vec<MergedGroup> {
        state.marker(upstream, 1, watermark, i64::MAX, false, offset);
        state.take_closed()
    }

    #[test]
    fn fires_when_every_upstream_has_passed_the_window() {
        let mut state = tumbling();
        assert_eq!(state.partial("in/0", 1, w(0, 10), b"a", b"1", 0), Taken::Kept);
        assert!(
            mark(&mut state, "in/0", 10, 1).is_empty(),
            "in/1 has not said anything yet"
        );
        assert_eq!(state.partial("in/1", 1, w(0, 10), b"a", b"2", 2), Taken::Kept);
        assert!(
            mark(&mut state, "in/1", 9, 3).is_empty(),
            "in/1 has not closed [0, 10)"
        );
        let fired = mark(&mut state, "in/1", 12, 4);
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
        state.partial("in/0", 1, w(0, 10), b"a", b"1", 0);
        state.partial("in/0", 1, w(0, 10), b"a", b"1", 1);
        mark(&mut state, "in/0", 10, 2);
        let fired = mark(&mut state, "in/1", 10, 3);
        assert_eq!(fired[0].partials.len(), 1, "the duplicate overwrote");
        assert_eq!(
            state.partial("in/0", 1, w(0, 10), b"a", b"1", 5),
            Taken::Duplicate,
            "[0, 10) has fired"
        );
        assert_eq!(state.stale_partials(), 1);
        assert_eq!(state.open_partials(), 0);
    }

    #[test]
    fn checkpoint_commits_the_oldest_unfired_partial_and_resume_replays_it_exactly() {
        let mut state = tumbling();
        state.partial("in/0", 1, w(0, 10), b"a", b"1", 0);
        state.partial("in/0", 1, w(10, 20), b"a", b"1", 1);
        mark(&mut state, "in/0", 10, 2);
        assert_eq!(mark(&mut state, "in/1", 10, 3).len(), 1);
        let checkpoint = state.checkpoint().expect("records were read");
        assert_eq!(checkpoint.commit_offset, 1);
        assert_eq!(checkpoint.position, 4);
        assert_eq!(
            checkpoint.marks.get("in/1"),
            Some(&UpstreamMark::unheard(i64::MIN)),
            "in/1 had sent nothing before offset 1"
        );

        let mut resumed = tumbling();
        resumed.resume(&checkpoint);
        assert_eq!(resumed.partial("in/0", 1, w(10, 20), b"a", b"1", 1), Taken::Kept);
        mark(&mut resumed, "in/0", 10, 2);
        assert!(resumed.replaying());
        let again = mark(&mut resumed, "in/1", 10, 3);
        assert!(
            again.is_empty(),
            "[0, 10) fired before offset 1: its partial is not here"
        );
        mark(&mut resumed, "in/0", 20, 4);
        assert!(!resumed.replaying());
        let fired = mark(&mut resumed, "in/1", 20, 5);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].window, w(10, 20));
    }

    #[test]
    fn two_owners_of_one_upstream_both_count_and_markers_only_move_forward() {
        let mut state = tumbling();
        mark(&mut state, "in/1", 100, 0);
        // The owner of in/0 at epoch 1 is ahead; the one at epoch 2 replays behind it.
        state.partial("in/0", 1, w(0, 10), b"a", b"1", 1);
        state.marker("in/0", 1, 30, i64::MAX, false, 2);
        let fired = state.take_closed();
        assert_eq!(fired.len(), 1);
        assert_eq!(
            state.partial("in/0", 2, w(0, 10), b"a", b"1", 3),
            Taken::Duplicate,
            "fired already"
        );
        state.marker("in/0", 2, 5, i64::MAX, false, 4);
        assert_eq!(state.watermark(), 30, "a marker never moves a mark back");
        state.marker("in/0", 1, 40, i64::MAX, false, 5);
        assert_eq!(state.watermark(), 40, "the older owner still counts");
        assert_eq!(state.older_owner_records(), 1);
    }

    #[test]
    fn an_upstream_heard_of_mid_stream_holds_windows_back_and_its_late_partials_are_late() {
        let mut state = tumbling();
        state.partial("in/0", 1, w(0, 10), b"a", b"1", 0);
        mark(&mut state, "in/0", 30, 1);
        assert_eq!(mark(&mut state, "in/1", 30, 2).len(), 1);
        // in/2 (a partition added to the topic) announces itself: it holds the frontier back.
        mark(&mut state, "in/2", i64::MIN, 3);
        state.partial("in/0", 1, w(30, 40), b"a", b"1", 4);
        mark(&mut state, "in/0", 50, 5);
        assert!(
            mark(&mut state, "in/1", 50, 6).is_empty(),
            "in/2 has said nothing of its time"
        );
        // Its first records: one behind the frontier (its window fired), one ahead.
        assert_eq!(state.partial("in/2", 1, w(0, 10), b"a", b"1", 7), Taken::Late);
        assert_eq!(state.partial("in/2", 1, w(30, 40), b"a", b"1", 8), Taken::Kept);
        let fired = mark(&mut state, "in/2", 45, 9);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].partials.len(), 2, "[30, 40) of in/0 and of in/2");
        // A replay of in/2 sends both again: duplicates now.
        assert_eq!(
            state.partial("in/2", 2, w(0, 10), b"a", b"1", 10),
            Taken::Duplicate
        );
        assert_eq!(
            state.partial("in/2", 2, w(30, 40), b"a", b"1", 11),
            Taken::Duplicate
        );
        assert_eq!((state.late_partials(), state.stale_partials()), (1, 2));
    }

    #[test]
    fn a_resume_knows_the_upstreams_its_checkpoint_knew_not_those_of_the_restarted_job() {
        let mut state = tumbling();
        state.partial("in/0", 1, w(0, 10), b"a", b"1", 0);
        mark(&mut state, "in/2", 5, 1);
        let checkpoint = state.checkpoint().expect("records were read");
        assert_eq!(checkpoint.commit_offset, 0);
        assert!(checkpoint.all_upstreams);
        assert!(
            !checkpoint.marks.contains_key("in/2"),
            "first heard of at offset 1"
        );
        // The job restarted after the topic grew to 4 partitions: it starts knowing in/3 too.
        let four = ["in/0", "in/1", "in/2", "in/3"].map(String::from);
        let mut resumed = MergeState::new(WindowSpec::Tumbling { size: 10 }, 0, four);
        resumed.resume(&checkpoint);
        resumed.partial("in/0", 1, w(0, 10), b"a", b"1", 0);
        mark(&mut resumed, "in/2", 5, 1);
        mark(&mut resumed, "in/0", 10, 2);
        assert!(mark(&mut resumed, "in/1", 10, 3).is_empty(), "in/2 is at 5");
        let fired = mark(&mut resumed, "in/2", 10, 4);
        assert_eq!(fired.len(), 1, "in/3, never heard of, holds nothing back");
    }

    #[test]
    fn session_partials_of_one_key_merge_across_upstreams() {
        let mut state = MergeState::new(
            WindowSpec::Session { gap: 5 },
            0,
            ["in/0".to_string(), "in/1".to_string()],
        );
        state.partial("in/0", 1, w(0, 6), b"k", b"1", 0);
        state.partial("in/1", 1, w(6, 12), b"k", b"2", 1);
        state.partial("in/1", 1, w(30, 35), b"k", b"3", 2);
        state.marker("in/0", 1, 40, i64::MAX, false, 3);
        state.marker("in/1", 1, 20, i64::MAX, false, 4);
        let fired = state.take_closed();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].window, w(0, 12));
        assert_eq!(fired[0].partials, [b"1".to_vec(), b"2".to_vec()]);
        assert_eq!(state.open_partials(), 1);
    }

    #[test]
    fn a_partial_sent_again_keeps_its_first_offset_for_the_checkpoint() {
        let mut state = tumbling();
        state.partial("in/0", 1, w(0, 10), b"a", b"1", 0);
        state.partial("in/1", 1, w(0, 10), b"b", b"1", 1);
        state.partial("in/0", 2, w(0, 10), b"a", b"1", 2);
        let checkpoint = state.checkpoint().expect("records were read");
        assert_eq!(
            checkpoint.commit_offset, 0,
            "from 1, a replay would lack in/0's partial until offset 2"
        );
    }

    #[test]
    fn a_replayed_marker_at_the_same_watermark_does_not_forget_an_open_session() {
        let mut state = MergeState::new(
            WindowSpec::Session { gap: 5 },
            0,
            ["in/0".to_string(), "in/1".to_string()],
        );
        state.partial("in/1", 1, w(10, 16), b"k", b"1", 0);
        state.marker("in/1", 1, 40, i64::MAX, false, 1);
        // in/0 is at 20 with a session open since 15; then its replay, not as far on in the
        // same watermark, has not opened that session yet.
        state.marker("in/0", 1, 20, 15, false, 2);
        assert!(state.take_closed().is_empty(), "[15, ..) may join [10, 16)");
        state.marker("in/0", 2, 20, i64::MAX, false, 3);
        assert!(
            state.take_closed().is_empty(),
            "the session at 15 is still open upstream"
        );
        state.partial("in/0", 2, w(15, 24), b"k", b"2", 4);
        state.marker("in/0", 2, 30, i64::MAX, false, 5);
        let fired = state.take_closed();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].window, w(10, 24));
    }

    #[test]
    fn a_session_waits_for_an_open_upstream_session_that_could_join_it() {
        let mut state = MergeState::new(
            WindowSpec::Session { gap: 5 },
            0,
            ["in/0".to_string(), "in/1".to_string()],
        );
        state.partial("in/0", 1, w(0, 6), b"k", b"1", 0);
        state.marker("in/0", 1, 40, i64::MAX, false, 1);
        // in/1 has passed 20, but a session of its own that started at 4 is still open.
        state.marker("in/1", 1, 20, 4, false, 2);
        assert!(state.take_closed().is_empty());
        state.partial("in/1", 1, w(4, 30), b"k", b"2", 3);
        state.marker("in/1", 1, 40, i64::MAX, false, 4);
        let fired = state.take_closed();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].window, w(0, 30));
    }
}

#[cfg(test)]
mod idle_tests {
    use super::*;

    #[test]
    fn an_idle_upstream_stops_holding_windows_back_until_it_has_records_again() {
        let w = |start, end| Window { start, end };
        let mut state = MergeState::new(
            WindowSpec::Tumbling { size: 10 },
            0,
            ["in/0".to_string(), "in/1".to_string()],
        );
        state.partial("in/0", 1, w(0, 10), b"a", b"1", 0);
        state.marker("in/0", 1, 25, i64::MAX, false, 1);
        assert!(state.take_closed().is_empty(), "in/1 has said nothing");
        state.marker("in/1", 1, i64::MIN, i64::MAX, true, 2);
        assert_eq!(state.take_closed().len(), 1, "in/1 is idle: [0, 10) fires");
        // in/1 has records again, behind in/0: it holds the frontier back from now on.
        state.marker("in/1", 1, 12, i64::MAX, false, 3);
        state.partial("in/0", 1, w(20, 30), b"a", b"1", 4);
        state.marker("in/0", 1, 40, i64::MAX, false, 5);
        assert!(state.take_closed().is_empty(), "in/1 is at 12");
        state.marker("in/1", 1, 30, i64::MAX, false, 6);
        assert_eq!(state.take_closed()[0].window, w(20, 30));
        // Every upstream idle: nothing moves on.
        let mut idle = MergeState::new(WindowSpec::Tumbling { size: 10 }, 0, ["in/0".to_string()]);
        idle.partial("in/0", 1, w(0, 10), b"a", b"1", 0);
        idle.marker("in/0", 1, 5, i64::MAX, true, 1);
        assert!(idle.take_closed().is_empty());
    }
}
