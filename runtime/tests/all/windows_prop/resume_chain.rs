//! Resumes within resumes: a pipeline resumed from a checkpoint takes checkpoints of its own
//! (some while it is still replaying), crashes, and the next one resumes from those, several
//! times in a row. Everything written by every generation, de-duplicated by (window, key), must
//! be exactly the uninterrupted run's output, every written result a final one, the dead letters
//! the same set, and each checkpoint's position and fired frontier at least the previous one's.

use super::*;

#[derive(Debug, Clone)]
struct ChainCase {
    case: Case,
    /// Per crash: the batch after which the generation checkpoints, and how many batches it
    /// processes after that before it crashes.
    crashes: Vec<(prop::sample::Index, usize)>,
    /// Batch size of the resumed generations.
    resume_batch: usize,
}

fn chain_case(window: impl Strategy<Value = WindowSpec>) -> impl Strategy<Value = ChainCase> {
    (
        case(window),
        prop::collection::vec((any::<prop::sample::Index>(), 0usize..4), 2..6),
        1usize..30,
    )
        .prop_map(|(case, crashes, resume_batch)| ChainCase {
            case,
            crashes,
            resume_batch,
        })
}

fn check_chain(chain: &ChainCase) -> Result<(), TestCaseError> {
    let case = &chain.case;
    let (config, inputs) = crash_setup(case);
    let n = inputs.len();
    if n == 0 {
        return Ok(());
    }
    let (want, want_results) =
        uninterrupted(case.guest, &config, &inputs, &batch_ranges(n, &case.batch_sizes));

    let mut got = Written::default();
    let mut pipeline = Pipeline::new(case.guest, &config);
    let mut batches = batch_ranges(n, &case.batch_sizes);
    let mut last: Option<Checkpoint> = None;
    for &(checkpoint_at, after) in &chain.crashes {
        if batches.is_empty() {
            break;
        }
        let checkpoint_at = checkpoint_at.index(batches.len());
        let crash_after = (checkpoint_at + after).min(batches.len() - 1);
        let mut checkpoint = None;
        for (b, range) in batches.iter().enumerate().take(crash_after + 1) {
            got.take(pipeline.process(&inputs[range.clone()]));
            if b == checkpoint_at {
                checkpoint = pipeline.checkpoint();
            }
        }
        let checkpoint = checkpoint.expect("a pipeline that processed records has a checkpoint");
        if let Some(before) = last {
            prop_assert!(
                checkpoint.position >= before.position && checkpoint.watermark >= before.watermark,
                "a checkpoint moved back: {:?} after {:?}",
                checkpoint,
                before
            );
        }
        last = Some(checkpoint);
        pipeline = Pipeline::resume(case.guest, &config, &checkpoint);
        let from = usize::try_from(checkpoint.commit_offset).expect("an offset of this input");
        batches = (from..n)
            .step_by(chain.resume_batch)
            .map(|start| start..(start + chain.resume_batch).min(n))
            .collect();
    }
    for range in batches {
        got.take(pipeline.process(&inputs[range]));
    }
    got.take(pipeline.close());

    check_written(&got, &want, &want_results)
}

proptest! {
    #![proptest_config(crate::support::proptest_config(256))]

    #[test]
    fn tumbling_resumes_within_resumes_lose_nothing(chain in chain_case(tumbling_spec())) {
        check_chain(&chain)?;
    }

    #[test]
    fn hopping_resumes_within_resumes_lose_nothing(chain in chain_case(hopping_spec())) {
        check_chain(&chain)?;
    }

    #[test]
    fn session_resumes_within_resumes_lose_nothing(chain in chain_case(session_spec())) {
        check_chain(&chain)?;
    }
}

/// [`SumConcat`], except that a map call over the record at `offset` times out.
struct TimesOutAt {
    offset: i64,
}

impl Guest for TimesOutAt {
    fn kind(&self) -> ModuleKind {
        ModuleKind::MapReduce
    }

    fn map_batch(&mut self, records: &[InputRecord]) -> Result<Emitted, GuestError> {
        if records.iter().any(|r| r.offset == self.offset) {
            return Err(GuestError::Failed {
                kind: weir::guest::FailureKind::Timeout,
                message: "the call ran past its deadline".into(),
            });
        }
        { PER_PAIR }.map_batch(records)
    }

    fn reduce_batch(&mut self, input: &ReduceInput) -> Result<Vec<Vec<u8>>, GuestError> {
        { PER_PAIR }.reduce_batch(input)
    }

    fn finish_batch(&mut self, items: &[FinishItem]) -> Result<Vec<GuestOutput>, GuestError> {
        { PER_PAIR }.finish_batch(items)
    }
}

#[test]
fn a_record_that_times_out_only_in_the_replay_is_reported_not_lost_silently() {
    let config = PipelineConfig {
        window: WindowSpec::Tumbling { size: 10 },
        out_of_orderness: Duration::ZERO,
        lateness: Duration::ZERO,
        time: TimeMode::Event,
    };
    let inputs: Vec<InputRecord> = [one(1, "a"), one(2, "a"), one(3, "a")]
        .iter()
        .enumerate()
        .map(|(i, r)| input_record(i, r))
        .collect();
    let mut first = Pipeline::new(PER_PAIR, &config);
    let outcome = first.process(&inputs);
    assert!(outcome.outputs.is_empty() && outcome.dead_letters.is_empty());
    let checkpoint = first.checkpoint().expect("records were processed");
    assert_eq!((checkpoint.commit_offset, checkpoint.position), (0, 3));

    // The replay's call over offset 1 times out, where the first run's did not: the record is
    // missing from [0, 10), so its dead letter must be written, although it is before the
    // checkpoint's position.
    let mut replay = Pipeline::resume(TimesOutAt { offset: 1 }, &config, &checkpoint);
    let outcome = replay.process(&inputs);
    let dead: Vec<(i64, &str)> = outcome
        .dead_letters
        .iter()
        .map(|d| (d.record.as_ref().map_or(-1, |r| r.offset), d.reason.as_str()))
        .collect();
    assert_eq!(dead, [(1, "timeout")]);
}
