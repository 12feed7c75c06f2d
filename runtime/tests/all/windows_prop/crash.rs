//! Crash and resume: the offset rule.
//!
//! A run checkpoints after some batch, goes on for a few batches (writing their output), and
//! crashes. A new pipeline resumes from the checkpoint and replays the input from its commit
//! offset. Everything written by both, de-duplicated by (window, key), must be exactly the
//! uninterrupted run's output, every written result must be a final one (never a partial count),
//! and the dead letters must be the same set.

use super::*;

#[derive(Debug, Clone)]
pub(super) struct CrashCase {
    pub(super) case: Case,
    pub(super) checkpoint_at: prop::sample::Index,
    pub(super) batches_after_checkpoint: usize,
    pub(super) resume_batch: usize,
}

pub(super) fn crash_case(window: impl Strategy<Value = WindowSpec>) -> impl Strategy<Value = CrashCase> {
    (case(window), any::<prop::sample::Index>(), 0usize..4, 1usize..40).prop_map(
        |(case, checkpoint_at, batches_after_checkpoint, resume_batch)| CrashCase {
            case,
            checkpoint_at,
            batches_after_checkpoint,
            resume_batch,
        },
    )
}

pub(super) type ResultKey = (Option<Window>, Option<Vec<u8>>);

#[derive(Default)]
pub(super) struct Written {
    pub(super) outputs: Vec<(ResultKey, Vec<u8>)>,
    pub(super) dead: std::collections::BTreeSet<(i64, &'static str)>,
}

impl Written {
    pub(super) fn take(&mut self, outcome: Outcome) {
        for output in outcome.outputs {
            self.outputs.push(((output.window, output.key), output.value));
        }
        for dead in outcome.dead_letters {
            let offset = dead.record.as_ref().map_or(-1, |r| r.offset);
            self.dead.insert((offset, dead.reason.as_str()));
        }
    }
}

/// The pipeline config of a case, and its input records.
pub(super) fn crash_setup(case: &Case) -> (PipelineConfig, Vec<InputRecord>) {
    let config = PipelineConfig {
        window: case.config.window,
        out_of_orderness: ms(case.config.out_of_orderness),
        lateness: ms(case.config.lateness),
        time: TimeMode::Event,
    };
    let inputs = case
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| input_record(i, r))
        .collect();
    (config, inputs)
}

/// What an uninterrupted run over `batches` writes, and its results by (window, key).
pub(super) fn uninterrupted(
    guest: SumConcat,
    config: &PipelineConfig,
    inputs: &[InputRecord],
    batches: &[Range<usize>],
) -> (Written, BTreeMap<ResultKey, Vec<u8>>) {
    let mut full = Pipeline::new(guest, config);
    let mut want = Written::default();
    for range in batches {
        want.take(full.process(&inputs[range.clone()]));
    }
    want.take(full.close());
    let results = want.outputs.iter().cloned().collect();
    (want, results)
}

/// What runs interrupted by crashes wrote, de-duplicated by (window, key), against the
/// uninterrupted run: every written result a final one, every result written, the same dead
/// letters.
pub(super) fn check_written(
    got: &Written,
    want: &Written,
    want_results: &BTreeMap<ResultKey, Vec<u8>>,
) -> Result<(), TestCaseError> {
    for (key, value) in &got.outputs {
        prop_assert_eq!(
            want_results.get(key),
            Some(value),
            "a written result is a final one: {:?}",
            key
        );
    }
    let got_keys: std::collections::BTreeSet<&ResultKey> = got.outputs.iter().map(|(k, _)| k).collect();
    let want_keys: std::collections::BTreeSet<&ResultKey> = want_results.keys().collect();
    prop_assert_eq!(got_keys, want_keys, "every result is written");
    prop_assert_eq!(&got.dead, &want.dead, "the same dead letters");
    Ok(())
}

pub(super) fn check_crash(crash: &CrashCase) -> Result<(), TestCaseError> {
    let case = &crash.case;
    let (config, inputs) = crash_setup(case);
    let batches = batch_ranges(inputs.len(), &case.batch_sizes);
    if batches.is_empty() {
        return Ok(());
    }

    let (want, want_results) = uninterrupted(crash.case.guest, &config, &inputs, &batches);
    prop_assert_eq!(
        want_results.len(),
        want.outputs.len(),
        "each (window, key) fires once"
    );

    let checkpoint_at = crash.checkpoint_at.index(batches.len());
    let crash_after = (checkpoint_at + crash.batches_after_checkpoint).min(batches.len() - 1);
    let mut first = Pipeline::new(crash.case.guest, &config);
    let mut got = Written::default();
    let mut checkpoint = None;
    for (b, range) in batches.iter().enumerate().take(crash_after + 1) {
        got.take(first.process(&inputs[range.clone()]));
        if b == checkpoint_at {
            checkpoint = first.checkpoint();
        }
    }
    let checkpoint = checkpoint.expect("a pipeline that processed records has a checkpoint");
    prop_assert!(checkpoint.commit_offset <= checkpoint.position);

    let mut second = Pipeline::resume(crash.case.guest, &config, &checkpoint);
    let from = usize::try_from(checkpoint.commit_offset).expect("an offset of this input");
    for chunk in inputs[from..].chunks(crash.resume_batch) {
        got.take(second.process(chunk));
    }
    got.take(second.close());
    check_written(&got, &want, &want_results)
}

proptest! {
    #![proptest_config(crate::support::proptest_config(256))]

    #[test]
    fn tumbling_crash_and_resume_loses_nothing(crash in crash_case(tumbling_spec())) {
        check_crash(&crash)?;
    }

    #[test]
    fn hopping_crash_and_resume_loses_nothing(crash in crash_case(hopping_spec())) {
        check_crash(&crash)?;
    }

    #[test]
    fn session_crash_and_resume_loses_nothing(crash in crash_case(session_spec())) {
        check_crash(&crash)?;
    }
}
