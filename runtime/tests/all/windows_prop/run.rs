//! What a run produced, in a form both the pipeline and the reference can be put in, and the
//! pipeline's run over batches.

use super::*;

/// One fired (window, key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Out {
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) key: String,
    pub(super) sum: u64,
    pub(super) text: String,
}

/// What one `process` call (or `close`) gave: outputs in order, late record indices in order,
/// anything else that went to the dead letters, and the watermark after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Step {
    pub(super) outputs: Vec<Out>,
    pub(super) late: Vec<usize>,
    pub(super) other_dead: Vec<String>,
    pub(super) watermark: i64,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Run {
    pub(super) steps: Vec<Step>,
    pub(super) late_pairs: u64,
    pub(super) pairs: u64,
    pub(super) windows_fired: u64,
}

impl Run {
    /// Every output, in order.
    pub(super) fn outputs(&self) -> Vec<Out> {
        self.steps.iter().flat_map(|s| s.outputs.clone()).collect()
    }

    pub(super) fn late(&self) -> Vec<usize> {
        self.steps.iter().flat_map(|s| s.late.clone()).collect()
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Config {
    pub(super) window: WindowSpec,
    pub(super) out_of_orderness: i64,
    pub(super) lateness: i64,
}

pub(super) fn ms(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).expect("non-negative duration"))
}

pub(super) fn parse_output(output: &OutputRecord) -> Result<Out, String> {
    let json: serde_json::Value =
        serde_json::from_slice(&output.value).map_err(|e| format!("output is not JSON: {e}"))?;
    let int = |field: &str| json[field].as_i64().ok_or(format!("no `{field}` in {json}"));
    let out = Out {
        start: int("start")?,
        end: int("end")?,
        key: json["key"]
            .as_str()
            .ok_or(format!("no key in {json}"))?
            .to_string(),
        sum: json["sum"].as_u64().ok_or(format!("no sum in {json}"))?,
        text: json["text"]
            .as_str()
            .ok_or(format!("no text in {json}"))?
            .to_string(),
    };
    let window = Window {
        start: out.start,
        end: out.end,
    };
    if output.window != Some(window) {
        return Err(format!(
            "record window {:?} but finish saw {window:?}",
            output.window
        ));
    }
    if output.key.as_deref() != Some(out.key.as_bytes()) {
        return Err(format!("record key {:?} for key {}", output.key, out.key));
    }
    if output.timestamp != out.end - 1 {
        return Err(format!("timestamp {} for window {window:?}", output.timestamp));
    }
    Ok(out)
}

pub(super) fn step(outcome: Outcome, watermark: i64) -> Step {
    let outputs = outcome
        .outputs
        .iter()
        .map(|o| parse_output(o).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let mut late = Vec::new();
    let mut other_dead = Vec::new();
    for dead in outcome.dead_letters {
        match dead {
            DeadLetter {
                reason: Reason::Late,
                stage: Stage::Window,
                record: Some(record),
                window: None,
                key: None,
                ..
            } => late.push(usize::try_from(record.offset).expect("offsets are indices")),
            other => other_dead.push(format!("{other:?}")),
        }
    }
    Step {
        outputs,
        late,
        other_dead,
        watermark,
    }
}

/// Cuts `0..n` into consecutive batches, cycling through `sizes`.
pub(super) fn batch_ranges(n: usize, sizes: &[usize]) -> Vec<Range<usize>> {
    assert!(sizes.iter().all(|&s| s > 0), "batch sizes must be positive");
    let mut ranges = Vec::new();
    let mut start = 0;
    for &size in sizes.iter().cycle() {
        if start >= n {
            break;
        }
        let end = n.min(start + size);
        ranges.push(start..end);
        start = end;
    }
    ranges
}

/// Runs the pipeline over `recs` in the given batches, then closes it.
pub(super) fn run_pipeline(guest: SumConcat, config: Config, recs: &[Rec], batches: &[Range<usize>]) -> Run {
    let mut pipeline = Pipeline::new(
        guest,
        &PipelineConfig {
            window: config.window,
            out_of_orderness: ms(config.out_of_orderness),
            lateness: ms(config.lateness),
            time: TimeMode::Event,
        },
    );
    let inputs: Vec<InputRecord> = recs.iter().enumerate().map(|(i, r)| input_record(i, r)).collect();
    let mut steps = Vec::new();
    for range in batches {
        let outcome = pipeline.process(&inputs[range.clone()]);
        // Dead letters carry the record, whose offset is its index in the whole input.
        for dead in &outcome.dead_letters {
            if let Some(record) = &dead.record {
                assert_eq!(record, &inputs[usize::try_from(record.offset).expect("index")]);
            }
        }
        steps.push(step(outcome, pipeline.watermark()));
    }
    steps.push(step(pipeline.close(), pipeline.watermark()));
    assert_eq!(pipeline.open_keys(), 0, "close must fire every window");
    let stats = pipeline.stats();
    assert_eq!(stats.records_in, recs.len() as u64);
    assert_eq!(
        stats.outputs,
        steps.iter().map(|s| s.outputs.len() as u64).sum::<u64>()
    );
    Run {
        steps,
        late_pairs: stats.late_pairs,
        pairs: stats.pairs,
        windows_fired: stats.windows_fired,
    }
}
