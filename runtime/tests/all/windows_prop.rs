//! Property tests of windowed map/reduce through [`weir::pipeline::Pipeline`].
//!
//! A native test guest (no Wasm) maps records to (key, amount, token) pairs, reduces them to the
//! sum of the amounts (commutative) and the comma-joined tokens (not commutative: it records the
//! order values were folded in), and finishes each (window, key) as a JSON object.
//!
//! An independent reference, written from the documented semantics rather than from the
//! production code, simulates the stream record by record:
//! - the watermark is the largest event time seen minus the out-of-orderness, updated after each
//!   record that emitted pairs;
//! - a window `[start, end)` is closed once `end + lateness <= watermark`;
//! - tumbling: the one window containing `t`; hopping: every `[s, s + size)` with `s` a multiple
//!   of the slide and `s <= t < s + size`; session: per key, `[t, t + gap)` merged (to a fixpoint)
//!   with the open sessions of that key it overlaps or touches, tokens in session-start order then
//!   the new one; a closed session is final;
//! - a pair is late when every window it would go to is closed at the watermark before its
//!   record; a record all of whose pairs are late is a `Late` dead letter;
//! - values fold per (window, key) in input order; a window fires at the end of the batch whose
//!   record moved the watermark past `end + lateness`, in closing order, and everything else at
//!   `close()`.
//!
//! The properties check, for random inputs delivered out of order (with late data, allowed
//! lateness, out-of-orderness, pairs carrying their own event times, records with no pairs) and
//! random batch sizes, that the pipeline produces exactly the reference's outputs, in the
//! reference's batches and order, the same late records, watermark and statistics, for all three
//! window kinds. Deterministic examples with hand-computed results come first. The crash
//! properties check the offset rule: a run that checkpoints, goes on, crashes and resumes from
//! the checkpoint writes every result, only final ones, and the same dead letters.

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;
use weir::guest::{Guest, GuestError};
use weir::pipeline::{Checkpoint, DeadLetter, Outcome, Pipeline, PipelineConfig, Reason, Stage, TimeMode};
use weir::record::{
    Combined, CombinedPair, Emitted, FinishItem, GuestOutput, InputRecord, ModuleKind, OutputRecord,
    ReduceInput, Window,
};
use weir::window::WindowSpec;

mod resume_chain;

// ---------------------------------------------------------------------------------------------
// Inputs.

/// One pair a record's map emits.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PairSpec {
    key: String,
    amount: u64,
    /// Event time chosen by map; `None` means the record's timestamp.
    time: Option<i64>,
}

/// One input record: its timestamp and the pairs map turns it into.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    timestamp: i64,
    pairs: Vec<PairSpec>,
}

/// The token of pair `j` of record `i`: what the concatenating reducer joins.
fn token(i: usize, j: usize) -> String {
    if j == 0 {
        format!("r{i}")
    } else {
        format!("r{i}.{j}")
    }
}

/// The record's value, as the test guest parses it: `key amount token time-or-dash` per pair,
/// joined with `;`. The offset is the record's index.
fn input_record(i: usize, rec: &Rec) -> InputRecord {
    let text: Vec<String> = rec
        .pairs
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let time = p.time.map_or_else(|| "-".to_string(), |t| t.to_string());
            format!("{} {} {} {time}", p.key, p.amount, token(i, j))
        })
        .collect();
    InputRecord {
        key: None,
        value: Some(text.join(";").into_bytes()),
        timestamp: rec.timestamp,
        headers: Vec::new(),
        partition: 0,
        offset: i64::try_from(i).expect("small index"),
    }
}

// ---------------------------------------------------------------------------------------------
// The test guest.

/// Values and accumulators: 8 bytes of little-endian sum, then the comma-joined tokens.
fn encode(sum: u64, text: &str) -> Vec<u8> {
    let mut bytes = sum.to_le_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

fn decode(bytes: &[u8]) -> Result<(u64, String), String> {
    if bytes.len() < 8 {
        return Err(format!("value of {} bytes", bytes.len()));
    }
    let (sum, text) = bytes.split_at(8);
    let sum = u64::from_le_bytes(sum.try_into().map_err(|_| "short sum".to_string())?);
    let text = String::from_utf8(text.to_vec()).map_err(|e| e.to_string())?;
    Ok((sum, text))
}

fn join(text: &mut String, more: &str) {
    if !more.is_empty() {
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(more);
    }
}

/// Sum and concatenate, natively. With `combine`, it also offers `map-combine` (as the Rust
/// SDK's modules do), so tumbling windows take the pipeline's combined path.
#[derive(Debug, Clone, Copy)]
struct SumConcat {
    combine: bool,
}

/// [`SumConcat`] without `map-combine`: every pair crosses the boundary.
const PER_PAIR: SumConcat = SumConcat { combine: false };

impl SumConcat {
    /// `map-combine` the way the Rust SDK does it: map, then fold each (key, pane)'s values left
    /// to right in emission order, written independently of the SDK and of the pipeline.
    fn map_combined(&mut self, records: &[InputRecord], pane: i64) -> Result<Combined, GuestError> {
        let emitted = self.map_batch(records)?;
        let mut times: Vec<Option<i64>> = vec![None; records.len()];
        // (pane, key, values in order, first source, last source) per (key, pane).
        type Slot = (i64, Vec<u8>, Vec<Vec<u8>>, u32, u32);
        let mut slots: Vec<Slot> = Vec::new();
        let mut index: BTreeMap<(i64, Vec<u8>), usize> = BTreeMap::new();
        for pair in emitted.iter() {
            let source = pair.source as usize;
            let t = pair.timestamp.unwrap_or(records[source].timestamp);
            times[source] = Some(times[source].map_or(t, |m| m.max(t)));
            let start = t - t.rem_euclid(pane);
            match index.get(&(start, pair.key.to_vec())) {
                Some(&i) => {
                    slots[i].2.push(pair.value.to_vec());
                    slots[i].4 = pair.source;
                }
                None => {
                    index.insert((start, pair.key.to_vec()), slots.len());
                    slots.push((
                        start,
                        pair.key.to_vec(),
                        vec![pair.value.to_vec()],
                        pair.source,
                        pair.source,
                    ));
                }
            }
        }
        let mut out = Combined::default();
        for (start, key, values, first, last) in slots {
            let mut input = ReduceInput::default();
            input.push_group(values.iter().map(Vec::as_slice));
            let folded = self.reduce_batch(&input)?.pop().unwrap_or_default();
            out.data.extend_from_slice(&key);
            out.data.extend_from_slice(&folded);
            out.pairs.push(CombinedPair {
                first,
                last,
                key_len: u32::try_from(key.len()).unwrap_or(u32::MAX),
                value_len: u32::try_from(folded.len()).unwrap_or(u32::MAX),
                count: u32::try_from(values.len()).unwrap_or(u32::MAX),
                pane: start,
            });
        }
        out.times = times;
        Ok(out)
    }
}

impl Guest for SumConcat {
    fn kind(&self) -> ModuleKind {
        ModuleKind::MapReduce
    }

    fn map_combine(&mut self, records: &[InputRecord], pane: i64) -> Option<Result<Combined, GuestError>> {
        self.combine.then(|| self.map_combined(records, pane))
    }

    fn map_batch(&mut self, records: &[InputRecord]) -> Result<Emitted, GuestError> {
        let mut out = Emitted::default();
        for (index, record) in records.iter().enumerate() {
            let source = u32::try_from(index).map_err(|e| GuestError::rejected(index, e))?;
            let text = std::str::from_utf8(record.value.as_deref().unwrap_or_default())
                .map_err(|e| GuestError::rejected(index, e))?;
            for item in text.split(';').filter(|item| !item.is_empty()) {
                let fields: Vec<&str> = item.split(' ').collect();
                let [key, amount, token, time] = fields[..] else {
                    return Err(GuestError::rejected(index, format!("bad pair `{item}`")));
                };
                let amount: u64 = amount.parse().map_err(|e| GuestError::rejected(index, e))?;
                let timestamp = match time {
                    "-" => None,
                    t => Some(t.parse::<i64>().map_err(|e| GuestError::rejected(index, e))?),
                };
                out.push(source, key.as_bytes(), &encode(amount, token), timestamp);
            }
        }
        Ok(out)
    }

    fn reduce_batch(&mut self, input: &ReduceInput) -> Result<Vec<Vec<u8>>, GuestError> {
        input
            .groups()
            .into_iter()
            .enumerate()
            .map(|(index, values)| {
                // The first value may be the accumulator so far: it has the same encoding.
                let (mut sum, mut text) = (0, String::new());
                for value in values {
                    let (n, t) = decode(value).map_err(|e| GuestError::rejected(index, e))?;
                    sum += n;
                    join(&mut text, &t);
                }
                Ok(encode(sum, &text))
            })
            .collect()
    }

    fn finish_batch(&mut self, items: &[FinishItem]) -> Result<Vec<GuestOutput>, GuestError> {
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let (sum, text) = decode(&item.acc).map_err(|e| GuestError::rejected(index, e))?;
                let key = String::from_utf8(item.key.clone()).map_err(|e| GuestError::rejected(index, e))?;
                let value = serde_json::json!({
                    "start": item.window.start,
                    "end": item.window.end,
                    "key": key,
                    "sum": sum,
                    "text": text,
                });
                Ok(GuestOutput {
                    key: Some(item.key.clone()),
                    value: value.to_string().into_bytes(),
                })
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// What a run produced, in a form both the pipeline and the reference can be put in.

/// One fired (window, key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Out {
    start: i64,
    end: i64,
    key: String,
    sum: u64,
    text: String,
}

/// What one `process` call (or `close`) gave: outputs in order, late record indices in order,
/// anything else that went to the dead letters, and the watermark after it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    outputs: Vec<Out>,
    late: Vec<usize>,
    other_dead: Vec<String>,
    watermark: i64,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    steps: Vec<Step>,
    late_pairs: u64,
    pairs: u64,
    windows_fired: u64,
}

impl Run {
    /// Every output, in order.
    fn outputs(&self) -> Vec<Out> {
        self.steps.iter().flat_map(|s| s.outputs.clone()).collect()
    }

    fn late(&self) -> Vec<usize> {
        self.steps.iter().flat_map(|s| s.late.clone()).collect()
    }
}

#[derive(Debug, Clone, Copy)]
struct Config {
    window: WindowSpec,
    out_of_orderness: i64,
    lateness: i64,
}

fn ms(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).expect("non-negative duration"))
}

fn parse_output(output: &OutputRecord) -> Result<Out, String> {
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

fn step(outcome: Outcome, watermark: i64) -> Step {
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
fn batch_ranges(n: usize, sizes: &[usize]) -> Vec<Range<usize>> {
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
fn run_pipeline(guest: SumConcat, config: Config, recs: &[Rec], batches: &[Range<usize>]) -> Run {
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

// ---------------------------------------------------------------------------------------------
// The reference.

fn closed(end: i64, lateness: i64, watermark: Option<i64>) -> bool {
    watermark.is_some_and(|w| end + lateness <= w)
}

/// A window `[start, end)` of the reference.
type Span = (i64, i64);

/// Every `[s, s + size)` with `s` a multiple of `slide` that contains `t`, by start.
fn fixed_windows(t: i64, size: i64, slide: i64) -> Vec<Span> {
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
struct RefPair {
    key: String,
    time: i64,
    amount: u64,
    token: String,
}

fn ref_pairs(i: usize, rec: &Rec) -> Vec<RefPair> {
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
struct RefSession {
    key: String,
    start: i64,
    end: i64,
    sum: u64,
    tokens: Vec<String>,
}

/// What the reference computed, before it is cut into batches.
struct Reference {
    /// Every output, with the index of the record after which it closed (`None`: at close).
    outputs: Vec<(Out, Option<usize>)>,
    late: Vec<usize>,
    late_pairs: u64,
    pairs: u64,
    /// The watermark after each record.
    watermarks: Vec<Option<i64>>,
}

fn reference(config: Config, recs: &[Rec]) -> Reference {
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
fn closing_order(window: WindowSpec, a: &Out, b: &Out) -> std::cmp::Ordering {
    match window {
        WindowSpec::Session { .. } => (a.end, &a.key, a.start).cmp(&(b.end, &b.key, b.start)),
        _ => (a.end, a.start, &a.key).cmp(&(b.end, b.start, &b.key)),
    }
}

/// The reference cut into the given batches, as the pipeline should report it.
fn reference_run(config: Config, recs: &[Rec], batches: &[Range<usize>]) -> Run {
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

// ---------------------------------------------------------------------------------------------
// Examples, computed by hand.

fn one(timestamp: i64, key: &str) -> Rec {
    Rec {
        timestamp,
        pairs: vec![PairSpec {
            key: key.to_string(),
            amount: 1,
            time: None,
        }],
    }
}

fn out(start: i64, end: i64, key: &str, sum: u64, text: &str) -> Out {
    Out {
        start,
        end,
        key: key.to_string(),
        sum,
        text: text.to_string(),
    }
}

/// Per call (each batch, then close): the outputs and the late records.
fn calls(run: &Run) -> Vec<(Vec<Out>, Vec<usize>)> {
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
fn example(config: Config, recs: &[Rec], batch: usize) -> Vec<(Vec<Out>, Vec<usize>)> {
    let batches = batch_ranges(recs.len(), &[batch]);
    let run = run_pipeline(PER_PAIR, config, recs, &batches);
    assert_eq!(
        run,
        reference_run(config, recs, &batches),
        "the reference disagrees"
    );
    calls(&run)
}

fn tumbling(size: i64, out_of_orderness: i64, lateness: i64) -> Config {
    Config {
        window: WindowSpec::Tumbling { size },
        out_of_orderness,
        lateness,
    }
}

fn session(gap: i64, out_of_orderness: i64, lateness: i64) -> Config {
    Config {
        window: WindowSpec::Session { gap },
        out_of_orderness,
        lateness,
    }
}

#[test]
fn tumbling_windows_fire_when_the_watermark_reaches_their_end() {
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
fn allowed_lateness_keeps_a_window_open_then_later_records_are_dead_letters() {
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
fn hopping_windows_fire_at_the_end_of_the_batch_and_late_pairs_are_dropped() {
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
fn a_pair_between_two_sessions_merges_them_in_start_order() {
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
fn session_lateness_is_judged_on_the_merged_session() {
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
fn pairs_with_their_own_event_times_and_records_without_pairs() {
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
fn a_closed_session_is_not_reopened_by_a_later_pair_of_the_same_batch() {
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

// ---------------------------------------------------------------------------------------------
// Properties.

/// A generated case.
#[derive(Debug, Clone)]
struct Case {
    config: Config,
    records: Vec<Rec>,
    batch_sizes: Vec<usize>,
    /// The guest combines (tumbling windows then take the pipeline's combined path).
    guest: SumConcat,
}

const KEYS: [&str; 5] = ["a", "b", "c", "d", "e"];

fn pair_spec(keys: usize) -> impl Strategy<Value = (usize, u64)> {
    (0..keys, 1u64..=9)
}

/// A record's pairs, relative to its timestamp: mostly one pair at the record's time, sometimes
/// none, sometimes several at times of their own.
fn pairs_spec(keys: usize) -> impl Strategy<Value = Vec<(usize, u64, Option<i64>)>> {
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
fn records() -> impl Strategy<Value = Vec<Rec>> {
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

fn batch_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        6 => prop::collection::vec(1usize..=50, 1..=8),
        1 => Just(vec![1]),
        1 => Just(vec![1_000]),
    ]
}

fn tumbling_spec() -> impl Strategy<Value = WindowSpec> {
    (1i64..=3_000).prop_map(|size| WindowSpec::Tumbling { size })
}

/// Hopping windows whose slide divides the size, or not; at most 20 windows per pair.
fn hopping_spec() -> impl Strategy<Value = WindowSpec> {
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

fn session_spec() -> impl Strategy<Value = WindowSpec> {
    (1i64..=2_000).prop_map(|gap| WindowSpec::Session { gap })
}

fn case(window: impl Strategy<Value = WindowSpec>) -> impl Strategy<Value = Case> {
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
fn check(case: &Case) -> Result<(), TestCaseError> {
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

proptest! {
    #![proptest_config(crate::support::proptest_config(256))]

    #[test]
    fn tumbling_matches_the_reference(case in case(tumbling_spec())) {
        check(&case)?;
    }

    #[test]
    fn hopping_matches_the_reference(case in case(hopping_spec())) {
        check(&case)?;
    }

    #[test]
    fn session_matches_the_reference_one_record_per_batch(case in case(session_spec())) {
        check(&Case { batch_sizes: vec![1], ..case })?;
    }

    #[test]
    fn session_matches_the_reference(case in case(session_spec())) {
        check(&case)?;
    }

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

// ---------------------------------------------------------------------------------------------
// Crash and resume: the offset rule.
//
// A run checkpoints after some batch, goes on for a few batches (writing their output), and
// crashes. A new pipeline resumes from the checkpoint and replays the input from its commit
// offset. Everything written by both, de-duplicated by (window, key), must be exactly the
// uninterrupted run's output, every written result must be a final one (never a partial count),
// and the dead letters must be the same set.

#[derive(Debug, Clone)]
struct CrashCase {
    case: Case,
    checkpoint_at: prop::sample::Index,
    batches_after_checkpoint: usize,
    resume_batch: usize,
}

fn crash_case(window: impl Strategy<Value = WindowSpec>) -> impl Strategy<Value = CrashCase> {
    (case(window), any::<prop::sample::Index>(), 0usize..4, 1usize..40).prop_map(
        |(case, checkpoint_at, batches_after_checkpoint, resume_batch)| CrashCase {
            case,
            checkpoint_at,
            batches_after_checkpoint,
            resume_batch,
        },
    )
}

type ResultKey = (Option<Window>, Option<Vec<u8>>);

#[derive(Default)]
struct Written {
    outputs: Vec<(ResultKey, Vec<u8>)>,
    dead: std::collections::BTreeSet<(i64, &'static str)>,
}

impl Written {
    fn take(&mut self, outcome: Outcome) {
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
fn crash_setup(case: &Case) -> (PipelineConfig, Vec<InputRecord>) {
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
fn uninterrupted(
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
fn check_written(
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

fn check_crash(crash: &CrashCase) -> Result<(), TestCaseError> {
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
