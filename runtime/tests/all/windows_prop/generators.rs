//! Generators of random cases (records, batch sizes, window specs) and the check that the
//! pipeline matches the reference on one.

use super::*;

/// A generated case.
#[derive(Debug, Clone)]
pub(super) struct Case {
    pub(super) config: Config,
    pub(super) records: Vec<Rec>,
    pub(super) batch_sizes: Vec<usize>,
    /// The guest combines (tumbling windows then take the pipeline's combined path).
    pub(super) guest: SumConcat,
}

pub(super) const KEYS: [&str; 5] = ["a", "b", "c", "d", "e"];

pub(super) fn pair_spec(keys: usize) -> impl Strategy<Value = (usize, u64)> {
    (0..keys, 1u64..=9)
}

/// A record's pairs, relative to its timestamp: mostly one pair at the record's time, sometimes
/// none, sometimes several at times of their own.
pub(super) fn pairs_spec(keys: usize) -> impl Strategy<Value = Vec<(usize, u64, Option<i64>)>> {
    prop_oneof![
        1 => Just(Vec::new()),
        8 => pair_spec(keys).prop_map(|(k, n)| vec![(k, n, None)]),
        2 => prop::collection::vec(
            (pair_spec(keys), prop::option::of(-2_000i64..=2_000)),
            1..=3
        )
        .prop_map(|pairs| pairs.into_iter().map(|((k, n), dt)| (k, n, dt)).collect()),
    ]
}

/// Records whose timestamps rise by 0..=100ms steps from `origin`, each pulled back by up to
/// `disorder` ms: out of order, with some of them late. Keys are the first `keys` of [`KEYS`].
/// (No `prop_flat_map`, so that failures shrink well.)
pub(super) fn records() -> impl Strategy<Value = Vec<Rec>> {
    (
        1usize..=5,
        0i64..=4_000,
        -5_000i64..5_000,
        prop::collection::vec((0i64..=100, 0i64..=1_000, pairs_spec(KEYS.len())), 0..200),
    )
        .prop_map(|(keys, disorder, origin, raw)| {
            let mut clock = origin;
            raw.into_iter()
                .map(|(step, jitter, pairs)| {
                    clock += step;
                    let timestamp = clock - jitter * disorder / 1_000;
                    Rec {
                        timestamp,
                        pairs: pairs
                            .into_iter()
                            .map(|(k, amount, dt)| PairSpec {
                                key: KEYS[k % keys].to_string(),
                                amount,
                                time: dt.map(|dt| timestamp + dt),
                            })
                            .collect(),
                    }
                })
                .collect()
        })
}

pub(super) fn batch_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        6 => prop::collection::vec(1usize..=50, 1..=8),
        1 => Just(vec![1]),
        1 => Just(vec![1_000]),
    ]
}

pub(super) fn tumbling_spec() -> impl Strategy<Value = WindowSpec> {
    (1i64..=3_000).prop_map(|size| WindowSpec::Tumbling { size })
}

/// Hopping windows whose slide divides the size, or not; at most 20 windows per pair.
pub(super) fn hopping_spec() -> impl Strategy<Value = WindowSpec> {
    prop_oneof![
        (1i64..=150, 1i64..=20).prop_map(|(slide, n)| WindowSpec::Hopping {
            size: slide * n,
            slide
        }),
        (1i64..=3_000).prop_flat_map(
            |size| ((size / 20).max(1)..=size).prop_map(move |slide| WindowSpec::Hopping { size, slide })
        ),
    ]
}

pub(super) fn session_spec() -> impl Strategy<Value = WindowSpec> {
    (1i64..=2_000).prop_map(|gap| WindowSpec::Session { gap })
}

pub(super) fn case(window: impl Strategy<Value = WindowSpec>) -> impl Strategy<Value = Case> {
    (
        window,
        0i64..=2_000,
        0i64..=2_000,
        records(),
        batch_sizes(),
        any::<bool>(),
    )
        .prop_map(
            |(window, out_of_orderness, lateness, records, batch_sizes, combine)| Case {
                config: Config {
                    window,
                    out_of_orderness,
                    lateness,
                },
                records,
                batch_sizes,
                guest: SumConcat { combine },
            },
        )
}

/// The pipeline, batched as the case says, against the reference.
pub(super) fn check(case: &Case) -> Result<(), TestCaseError> {
    let batches = batch_ranges(case.records.len(), &case.batch_sizes);
    let got = run_pipeline(case.guest, case.config, &case.records, &batches);
    let want = reference_run(case.config, &case.records, &batches);
    // The most telling comparisons first: what came out, then when.
    let mut got_outputs = got.outputs();
    let mut want_outputs = want.outputs();
    got_outputs.sort();
    want_outputs.sort();
    prop_assert_eq!(got_outputs, want_outputs, "outputs (sorted)");
    prop_assert_eq!(got.late(), want.late(), "late records");
    prop_assert_eq!(got, want, "per batch");
    Ok(())
}
