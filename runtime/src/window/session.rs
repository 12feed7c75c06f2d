//! [`SessionWindows`]: per key, a window that grows while pairs arrive less than `gap` apart.
//!
//! A pair at `t` opens `[t, t + gap)`; sessions of the same key that overlap or touch it merge
//! into one, and their accumulators are folded together by the guest's reduce (earlier session
//! first, the new value last). A pair is late when the session it would end up in has already
//! closed.

use super::{Origin, is_closed};
use crate::record::{FinishItem, ReduceInput, Window};
use foldhash::HashMap;
use std::collections::BTreeSet;

/// A committed session and its accumulator.
#[derive(Debug, Clone)]
struct Session {
    window: Window,
    acc: Vec<u8>,
    first: Origin,
}

/// A session while a batch is staged: the accumulators and values it holds, in fold order.
#[derive(Debug, Clone)]
struct Working {
    window: Window,
    parts: Vec<Vec<u8>>,
    dirty: bool,
    first: Origin,
}

/// Open sessions by key, with an index in closing order.
pub struct SessionWindows {
    gap: i64,
    lateness: i64,
    by_key: HashMap<Vec<u8>, Vec<Session>>,
    closing: BTreeSet<(i64, Vec<u8>, i64)>,
}

/// One batch's sessions for the keys it touched, each key's list sorted by start.
#[derive(Default)]
pub struct SessionStaged {
    keys: HashMap<Vec<u8>, Vec<Working>>,
    order: Vec<Vec<u8>>,
}

/// The staged sessions of a batch, waiting for their reduce results.
pub struct SessionPending {
    keys: Vec<(Vec<u8>, Vec<Working>)>,
}

impl SessionWindows {
    /// No sessions yet.
    pub fn new(gap: i64, lateness: i64) -> Self {
        SessionWindows {
            gap,
            lateness,
            by_key: HashMap::default(),
            closing: BTreeSet::new(),
        }
    }

    pub(super) fn stage(
        &self,
        staged: &mut SessionStaged,
        t: i64,
        key: &[u8],
        value: &[u8],
        origin: Origin,
    ) -> bool {
        let watermark = origin.watermark;
        if !staged.keys.contains_key(key) {
            let committed = self.by_key.get(key).map(Vec::as_slice).unwrap_or_default();
            let working = committed
                .iter()
                .map(|s| Working {
                    window: s.window,
                    parts: vec![s.acc.clone()],
                    dirty: false,
                    first: s.first,
                })
                .collect();
            staged.keys.insert(key.to_vec(), working);
            staged.order.push(key.to_vec());
        }
        let sessions = staged.keys.get_mut(key).expect("inserted just above");
        // A session the watermark has closed is final even though it fires only at the end of
        // the batch: it never merges again, so the output does not depend on batch boundaries.
        // Open sessions of a key never overlap or touch one another, so the open ones the new
        // pair's window overlaps (or touches) are exactly the ones to merge.
        let candidate = Window {
            start: t,
            end: t.saturating_add(self.gap),
        };
        let lateness = self.lateness;
        let overlaps = |w: &Window| {
            w.start <= candidate.end && candidate.start <= w.end && !is_closed(*w, watermark, lateness)
        };
        let mut merged = candidate;
        for s in sessions.iter().filter(|s| overlaps(&s.window)) {
            merged.start = merged.start.min(s.window.start);
            merged.end = merged.end.max(s.window.end);
        }
        if is_closed(merged, watermark, self.lateness) {
            return false;
        }
        let mut parts = Vec::new();
        let mut first = origin;
        sessions.retain_mut(|s| {
            if overlaps(&s.window) {
                parts.append(&mut s.parts);
                first = first.earlier(s.first);
                false
            } else {
                true
            }
        });
        parts.push(value.to_vec());
        let at = sessions.partition_point(|s| s.window.start < merged.start);
        sessions.insert(
            at,
            Working {
                window: merged,
                parts,
                dirty: true,
                first,
            },
        );
        true
    }

    pub(super) fn groups(&self, staged: SessionStaged) -> (ReduceInput, SessionPending) {
        let mut input = ReduceInput::default();
        let mut keys = Vec::with_capacity(staged.order.len());
        let mut by_key = staged.keys;
        for key in staged.order {
            let Some(mut sessions) = by_key.remove(&key) else {
                continue;
            };
            for s in sessions.iter_mut().filter(|s| s.dirty) {
                input.push_group(s.parts.iter().map(Vec::as_slice));
                s.parts.clear();
            }
            keys.push((key, sessions));
        }
        (input, SessionPending { keys })
    }

    pub(super) fn commit(&mut self, pending: SessionPending, accs: Vec<Vec<u8>>) {
        let mut accs = accs.into_iter();
        for (key, sessions) in pending.keys {
            for old in self.by_key.remove(&key).unwrap_or_default() {
                self.closing
                    .remove(&(old.window.end, key.clone(), old.window.start));
            }
            let mut committed = Vec::with_capacity(sessions.len());
            for s in sessions {
                let acc = if s.dirty {
                    accs.next().unwrap_or_default()
                } else {
                    s.parts.into_iter().next().unwrap_or_default()
                };
                self.closing.insert((s.window.end, key.clone(), s.window.start));
                committed.push(Session {
                    window: s.window,
                    acc,
                    first: s.first,
                });
            }
            if !committed.is_empty() {
                self.by_key.insert(key, committed);
            }
        }
    }

    pub(super) fn fire(&mut self, watermark: i64) -> Vec<FinishItem> {
        let mut items = Vec::new();
        while let Some((end, key, start)) = self.closing.first().cloned() {
            let window = Window { start, end };
            if !is_closed(window, watermark, self.lateness) {
                break;
            }
            self.closing.pop_first();
            if let Some(sessions) = self.by_key.get_mut(&key) {
                if let Some(at) = sessions.iter().position(|s| s.window == window) {
                    let session = sessions.remove(at);
                    items.push(FinishItem {
                        window,
                        key: key.clone(),
                        acc: session.acc,
                    });
                }
                if sessions.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
        items
    }

    pub(super) fn open_keys(&self) -> usize {
        self.closing.len()
    }

    /// Every open session is a window of its own.
    pub(super) fn open_windows(&self) -> usize {
        self.closing.len()
    }

    /// The earliest start of an open session: no session this state fires later can start
    /// before it (a pair that is not late opens `[t, t + gap)` with `t` past the watermark).
    pub(super) fn earliest_open_start(&self) -> Option<i64> {
        self.closing.iter().map(|&(_, _, start)| start).min()
    }

    /// The earliest record any open session depends on.
    pub(super) fn oldest_open(&self) -> Option<Origin> {
        self.by_key
            .values()
            .flatten()
            .map(|s| s.first)
            .reduce(Origin::earlier)
    }
}
