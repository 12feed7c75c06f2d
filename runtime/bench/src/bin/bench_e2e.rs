//! End-to-end benchmark: word count on a real broker, beside the ceilings that bound it.
//!
//! **Throughput** (the default). In one run, against the broker at `--brokers`:
//! 1. **preload**: a fresh input topic of `--partitions` partitions gets `--lines` lines of
//!    `--words` words drawn from a Zipf-like vocabulary of `--vocabulary` words, event times
//!    increasing so that `--window-lines` lines fill each 10 s tumbling window, then one
//!    far-ahead line per partition that closes every window before it;
//! 2. **pass-through**: a plain rdkafka `BaseConsumer` (Weir's `consumer_config`) reads every
//!    record and a `ThreadedProducer` (Weir's `producer_config`) writes each to another topic,
//!    until all are acknowledged: the ceiling the broker and the client set;
//! 3. **weir**: the `weir` binary (`--weir`, default `target/release/weir`) as a separate
//!    process, the way a user runs it: `weir serve` with a config file naming the brokers, then
//!    `weir module upload` of the bundled word count and `weir job create` (`tumbling:10s`,
//!    shuffle on) over its API. Timed from `weir job create` until every expected
//!    (window, word) result has been read back from the output topic, and checked exact
//!    against a native count. It reports the CPU seconds of the weir process (its threads by
//!    role) and of the broker (`--broker-pid`), from `/proc/PID/stat`, and the weir process's
//!    peak RSS (`VmHWM` of `/proc/PID/status`: over its whole life, startup included);
//! 4. **engine**: the same records through `Pipeline` + `WasmGuest` in this process, no Kafka.
//!
//! **Live** (`--latency RATE`, or `--soak SECONDS --rate RATE`): the same job over records
//! produced live at a steady rate, event time = wall time (the producer's clock), for
//! `--duration` (latency) or `SECONDS` (soak) after `--warmup`. Every `--sample` it prints the
//! weir process's RSS and CPU; at the end it reports, for each window that the live records
//! fired, the latency from the window's end to its results read from the output topic (p50,
//! p99, max over windows, taking each window's last result, and over every (window, word)
//! result), then closes the open windows and checks every result exact.
//!
//! ```text
//! cargo run --release -p weir-bench --bin bench_e2e -- --brokers 127.0.0.1:9092
//! scripts/bench-e2e            # starts a test broker per storage on a free port, runs this
//! ```
//!
//! To profile one phase, preload once and reuse the topic (the workload is deterministic, so
//! the same arguments regenerate the same lines): `--phases preload --input NAME`, then
//! `perf record -a -g -- target/release/bench_e2e --phases weir --input NAME ...`.

use anyhow::{Context as _, Result, bail, ensure};
use clap::{Parser, ValueEnum};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use weir::config::{JobConfig, LimitsConfig};
use weir::engine::Engine;
use weir::kafka::admin::{Admin, TopicSpec};
use weir::kafka::{consumer_config, producer_config};
use weir::pipeline::{Pipeline, TimeMode};
use weir::record::InputRecord;

/// The allocator of the `weir` binary, so the engine phase's figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The job's tumbling window, in ms.
const WINDOW_MS: i64 = 10_000;
/// First event time (a multiple of the window).
const T0: i64 = 1_700_000_000_000;
/// How far ahead of the last line the closing line of each partition is.
const CLOSING_AHEAD_MS: i64 = 3_600_000;
/// The closing line's text: not a vocabulary word (those start with a consonant).
const CLOSING_TEXT: &str = "end";
/// How long the Weir phase watches the job idle after it is done.
const IDLE_PROBE: Duration = Duration::from_secs(3);
/// Clock ticks per second of `/proc/*/stat` (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
const CLOCK_TICKS: f64 = 100.0;
/// The bundled module the job runs, uploaded under this name.
const MODULE: &str = "word-count";

/// What a throughput run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Phase {
    /// Create the input topic and fill it.
    Preload,
    /// Consume the input and produce every record to another topic.
    Passthrough,
    /// The word-count job in a `weir serve` process.
    Weir,
    /// The pipeline over the same records, in this process, no Kafka.
    Engine,
}

/// End-to-end word count against a broker, beside a pass-through and the engine alone.
#[derive(Debug, Parser)]
struct Args {
    /// Kafka bootstrap servers.
    #[arg(long, short, env = "WEIR_BROKERS")]
    brokers: String,
    /// A label for the report (the broker's storage, say).
    #[arg(long, default_value = "")]
    label: String,
    /// Input lines (plus one closing line per partition).
    #[arg(long, default_value_t = 1_000_000)]
    lines: usize,
    /// Partitions of the input topic.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Words per line.
    #[arg(long, default_value_t = 15)]
    words: usize,
    /// Distinct words; drawn with a log-uniform (Zipf-like) rank.
    #[arg(long, default_value_t = 5_000)]
    vocabulary: usize,
    /// Lines per 10 s window, over all partitions (1,000,000 / 50,000: 20 windows).
    #[arg(long, default_value_t = 50_000)]
    window_lines: usize,
    /// Phases to run, in this order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "preload,passthrough,weir,engine"
    )]
    phases: Vec<Phase>,
    /// Input topic: created and filled by `preload`, else expected to hold this workload.
    #[arg(long)]
    input: Option<String>,
    /// The broker's process id, to report its CPU time per phase.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// The `weir` binary the Weir phase runs.
    #[arg(long, env = "WEIR_BENCH_BIN", default_value = "target/release/weir")]
    weir: PathBuf,
    /// The job's commit interval (how often it writes output, records progress and commits).
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    commit_interval: Duration,
    /// The job's out-of-orderness (default: 1s for throughput, 0s live, where each partition's
    /// records come in event-time order).
    #[arg(long, value_parser = humantime::parse_duration)]
    out_of_orderness: Option<Duration>,
    /// Extra settings of the pass-through's producer over Weir's `producer_config` (repeatable),
    /// e.g. `enable.idempotence=false`, to see what the client costs.
    #[arg(long, value_name = "KEY=VALUE")]
    producer_set: Vec<String>,
    /// Extra settings of the pass-through's consumer over Weir's `consumer_config` (repeatable),
    /// e.g. `fetch.wait.max.ms=100`.
    #[arg(long, value_name = "KEY=VALUE")]
    consumer_set: Vec<String>,
    /// Headers the pass-through adds to each record it writes (Weir's partials carry two), to
    /// see what headers cost the broker.
    #[arg(long, default_value_t = 0)]
    headers: usize,
    /// Live: produce RATE records/s for `--duration` and report the latency from each window's
    /// end to its results in the output topic.
    #[arg(long, value_name = "RATE", conflicts_with = "soak")]
    latency: Option<u64>,
    /// Live: produce `--rate` records/s for SECONDS, sampling the weir process's RSS.
    #[arg(long, value_name = "SECONDS")]
    soak: Option<u64>,
    /// The rate of `--soak`, records/s.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// How long `--latency` produces after the warm-up.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Live: produced before the measured time, and its windows left out of the latencies.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Live: how often the weir process's RSS and CPU are sampled.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    sample: Duration,
    /// Give up on a phase after this long (live: after production ends).
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

fn main() -> Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    ensure!(args.partitions > 0 && args.window_lines > 0 && args.words > 0 && args.vocabulary > 0);
    let run = format!("{:x}", now_ms() % 0x10000);
    if let Some(rate) = args.latency {
        return live(&args, &run, rate, args.duration, false);
    }
    if let Some(seconds) = args.soak {
        return live(&args, &run, args.rate, Duration::from_secs(seconds), true);
    }
    let input = args.input.clone().unwrap_or_else(|| format!("e2e-{run}-lines"));
    let workload = Workload::generate(&args);
    println!(
        "workload{}: {} lines of {} words ({:.1} bytes on average), {} partitions, {} windows of \
         10 s, {} (window, word) results; run {run}, input topic {input}",
        label(&args),
        args.lines,
        args.words,
        workload.bytes as f64 / args.lines.max(1) as f64,
        args.partitions,
        workload.windows,
        workload.expected.len(),
    );
    let mut table = Vec::new();
    if args.phases.contains(&Phase::Preload) {
        table.push(preload(&args, &input, &workload)?);
    } else {
        // tansu 0.6's memory engine answers ListOffsets with a high watermark short of the
        // last batch (seen: 992,348 for 1,000,006 records, all of which a consumer reads), so
        // only an empty or larger topic is refused here.
        let (_, total) = end_offsets(&args.brokers, &input, args.partitions)?;
        ensure!(
            total > 0 && total <= workload.records.len() as i64,
            "topic {input} holds {total} records, not the {} of this workload: preload it with \
             the same arguments and `--phases preload`",
            workload.records.len()
        );
    }
    if args.phases.contains(&Phase::Passthrough) {
        table.push(passthrough(&args, &run, &input, &workload)?);
    }
    if args.phases.contains(&Phase::Weir) {
        table.push(weir_job(&args, &run, &input, &workload)?);
    }
    if args.phases.contains(&Phase::Engine) {
        table.push(engine_alone(&args, &workload)?);
    }
    report(&args, &table);
    Ok(())
}

/// CPU seconds to two decimals, or `?` when they could not be read.
fn cpu_s(seconds: Option<f64>) -> String {
    seconds.map_or("?".into(), |s| format!("{s:.2}"))
}

/// ` (LABEL)`, or nothing.
fn label(args: &Args) -> String {
    if args.label.is_empty() {
        String::new()
    } else {
        format!(" ({})", args.label)
    }
}

// ---------------------------------------------------------------------------------------------
// The workload.

use weir_test_support::Rng;

/// A word's rank in a vocabulary of `n`: log-uniform, so rank r comes about 1/r as often.
fn zipf_rank(rng: &mut Rng, n: usize) -> usize {
    ((n as f64).powf(rng.unit()) as usize)
        .saturating_sub(1)
        .min(n - 1)
}

/// `n` distinct lower-case words of two or three syllables, in a scrambled order.
fn vocabulary(n: usize) -> Vec<String> {
    const ONSETS: &[&str] = &[
        "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "ch", "cl", "gr",
        "pl", "sh", "st", "th", "tr",
    ];
    const NUCLEI: &[&str] = &["a", "e", "i", "o", "u", "ea", "ou", "ai"];
    const CODAS: &[&str] = &["", "", "n", "r", "s", "t", "nd", "ng", "st", "ck"];
    let syllable = |i: u64| {
        let i = i as usize;
        let (o, n, c) = (ONSETS.len(), NUCLEI.len(), CODAS.len());
        format!(
            "{}{}{}",
            ONSETS[i % o],
            NUCLEI[(i / o) % n],
            CODAS[(i / o / n) % c]
        )
    };
    let mut rng = Rng(0x5745_4952_4532_4545);
    let mut seen = HashSet::new();
    let mut words = Vec::with_capacity(n);
    while words.len() < n {
        let r = rng.next();
        let mut word = syllable(r & 0xFFFF) + &syllable((r >> 16) & 0xFFFF);
        if (r >> 32).is_multiple_of(3) {
            word += &syllable((r >> 40) & 0xFFFF);
        }
        if seen.insert(word.clone()) {
            words.push(word);
        }
    }
    words
}

/// The records of one run, and what word count must make of them.
struct Workload {
    /// Every record in event-time order (lines round-robin over partitions, closing lines last).
    records: Vec<InputRecord>,
    /// Count per (window start, word): the job's expected output.
    expected: HashMap<(i64, String), u64>,
    /// Windows the lines fall in.
    windows: usize,
    /// Bytes of line text.
    bytes: usize,
}

impl Workload {
    fn generate(args: &Args) -> Self {
        let vocabulary = vocabulary(args.vocabulary);
        let mut rng = Rng(0x6532_6542_454E_4348);
        let mut offsets = vec![0i64; args.partitions as usize];
        let mut records = Vec::with_capacity(args.lines + offsets.len());
        let mut counts: HashMap<(i64, usize), u64> = HashMap::new();
        let mut bytes = 0;
        let mut record = |partition: i32, timestamp: i64, text: String| {
            let offset = &mut offsets[partition as usize];
            records.push(InputRecord {
                key: None,
                value: Some(text.into_bytes()),
                timestamp,
                headers: Vec::new(),
                partition,
                offset: *offset,
            });
            *offset += 1;
        };
        let mut last = T0;
        for i in 0..args.lines {
            let timestamp = T0 + (i as i64) * WINDOW_MS / args.window_lines as i64;
            let window = timestamp - timestamp.rem_euclid(WINDOW_MS);
            let mut text = String::with_capacity(args.words * 8);
            for w in 0..args.words {
                let rank = zipf_rank(&mut rng, vocabulary.len());
                let word = &vocabulary[rank];
                if w > 0 {
                    text.push(' ');
                }
                text.push_str(word);
                *counts.entry((window, rank)).or_default() += 1;
            }
            bytes += text.len();
            last = timestamp;
            record((i % args.partitions as usize) as i32, timestamp, text);
        }
        for partition in 0..args.partitions {
            record(partition, last + CLOSING_AHEAD_MS, CLOSING_TEXT.to_string());
        }
        let windows = counts.keys().map(|(w, _)| *w).collect::<HashSet<_>>().len();
        let expected = counts
            .into_iter()
            .map(|((window, rank), count)| ((window, vocabulary[rank].clone()), count))
            .collect();
        Workload {
            records,
            expected,
            windows,
            bytes,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Phases.

/// One line of the results table.
struct Measured {
    phase: &'static str,
    records: u64,
    elapsed: Duration,
    cpu: Cpu,
    /// The weir process's peak RSS, in kB.
    peak_rss: Option<u64>,
    notes: Vec<String>,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn preload(args: &Args, input: &str, workload: &Workload) -> Result<Measured> {
    create_topic(&args.brokers, input, args.partitions)?;
    let (_, already) = end_offsets(&args.brokers, input, args.partitions)?;
    ensure!(
        already == 0,
        "topic {input} is not empty ({already} records): name a fresh one"
    );
    let producer = producer(&args.brokers)?;
    let cpu = Cpu::start(args.broker_pid, None);
    let started = Instant::now();
    for r in &workload.records {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(input)
            .partition(r.partition)
            .timestamp(r.timestamp);
        if let Some(value) = &r.value {
            record = record.payload(value);
        }
        send(&producer, record)?;
    }
    flush(&producer, workload.records.len() as u64, args.timeout)?;
    Ok(Measured {
        phase: "preload (producer)",
        records: workload.records.len() as u64,
        elapsed: started.elapsed(),
        cpu: cpu.stop(),
        peak_rss: None,
        notes: Vec::new(),
    })
}

fn passthrough(args: &Args, run: &str, input: &str, workload: &Workload) -> Result<Measured> {
    let output = format!("e2e-{run}-copy");
    create_topic(&args.brokers, &output, args.partitions)?;
    let mut config = consumer_config(&args.brokers, &format!("e2e-{run}-passthrough"));
    for setting in &args.consumer_set {
        let (key, value) = setting
            .split_once('=')
            .context("--consumer-set takes KEY=VALUE")?;
        config.set(key, value);
    }
    let consumer: BaseConsumer = config.create().context("consumer")?;
    let mut config = producer_config(&args.brokers);
    for setting in &args.producer_set {
        let (key, value) = setting
            .split_once('=')
            .context("--producer-set takes KEY=VALUE")?;
        config.set(key, value);
    }
    let producer: ThreadedProducer<Acks> = config.create_with_context(Acks::default())?;
    // Connect both clients before the clock starts.
    consumer.fetch_metadata(Some(input), Duration::from_secs(10))?;
    producer
        .client()
        .fetch_metadata(Some(&output), Duration::from_secs(10))?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..args.partitions {
        assignment.add_partition_offset(input, partition, Offset::Beginning)?;
    }
    // Shaped like a partial's: a `topic/partition` name and 16 bytes of window bounds.
    let headers = (0..args.headers).fold(OwnedHeaders::new(), |headers, i| {
        headers.insert(Header {
            key: if i % 2 == 0 {
                "weir.upstream"
            } else {
                "weir.window"
            },
            value: Some(if i % 2 == 0 {
                &b"e2e-lines/3"[..]
            } else {
                &[7u8; 16][..]
            }),
        })
    });
    let total = workload.records.len() as u64;
    let cpu = Cpu::start(args.broker_pid, None);
    let started = Instant::now();
    consumer.assign(&assignment)?;
    let mut consumed = 0;
    while consumed < total {
        ensure!(
            started.elapsed() < args.timeout,
            "pass-through: {consumed} of {total} records read"
        );
        let message = match consumer.poll(Duration::from_millis(100)) {
            None => continue,
            Some(Err(err)) => {
                tracing::warn!("pass-through consumer: {err}");
                continue;
            }
            Some(Ok(message)) => message,
        };
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&output).partition(message.partition());
        if let Some(value) = message.payload() {
            record = record.payload(value);
        }
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(timestamp) = message.timestamp().to_millis() {
            record = record.timestamp(timestamp);
        }
        if args.headers > 0 {
            record = record.headers(headers.clone());
        }
        send(&producer, record)?;
        consumed += 1;
    }
    let read = started.elapsed();
    flush(&producer, total, args.timeout)?;
    let mut notes = vec![format!("all read after {:.2} s", read.as_secs_f64())];
    if args.headers > 0 {
        notes.push(format!("{} headers added to each record", args.headers));
    }
    if !args.consumer_set.is_empty() {
        notes.push(format!(
            "consumer settings over Weir's: {}",
            args.consumer_set.join(" ")
        ));
    }
    if !args.producer_set.is_empty() {
        notes.push(format!(
            "producer settings over Weir's: {}",
            args.producer_set.join(" ")
        ));
    }
    Ok(Measured {
        phase: "pass-through",
        records: total,
        elapsed: started.elapsed(),
        cpu: cpu.stop(),
        peak_rss: None,
        notes,
    })
}

/// The job both the Weir phase and the engine phase run: the bundled word count in tumbling
/// 10 s windows, `--commit-interval`, out-of-orderness `out_of_orderness`, the defaults of a
/// config file otherwise.
fn word_count_job(
    args: &Args,
    name: &str,
    input: &str,
    output: &str,
    out_of_orderness: Duration,
) -> Result<JobConfig> {
    Ok(JobConfig {
        name: name.to_string(),
        module: "word-count".into(),
        input: vec![input.to_string()],
        output: output.to_string(),
        dead_letters: None,
        window: Some("tumbling:10s".parse()?),
        out_of_orderness,
        lateness: Duration::ZERO,
        idle_timeout: Duration::ZERO,
        time: TimeMode::Event,
        shuffle: true,
        reduce_partitions: None,
        batch_size: 1024,
        commit_interval: args.commit_interval,
        limits: LimitsConfig::default(),
    })
}

/// The out-of-orderness of the throughput job: `--out-of-orderness`, else 1 s.
fn throughput_out_of_orderness(args: &Args) -> Duration {
    args.out_of_orderness.unwrap_or(Duration::from_secs(1))
}

fn weir_job(args: &Args, run: &str, input: &str, workload: &Workload) -> Result<Measured> {
    let job = word_count_job(
        args,
        &format!("e{run}"),
        input,
        &format!("e2e-{run}-counts"),
        throughput_out_of_orderness(args),
    )?;
    // The output topic exists before the job starts, so the reader can follow it from the start.
    create_topic(&args.brokers, &job.output, args.partitions)?;
    let mut results = Results::new(&args.brokers, &job.output, args.partitions)?;
    let launched = Instant::now();
    let mut weir = WeirProcess::start(args, run)?;
    weir.upload_word_count()?;
    let ready = launched.elapsed();
    let idle_rss = proc_status_kb(weir.pid, "VmRSS");
    // No job yet: what the runtime's tails of the registry and the status topic cost.
    let bare = Cpu::start(args.broker_pid, Some(weir.pid));
    std::thread::sleep(IDLE_PROBE);
    let bare = bare.stop();

    let cpu = Cpu::start(args.broker_pid, Some(weir.pid));
    let started = Instant::now();
    weir.create_job(&job)?;
    let created = started.elapsed();
    let mut first = None;
    let expected = workload.expected.len();
    while results.got.len() < expected {
        ensure!(
            started.elapsed() < args.timeout,
            "the job did not finish within {:?}: {} of {expected} results read",
            args.timeout,
            results.got.len()
        );
        weir.check_alive()?;
        results.poll(Duration::from_millis(100))?;
        if first.is_none() && results.read > 0 {
            first = Some(started.elapsed());
        }
    }
    let done = started.elapsed();
    let cpu = cpu.stop();
    let peak_rss = proc_status_kb(weir.pid, "VmHWM");
    let done_rss = proc_status_kb(weir.pid, "VmRSS");
    // The job is caught up: what its consumers' polling alone costs the broker and the runtime.
    let idle = Cpu::start(args.broker_pid, Some(weir.pid));
    std::thread::sleep(IDLE_PROBE);
    results.poll(Duration::ZERO)?;
    let idle = idle.stop();
    results.check(&workload.expected)?;
    let (_, shuffled) = end_offsets(&args.brokers, &job.repartition_topic(), args.partitions)?;
    let dead = end_offsets(&args.brokers, &job.dead_letter_topic(), args.partitions).map_or(0, |(_, n)| n);
    ensure!(dead == 0, "{dead} dead letters in {}", job.dead_letter_topic());
    let stopped = weir.stop();
    let mb = |kb: Option<u64>| kb.map_or("?".into(), |kb| format!("{:.0} MB", kb as f64 / 1024.0));
    Ok(Measured {
        phase: "weir (word count job, weir serve process)",
        records: workload.records.len() as u64,
        elapsed: done,
        cpu,
        peak_rss,
        notes: vec![
            format!(
                "weir serve started and the module uploaded in {:.2} s (not timed); RSS then {}",
                ready.as_secs_f64(),
                mb(idle_rss)
            ),
            format!(
                "timed from `weir job create` (returned after {:.2} s) until the last of {} \
                 results was read back from the output topic; first result after {}",
                created.as_secs_f64(),
                expected,
                first.map_or("?".into(), |d| format!("{:.2} s", d.as_secs_f64()))
            ),
            format!(
                "peak RSS (VmHWM, whole process life) {}, RSS when done {}",
                mb(peak_rss),
                mb(done_rss)
            ),
            format!(
                "repartition records (partials and markers; the high watermarks, which tansu's \
                 memory engine gives short of the last batch): {shuffled}"
            ),
            format!(
                "before the job, serving no job for {:?}: broker {}, weir {} CPU s",
                IDLE_PROBE,
                cpu_s(bare.broker),
                cpu_s(bare.weir),
            ),
            format!(
                "afterwards, caught up and idle for {:?}: broker {}, weir {} CPU s",
                IDLE_PROBE,
                cpu_s(idle.broker),
                cpu_s(idle.weir),
            ),
            format!(
                "output records read: {}, checked exact against the native count; dead letters: 0",
                results.read
            ),
            format!("weir serve stopped (SIGTERM): {stopped}"),
        ],
    })
}

// ---------------------------------------------------------------------------------------------
// Live: a steady rate, event time = wall time.

/// What the live producer sent.
#[derive(Default)]
struct Produced {
    /// Count per (window start, word rank), live lines and closing lines apart.
    counts: HashMap<(i64, usize), u64>,
    /// The last live timestamp of each partition.
    last: Vec<i64>,
    /// When the measured time began (the end of the warm-up), ms since the epoch.
    measured_from: i64,
    /// Live records sent.
    sent: u64,
    /// The live production's wall time.
    elapsed: Duration,
}

/// Produces `rate` records/s to `topic` for `warmup + duration`, timestamp = the wall clock,
/// partitions round-robin, then one far-ahead closing line per partition.
fn produce_live(
    args: &LiveSettings,
    topic: &str,
    rate: u64,
    warmup: Duration,
    duration: Duration,
    sent: &AtomicU64,
) -> Result<Produced> {
    let vocabulary = vocabulary(args.vocabulary);
    let mut rng = Rng(0x6c69_7665_6c69_7665);
    let producer = producer(&args.brokers)?;
    let partitions = args.partitions as usize;
    let mut produced = Produced {
        last: vec![0; partitions],
        ..Produced::default()
    };
    let started = Instant::now();
    produced.measured_from = now_ms() as i64 + warmup.as_millis() as i64;
    let total = warmup + duration;
    let mut n: u64 = 0;
    let mut text = String::new();
    loop {
        let elapsed = started.elapsed();
        if elapsed >= total {
            break;
        }
        let due = (elapsed.as_secs_f64() * rate as f64) as u64;
        if n >= due {
            std::thread::sleep(Duration::from_micros(500));
            continue;
        }
        let timestamp = now_ms() as i64;
        let window = timestamp - timestamp.rem_euclid(WINDOW_MS);
        while n < due {
            text.clear();
            for w in 0..args.words {
                let rank = zipf_rank(&mut rng, vocabulary.len());
                if w > 0 {
                    text.push(' ');
                }
                text.push_str(&vocabulary[rank]);
                *produced.counts.entry((window, rank)).or_default() += 1;
            }
            let partition = (n % partitions as u64) as usize;
            produced.last[partition] = timestamp;
            let record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
                .partition(partition as i32)
                .timestamp(timestamp)
                .payload(text.as_bytes());
            send(&producer, record)?;
            n += 1;
        }
        sent.store(n, Ordering::Relaxed);
    }
    produced.elapsed = started.elapsed();
    produced.sent = n;
    let closing = produced.last.iter().copied().max().unwrap_or(0) + CLOSING_AHEAD_MS;
    for partition in 0..args.partitions {
        let record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
            .partition(partition)
            .timestamp(closing)
            .payload(CLOSING_TEXT.as_bytes());
        send(&producer, record)?;
    }
    flush(&producer, n + partitions as u64, args.timeout)?;
    Ok(produced)
}

/// The live run: `--latency RATE` (`soak` false) or `--soak SECONDS --rate RATE`.
fn live(args: &Args, run: &str, rate: u64, duration: Duration, soak: bool) -> Result<()> {
    ensure!(rate > 0, "a rate of 0 records/s");
    let out_of_orderness = args.out_of_orderness.unwrap_or(Duration::ZERO);
    let input = format!("e2e-{run}-live");
    let job = word_count_job(
        args,
        &format!("e{run}"),
        &input,
        &format!("e2e-{run}-live-counts"),
        out_of_orderness,
    )?;
    create_topic(&args.brokers, &input, args.partitions)?;
    create_topic(&args.brokers, &job.output, args.partitions)?;
    println!(
        "live{}: {rate} records/s of {} words (vocabulary {}), {} partitions, event time = wall \
         time, {} warm-up + {}; job: tumbling 10 s, commit interval {}, \
         out-of-orderness {}, shuffle on; run {run}",
        label(args),
        args.words,
        args.vocabulary,
        args.partitions,
        human(args.warmup),
        human(duration),
        human(args.commit_interval),
        human(out_of_orderness),
    );
    let mut results = Results::new(&args.brokers, &job.output, args.partitions)?;
    let mut weir = WeirProcess::start(args, run)?;
    weir.upload_word_count()?;
    weir.create_job(&job)?;
    weir.wait_ready(Duration::from_secs(60))?;

    let sent = Arc::new(AtomicU64::new(0));
    let producer = {
        let sent = sent.clone();
        let (input, warmup) = (input.clone(), args.warmup);
        let settings = LiveSettings {
            brokers: args.brokers.clone(),
            words: args.words,
            vocabulary: args.vocabulary,
            partitions: args.partitions,
            timeout: args.timeout,
        };
        std::thread::Builder::new()
            .name("live-producer".into())
            .spawn(move || produce_live(&settings, &input, rate, warmup, duration, &sent))?
    };
    let started = Instant::now();
    let cpu_all = Cpu::start(args.broker_pid, Some(weir.pid));
    let mut sample = (Instant::now(), Cpu::start(args.broker_pid, Some(weir.pid)), 0u64);
    println!(
        "\n| s | produced | records/s | results read | weir RSS MB | weir peak RSS MB | weir CPU % | broker CPU % | bench CPU % |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut rss_rows = Vec::new();
    let mut row = |sample: &mut (Instant, CpuStart, u64), results: &Results, weir: &WeirProcess| {
        let seconds = sample.0.elapsed().as_secs_f64().max(1e-9);
        let cpu = std::mem::replace(&mut sample.1, Cpu::start(args.broker_pid, Some(weir.pid))).stop();
        let produced = sent.load(Ordering::Relaxed);
        let rss = proc_status_kb(weir.pid, "VmRSS").unwrap_or(0);
        let hwm = proc_status_kb(weir.pid, "VmHWM").unwrap_or(0);
        let percent = |s: Option<f64>| s.map_or("?".into(), |s| format!("{:.0}", 100.0 * s / seconds));
        println!(
            "| {:.0} | {produced} | {:.0} | {} | {:.0} | {:.0} | {} | {} | {:.0} |",
            started.elapsed().as_secs_f64(),
            (produced - sample.2) as f64 / seconds,
            results.read,
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
            percent(cpu.weir),
            percent(cpu.broker),
            100.0 * cpu.bench / seconds,
        );
        rss_rows.push(rss);
        sample.0 = Instant::now();
        sample.2 = produced;
    };
    let produced = loop {
        weir.check_alive()?;
        results.poll(Duration::from_millis(50))?;
        if sample.0.elapsed() >= args.sample {
            row(&mut sample, &results, &weir);
        }
        if producer.is_finished() {
            break producer
                .join()
                .map_err(|_| anyhow::anyhow!("the producer panicked"))??;
        }
    };
    let mut expected: HashMap<(i64, String), u64> = HashMap::new();
    let vocabulary = vocabulary(args.vocabulary);
    for ((window, rank), count) in &produced.counts {
        expected.insert((*window, vocabulary[*rank].clone()), *count);
    }
    let drained = Instant::now();
    while results.got.len() < expected.len() {
        ensure!(
            drained.elapsed() < args.timeout,
            "{} of {} results read {:?} after production ended",
            results.got.len(),
            expected.len(),
            args.timeout
        );
        weir.check_alive()?;
        results.poll(Duration::from_millis(50))?;
        if sample.0.elapsed() >= args.sample {
            row(&mut sample, &results, &weir);
        }
    }
    row(&mut sample, &results, &weir);
    let cpu = cpu_all.stop();
    let peak_rss = proc_status_kb(weir.pid, "VmHWM");
    results.check(&expected)?;
    let dead = end_offsets(&args.brokers, &job.dead_letter_topic(), args.partitions).map_or(0, |(_, n)| n);
    ensure!(dead == 0, "{dead} dead letters in {}", job.dead_letter_topic());
    let stopped = weir.stop();

    println!(
        "\nproduced {} live records in {:.1} s ({:.0} records/s; asked {rate}); {} results, all \
         read back and exact; dead letters 0",
        produced.sent,
        produced.elapsed.as_secs_f64(),
        produced.sent as f64 / produced.elapsed.as_secs_f64().max(1e-9),
        expected.len(),
    );
    let total = started.elapsed().as_secs_f64();
    println!(
        "CPU over {total:.1} s: weir {} s ({:.0} % of a core), broker {} s, bench (producer and \
         reader) {:.1} s, other processes {:.1} s; weir peak RSS {:.0} MB",
        cpu.weir.map_or("?".into(), |s| format!("{s:.1}")),
        100.0 * cpu.weir.unwrap_or(0.0) / total,
        cpu.broker.map_or("?".into(), |s| format!("{s:.1}")),
        cpu.bench,
        cpu.others,
        peak_rss.unwrap_or(0) as f64 / 1024.0,
    );
    if rss_rows.len() >= 2 {
        let half = rss_rows.len() / 2;
        let mean = |rows: &[u64]| rows.iter().sum::<u64>() as f64 / rows.len().max(1) as f64 / 1024.0;
        println!(
            "RSS: mean {:.0} MB over the first half of the samples, {:.0} MB over the second; \
             min {:.0} MB, max {:.0} MB",
            mean(&rss_rows[..half]),
            mean(&rss_rows[half..]),
            rss_rows.iter().min().copied().unwrap_or(0) as f64 / 1024.0,
            rss_rows.iter().max().copied().unwrap_or(0) as f64 / 1024.0,
        );
    }

    // Windows the live records fired: ended (plus the out-of-orderness) before every partition's
    // last live record, and begun after the warm-up.
    let natural = produced.last.iter().copied().min().unwrap_or(0) - out_of_orderness.as_millis() as i64;
    let mut per_window: BTreeMap<i64, i64> = BTreeMap::new();
    let mut per_result = Vec::new();
    for ((start, _), (_, arrived)) in &results.got {
        let end = start + WINDOW_MS;
        if *start < produced.measured_from || end > natural {
            continue;
        }
        let latency = arrived - end;
        per_result.push(latency);
        let last = per_window.entry(*start).or_insert(latency);
        *last = (*last).max(latency);
    }
    let mut per_window: Vec<i64> = per_window.into_values().collect();
    println!(
        "\nlatency, window end (event time = wall time) to its result read from the output topic \
         (the reader's clock, fetch.wait.max.ms 10), commit interval {}, out-of-orderness {}:",
        human(args.commit_interval),
        human(out_of_orderness)
    );
    println!(
        "  per window (its last result), {} windows: {}",
        per_window.len(),
        percentiles(&mut per_window)
    );
    println!(
        "  per (window, word) result, {} results: {}",
        per_result.len(),
        percentiles(&mut per_result)
    );
    if soak {
        println!("(soak of {} s at {rate} records/s)", duration.as_secs());
    }
    println!("weir serve stopped (SIGTERM): {stopped}");
    Ok(())
}

/// What the live producer thread needs from the arguments.
struct LiveSettings {
    brokers: String,
    words: usize,
    vocabulary: usize,
    partitions: i32,
    timeout: Duration,
}

/// `1s 500ms`.
fn human(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// `p50 X ms, p99 Y ms, max Z ms` (nearest rank), or `none`.
fn percentiles(values: &mut [i64]) -> String {
    if values.is_empty() {
        return "none".into();
    }
    values.sort_unstable();
    let at = |p: f64| values[((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
    format!(
        "p50 {} ms, p99 {} ms, min {} ms, max {} ms",
        at(0.50),
        at(0.99),
        values[0],
        values[values.len() - 1]
    )
}

// ---------------------------------------------------------------------------------------------
// The weir process and its output.

/// A `weir serve` process with a config file of its own (its own registry and status topics),
/// driven with the `weir` CLI over its API, as a user would.
struct WeirProcess {
    child: Option<Child>,
    pid: u32,
    bin: PathBuf,
    server: String,
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl WeirProcess {
    /// Starts `weir serve` and waits until its API answers and it has read its registry.
    fn start(args: &Args, run: &str) -> Result<Self> {
        ensure!(
            args.weir.is_file(),
            "no weir binary at {} (build it: cargo build --release -p weir)",
            args.weir.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = tempfile::Builder::new().prefix("weir-bench-").tempdir()?;
        let config = dir.path().join("weir.toml");
        std::fs::write(
            &config,
            format!(
                "brokers = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n\
                 registry_topic = \"weir.bench-{run}.registry\"\n\
                 status_topic = \"weir.bench-{run}.status\"\n",
                args.brokers
            ),
        )?;
        // WEIR_BENCH_LOG=FILE keeps the weir process's log there (it is in a temporary
        // directory otherwise, gone with the run).
        let log = std::env::var_os("WEIR_BENCH_LOG")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| dir.path().join("weir.log"));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(&args.weir)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env_remove("WEIR_CONFIG")
            .env_remove("WEIR_BROKERS")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot run {}", args.weir.display()))?;
        let mut weir = WeirProcess {
            pid: child.id(),
            child: Some(child),
            bin: args.weir.clone(),
            server: format!("http://127.0.0.1:{port}"),
            dir,
            log,
        };
        let started = Instant::now();
        loop {
            weir.check_alive()?;
            if ureq::get(format!("{}/healthz", weir.server)).call().is_ok() {
                // Then until it has read its registry (uploads are refused before).
                weir.wait_ready(Duration::from_secs(60))?;
                return Ok(weir);
            }
            ensure!(
                started.elapsed() < Duration::from_secs(60),
                "weir serve did not answer within 60 s: {}",
                weir.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `/readyz` says every job here has joined its groups.
    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            self.check_alive()?;
            if ureq::get(format!("{}/readyz", self.server)).call().is_ok() {
                return Ok(());
            }
            ensure!(
                started.elapsed() < timeout,
                "weir serve not ready within {timeout:?}: {}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `weir ARGS` against this server; fails with its output when it fails.
    fn cli(&self, args: &[&str]) -> Result<()> {
        let output = Command::new(&self.bin)
            .args(args)
            .env("WEIR_SERVER", &self.server)
            .env_remove("WEIR_TOKEN")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", self.bin.display()))?;
        ensure!(
            output.status.success(),
            "`weir {}` failed ({}): {}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// `weir module upload` of the bundled word count, under its name.
    fn upload_word_count(&self) -> Result<()> {
        let file = self.dir.path().join("word-count.wasm");
        let bytes = weir_guest_artifacts::bundled(MODULE).context("bundled word-count")?;
        std::fs::write(&file, bytes)?;
        let file = file.to_str().context("a temporary path that is not UTF-8")?;
        self.cli(&["module", "upload", file, "--name", MODULE])
    }

    /// `weir job create` with the fields of `job`.
    fn create_job(&self, job: &JobConfig) -> Result<()> {
        let (window, ooo, commit, batch) = (
            job.window.map(|w| w.to_string()).unwrap_or_default(),
            format!("{}ms", job.out_of_orderness.as_millis()),
            format!("{}ms", job.commit_interval.as_millis()),
            job.batch_size.to_string(),
        );
        let mut argv = vec![
            "job",
            "create",
            &job.name,
            "--module",
            MODULE,
            "--output-topic",
            &job.output,
            "--window",
            &window,
            "--out-of-orderness",
            &ooo,
            "--commit-interval",
            &commit,
            "--batch-size",
            &batch,
            "--shuffle",
            if job.shuffle { "true" } else { "false" },
        ];
        for input in &job.input {
            argv.extend(["--input", input.as_str()]);
        }
        self.cli(&argv)
    }

    /// Fails when the process has exited.
    fn check_alive(&mut self) -> Result<()> {
        if let Some(child) = &mut self.child
            && let Some(status) = child.try_wait()?
        {
            self.child = None;
            bail!("weir serve exited ({status}): {}", self.log_tail());
        }
        Ok(())
    }

    /// The end of the process's log.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "last lines of {}:\n{}",
            self.log.display(),
            lines[lines.len().saturating_sub(20)..].join("\n")
        )
    }

    /// SIGTERM, then waits (SIGKILL after 60 s); says how it went.
    fn stop(mut self) -> String {
        let Some(mut child) = self.child.take() else {
            return "already exited".into();
        };
        let started = Instant::now();
        let term = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if !term.is_ok_and(|s| s.success()) {
            let _ = child.kill();
        }
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    return format!("{status} after {:.1} s", started.elapsed().as_secs_f64());
                }
                Ok(None) if started.elapsed() < Duration::from_secs(60) => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return "killed after 60 s".into();
                }
            }
        }
    }
}

impl Drop for WeirProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::io::stderr().flush();
        }
    }
}

/// Reads a job's output topic from the beginning, as it is written: each (window, word) result's
/// count and the wall time (ms) it was first read.
struct Results {
    consumer: BaseConsumer,
    got: HashMap<(i64, String), (u64, i64)>,
    read: u64,
}

impl Results {
    fn new(brokers: &str, topic: &str, partitions: i32) -> Result<Self> {
        let consumer: BaseConsumer = consumer_config(brokers, "e2e-results").create()?;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
        }
        consumer.assign(&assignment)?;
        Ok(Results {
            consumer,
            got: HashMap::new(),
            read: 0,
        })
    }

    /// Reads what is there, waiting up to `wait` for the first record.
    fn poll(&mut self, wait: Duration) -> Result<()> {
        let mut timeout = wait;
        while let Some(message) = self.consumer.poll(timeout) {
            timeout = Duration::ZERO;
            let message = message?;
            let arrived = now_ms() as i64;
            self.read += 1;
            let value: serde_json::Value = serde_json::from_slice(message.payload().unwrap_or_default())?;
            let (Some(start), Some(word), Some(count)) = (
                value["window_start"].as_i64(),
                value["key"].as_str(),
                value["value"].as_u64(),
            ) else {
                bail!("unexpected output record {value}");
            };
            let (before, _) = *self
                .got
                .entry((start, word.to_string()))
                .or_insert((count, arrived));
            ensure!(
                before == count,
                "({start}, {word}) came out as {before} and {count}"
            );
        }
        Ok(())
    }

    /// Fails unless the results are exactly `expected`.
    fn check(&self, expected: &HashMap<(i64, String), u64>) -> Result<()> {
        let wrong = expected
            .iter()
            .filter(|(k, v)| self.got.get(*k).map(|(count, _)| count) != Some(*v))
            .count();
        ensure!(
            wrong == 0 && self.got.len() == expected.len(),
            "output differs from the native count: {wrong} wrong or missing, {} results for {} \
             expected",
            self.got.len(),
            expected.len()
        );
        Ok(())
    }
}

fn engine_alone(args: &Args, workload: &Workload) -> Result<Measured> {
    let engine = Engine::new()?;
    let module = engine.load(weir_guest_artifacts::bundled("word-count").context("bundled word-count")?)?;
    let job = word_count_job(
        args,
        "engine",
        "lines",
        "counts",
        throughput_out_of_orderness(args),
    )?;
    let mut pipeline = Pipeline::new(engine.instantiate(&module, job.guest_limits())?, &job.pipeline());
    let cpu = Cpu::start(args.broker_pid, None);
    let started = Instant::now();
    let mut outputs = 0;
    let mut dead = 0;
    for batch in workload.records.chunks(job.batch_size) {
        let outcome = pipeline.process(batch);
        outputs += outcome.outputs.len();
        dead += outcome.dead_letters.len();
    }
    let last = pipeline.close();
    outputs += last.outputs.len();
    dead += last.dead_letters.len();
    let elapsed = started.elapsed();
    // Every (window, word) plus the closing lines' window, which `close` fires too.
    ensure!(
        dead == 0 && outputs == workload.expected.len() + 1,
        "engine: {outputs} outputs, {dead} dead"
    );
    Ok(Measured {
        phase: "engine alone (Pipeline + WasmGuest)",
        records: workload.records.len() as u64,
        elapsed,
        cpu: cpu.stop(),
        peak_rss: None,
        notes: vec![format!(
            "{outputs} output records, one pipeline, batches of 1024, then close"
        )],
    })
}

fn report(args: &Args, table: &[Measured]) {
    let broker = if args.broker_pid.is_some() {
        "broker CPU s"
    } else {
        "(no --broker-pid)"
    };
    println!();
    println!(
        "| phase{} | records | seconds | records/s | weir process CPU s | bench process CPU s | \
         {broker} | other processes CPU s | weir peak RSS MB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|",
        label(args)
    );
    for m in table {
        println!(
            "| {} | {} | {:.2} | {:.0} | {} | {:.2} | {} | {:.2} | {} |",
            m.phase,
            m.records,
            m.elapsed.as_secs_f64(),
            m.rate(),
            m.cpu.weir.map_or("-".into(), |s| format!("{s:.2}")),
            m.cpu.bench,
            m.cpu.broker.map_or("-".into(), |s| format!("{s:.2}")),
            m.cpu.others,
            m.peak_rss
                .map_or("-".into(), |kb| format!("{:.0}", kb as f64 / 1024.0)),
        );
    }
    for m in table {
        println!("\n{}:", m.phase);
        for note in &m.notes {
            println!("  {note}");
        }
        let mut roles: Vec<_> = m.cpu.threads.iter().collect();
        roles.sort_by(|a, b| b.1.total_cmp(a.1));
        let roles: Vec<String> = roles.iter().map(|(role, s)| format!("{role} {s:.2}")).collect();
        println!(
            "  CPU s by thread of the {}: {}",
            if m.cpu.weir.is_some() {
                "weir process"
            } else {
                "bench process"
            },
            roles.join(", ")
        );
    }
    let rate = |prefix: &str| {
        table
            .iter()
            .find(|m| m.phase.starts_with(prefix))
            .map(Measured::rate)
    };
    if let Some(weir) = rate("weir") {
        println!();
        if let Some(pass) = rate("pass-through") {
            println!("weir / pass-through{}: {:.2}", label(args), weir / pass);
        }
        if let Some(engine) = rate("engine") {
            println!("weir / engine alone{}: {:.2}", label(args), weir / engine);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Kafka helpers.

/// Counts acknowledged and failed deliveries.
#[derive(Default)]
struct Acks {
    delivered: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: ()) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            Err((err, _)) => {
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(err.to_string());
                self.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

fn producer(brokers: &str) -> Result<ThreadedProducer<Acks>> {
    producer_config(brokers)
        .create_with_context(Acks::default())
        .context("producer")
}

/// Queues `record`, waiting while the producer's queue is full.
fn send(producer: &ThreadedProducer<Acks>, mut record: BaseRecord<'_, [u8], [u8]>) -> Result<()> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((err, _)) => return Err(err.into()),
        }
    }
}

/// Waits until `expected` records are acknowledged, failing on any delivery error.
fn flush(producer: &ThreadedProducer<Acks>, expected: u64, timeout: Duration) -> Result<()> {
    producer.flush(timeout)?;
    let acks = producer.context();
    let (delivered, failed) = (
        acks.delivered.load(Ordering::Relaxed),
        acks.failed.load(Ordering::Relaxed),
    );
    let reason = acks.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
    ensure!(
        failed == 0 && delivered == expected,
        "{delivered} of {expected} records delivered, {failed} failed: {reason:?}"
    );
    Ok(())
}

fn create_topic(brokers: &str, name: &str, partitions: i32) -> Result<()> {
    Admin::new(brokers)?.ensure(&[TopicSpec {
        name: name.to_string(),
        partitions,
        config: Vec::new(),
    }])
}

/// The end offset of each partition of `topic`, and their sum (all topics here start at 0).
fn end_offsets(brokers: &str, topic: &str, partitions: i32) -> Result<(Vec<i64>, i64)> {
    static CLIENT: OnceLock<BaseConsumer> = OnceLock::new();
    let client = match CLIENT.get() {
        Some(client) => client,
        None => {
            let client: BaseConsumer = consumer_config(brokers, "e2e-watermarks").create()?;
            CLIENT.get_or_init(|| client)
        }
    };
    let ends = (0..partitions)
        .map(|p| Ok(client.fetch_watermarks(topic, p, Duration::from_secs(5))?.1))
        .collect::<Result<Vec<i64>>>()?;
    let total = ends.iter().sum();
    Ok((ends, total))
}

// ---------------------------------------------------------------------------------------------
// Where CPU time and memory go (/proc).

/// CPU seconds over a phase: this (bench) process, the weir process when there is one, the
/// threads of the weir process (else of this one) by role, the broker's process, and the rest
/// of the machine (other processes: a busy machine makes the figures meaningless).
#[derive(Default)]
struct Cpu {
    bench: f64,
    weir: Option<f64>,
    threads: HashMap<&'static str, f64>,
    broker: Option<f64>,
    others: f64,
}

/// Counters at the start of a phase.
struct CpuStart {
    machine: u64,
    bench: u64,
    weir_pid: Option<u32>,
    weir: Option<u64>,
    threads: HashMap<String, (String, u64)>,
    broker_pid: Option<u32>,
    broker: Option<u64>,
}

/// `/proc/PID` of `pid`, or of this process.
fn proc_dir(pid: Option<u32>) -> String {
    pid.map_or_else(|| "/proc/self".to_string(), |pid| format!("/proc/{pid}"))
}

impl Cpu {
    fn start(broker_pid: Option<u32>, weir_pid: Option<u32>) -> CpuStart {
        let total = |pid: u32| ticks(&format!("/proc/{pid}/stat")).map(|(_, t)| t);
        CpuStart {
            machine: machine_ticks(),
            bench: ticks("/proc/self/stat").map_or(0, |(_, t)| t),
            weir_pid,
            weir: weir_pid.and_then(total),
            threads: threads(&proc_dir(weir_pid)),
            broker_pid,
            broker: broker_pid.and_then(total),
        }
    }
}

impl CpuStart {
    fn stop(self) -> Cpu {
        let seconds = |t: u64| t as f64 / CLOCK_TICKS;
        let since = |pid: Option<u32>, before: Option<u64>| match (pid, before) {
            (Some(pid), Some(before)) => {
                ticks(&format!("/proc/{pid}/stat")).map(|(_, t)| seconds(t.saturating_sub(before)))
            }
            _ => None,
        };
        let mut cpu = Cpu {
            bench: seconds(
                ticks("/proc/self/stat")
                    .map_or(0, |(_, t)| t)
                    .saturating_sub(self.bench),
            ),
            weir: since(self.weir_pid, self.weir),
            broker: since(self.broker_pid, self.broker),
            ..Cpu::default()
        };
        for (tid, (name, now)) in threads(&proc_dir(self.weir_pid)) {
            let before = self.threads.get(&tid).map_or(0, |(_, t)| *t);
            *cpu.threads.entry(role(&name)).or_default() += seconds(now.saturating_sub(before));
        }
        cpu.threads.retain(|_, s| *s > 0.0);
        let busy = seconds(machine_ticks().saturating_sub(self.machine));
        cpu.others = (busy - cpu.bench - cpu.weir.unwrap_or(0.0) - cpu.broker.unwrap_or(0.0)).max(0.0);
        cpu
    }
}

/// A thread's role from its name (15 characters at most: `weir-eXXXX-redu`).
fn role(name: &str) -> &'static str {
    if name.starts_with("rdk:") || name.starts_with("producer poll") {
        "librdkafka"
    } else if name.starts_with("weir-") && name.contains("-map") {
        "map stage"
    } else if name.starts_with("weir-") && name.contains("-red") {
        "reduce stage"
    } else if name.starts_with("bench_e2e") || name == "weir" {
        "main"
    } else if name.starts_with("tokio") {
        "tokio (API)"
    } else {
        "other"
    }
}

/// The name and user + system ticks of a `stat` file.
fn ticks(path: &str) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_string();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of stat(5), utime 14, stime 15.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some((name, user + system))
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`).
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// Busy ticks of the whole machine (`/proc/stat`: all but idle and iowait).
fn machine_ticks() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0;
    };
    let Some(line) = stat.lines().next() else { return 0 };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    fields.iter().take(8).sum::<u64>()
        - fields.get(3).copied().unwrap_or(0)
        - fields.get(4).copied().unwrap_or(0)
}

/// Every thread of the process at `dir` (`/proc/PID`): id → (name, ticks).
fn threads(dir: &str) -> HashMap<String, (String, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("{dir}/task")) else {
        return HashMap::new();
    };
    tasks
        .filter_map(|entry| {
            let id = entry.ok()?.file_name().to_string_lossy().into_owned();
            Some((id.clone(), ticks(&format!("{dir}/task/{id}/stat"))?))
        })
        .collect()
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}
