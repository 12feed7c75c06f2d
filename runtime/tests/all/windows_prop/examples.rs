//! Deterministic examples with hand-computed results.

use super::*;

pub(super) fn one(timestamp: i64, key: &str) -> Rec {
    Rec {
        timestamp,
        pairs: vec![PairSpec {
            key: key.to_string(),
            amount: 1,
            time: None,
        }],
    }
}

pub(super) fn out(start: i64, end: i64, key: &str, sum: u64, text: &str) -> Out {
    Out {
        start,
        end,
        key: key.to_string(),
        sum,
        text: text.to_string(),
    }
}

/// Per call (each batch, then close): the outputs and the late records.
pub(super) fn calls(run: &Run) -> Vec<(Vec<Out>, Vec<usize>)> {
    for s in &run.steps {
        assert!(
            s.other_dead.is_empty(),
            "unexpected dead letters: {:?}",
            s.other_dead
        );
    }
    run.steps
        .iter()
        .map(|s| (s.outputs.clone(), s.late.clone()))
        .collect()
}

/// Runs an example through the pipeline and the reference, checks they agree, and returns the
/// pipeline's calls.
pub(super) fn example(config: Config, recs: &[Rec], batch: usize) -> Vec<(Vec<Out>, Vec<usize>)> {
    let batches = batch_ranges(recs.len(), &[batch]);
    let run = run_pipeline(PER_PAIR, config, recs, &batches);
    assert_eq!(
        run,
        reference_run(config, recs, &batches),
        "the reference disagrees"
    );
    calls(&run)
}

pub(super) fn tumbling(size: i64, out_of_orderness: i64, lateness: i64) -> Config {
    Config {
        window: WindowSpec::Tumbling { size },
        out_of_orderness,
        lateness,
    }
}

pub(super) fn session(gap: i64, out_of_orderness: i64, lateness: i64) -> Config {
    Config {
        window: WindowSpec::Session { gap },
        out_of_orderness,
        lateness,
    }
}

#[test]
pub(super) fn tumbling_windows_fire_when_the_watermark_reaches_their_end() {
    let recs = [
        one(1_000, "a"),
        one(2_000, "b"),
        one(9_999, "a"),
        one(10_000, "a"),
        one(15_000, "b"),
        one(25_000, "a"),
    ];
    let none = || (vec![], vec![]);
    assert_eq!(
        example(tumbling(10_000, 0, 0), &recs, 1),
        [
            none(),
            none(),
            none(),
            (
                vec![out(0, 10_000, "a", 2, "r0,r2"), out(0, 10_000, "b", 1, "r1")],
                vec![]
            ),
            none(),
            (
                vec![
                    out(10_000, 20_000, "a", 1, "r3"),
                    out(10_000, 20_000, "b", 1, "r4")
                ],
                vec![]
            ),
            (vec![out(20_000, 30_000, "a", 1, "r5")], vec![]),
        ]
    );
}

#[test]
pub(super) fn allowed_lateness_keeps_a_window_open_then_later_records_are_dead_letters() {
    // Out-of-orderness 1s, lateness 2s: [0, 10s) closes when the watermark reaches 12s, that is
    // once an event time of 13s has been seen.
    let recs = [
        one(5_000, "a"),  // watermark 4s
        one(11_500, "a"), // watermark 10.5s
        one(9_000, "a"),  // late but allowed: [0, 10s) is open until 12s
        one(13_500, "a"), // watermark 12.5s: [0, 10s) fires
        one(9_500, "a"),  // too late
        one(4_000, "b"),  // too late, although key b never had that window
    ];
    let none = || (vec![], vec![]);
    assert_eq!(
        example(tumbling(10_000, 1_000, 2_000), &recs, 1),
        [
            none(),
            none(),
            none(),
            (vec![out(0, 10_000, "a", 2, "r0,r2")], vec![]),
            (vec![], vec![4]),
            (vec![], vec![5]),
            (vec![out(10_000, 20_000, "a", 2, "r1,r3")], vec![]),
        ]
    );
}

#[test]
pub(super) fn hopping_windows_fire_at_the_end_of_the_batch_and_late_pairs_are_dropped() {
    let config = Config {
        window: WindowSpec::Hopping {
            size: 10_000,
            slide: 5_000,
        },
        out_of_orderness: 0,
        lateness: 0,
    };
    let recs = [
        one(7_000, "a"),  // [0, 10s) and [5s, 15s)
        one(12_000, "a"), // [5s, 15s) and [10s, 20s); the watermark closes [0, 10s)
        one(4_000, "a"),  // [-5s, 5s) and [0, 10s), both closed: late
    ];
    assert_eq!(
        example(config, &recs, 100),
        [
            (vec![out(0, 10_000, "a", 1, "r0")], vec![2]),
            (
                vec![
                    out(5_000, 15_000, "a", 2, "r0,r1"),
                    out(10_000, 20_000, "a", 1, "r1")
                ],
                vec![]
            ),
        ]
    );
}

#[test]
pub(super) fn a_pair_between_two_sessions_merges_them_in_start_order() {
    let recs = [
        one(2_000, "a"), // a: [2s, 3s)
        one(0, "a"),     // a: [0, 1s)
        one(500, "b"),   // b: [0.5s, 1.5s)
        one(1_000, "a"), // [1s, 2s) touches both: a: [0, 3s) = r1, r0, r3
        one(9_000, "a"), // watermark 4s: both sessions fire, b's first (it ends first)
    ];
    let none = || (vec![], vec![]);
    assert_eq!(
        example(session(1_000, 5_000, 0), &recs, 1),
        [
            none(),
            none(),
            none(),
            none(),
            (
                vec![out(500, 1_500, "b", 1, "r2"), out(0, 3_000, "a", 3, "r1,r0,r3")],
                vec![]
            ),
            (vec![out(9_000, 10_000, "a", 1, "r4")], vec![]),
        ]
    );
}

#[test]
pub(super) fn session_lateness_is_judged_on_the_merged_session() {
    let recs = [
        one(0, "a"),     // [0, 1s), closes at 1.5s
        one(1_400, "a"), // [1.4s, 2.4s): does not touch [0, 1s)
        one(1_200, "a"), // [1.2s, 2.2s) extends it to [1.2s, 2.4s)
        one(5_000, "a"), // watermark 5s: both fire
        one(2_500, "a"), // [2.5s, 3.5s) closed at 4s: late
        one(500, "a"),   // [0.5s, 1.5s): its session has fired; late
    ];
    let none = || (vec![], vec![]);
    assert_eq!(
        example(session(1_000, 0, 500), &recs, 1),
        [
            none(),
            none(),
            none(),
            (
                vec![out(0, 1_000, "a", 1, "r0"), out(1_200, 2_400, "a", 2, "r1,r2")],
                vec![]
            ),
            (vec![], vec![4]),
            (vec![], vec![5]),
            (vec![out(5_000, 6_000, "a", 1, "r3")], vec![]),
        ]
    );
}

#[test]
pub(super) fn pairs_with_their_own_event_times_and_records_without_pairs() {
    // Record 0 emits two pairs, at 1s and 25s: the watermark jumps to 25s after it, which
    // closes the window of its own first pair. Record 1 emits nothing and moves nothing.
    let recs = [
        Rec {
            timestamp: 0,
            pairs: vec![
                PairSpec {
                    key: "a".into(),
                    amount: 2,
                    time: Some(1_000),
                },
                PairSpec {
                    key: "b".into(),
                    amount: 3,
                    time: Some(25_000),
                },
            ],
        },
        Rec {
            timestamp: 99_000,
            pairs: vec![],
        },
        one(12_000, "a"),
    ];
    assert_eq!(
        example(tumbling(10_000, 0, 0), &recs, 1),
        [
            (vec![out(0, 10_000, "a", 2, "r0")], vec![]),
            (vec![], vec![]),
            (vec![], vec![2]),
            (vec![out(20_000, 30_000, "b", 3, "r0.1")], vec![]),
        ]
    );
}

/// Known bug, kept as a regression test. Record 1 moves the watermark to 10, which closes a's
/// session `[0, 10)`; record 2 (`[5, 15)`, still open at watermark 10) must start a new session,
/// as it does when the records come one per batch, because `[0, 10)` has already fired then.
/// When all three records are in one batch, `[0, 10)` has closed but not fired yet, and
/// `SessionWindows::stage` merges record 2 into it: the pipeline outputs a `[0, 15)` with sum 2
/// instead of `[0, 10)` and `[5, 15)`, so the output depends on batch boundaries.
#[test]
pub(super) fn a_closed_session_is_not_reopened_by_a_later_pair_of_the_same_batch() {
    let config = session(10, 0, 0);
    let recs = [one(0, "a"), one(10, "b"), one(5, "a")];
    let want = vec![
        out(0, 10, "a", 1, "r0"),
        out(5, 15, "a", 1, "r2"),
        out(10, 20, "b", 1, "r1"),
    ];
    let sorted = |batch: usize| {
        let run = run_pipeline(PER_PAIR, config, &recs, &batch_ranges(recs.len(), &[batch]));
        let mut outputs = run.outputs();
        outputs.sort();
        outputs
    };
    assert_eq!(sorted(1), want, "one record per batch");
    assert_eq!(sorted(3), want, "one batch");
}
