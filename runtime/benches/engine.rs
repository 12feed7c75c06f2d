//! Word count three ways over the same in-memory records, to measure what the sandbox costs.
//!
//! - `wasm`: the `word-count` component through [`Engine`] and [`Pipeline`] (tumbling 10 s
//!   windows, batches of 1024 records, then `close`);
//! - `native-pipeline`: the same [`Pipeline`] driving [`NativeWordCount`], a native
//!   [`Guest`] that does what the Rust SDK does for word count (split, lower-case, postcard
//!   pairs; postcard sum; the SDK's default JSON finish). Same host code, no sandbox;
//! - `native-plain`: a `HashMap<(window, word), u64>`, no pipeline: the raw ceiling;
//! - `wasm-map-only` / `native-map-only`: `Guest::map_batch` alone over the same batches.
//!
//! Before benchmarking, the three variants are checked to produce the same counts, and a
//! per-call breakdown (time in map, reduce, finish and in the host pipeline) is printed.
//!
//! `cargo bench -p weir --bench engine`. Environment: `WEIR_BENCH_RECORDS` (default 100000; 5000 under
//! `cargo test`) changes the input size; `WEIR_BENCH_SKIP_CHECKS=1` skips the check and the breakdown (for
//! profiling with `--profile-time`).

use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hint::black_box;
use std::time::{Duration, Instant};
use weir::engine::{Engine, GuestLimits, Module, WasmGuest};
use weir::guest::{Guest, GuestError};
use weir::pipeline::{Pipeline, PipelineConfig, TimeMode};
use weir::record::{
    Emitted, FinishItem, GuestOutput, InputRecord, ModuleKind, OutputRecord, Pair, ReduceInput,
};
use weir::window::WindowSpec;

/// The allocator the `weir` binary uses (see `runtime/src/main.rs`), so the figures are the
/// binary's; every variant runs under it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Default number of input records.
const RECORDS: usize = 100_000;
/// Default number of input records when `cargo test` runs the benchmark once.
const TEST_RECORDS: usize = 5_000;
/// Records per `Pipeline::process` call, as `weir run` batches them.
const BATCH: usize = 1024;
/// The tumbling window size, in ms.
const WINDOW_MS: i64 = 10_000;
/// First record's timestamp (a multiple of the window size).
const T0: i64 = 1_700_000_000_000;
/// Timestamps advance 1 ms per record, with up to this much jitter (less than the
/// out-of-orderness, so no pair is late).
const JITTER_MS: u64 = 500;
/// Watermark delay.
const OUT_OF_ORDERNESS: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------------
// Input: deterministic English-like text.

use weir_test_support::Rng;

/// Frequent English words, most frequent first (with a few that split: `don't`, `it's`).
const COMMON: &[&str] = &[
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on", "are", "with",
    "as", "I", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by", "not", "word",
    "but", "what", "some", "we", "can", "out", "other", "were", "all", "there", "when", "up", "use", "your",
    "how", "said", "an", "each", "she", "which", "do", "their", "time", "if", "will", "way", "about", "many",
    "then", "them", "write", "would", "like", "so", "these", "her", "long", "make", "thing", "see", "him",
    "two", "has", "look", "more", "day", "could", "go", "come", "did", "number", "sound", "no", "most",
    "people", "my", "over", "know", "water", "than", "call", "first", "who", "may", "down", "side", "been",
    "now", "find", "any", "new", "work", "part", "take", "get", "place", "made", "live", "where", "after",
    "back", "little", "only", "round", "man", "year", "came", "show", "every", "good", "me", "give", "our",
    "under", "name", "very", "through", "just", "form", "sentence", "great", "think", "say", "help", "low",
    "line", "differ", "turn", "cause", "much", "mean", "before", "move", "right", "boy", "old", "too",
    "same", "tell", "does", "set", "three", "want", "air", "well", "also", "play", "small", "end", "put",
    "home", "read", "hand", "port", "large", "spell", "add", "even", "land", "here", "must", "big", "high",
    "such", "follow", "act", "why", "ask", "men", "change", "went", "light", "kind", "off", "need", "house",
    "picture", "try", "us", "again", "animal", "point", "mother", "world", "near", "build", "self", "earth",
    "father", "don't", "it's", "stream", "river", "weir", "window", "record",
];

/// Syllables for the long tail of rarer words.
const ONSETS: &[&str] = &[
    "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "ch", "cl", "gr", "pl",
    "sh", "st", "th", "tr",
];
const NUCLEI: &[&str] = &["a", "e", "i", "o", "u", "ea", "ou", "ai"];
const CODAS: &[&str] = &["", "", "n", "r", "s", "t", "nd", "ng", "st", "ck"];

/// Number of generated rare words.
const RARE: usize = 20_000;

/// The vocabulary, most frequent first.
fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = COMMON.iter().map(|w| (*w).to_string()).collect();
    let syllables = ONSETS.len() * NUCLEI.len() * CODAS.len();
    let syllable = |i: usize| {
        format!(
            "{}{}{}",
            ONSETS[i % ONSETS.len()],
            NUCLEI[(i / ONSETS.len()) % NUCLEI.len()],
            CODAS[(i / ONSETS.len() / NUCLEI.len()) % CODAS.len()]
        )
    };
    // Scramble the order so rank does not follow the syllable table.
    let mut seen: HashSet<String> = words.iter().cloned().collect();
    let mut k = 0usize;
    while words.len() < COMMON.len() + RARE {
        let n = k.wrapping_mul(2_654_435_761) % (syllables * syllables);
        let word = format!("{}{}", syllable(n % syllables), syllable(n / syllables));
        if seen.insert(word.clone()) {
            words.push(word);
        }
        k += 1;
    }
    words
}

/// A word drawn with a Zipf-like (log-uniform rank) distribution, sometimes a number.
fn pick<'a>(rng: &mut Rng, vocabulary: &'a [String], scratch: &'a mut String) -> &'a str {
    if rng.below(40) == 0 {
        *scratch = rng.below(2_100).to_string();
        return scratch;
    }
    let n = vocabulary.len() as f64;
    let rank = (n.powf(rng.unit()) as usize).saturating_sub(1);
    &vocabulary[rank.min(vocabulary.len() - 1)]
}

/// `n` records of about 100 bytes of English-like text (sentences, capitals, punctuation),
/// 1 ms apart with up to [`JITTER_MS`] of jitter.
fn records(n: usize) -> Vec<InputRecord> {
    let vocabulary = vocabulary();
    let mut rng = Rng(0x5745_4952_4245_4E43);
    let mut scratch = String::new();
    (0..n)
        .map(|i| {
            let mut text = String::with_capacity(128);
            let mut sentence_start = true;
            while text.len() < 96 {
                if !text.is_empty() {
                    text.push(' ');
                }
                let word = pick(&mut rng, &vocabulary, &mut scratch);
                if sentence_start {
                    let mut chars = word.chars();
                    if let Some(first) = chars.next() {
                        text.extend(first.to_uppercase());
                        text.push_str(chars.as_str());
                    }
                    sentence_start = false;
                } else {
                    text.push_str(word);
                }
                match rng.below(20) {
                    0 | 1 => text.push(','),
                    2 => {
                        text.push('.');
                        sentence_start = true;
                    }
                    _ => {}
                }
            }
            if !text.ends_with('.') {
                text.push('.');
            }
            let offset = i as i64;
            InputRecord {
                key: None,
                value: Some(text.into_bytes()),
                timestamp: T0 + offset + rng.below(JITTER_MS) as i64,
                headers: Vec::new(),
                partition: 0,
                offset,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The native guest: what the Rust SDK's glue (`guest-sdk/src/__private.rs`) and
// `examples/word-count` do, without the sandbox.

/// The word-count example's `words`: runs of Unicode letters and digits, lower-cased.
fn words(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Word count as a native [`Guest`], step for step like the SDK: `Emitter::emit` postcard-encodes
/// the key and the value into the batch's one buffer; reduce decodes, sums and re-encodes;
/// finish writes `Output::window_json`.
struct NativeWordCount;

impl Guest for NativeWordCount {
    fn kind(&self) -> ModuleKind {
        ModuleKind::MapReduce
    }

    fn map_batch(&mut self, records: &[InputRecord]) -> Result<Emitted, GuestError> {
        let mut out = Emitted::default();
        for (index, record) in records.iter().enumerate() {
            let source = u32::try_from(index).unwrap_or(u32::MAX);
            let text = std::str::from_utf8(record.value.as_deref().unwrap_or_default())
                .map_err(|e| GuestError::rejected(index, e))?;
            for word in words(text) {
                // As the SDK's Emitter: encode key then value straight into the batch buffer.
                let start = out.data.len();
                let data = postcard::to_extend(&word, std::mem::take(&mut out.data))
                    .map_err(|e| GuestError::rejected(index, e))?;
                let key_len = data.len() - start;
                out.data = postcard::to_extend(&1u64, data).map_err(|e| GuestError::rejected(index, e))?;
                out.pairs.push(Pair {
                    source,
                    key_len: key_len as u32,
                    value_len: (out.data.len() - start - key_len) as u32,
                    timestamp: None,
                });
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
                let decode = |bytes: &[u8]| {
                    postcard::from_bytes::<u64>(bytes).map_err(|e| GuestError::rejected(index, e))
                };
                let mut acc = 0;
                for value in values {
                    acc += decode(value)?;
                }
                postcard::to_allocvec(&acc).map_err(|e| GuestError::rejected(index, e))
            })
            .collect()
    }

    fn finish_batch(&mut self, items: &[FinishItem]) -> Result<Vec<GuestOutput>, GuestError> {
        #[derive(Serialize)]
        struct WindowKey<'a> {
            window_start: i64,
            window_end: i64,
            key: &'a str,
        }
        #[derive(Serialize)]
        struct WindowValue<'a> {
            window_start: i64,
            window_end: i64,
            key: &'a str,
            value: &'a u64,
        }
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let key: String =
                    postcard::from_bytes(&item.key).map_err(|e| GuestError::rejected(index, e))?;
                let value: u64 =
                    postcard::from_bytes(&item.acc).map_err(|e| GuestError::rejected(index, e))?;
                let record_key = serde_json::to_vec(&WindowKey {
                    window_start: item.window.start,
                    window_end: item.window.end,
                    key: &key,
                })
                .map_err(|e| GuestError::rejected(index, e))?;
                let record_value = serde_json::to_vec(&WindowValue {
                    window_start: item.window.start,
                    window_end: item.window.end,
                    key: &key,
                    value: &value,
                })
                .map_err(|e| GuestError::rejected(index, e))?;
                Ok(GuestOutput {
                    key: Some(record_key),
                    value: record_value,
                })
            })
            .collect()
    }
}

/// The bare native word count: counts per (window start, word), no pipeline.
fn native_plain(records: &[InputRecord]) -> HashMap<(i64, String), u64> {
    let mut counts: HashMap<(i64, String), u64> = HashMap::new();
    for record in records {
        let window = record.timestamp - record.timestamp.rem_euclid(WINDOW_MS);
        let text = std::str::from_utf8(record.value.as_deref().unwrap_or_default())
            .expect("the generated records are UTF-8");
        for word in words(text) {
            *counts.entry((window, word)).or_default() += 1;
        }
    }
    counts
}

// ---------------------------------------------------------------------------------------------
// Driving the pipeline.

fn config() -> PipelineConfig {
    PipelineConfig {
        window: WindowSpec::Tumbling { size: WINDOW_MS },
        out_of_orderness: OUT_OF_ORDERNESS,
        lateness: Duration::ZERO,
        time: TimeMode::Event,
    }
}

/// Generous limits, so a slow run (under a profiler) does not hit the call deadline.
fn limits() -> GuestLimits {
    GuestLimits {
        call_timeout: Duration::from_secs(120),
        ..GuestLimits::default()
    }
}

fn wasm_pipeline(engine: &Engine, module: &Module) -> Pipeline<WasmGuest> {
    let guest = engine
        .instantiate(module, limits())
        .expect("the word-count component starts");
    Pipeline::new(guest, &config())
}

/// Runs every record through `pipeline` in batches of [`BATCH`], then closes it. Returns the
/// pipeline too, so that dropping it (and its Wasm store) is not timed.
fn run<G: Guest>(mut pipeline: Pipeline<G>, records: &[InputRecord]) -> (Pipeline<G>, Vec<OutputRecord>) {
    let mut outputs = Vec::new();
    for batch in records.chunks(BATCH) {
        let outcome = pipeline.process(batch);
        debug_assert!(outcome.dead_letters.is_empty());
        outputs.extend(outcome.outputs);
    }
    outputs.extend(pipeline.close().outputs);
    (pipeline, outputs)
}

// ---------------------------------------------------------------------------------------------
// Checking that the three agree, and where the time goes.

/// Counts per (window start, word) read back from the default finish's JSON.
fn counts_of(outputs: &[OutputRecord]) -> BTreeMap<(i64, String), u64> {
    outputs
        .iter()
        .map(|o| {
            let v: serde_json::Value = serde_json::from_slice(&o.value).expect("finish writes JSON");
            let start = v["window_start"].as_i64().expect("window_start");
            let key = v["key"].as_str().expect("a string key").to_string();
            let count = v["value"].as_u64().expect("a count");
            ((start, key), count)
        })
        .collect()
}

fn total(counts: &BTreeMap<(i64, String), u64>) -> u64 {
    counts.values().sum()
}

fn word_total(counts: &BTreeMap<(i64, String), u64>, word: &str) -> u64 {
    counts
        .iter()
        .filter(|((_, w), _)| w == word)
        .map(|(_, c)| c)
        .sum()
}

/// Asserts that the three variants count the same, once, outside any timing.
fn check(engine: &Engine, module: &Module, records: &[InputRecord]) {
    let (wasm_pipe, wasm_out) = run(wasm_pipeline(engine, module), records);
    let (native_pipe, native_out) = run(Pipeline::new(NativeWordCount, &config()), records);
    let plain: BTreeMap<(i64, String), u64> = native_plain(records).into_iter().collect();
    let wasm = counts_of(&wasm_out);
    let native = counts_of(&native_out);

    assert_eq!(wasm_pipe.stats().late_pairs, 0, "no pair should be late");
    assert!(wasm_pipe.stats().dead_letters.is_empty(), "no dead letters");
    assert_eq!(total(&wasm), total(&plain), "wasm vs native-plain: total words");
    assert_eq!(
        total(&native),
        total(&plain),
        "native-pipeline vs native-plain: total words"
    );
    for word in ["the", "and", "don", "t", "weir", "1999"] {
        let want = word_total(&plain, word);
        assert_eq!(word_total(&wasm, word), want, "wasm: count of {word:?}");
        assert_eq!(
            word_total(&native, word),
            want,
            "native-pipeline: count of {word:?}"
        );
    }
    assert_eq!(wasm, plain, "wasm vs native-plain: every (window, word)");
    assert_eq!(
        native, plain,
        "native-pipeline vs native-plain: every (window, word)"
    );
    assert_eq!(
        wasm_out, native_out,
        "wasm and native guests write the same output records"
    );

    let windows: BTreeSet<i64> = plain.keys().map(|(w, _)| *w).collect();
    let bytes: usize = records.iter().map(|r| r.value.as_ref().map_or(0, Vec::len)).sum();
    println!(
        "check: {} records ({:.1} bytes avg), {} words, {} distinct (window, word), {} windows; \
         the={}, and={}, weir={}; wasm, native-pipeline and native-plain agree",
        records.len(),
        bytes as f64 / records.len() as f64,
        total(&plain),
        plain.len(),
        windows.len(),
        word_total(&plain, "the"),
        word_total(&plain, "and"),
        word_total(&plain, "weir"),
    );
    println!(
        "check: first record: {:?}",
        String::from_utf8_lossy(records[0].value.as_deref().unwrap_or_default())
    );
    println!(
        "check: pipeline stats: pairs {}, windows fired {}, outputs {}, native pairs {}",
        wasm_pipe.stats().pairs,
        wasm_pipe.stats().windows_fired,
        wasm_pipe.stats().outputs,
        native_pipe.stats().pairs,
    );
}

/// Time spent in each kind of guest call, and how much each saw.
#[derive(Debug, Clone, Copy, Default)]
struct Split {
    map: Duration,
    reduce: Duration,
    finish: Duration,
    map_calls: usize,
    reduce_calls: usize,
    reduce_groups: usize,
    reduce_values: usize,
    finish_items: usize,
}

/// A [`Guest`] that times each call of the one it wraps.
struct Timed<G> {
    inner: G,
    split: Split,
}

impl<G: Guest> Guest for Timed<G> {
    fn kind(&self) -> ModuleKind {
        self.inner.kind()
    }

    fn map_batch(&mut self, records: &[InputRecord]) -> Result<Emitted, GuestError> {
        let start = Instant::now();
        let result = self.inner.map_batch(records);
        self.split.map += start.elapsed();
        self.split.map_calls += 1;
        result
    }

    fn reduce_batch(&mut self, input: &ReduceInput) -> Result<Vec<Vec<u8>>, GuestError> {
        let start = Instant::now();
        let result = self.inner.reduce_batch(input);
        self.split.reduce += start.elapsed();
        self.split.reduce_calls += 1;
        self.split.reduce_groups += input.len();
        self.split.reduce_values += input.lengths.len();
        result
    }

    fn finish_batch(&mut self, items: &[FinishItem]) -> Result<Vec<GuestOutput>, GuestError> {
        let start = Instant::now();
        let result = self.inner.finish_batch(items);
        self.split.finish += start.elapsed();
        self.split.finish_items += items.len();
        result
    }
}

/// Runs the pipeline `rounds` times with a timed guest and prints the fastest round's split
/// between the guest calls and the host pipeline (windowing, grouping, copies).
fn breakdown<G: Guest>(name: &str, rounds: usize, records: &[InputRecord], mut make: impl FnMut() -> G) {
    let mut best: Option<(Duration, Split)> = None;
    for _ in 0..rounds {
        let pipeline = Pipeline::new(
            Timed {
                inner: make(),
                split: Split::default(),
            },
            &config(),
        );
        let start = Instant::now();
        let (pipeline, outputs) = run(pipeline, records);
        let elapsed = start.elapsed();
        black_box(outputs);
        if best.is_none_or(|(b, _)| elapsed < b) {
            best = Some((elapsed, pipeline.guest().split));
        }
    }
    let (total, t) = best.expect("at least one round");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let host = total.saturating_sub(t.map + t.reduce + t.finish);
    let pct = |d: Duration| 100.0 * d.as_secs_f64() / total.as_secs_f64();
    println!(
        "breakdown {name:>15}: total {:6.1} ms = map {:6.1} ms ({:4.1}%) + reduce {:5.1} ms ({:4.1}%) \
         + finish {:5.1} ms ({:4.1}%) + host pipeline {:5.1} ms ({:4.1}%); {:.3} Mrecords/s",
        ms(total),
        ms(t.map),
        pct(t.map),
        ms(t.reduce),
        pct(t.reduce),
        ms(t.finish),
        pct(t.finish),
        ms(host),
        pct(host),
        records.len() as f64 / total.as_secs_f64() / 1e6,
    );
    println!(
        "breakdown {name:>15}: {} map calls, {} reduce calls ({} groups, {} values), {} finish items",
        t.map_calls, t.reduce_calls, t.reduce_groups, t.reduce_values, t.finish_items,
    );
}

/// Times `call` (after a warm-up) and prints its average.
fn time_calls(name: &str, mut call: impl FnMut() -> Result<(), GuestError>) {
    const CALLS: u32 = 20_000;
    for _ in 0..1_000 {
        call().expect("an empty call succeeds");
    }
    let start = Instant::now();
    for _ in 0..CALLS {
        call().expect("an empty call succeeds");
    }
    let each = start.elapsed() / CALLS;
    println!(
        "call overhead: {name}: {:.2} us per call",
        each.as_secs_f64() * 1e6
    );
}

/// The fixed cost of one guest call: `map_batch` and `reduce_batch` of an empty batch.
fn call_overhead(engine: &Engine, module: &Module) {
    let mut guest = engine
        .instantiate(module, limits())
        .expect("the component starts");
    time_calls("wasm map_batch(&[])", || guest.map_batch(&[]).map(drop));
    time_calls("wasm reduce_batch(&[])", || {
        guest.reduce_batch(&ReduceInput::default()).map(drop)
    });
}

// ---------------------------------------------------------------------------------------------
// The benchmarks.

fn benches(c: &mut Criterion, engine: &Engine, module: &Module, records: &[InputRecord]) {
    let batches: Vec<&[InputRecord]> = records.chunks(BATCH).collect();
    let mut group = c.benchmark_group("word-count");
    group
        .throughput(Throughput::Elements(records.len() as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15));

    group.bench_function("wasm", |b| {
        b.iter_batched(
            || wasm_pipeline(engine, module),
            |pipeline| run(pipeline, records),
            BatchSize::PerIteration,
        );
    });
    group.bench_function("native-pipeline", |b| {
        b.iter_batched(
            || Pipeline::new(NativeWordCount, &config()),
            |pipeline| run(pipeline, records),
            BatchSize::PerIteration,
        );
    });
    group.bench_function("native-plain", |b| {
        b.iter(|| native_plain(black_box(records)));
    });

    let mut wasm_guest = engine
        .instantiate(module, limits())
        .expect("the component starts");
    group.bench_function("wasm-map-only", |b| {
        b.iter(|| {
            for batch in &batches {
                black_box(wasm_guest.map_batch(batch).expect("map succeeds"));
            }
        });
    });
    let mut native_guest = NativeWordCount;
    group.bench_function("native-map-only", |b| {
        b.iter(|| {
            for batch in &batches {
                black_box(native_guest.map_batch(batch).expect("map succeeds"));
            }
        });
    });
    group.finish();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test` runs this binary without it, to check that it
    // works: then a small input keeps the checks and the breakdown quick in a debug build.
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let n = std::env::var("WEIR_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { RECORDS } else { TEST_RECORDS });
    let records = records(n);
    let engine = Engine::new().expect("the engine starts");
    let module = engine
        .load(&weir_guest_artifacts::bytes(weir_guest_artifacts::WORD_COUNT))
        .expect("the word-count component loads");

    if std::env::var_os("WEIR_BENCH_SKIP_CHECKS").is_none() {
        check(&engine, &module, &records);
        breakdown("wasm", 3, &records, || {
            engine
                .instantiate(&module, limits())
                .expect("the component starts")
        });
        breakdown("native-pipeline", 3, &records, || NativeWordCount);
        call_overhead(&engine, &module);
    }

    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion, &engine, &module, &records);
    criterion.final_summary();
}
