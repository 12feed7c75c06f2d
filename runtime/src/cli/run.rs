//! `weir run`: a module over a file of records (or stdin), results on stdout.
//!
//! Reads JSON lines (or text lines with `--lines`), batches them, drives the same
//! [`Pipeline`] the server uses, prints each output record as a JSON line as its window fires,
//! and prints dead letters with their reasons on stderr (or to `--dead-letters FILE`). At the
//! end of the input every open window fires. When every record went to the dead letters the
//! run fails (exit status 1), with a hint when the input looks like text read without
//! `--lines`.

use super::chunks::{Chunk, read_chunks};
use super::input::InputFormat;
use super::output::count;
use super::output::records::{dead_letter_line, output_line};
use crate::engine::{CompileCache, Engine, GuestLimits};
use crate::pipeline::{MapAhead, Mapped, Outcome, Pipeline, PipelineConfig, TimeMode};
use crate::units::{parse_bytes, parse_timestamp};
use crate::window::WindowSpec;
use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// Arguments of `weir run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The module: a WebAssembly component built with weir-sdk, or the name of a bundled example
    /// (`word-count`, `sensor-stats`, `filter`).
    #[arg(long, short)]
    pub module: PathBuf,
    /// Records to read: a file, or `-` for stdin.
    #[arg(long, short, default_value = "-")]
    pub input: String,
    /// Windows: tumbling:SIZE, hopping:SIZE,SLIDE or session:GAP (ignored by transforms).
    #[arg(long, short, default_value = "tumbling:10s")]
    pub window: WindowSpec,
    /// How far the watermark trails the largest event time seen.
    #[arg(long, default_value = "0s", value_parser = crate::units::parse_duration)]
    pub out_of_orderness: Duration,
    /// How long after its end a window still accepts records.
    #[arg(long, default_value = "0s", value_parser = crate::units::parse_duration)]
    pub lateness: Duration,
    /// Read raw text lines instead of JSON records; each line's timestamp is
    /// `--start + line_index × --interval`.
    #[arg(long)]
    pub lines: bool,
    /// Timestamp of the first line (ms since the epoch, or RFC 3339), for lines without one.
    #[arg(long, default_value = "0", value_parser = parse_timestamp)]
    pub start: i64,
    /// Time between consecutive lines, for lines without a timestamp.
    #[arg(long, default_value = "1s", value_parser = crate::units::parse_duration)]
    pub interval: Duration,
    /// Event time (record or map timestamps) or processing time (the wall clock).
    #[arg(long, value_enum, default_value = "event")]
    pub time: TimeMode,
    /// Write dead letters to this file (JSON lines) instead of stderr.
    #[arg(long)]
    pub dead_letters: Option<PathBuf>,
    /// Threads mapping batches ahead of the pipeline, each with its own instance of the module
    /// (tumbling windows in event time, with a module that combines; 0: the pipeline maps).
    /// [default: one per core]
    #[arg(long, value_name = "N")]
    pub map_threads: Option<usize>,
    /// Records per guest call.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub batch_size: u32,
    /// Linear memory limit of the module.
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes)]
    pub memory: usize,
    /// Time limit of one guest call.
    #[arg(long, default_value = "1s", value_parser = crate::units::parse_duration)]
    pub timeout: Duration,
    /// Limit on the bytes one guest call returns.
    #[arg(long, default_value = "16MiB", value_parser = parse_bytes)]
    pub max_output: usize,
    /// Print each output as {"key", "value", "timestamp"} instead of its value alone.
    #[arg(long)]
    pub with_keys: bool,
    /// No summary on stderr at the end.
    #[arg(long, short)]
    pub quiet: bool,
    /// Where compiled modules are kept between runs: a directory, or `off` [default:
    /// ~/.cache/weir/compiled].
    #[arg(long, env = "WEIR_COMPILE_CACHE", value_name = "DIR")]
    pub compile_cache: Option<String>,
}

/// How `--time` spells the pipeline's [`TimeMode`]: `event` or `processing`.
impl clap::ValueEnum for TimeMode {
    fn value_variants<'a>() -> &'a [Self] {
        &[TimeMode::Event, TimeMode::Processing]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        use clap::builder::PossibleValue;
        Some(match self {
            TimeMode::Event => PossibleValue::new("event").help("Record timestamps, or the time map emits"),
            TimeMode::Processing => PossibleValue::new("processing").help("The wall clock at processing"),
        })
    }
}

/// Runs `weir run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let started = Instant::now();
    let bytes = crate::engine::read_module(&args.module)?;
    let engine = Arc::new(Engine::open(&CompileCache::from_setting(
        args.compile_cache.as_deref(),
    ))?);
    let module = engine
        .load(&bytes)
        .with_context(|| format!("cannot load the module {}", args.module.display()))?;
    let limits = GuestLimits {
        memory_bytes: args.memory,
        call_timeout: args.timeout,
        output_bytes: args.max_output,
    };
    let guest = engine.instantiate(&module, limits)?;
    let config = PipelineConfig {
        window: args.window,
        out_of_orderness: args.out_of_orderness,
        lateness: args.lateness,
        time: args.time,
    };
    let mut pipeline = Pipeline::new(guest, &config);
    let format = InputFormat {
        lines: args.lines,
        start: args.start,
        interval: i64::try_from(args.interval.as_millis()).unwrap_or(i64::MAX),
    };

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut dead: Box<dyn Write> = match &args.dead_letters {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(io::stderr()),
    };
    let mut undecodable = 0u64;
    // Dead letters about one input record each (not a (window, key) whose finish failed).
    let mut record_letters = 0u64;
    // The first line that did not decode, to tell text read without --lines.
    let mut first_undecodable: Option<String> = None;
    let emit = |outcome: Outcome, out: &mut dyn Write, dead: &mut dyn Write| -> Result<u64> {
        let about_records = outcome.dead_letters.iter().filter(|d| d.record.is_some()).count();
        for record in &outcome.outputs {
            writeln!(out, "{}", output_line(record, args.with_keys)).context("write to stdout")?;
        }
        for letter in &outcome.dead_letters {
            writeln!(dead, "{}", dead_letter_line(letter)).context("write dead letters")?;
        }
        out.flush().context("write to stdout")?;
        Ok(about_records as u64)
    };

    let chunks = read_chunks(&args.input, format, args.batch_size as usize)?;
    let mut source = match pipeline.combining_pane() {
        Some(pane) if map_threads(args) > 0 => {
            let (engine, module) = (engine.clone(), module.clone());
            let ahead = MapAhead::start(
                chunks,
                map_threads(args),
                pane,
                |c: &Chunk| &c.records,
                move || engine.instantiate(&module, limits).ok(),
            )
            .context("start the map threads")?;
            Source::Ahead(ahead)
        }
        _ => Source::Direct(chunks),
    };
    loop {
        match source.recv_timeout(Duration::from_millis(100)) {
            Ok(Mapped { batch, combined }) => {
                for line in &batch.undecodable {
                    undecodable += 1;
                    if first_undecodable.is_none() {
                        first_undecodable = Some(line.clone());
                    }
                    writeln!(dead, "{line}").context("write dead letters")?;
                }
                if !batch.records.is_empty() {
                    let outcome = pipeline.process_premapped(&batch.records, combined);
                    record_letters += emit(outcome, &mut out, &mut *dead)?;
                }
                if let Some(err) = batch.failed {
                    return Err(err).context("cannot read the input");
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let outcome = pipeline.tick();
        record_letters += emit(outcome, &mut out, &mut *dead)?;
    }
    let outcome = pipeline.close();
    record_letters += emit(outcome, &mut out, &mut *dead)?;
    dead.flush().context("write dead letters")?;

    if !args.quiet {
        let stats = pipeline.stats();
        let mut dead_summary: Vec<String> = stats
            .dead_letters
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        if undecodable > 0 {
            dead_summary.push(format!("{undecodable} undecodable"));
        }
        let dead_total: u64 = stats.dead_letters.values().sum::<u64>() + undecodable;
        eprintln!(
            "weir run: {}, {}, {}, {}, {}{} in {:.2?} (module {}, {})",
            count(stats.records_in + undecodable, "record", "records"),
            count(stats.pairs, "pair", "pairs"),
            count(stats.windows_fired, "window result", "window results"),
            count(stats.outputs, "output", "outputs"),
            count(dead_total, "dead letter", "dead letters"),
            if dead_summary.is_empty() {
                String::new()
            } else {
                format!(" ({})", dead_summary.join(", "))
            },
            started.elapsed(),
            &module.digest()[..12],
            module.info().sdk,
        );
    }
    let stats = pipeline.stats();
    let read = stats.records_in + undecodable;
    if read > 0 && stats.outputs == 0 && record_letters + undecodable >= read {
        bail!(
            "every record read ({}) went to the dead letters{}",
            read,
            lines_hint(args.lines, first_undecodable.as_deref())
        );
    }
    Ok(())
}

/// `; did you mean --lines?` when the input was read as JSON records and its first undecodable
/// line (a dead-letter line, JSON) holds text that is no JSON object.
fn lines_hint(lines: bool, first_undecodable: Option<&str>) -> String {
    let text = first_undecodable
        .and_then(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .and_then(|letter| letter["text"].as_str().map(str::to_string));
    match text {
        Some(text) if !lines && !text.trim_start().starts_with('{') => format!(
            ": the input looks like text lines (`{}`), which without --lines must be JSON \
             records; did you mean --lines?",
            text.chars().take(40).collect::<String>()
        ),
        _ => String::new(),
    }
}

/// How many threads map ahead of the pipeline: `--map-threads`, else one per core.
fn map_threads(args: &RunArgs) -> usize {
    args.map_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// Where the main loop takes its batches from.
enum Source {
    /// Straight from the input thread; the pipeline maps.
    Direct(mpsc::Receiver<Chunk>),
    /// Through map threads, mapped ahead.
    Ahead(MapAhead<Chunk>),
}

impl Source {
    fn recv_timeout(&mut self, timeout: Duration) -> Result<Mapped<Chunk>, mpsc::RecvTimeoutError> {
        match self {
            Source::Direct(chunks) => chunks.recv_timeout(timeout).map(|batch| Mapped {
                batch,
                combined: None,
            }),
            Source::Ahead(ahead) => ahead.recv_timeout(timeout),
        }
    }
}
