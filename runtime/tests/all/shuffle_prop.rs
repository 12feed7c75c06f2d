//! The keyed shuffle against a reference, without Kafka: records spread over several input
//! partitions go through stage 1 (a [`Pipeline`] per partition emitting partials, then
//! markers) and stage 2 ([`MergeState`] per repartition partition, then fold and finish). The
//! repartition streams reach stage 2 interleaved at random (each upstream's own order kept),
//! with partials sent again as a replaying stage 1 would, and stage 2 crashes and resumes from
//! its checkpoint at random points. Every (window, key) must come out with the global count,
//! and a result written twice must have the same value.

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;
use weir::guest::{Guest, GuestError};
use weir::pipeline::{Outcome, Pipeline, PipelineConfig, TimeMode, finish};
use weir::record::{
    Emitted, FinishItem, GuestOutput, InputRecord, ModuleKind, OutputRecord, ReduceInput, Window,
};
use weir::shuffle::{MergeState, fold};
use weir::window::WindowSpec;

/// Word count natively: the value is one key, counted as a little-endian u64.
struct Count;

fn number(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

impl Guest for Count {
    fn kind(&self) -> ModuleKind {
        ModuleKind::MapReduce
    }

    fn map_batch(&mut self, records: &[InputRecord]) -> Result<Emitted, GuestError> {
        let mut out = Emitted::default();
        for (index, record) in records.iter().enumerate() {
            let source = u32::try_from(index).map_err(|e| GuestError::rejected(index, e))?;
            out.push(
                source,
                record.value.as_deref().unwrap_or_default(),
                &1u64.to_le_bytes(),
                None,
            );
        }
        Ok(out)
    }

    fn reduce_batch(&mut self, input: &ReduceInput) -> Result<Vec<Vec<u8>>, GuestError> {
        input
            .groups()
            .into_iter()
            .enumerate()
            .map(|(index, values)| {
                let sum: Option<u64> = values.into_iter().map(number).sum();
                Ok(sum
                    .ok_or_else(|| GuestError::rejected(index, "not a count"))?
                    .to_le_bytes()
                    .to_vec())
            })
            .collect()
    }

    fn finish_batch(&mut self, items: &[FinishItem]) -> Result<Vec<GuestOutput>, GuestError> {
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let n = number(&item.acc).ok_or_else(|| GuestError::rejected(index, "not a count"))?;
                Ok(GuestOutput {
                    key: Some(item.key.clone()),
                    value: n.to_string().into_bytes(),
                })
            })
            .collect()
    }
}

/// A record of a repartition partition.
#[derive(Debug, Clone)]
enum Message {
    Partial {
        upstream: String,
        window: Window,
        key: Vec<u8>,
        acc: Vec<u8>,
    },
    Marker {
        upstream: String,
        watermark: i64,
    },
}

#[derive(Debug, Clone)]
struct Case {
    window: WindowSpec,
    /// Per input partition: (time step since the previous record, key index).
    partitions: Vec<Vec<(i64, u8)>>,
    batch: usize,
    reduce_partitions: usize,
    /// Picks which upstream's next message stage 2 reads (interleaving), replays and crashes.
    choices: Vec<u8>,
}

fn case() -> impl Strategy<Value = Case> {
    let window = prop_oneof![
        (1i64..40).prop_map(|size| WindowSpec::Tumbling { size }),
        (1i64..6, 1i64..4).prop_map(|(k, slide)| WindowSpec::Hopping {
            size: slide * k,
            slide
        }),
    ];
    let partition = prop::collection::vec((0i64..15, 0u8..6), 0..60);
    (
        window,
        prop::collection::vec(partition, 1..5),
        1usize..20,
        1usize..4,
        prop::collection::vec(any::<u8>(), 1..400),
    )
        .prop_map(|(window, partitions, batch, reduce_partitions, choices)| Case {
            window,
            partitions,
            batch,
            reduce_partitions,
            choices,
        })
}

fn key_name(key: u8) -> Vec<u8> {
    format!("k{key}").into_bytes()
}

/// Stage 1 for every input partition: the repartition partitions' messages, per upstream.
fn stage_one(case: &Case) -> Vec<Vec<Vec<Message>>> {
    let config = PipelineConfig {
        window: case.window,
        out_of_orderness: Duration::ZERO,
        lateness: Duration::ZERO,
        time: TimeMode::Event,
    };
    let mut streams = vec![vec![Vec::new(); case.partitions.len()]; case.reduce_partitions];
    for (p, records) in case.partitions.iter().enumerate() {
        let upstream = format!("in/{p}");
        let mut pipeline = Pipeline::new(Count, &config).emit_partials();
        let mut t = 0;
        let inputs: Vec<InputRecord> = records
            .iter()
            .enumerate()
            .map(|(offset, &(step, key))| {
                t += step;
                InputRecord {
                    key: None,
                    value: Some(key_name(key)),
                    timestamp: t,
                    headers: Vec::new(),
                    partition: i32::try_from(p).unwrap_or(0),
                    offset: i64::try_from(offset).unwrap_or(0),
                }
            })
            .collect();
        let send = |outcome: Outcome, watermark: i64, streams: &mut Vec<Vec<Vec<Message>>>| {
            for OutputRecord {
                key, value, window, ..
            } in outcome.outputs
            {
                let key = key.unwrap_or_default();
                let r = key.iter().map(|&b| usize::from(b)).sum::<usize>() % case.reduce_partitions;
                streams[r][p].push(Message::Partial {
                    upstream: upstream.clone(),
                    window: window.unwrap_or(Window { start: 0, end: 0 }),
                    key,
                    acc: value,
                });
            }
            for stream in streams.iter_mut() {
                stream[p].push(Message::Marker {
                    upstream: upstream.clone(),
                    watermark,
                });
            }
        };
        for batch in inputs.chunks(case.batch) {
            let outcome = pipeline.process(batch);
            send(outcome, pipeline.watermark(), &mut streams);
        }
        let outcome = pipeline.close();
        send(outcome, i64::MAX, &mut streams);
    }
    streams
}

/// One repartition partition's log: the upstream streams interleaved by `choices`, with some
/// partials sent again (a replaying stage 1 re-sends what it sent before, unchanged).
fn interleave(upstreams: &[Vec<Message>], choices: &mut impl Iterator<Item = u8>) -> Vec<Message> {
    let mut next = vec![0; upstreams.len()];
    let mut log = Vec::new();
    loop {
        let open: Vec<usize> = (0..upstreams.len())
            .filter(|&u| next[u] < upstreams[u].len())
            .collect();
        if open.is_empty() {
            return log;
        }
        let choice = choices.next().unwrap_or(0);
        let u = open[usize::from(choice) % open.len()];
        if choice.is_multiple_of(7) && next[u] > 0 {
            // A replay: the upstream sends one of its earlier partials again.
            let again = &upstreams[u][usize::from(choice) % next[u]];
            if matches!(again, Message::Partial { .. }) {
                log.push(again.clone());
            }
        }
        log.push(upstreams[u][next[u]].clone());
        next[u] += 1;
    }
}

/// Stage 2 over one repartition log, crashing and resuming from its checkpoint when `choices`
/// says so. Returns every (window, key) → value written, and how many were written twice.
fn stage_two(
    case: &Case,
    log: &[Message],
    choices: &mut impl Iterator<Item = u8>,
    results: &mut BTreeMap<(Window, Vec<u8>), String>,
) -> Result<(), TestCaseError> {
    let upstreams = || (0..case.partitions.len()).map(|p| format!("in/{p}"));
    let mut state = MergeState::new(case.window, 0, upstreams());
    let mut guest = Count;
    let mut offset = 0usize;
    let mut crashes = 0;
    while offset < log.len() {
        let at = i64::try_from(offset).unwrap_or(0);
        match &log[offset] {
            Message::Partial {
                upstream,
                window,
                key,
                acc,
            } => {
                state.partial(upstream, *window, key, acc, at);
            }
            Message::Marker { upstream, watermark } => {
                state.advance(at);
                state.marker(upstream, *watermark);
            }
        }
        let mut outcome = Outcome::default();
        let items = fold(&mut guest, state.take_closed(), &mut outcome);
        finish(&mut guest, &items, &mut outcome);
        prop_assert!(outcome.dead_letters.is_empty());
        for output in outcome.outputs {
            let window = output.window.unwrap_or(Window { start: 0, end: 0 });
            let value = String::from_utf8_lossy(&output.value).into_owned();
            let key = output.key.unwrap_or_default();
            if let Some(before) = results.insert((window, key.clone()), value.clone()) {
                prop_assert_eq!(before, value, "a result written again changed value");
            }
        }
        offset += 1;
        // A crash after the progress record was written: resume from the checkpoint.
        if choices.next().unwrap_or(1).is_multiple_of(11)
            && crashes < 5
            && let Some(checkpoint) = state.checkpoint()
        {
            crashes += 1;
            state = MergeState::new(case.window, 0, upstreams());
            state.resume(&checkpoint);
            offset = usize::try_from(checkpoint.commit_offset).unwrap_or(0);
        }
    }
    Ok(())
}

/// The reference: every (window, key) count over all partitions.
fn reference(case: &Case) -> BTreeMap<(Window, Vec<u8>), String> {
    let (size, slide) = match case.window {
        WindowSpec::Tumbling { size } => (size, size),
        WindowSpec::Hopping { size, slide } => (size, slide),
        WindowSpec::Session { gap } => (gap, gap),
    };
    let mut counts: BTreeMap<(Window, Vec<u8>), u64> = BTreeMap::new();
    for records in &case.partitions {
        let mut t = 0;
        for &(step, key) in records {
            t += step;
            let mut start = t - t.rem_euclid(slide);
            while start > t - size {
                *counts
                    .entry((
                        Window {
                            start,
                            end: start + size,
                        },
                        key_name(key),
                    ))
                    .or_default() += 1;
                start -= slide;
            }
        }
    }
    counts.into_iter().map(|(k, n)| (k, n.to_string())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_shuffle_gives_the_global_counts_despite_interleaving_replays_and_crashes(case in case()) {
        let streams = stage_one(&case);
        let mut choices = case.choices.iter().copied().cycle();
        let mut results = BTreeMap::new();
        for upstreams in &streams {
            let log = interleave(upstreams, &mut choices);
            stage_two(&case, &log, &mut choices, &mut results)?;
        }
        prop_assert_eq!(results, reference(&case));
    }
}
