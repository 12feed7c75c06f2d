//! What a guest language costs: the word count of each language (Rust, C, Python, JavaScript)
//! side by side, in one run, through the same engine and pipeline.
//!
//! For each: the component's size; **load**, what `Engine::load` takes once per process
//! (validate, compile with cranelift, a probe instance); **instantiate**, a fresh instance of
//! the loaded module (the mean of several; the pipeline makes one per task, and one after
//! each trap); **records/s**, word count over the same generated lines through `Pipeline`
//! (batches of 1024, tumbling 10 s windows, then `close`), after checking every language
//! writes the same output; **memory per instance**, the process's resident set growth per
//! live instance after each ran one batch (linear memory, and what wasmtime keeps per store).
//!
//! ```text
//! scripts/guest-toolchains install
//! cargo run --release -p weir-bench --bin bench_languages            # prints a Markdown table
//! ```
//!
//! `WEIR_BENCH_RECORDS` (default 50000) sets the number of lines. The Python, JavaScript and
//! C components are built first with `weir build` (in a temporary copy of each example).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use weir::engine::{Engine, GuestLimits, WasmGuest};
use weir::guest::Guest;
use weir::pipeline::{Pipeline, PipelineConfig, TimeMode};
use weir::record::InputRecord;
use weir::window::WindowSpec;
use weir_toolchain::{BuildArgs, build};

/// The allocator the `weir` binary uses, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 1024;

/// The default limits but a 30 s call deadline: a JavaScript batch of 1024 lines took over
/// the default 1 s on a loaded machine, and a timeout here would measure the deadline, not
/// the language.
fn bench_limits() -> GuestLimits {
    GuestLimits {
        call_timeout: Duration::from_secs(30),
        ..GuestLimits::default()
    }
}
const INSTANCES: usize = 8;

fn main() -> anyhow::Result<()> {
    let records: usize = std::env::var("WEIR_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scratch = tempfile::tempdir()?;
    let mut components: Vec<(&str, PathBuf)> =
        vec![("Rust", PathBuf::from(weir_guest_artifacts::WORD_COUNT))];
    for (name, dir) in [
        ("C", "word-count-c"),
        ("Python", "word-count-py"),
        ("JavaScript", "word-count-js"),
    ] {
        let project = scratch.path().join(dir);
        copy_sources(&root.join("examples").join(dir), &project)?;
        let output = scratch.path().join(format!("{dir}.wasm"));
        let started = Instant::now();
        build(&BuildArgs {
            dir: project,
            lang: None,
            output: Some(output.clone()),
            quiet: true,
        })?;
        eprintln!("built {name} in {:.1?}", started.elapsed());
        components.push((name, output));
    }

    let lines = text(records);
    let engine = Engine::new()?;
    let mut rows = Vec::new();
    let mut reference: Option<BTreeMap<Vec<u8>, Vec<u8>>> = None;
    for (name, path) in &components {
        let bytes = std::fs::read(path)?;
        let started = Instant::now();
        let module = engine.load(&bytes)?;
        let load = started.elapsed();

        let mut instantiate = Duration::ZERO;
        for _ in 0..5 {
            let started = Instant::now();
            drop(engine.instantiate(&module, bench_limits())?);
            instantiate += started.elapsed();
        }
        let instantiate = instantiate / 5;

        let guest = engine.instantiate(&module, bench_limits())?;
        let started = Instant::now();
        let outputs = word_count(guest, &lines);
        let elapsed = started.elapsed();
        match &reference {
            None => reference = Some(outputs),
            Some(want) => anyhow::ensure!(&outputs == want, "{name}'s word count differs from Rust's"),
        }

        let memory = memory_per_instance(&engine, &module, &lines[..BATCH.min(lines.len())])?;
        rows.push(format!(
            "| {name} | {} | {:.2} MB | {:.0} ms | {:.2} ms | {:.0} | {:.1} MiB |",
            module.info().sdk,
            bytes.len() as f64 / 1e6,
            load.as_secs_f64() * 1e3,
            instantiate.as_secs_f64() * 1e3,
            records as f64 / elapsed.as_secs_f64(),
            memory / f64::from(1 << 20),
        ));
        eprintln!("{name}: done");
    }
    println!(
        "word count, {records} lines ({} words), batches of {BATCH}, tumbling 10 s windows:\n",
        words(&lines)
    );
    println!("| guest | SDK | component | load (compile) | instantiate | records/s | memory per instance |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}

/// Every output record of word count over `lines`, key -> value.
fn word_count(guest: WasmGuest, lines: &[InputRecord]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let config = PipelineConfig {
        window: WindowSpec::Tumbling { size: 10_000 },
        out_of_orderness: Duration::ZERO,
        lateness: Duration::ZERO,
        time: TimeMode::Event,
    };
    let mut pipeline = Pipeline::new(guest, &config);
    let mut outputs = BTreeMap::new();
    let mut keep = |outcome: weir::pipeline::Outcome| {
        assert!(
            outcome.dead_letters.is_empty(),
            "dead letters: {:?}",
            outcome.dead_letters.first()
        );
        for output in outcome.outputs {
            outputs.insert(output.key.unwrap_or_default(), output.value);
        }
    };
    for batch in lines.chunks(BATCH) {
        keep(pipeline.process(batch));
    }
    keep(pipeline.close());
    outputs
}

/// Resident set growth per live instance, each after one batch of map.
fn memory_per_instance(
    engine: &Engine,
    module: &weir::engine::Module,
    batch: &[InputRecord],
) -> anyhow::Result<f64> {
    let before = resident_bytes()?;
    let mut live = Vec::new();
    for _ in 0..INSTANCES {
        let mut guest = engine.instantiate(module, bench_limits())?;
        guest
            .map_batch(batch)
            .map_err(|e| anyhow::anyhow!("map_batch: {e:?}"))?;
        live.push(guest);
    }
    let after = resident_bytes()?;
    drop(live);
    Ok(after.saturating_sub(before) as f64 / INSTANCES as f64)
}

fn resident_bytes() -> anyhow::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("unexpected /proc/self/statm: {statm}"))?;
    Ok(pages * 4096)
}

/// Deterministic English-like lines (6 to 14 words from a Zipf-like vocabulary), one per
/// 100 ms of event time.
fn text(n: usize) -> Vec<InputRecord> {
    const COMMON: &[&str] = &[
        "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on", "are",
        "with", "as", "I", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by",
        "not", "word", "Stream", "River", "don't", "it's", "Weir", "window", "record", "été", "Straße",
    ];
    const SYLLABLES: &[&str] = &[
        "ba", "ko", "ri", "tes", "mun", "dal", "vo", "shi", "pra", "len", "qu", "zor",
    ];
    let mut state = 0x5745_4952_u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    (0..n)
        .map(|i| {
            let count = 6 + next() % 9;
            let words: Vec<String> = (0..count)
                .map(|_| match next() % 10 {
                    0..=5 => COMMON[(next() as usize) % COMMON.len()].to_string(),
                    6 => (next() % 2100).to_string(),
                    _ => (0..2 + next() % 2)
                        .map(|_| SYLLABLES[(next() as usize) % SYLLABLES.len()])
                        .collect(),
                })
                .collect();
            InputRecord {
                key: None,
                value: Some(format!("{}.", words.join(" ")).into_bytes()),
                timestamp: 1_700_000_000_000 + i as i64 * 100,
                headers: Vec::new(),
                partition: 0,
                offset: i as i64,
            }
        })
        .collect()
}

fn words(lines: &[InputRecord]) -> usize {
    lines
        .iter()
        .map(|r| {
            String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .count()
        })
        .sum()
}

/// Copies a project's sources (not its build output).
fn copy_sources(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        if path.is_file() {
            std::fs::copy(&path, to.join(&name))?;
        } else if path.is_dir() && name != "build" && name != "node_modules" {
            copy_sources(&path, &to.join(&name))?;
        }
    }
    Ok(())
}
