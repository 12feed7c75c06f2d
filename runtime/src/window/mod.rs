//! Event-time windows: which windows a pair belongs to, when they close, and the per-(window,
//! key) accumulators until they do.
//!
//! - [`WindowSpec`]: tumbling, hopping or session, parsed from `tumbling:10s` and friends.
//! - [`Watermark`]: the event time below which the stream is taken to be complete.
//! - [`FixedWindows`] (tumbling, hopping) and [`SessionWindows`] hold accumulators. A batch is
//!   first *staged* (assignment and lateness, without touching state), then committed with the
//!   accumulators the guest's reduce returned; a failed reduce leaves state untouched.
//!
//! A window `[start, end)` closes, and fires, when the watermark reaches `end + lateness`; a pair
//! whose windows have all closed is late.

mod fixed;
mod session;
mod spec;
mod watermark;

pub use fixed::{FixedSlot, FixedStaged, FixedWindows, UniquePair, UniqueStaged};
pub use session::{SessionStaged, SessionWindows};
pub use spec::{WindowSpec, WindowSpecError};
pub use watermark::Watermark;

use crate::record::{FinishItem, Packed, ReduceInput, Window};

/// Where a pair came from: its record's offset and the watermark just before that record.
///
/// Open windows remember their earliest origin. Replaying the input from that offset with that
/// watermark rebuilds every open window exactly, which is what makes the offset rule safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Offset of the input record.
    pub offset: i64,
    /// The watermark before the record was processed.
    pub watermark: i64,
}

impl Origin {
    /// The earlier of two origins (by offset).
    pub fn earlier(self, other: Origin) -> Origin {
        if other.offset < self.offset { other } else { self }
    }
}

/// Whether `window` has closed at watermark `watermark` with `lateness` allowed.
pub fn is_closed(window: Window, watermark: i64, lateness: i64) -> bool {
    window.end.saturating_add(lateness) <= watermark
}

/// Open windows and their accumulators, of either family.
pub enum WindowStore {
    /// Tumbling or hopping windows.
    Fixed(FixedWindows),
    /// Session windows.
    Session(SessionWindows),
}

/// A batch's pairs, assigned to windows but not yet reduced into state.
pub enum Staged {
    /// For [`WindowStore::Fixed`].
    Fixed(FixedStaged),
    /// For [`WindowStore::Session`].
    Session(SessionStaged),
}

impl WindowStore {
    /// Empty state for `spec` with `lateness` ms allowed.
    pub fn new(spec: WindowSpec, lateness: i64) -> Self {
        match spec {
            WindowSpec::Session { gap } => WindowStore::Session(SessionWindows::new(gap, lateness)),
            fixed => WindowStore::Fixed(FixedWindows::new(fixed, lateness)),
        }
    }

    /// An empty staging area for one batch.
    pub fn stage_new(&self) -> Staged {
        match self {
            WindowStore::Fixed(_) => Staged::Fixed(FixedStaged::default()),
            WindowStore::Session(_) => Staged::Session(SessionStaged::default()),
        }
    }

    /// Stages one pair at event time `t` from `origin`; returns false when every window it
    /// belongs to has closed at `origin.watermark` (the pair is late and was not staged).
    pub fn stage(&self, staged: &mut Staged, t: i64, key: &[u8], value: &[u8], origin: Origin) -> bool {
        match (self, staged) {
            (WindowStore::Fixed(w), Staged::Fixed(s)) => w.stage(s, t, key, value, origin),
            (WindowStore::Session(w), Staged::Session(s)) => w.stage(s, t, key, value, origin),
            _ => unreachable!("a staging area is always made by its own store"),
        }
    }

    /// The reduce calls a staged batch needs, and what to commit with their results.
    pub fn groups(&self, staged: Staged) -> (ReduceInput, Pending) {
        match (self, staged) {
            (WindowStore::Fixed(w), Staged::Fixed(s)) => {
                let (groups, slots) = w.groups(s);
                (groups, Pending::Fixed(slots))
            }
            (WindowStore::Session(w), Staged::Session(s)) => {
                let (groups, pending) = w.groups(s);
                (groups, Pending::Session(pending))
            }
            _ => unreachable!("a staging area is always made by its own store"),
        }
    }

    /// Stores the accumulators reduce returned for `pending` (one per group, in order).
    pub fn commit(&mut self, pending: Pending, accs: Vec<Vec<u8>>) {
        match (self, pending) {
            (WindowStore::Fixed(w), Pending::Fixed(slots)) => w.commit(slots, accs),
            (WindowStore::Session(w), Pending::Session(p)) => w.commit(p, accs),
            _ => unreachable!("pending state is always made by its own store"),
        }
    }

    /// Removes and returns every (window, key) closed at `watermark`, in closing order: by
    /// window end first (then start and key for fixed windows, key and start for sessions).
    pub fn fire(&mut self, watermark: i64) -> Vec<FinishItem> {
        match self {
            WindowStore::Fixed(w) => w.fire(watermark),
            WindowStore::Session(w) => w.fire(watermark),
        }
    }

    /// The earliest record (offset, and the watermark before it) that an open window depends
    /// on; `None` when no window is open.
    pub fn oldest_open(&self) -> Option<Origin> {
        match self {
            WindowStore::Fixed(w) => w.oldest_open(),
            WindowStore::Session(w) => w.oldest_open(),
        }
    }

    /// The pane a guest may combine pairs over: the window size of tumbling windows, where a
    /// pane is exactly one window. `None` for hopping windows (a pane would be shared by windows,
    /// and combining would fold values out of input order) and sessions.
    pub fn combining_pane(&self) -> Option<i64> {
        match self {
            WindowStore::Fixed(w) => w.combining_pane(),
            WindowStore::Session(_) => None,
        }
    }

    /// Whether every window holding event time `t` is still open at `watermark`. Always false
    /// for sessions, whose windows depend on the other pairs.
    pub fn open_at(&self, t: i64, watermark: i64) -> bool {
        match self {
            WindowStore::Fixed(w) => w.open_at(t, watermark),
            WindowStore::Session(_) => false,
        }
    }

    /// Stages the pairs of a combined batch (see [`WindowStore::combining_pane`]), each the
    /// only one of its (window, key) in the batch. False for sessions, which do not combine.
    pub fn stage_unique(&self, staged: &mut UniqueStaged, pairs: &[UniquePair<'_>]) -> bool {
        match self {
            WindowStore::Fixed(w) => {
                w.stage_unique(staged, pairs);
                true
            }
            WindowStore::Session(_) => false,
        }
    }

    /// Stores a [`UniqueStaged`] batch with what reduce returned for [`UniqueStaged::input`].
    pub fn commit_unique(&mut self, staged: UniqueStaged, accs: &Packed) {
        if let WindowStore::Fixed(w) = self {
            w.commit_unique(staged, accs);
        }
    }

    /// The earliest start of an open session (`None` for fixed windows, or with none open).
    /// Stage 2 of the shuffle must not fire a merged session that an upstream's open session
    /// could still join.
    pub fn earliest_open_session(&self) -> Option<i64> {
        match self {
            WindowStore::Fixed(_) => None,
            WindowStore::Session(w) => w.earliest_open_start(),
        }
    }

    /// Number of open (window, key) accumulators.
    pub fn open_keys(&self) -> usize {
        match self {
            WindowStore::Fixed(w) => w.open_keys(),
            WindowStore::Session(w) => w.open_keys(),
        }
    }

    /// Number of open windows (each session counts as one).
    pub fn open_windows(&self) -> usize {
        match self {
            WindowStore::Fixed(w) => w.open_windows(),
            WindowStore::Session(w) => w.open_windows(),
        }
    }
}

/// What to commit once a staged batch's reduce succeeded.
pub enum Pending {
    /// For [`WindowStore::Fixed`].
    Fixed(Vec<FixedSlot>),
    /// For [`WindowStore::Session`].
    Session(session::SessionPending),
}
