//! The reference: an independent model of the documented window semantics, record by record.

use super::*;

pub(super) fn closed(end: i64, lateness: i64, watermark: Option<i64>) -> bool {
    watermark.is_some_and(|w| end + lateness <= w)
}

/// A window `[start, end)` of the reference.
pub(super) type Span = (i64, i64);

/// Every `[s, s + size)` with `s` a multiple of `slide` that contains `t`, by start.
pub(super) fn fixed_windows(t: i64, size: i64, slide: i64) -> Vec<Span> {
    // The smallest multiple of `slide` that is at least `t - size + 1`.
    let lowest = t - size + 1;
    let mut s = lowest.div_euclid(slide) * slide;
    if s < lowest {
        s += slide;
    }
    let mut windows = Vec::new();
    while s <= t {
        windows.push((s, s + size));
        s += slide;
    }
    windows
}

/// A pair as the reference sees it.
pub(super) struct RefPair {
    pub(super) key: String,
    pub(super) time: i64,
    pub(super) amount: u64,
    pub(super) token: String,
}

pub(super) fn ref_pairs(i: usize, rec: &Rec) -> Vec<RefPair> {
    rec.pairs
        .iter()
        .enumerate()
        .map(|(j, p)| RefPair {
            key: p.key.clone(),
            time: p.time.unwrap_or(rec.timestamp),
            amount: p.amount,
            token: token(i, j),
        })
        .collect()
}

/// A session of the reference.
#[derive(Debug, Clone)]
pub(super) struct RefSession {
    pub(super) key: String,
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) sum: u64,
    pub(super) tokens: Vec<String>,
}

/// What the reference computed, before it is cut into batches.
pub(super) struct Reference {
    /// Every output, with the index of the record after which it closed (`None`: at close).
    pub(super) outputs: Vec<(Out, Option<usize>)>,
    pub(super) late: Vec<usize>,
    pub(super) late_pairs: u64,
    pub(super) pairs: u64,
    /// The watermark after each record.
    pub(super) watermarks: Vec<Option<i64>>,
}

pub(super) fn reference(config: Config, recs: &[Rec]) -> Reference {
    let lateness = config.lateness;
    let mut watermark: Option<i64> = None;
    let mut watermarks = Vec::new();
    let mut late = Vec::new();
    let mut late_pairs = 0;
    let mut pairs = 0;
    // Fixed windows: every accepted (window, key, amount, token), in input order.
    let mut accepted: Vec<(Span, String, u64, String)> = Vec::new();
    // Sessions: open ones, and final ones.
    let mut open: Vec<RefSession> = Vec::new();
    let mut done: Vec<RefSession> = Vec::new();
    for (i, rec) in recs.iter().enumerate() {
        let before = watermark;
        let (closed_now, still_open): (Vec<RefSession>, Vec<RefSession>) =
            open.into_iter().partition(|s| closed(s.end, lateness, before));
        done.extend(closed_now);
        open = still_open;
        let record_pairs = ref_pairs(i, rec);
        let mut on_time_pairs = 0;
        for pair in &record_pairs {
            let on_time = match config.window {
                WindowSpec::Tumbling { size } | WindowSpec::Hopping { size, .. } => {
                    let slide = match config.window {
                        WindowSpec::Hopping { slide, .. } => slide,
                        _ => size,
                    };
                    let mut any = false;
                    for window in fixed_windows(pair.time, size, slide) {
                        if !closed(window.1, lateness, before) {
                            any = true;
                            accepted.push((window, pair.key.clone(), pair.amount, pair.token.clone()));
                        }
                    }
                    any
                }
                WindowSpec::Session { gap } => {
                    let (mut start, mut end) = (pair.time, pair.time + gap);
                    let mut merging: Vec<RefSession> = Vec::new();
                    // Merge to a fixpoint with every open session of the key that overlaps or
                    // touches what has been merged so far.
                    loop {
                        let touching = open
                            .iter()
                            .position(|s| s.key == pair.key && s.start <= end && start <= s.end);
                        let Some(at) = touching else { break };
                        let s = open.remove(at);
                        start = start.min(s.start);
                        end = end.max(s.end);
                        merging.push(s);
                    }
                    if closed(end, lateness, before) {
                        open.extend(merging);
                        false
                    } else {
                        merging.sort_by_key(|s| s.start);
                        let mut tokens: Vec<String> = merging.iter().flat_map(|s| s.tokens.clone()).collect();
                        tokens.push(pair.token.clone());
                        open.push(RefSession {
                            key: pair.key.clone(),
                            start,
                            end,
                            sum: merging.iter().map(|s| s.sum).sum::<u64>() + pair.amount,
                            tokens,
                        });
                        true
                    }
                }
            };
            pairs += 1;
            if on_time {
                on_time_pairs += 1;
            } else {
                late_pairs += 1;
            }
        }
        if !record_pairs.is_empty() && on_time_pairs == 0 {
            late.push(i);
        }
        if let Some(max) = record_pairs.iter().map(|p| p.time).max() {
            let candidate = max - config.out_of_orderness;
            watermark = Some(watermark.map_or(candidate, |w| w.max(candidate)));
        }
        watermarks.push(watermark);
    }
    done.extend(open);

    let mut results: Vec<Out> = Vec::new();
    if let WindowSpec::Session { .. } = config.window {
        for s in done {
            results.push(Out {
                start: s.start,
                end: s.end,
                key: s.key,
                sum: s.sum,
                text: s.tokens.join(","),
            });
        }
    } else {
        let mut groups: BTreeMap<(Span, String), (u64, Vec<String>)> = BTreeMap::new();
        for (window, key, amount, token) in accepted {
            let group = groups.entry((window, key)).or_default();
            group.0 += amount;
            group.1.push(token);
        }
        for (((start, end), key), (sum, tokens)) in groups {
            results.push(Out {
                start,
                end,
                key,
                sum,
                text: tokens.join(","),
            });
        }
    }
    let outputs = results
        .into_iter()
        .map(|out| {
            let fired = watermarks.iter().position(|&w| closed(out.end, lateness, w));
            (out, fired)
        })
        .collect();
    Reference {
        outputs,
        late,
        late_pairs,
        pairs,
        watermarks,
    }
}

/// Closing order: by end, then start and key for fixed windows, key and start for sessions.
pub(super) fn closing_order(window: WindowSpec, a: &Out, b: &Out) -> std::cmp::Ordering {
    match window {
        WindowSpec::Session { .. } => (a.end, &a.key, a.start).cmp(&(b.end, &b.key, b.start)),
        _ => (a.end, a.start, &a.key).cmp(&(b.end, b.start, &b.key)),
    }
}

/// The reference cut into the given batches, as the pipeline should report it.
pub(super) fn reference_run(config: Config, recs: &[Rec], batches: &[Range<usize>]) -> Run {
    let r = reference(config, recs);
    let mut steps = Vec::new();
    let in_batch = |range: &Range<usize>, fired: Option<usize>| fired.is_some_and(|i| range.contains(&i));
    for range in batches {
        let mut outputs: Vec<Out> = r
            .outputs
            .iter()
            .filter(|(_, fired)| in_batch(range, *fired))
            .map(|(out, _)| out.clone())
            .collect();
        outputs.sort_by(|a, b| closing_order(config.window, a, b));
        steps.push(Step {
            outputs,
            late: r.late.iter().copied().filter(|i| range.contains(i)).collect(),
            other_dead: Vec::new(),
            watermark: r.watermarks[range.end - 1].unwrap_or(i64::MIN),
        });
    }
    let mut at_close: Vec<Out> = r
        .outputs
        .iter()
        .filter(|(_, fired)| fired.is_none())
        .map(|(out, _)| out.clone())
        .collect();
    at_close.sort_by(|a, b| closing_order(config.window, a, b));
    steps.push(Step {
        outputs: at_close,
        late: Vec::new(),
        other_dead: Vec::new(),
        watermark: i64::MAX,
    });
    Run {
        steps,
        late_pairs: r.late_pairs,
        pairs: r.pairs,
        windows_fired: r.outputs.len() as u64,
    }
}
