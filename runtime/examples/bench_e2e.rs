//! End-to-end benchmark: word count on a real broker, beside the two ceilings that bound it.
//!
//! In one run, against the broker at `--brokers`:
//! 1. **preload**: a fresh input topic of `--partitions` partitions gets `--lines` lines of
//!    `--words` words drawn from a Zipf-like vocabulary of `--vocabulary` words, event times
//!    increasing so that `--window-lines` lines fill each 10 s tumbling window, then one
//!    far-ahead line per partition that closes every window before it;
//! 2. **pass-through**: a plain rdkafka `BaseConsumer` (Weir's `consumer_config`) reads every
//!    record and a `ThreadedProducer` (Weir's `producer_config`) writes each to another topic,
//!    until all are acknowledged: the ceiling the broker and the client set;
//! 3. **weir**: `weir::server::run` (what `weir serve` runs, without its HTTP listener) runs a word-count job (`tumbling:10s`, shuffle on) over the input in
//!    this process, timed from the map stage's partition assignment (startup and the group join
//!    are reported apart) until the output topic holds every expected (window, word) result;
//!    the output is then read back and checked against a native count;
//! 4. **engine**: the same records through `Pipeline` + `WasmGuest`, one pipeline, no Kafka.
//!
//! It prints the records/s of each, the ratios, and the CPU seconds each part used (threads of
//! this process by role, the broker's process when `--broker-pid` is given, other processes);
//! after the Weir phase it also measures, for a few seconds, what the caught-up job's polling
//! alone costs the broker.
//!
//! ```text
//! cargo run --release -p weir --example bench_e2e -- --brokers 127.0.0.1:9092
//! scripts/bench-e2e            # starts a test broker on a free port, runs this, stops it
//! ```
//!
//! To profile one phase, preload once and reuse the topic (the workload is deterministic, so
//! the same arguments regenerate the same lines): `--phases preload --input NAME`, then
//! `perf record -a -g -- target/release/examples/bench_e2e --phases weir --input NAME ...`.

use anyhow::{Context as _, Result, bail, ensure};
use clap::{Parser, ValueEnum};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use weir::config::{JobConfig, LimitsConfig, ServeConfig, TimeConfig};
use weir::engine::Engine;
use weir::kafka::admin::{Admin, TopicSpec};
use weir::kafka::{consumer_config, producer_config};
use weir::pipeline::Pipeline;
use weir::record::InputRecord;

/// The allocator of the `weir` binary, so the figures are the binary's.
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

/// What a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Phase {
    /// Create the input topic and fill it.
    Preload,
    /// Consume the input and produce every record to another topic.
    Passthrough,
    /// The word-count job.
    Weir,
    /// The pipeline over the same records, no Kafka.
    Engine,
}

/// End-to-end word count against a broker, beside a pass-through and the engine alone.
#[derive(Debug, Parser)]
struct Args {
    /// Kafka bootstrap servers.
    #[arg(long, short, env = "WEIR_BROKERS")]
    brokers: String,
    /// Input lines (plus one closing line per partition).
    #[arg(long, default_value_t = 500_000)]
    lines: usize,
    /// Partitions of the input topic.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Words per line.
    #[arg(long, default_value_t = 10)]
    words: usize,
    /// Distinct words; drawn with a log-uniform (Zipf-like) rank.
    #[arg(long, default_value_t = 10_000)]
    vocabulary: usize,
    /// Lines per 10 s window, over all partitions.
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
    /// Give up on a phase after this long.
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let assigned = MapAssigned::default();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(
                    tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
                ),
        )
        .with(
            assigned.clone().with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("weir::kafka::source", tracing::Level::INFO),
            ),
        )
        .init();
    ensure!(args.partitions > 0 && args.window_lines > 0 && args.words > 0 && args.vocabulary > 0);
    let run = format!("{:x}", now_ms() % 0x10000);
    let input = args.input.clone().unwrap_or_else(|| format!("e2e-{run}-lines"));
    let workload = Workload::generate(&args);
    println!(
        "workload: {} lines of {} words ({:.1} bytes on average), {} partitions, {} windows of \
         10 s, {} (window, word) results; run {run}, input topic {input}",
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
        let (_, total) = end_offsets(&args.brokers, &input, args.partitions)?;
        ensure!(
            total == workload.records.len() as i64,
            "topic {input} holds {total} records, not the {} of this workload: preload it with \
             the same arguments and `--phases preload`",
            workload.records.len()
        );
    }
    if args.phases.contains(&Phase::Passthrough) {
        table.push(passthrough(&args, &run, &input, &workload)?);
    }
    if args.phases.contains(&Phase::Weir) {
        table.push(weir_job(&args, &run, &input, &workload, &assigned)?);
    }
    if args.phases.contains(&Phase::Engine) {
        table.push(engine_alone(&args, &workload)?);
    }
    report(&args, &table);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The workload.

/// SplitMix64: a small deterministic PRNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
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
                let n = vocabulary.len() as f64;
                let rank = ((n.powf(rng.unit()) as usize).saturating_sub(1)).min(vocabulary.len() - 1);
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
    let cpu = Cpu::start(args.broker_pid);
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
    let cpu = Cpu::start(args.broker_pid);
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
        notes,
    })
}

/// The job both the Weir phase and the engine phase run: the bundled word count in tumbling
/// 10 s windows, out-of-orderness 1 s, the defaults of a config file otherwise.
fn word_count_job(name: &str, input: &str, output: &str) -> Result<JobConfig> {
    Ok(JobConfig {
        name: name.to_string(),
        module: "word-count".into(),
        input: vec![input.to_string()],
        output: output.to_string(),
        dead_letters: None,
        window: "tumbling:10s".parse()?,
        out_of_orderness: Duration::from_secs(1),
        lateness: Duration::ZERO,
        idle_timeout: Duration::ZERO,
        time: TimeConfig::Event,
        shuffle: true,
        reduce_partitions: None,
        batch_size: 1024,
        commit_interval: Duration::from_millis(500),
        limits: LimitsConfig::default(),
    })
}

fn weir_job(
    args: &Args,
    run: &str,
    input: &str,
    workload: &Workload,
    assigned: &MapAssigned,
) -> Result<Measured> {
    let job = word_count_job(&format!("e{run}"), input, &format!("e2e-{run}-counts"))?;
    let config = ServeConfig {
        brokers: args.brokers.clone(),
        session_timeout: Duration::from_secs(10),
        jobs: vec![job.clone()],
        // A registry of this run's own, and no HTTP listener: only the job is measured.
        registry_topic: format!("weir.bench-{run}.registry"),
        status_topic: format!("weir.bench-{run}.status"),
        ..ServeConfig::default()
    };
    config.validate()?;
    let (ends, _) = end_offsets(&args.brokers, input, args.partitions)?;
    let expected = workload.expected.len() as i64;
    let watcher: BaseConsumer = consumer_config(&args.brokers, &format!("weir.{}", job.name)).create()?;
    let mut map_offsets = TopicPartitionList::new();
    for partition in 0..args.partitions {
        map_offsets.add_partition(input, partition);
    }

    let shutdown = Arc::new(AtomicBool::new(false));
    let launched = Instant::now();
    let runner = {
        let (config, shutdown) = (config.clone(), shutdown.clone());
        std::thread::Builder::new()
            .name("run-jobs".into())
            .spawn(move || weir::server::run(&config, None, &shutdown))?
    };
    let mut cpu = None;
    let mut consumed_at = None;
    let done_at = loop {
        std::thread::sleep(Duration::from_millis(50));
        if runner.is_finished() {
            let why = match runner.join() {
                Ok(Ok(())) => "no error".to_string(),
                Ok(Err(err)) => format!("{err:#}"),
                Err(_) => "a panic".to_string(),
            };
            bail!("the job stopped before it was done, after {why}");
        }
        ensure!(
            launched.elapsed() < args.timeout,
            "the job did not finish within {:?}",
            args.timeout
        );
        let Some(started) = assigned.get() else { continue };
        if cpu.is_none() {
            cpu = Some(Cpu::start(args.broker_pid));
        }
        // The map group's commit stops one short of the end: the closing line's window is open.
        if consumed_at.is_none()
            && let Ok(committed) = watcher.committed_offsets(map_offsets.clone(), Duration::from_secs(5))
            && committed.elements().iter().all(|e| match e.offset() {
                Offset::Offset(at) => at + 1 >= ends[e.partition() as usize],
                _ => false,
            })
        {
            consumed_at = Some(started.elapsed());
        }
        let (_, written) = end_offsets(&args.brokers, &job.output, args.partitions).unwrap_or_default();
        if written >= expected {
            break started.elapsed();
        }
    };
    let started = assigned.get().context("no assignment seen")?;
    let cpu = cpu.context("no CPU counters")?.stop();
    // The job is caught up: what its consumers' polling alone costs the broker.
    let idle = Cpu::start(args.broker_pid);
    std::thread::sleep(IDLE_PROBE);
    let idle = idle.stop();
    shutdown.store(true, Ordering::Relaxed);
    runner
        .join()
        .map_err(|_| anyhow::anyhow!("the runtime panicked"))??;

    let (_, shuffled) = end_offsets(&args.brokers, &job.repartition_topic(), args.partitions)?;
    let (_, dead) = end_offsets(&args.brokers, &job.dead_letter_topic(), args.partitions)?;
    ensure!(dead == 0, "{dead} dead letters in {}", job.dead_letter_topic());
    let outputs = check_output(args, &job.output, workload)?;
    Ok(Measured {
        phase: "weir (word count job)",
        records: workload.records.len() as u64,
        elapsed: done_at,
        cpu,
        notes: vec![
            format!(
                "startup to map assignment (engine, module, topics, group join): {:.2} s",
                started.duration_since(launched).as_secs_f64()
            ),
            format!(
                "map stage committed everything after {}",
                consumed_at.map_or("?".into(), |d| format!("{:.2} s", d.as_secs_f64()))
            ),
            format!("repartition records (partials and markers): {shuffled}"),
            format!(
                "afterwards, caught up and idle for {:?}: broker {}, this process {:.2} CPU s",
                IDLE_PROBE,
                idle.broker.map_or("?".into(), |s| format!("{s:.2}")),
                idle.process
            ),
            format!("output records: {outputs}, checked against the native count; dead letters: 0"),
        ],
    })
}

fn engine_alone(args: &Args, workload: &Workload) -> Result<Measured> {
    let engine = Engine::new()?;
    let module = engine.load(weir_guest_artifacts::bundled("word-count").context("bundled word-count")?)?;
    let job = word_count_job("engine", "lines", "counts")?;
    let mut pipeline = Pipeline::new(engine.instantiate(&module, job.guest_limits())?, &job.pipeline());
    let cpu = Cpu::start(args.broker_pid);
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
        "| phase | records | seconds | records/s | this process CPU s | {broker} | other processes CPU s |\n\
         |---|---:|---:|---:|---:|---:|---:|"
    );
    for m in table {
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.2} | {} | {:.2} |",
            m.phase,
            m.records,
            m.elapsed.as_secs_f64(),
            m.rate(),
            m.cpu.process,
            m.cpu.broker.map_or("-".into(), |s| format!("{s:.2}")),
            m.cpu.others,
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
        println!("  CPU s by thread: {}", roles.join(", "));
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
            println!("weir / pass-through: {:.2}", weir / pass);
        }
        if let Some(engine) = rate("engine") {
            println!("weir / engine alone: {:.2}", weir / engine);
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

/// Reads the job's output back and compares it with the native count; returns the records read.
fn check_output(args: &Args, topic: &str, workload: &Workload) -> Result<u64> {
    let (ends, total) = end_offsets(&args.brokers, topic, args.partitions)?;
    let consumer: BaseConsumer = consumer_config(&args.brokers, "e2e-check").create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..args.partitions {
        assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let started = Instant::now();
    let mut got: HashMap<(i64, String), u64> = HashMap::new();
    let mut read = 0;
    while read < total {
        ensure!(
            started.elapsed() < args.timeout,
            "read {read} of {total} output records"
        );
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message?;
        if message.offset() >= ends[message.partition() as usize] {
            continue;
        }
        read += 1;
        let value: serde_json::Value = serde_json::from_slice(message.payload().unwrap_or_default())?;
        let (Some(start), Some(word), Some(count)) = (
            value["window_start"].as_i64(),
            value["key"].as_str(),
            value["value"].as_u64(),
        ) else {
            bail!("unexpected output record {value}");
        };
        if let Some(before) = got.insert((start, word.to_string()), count) {
            ensure!(
                before == count,
                "({start}, {word}) came out as {before} and {count}"
            );
        }
    }
    let wrong = workload
        .expected
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .count();
    ensure!(
        wrong == 0 && got.len() == workload.expected.len(),
        "output differs from the native count: {wrong} wrong or missing, {} results for {} expected",
        got.len(),
        workload.expected.len()
    );
    Ok(read as u64)
}

// ---------------------------------------------------------------------------------------------
// When the map stage starts consuming, and where CPU time goes.

/// The instant of the map stage's first partition assignment (a tracing event of
/// `weir::kafka::source`).
#[derive(Default, Clone)]
struct MapAssigned(Arc<OnceLock<Instant>>);

impl MapAssigned {
    fn get(&self) -> Option<Instant> {
        self.0.get().copied()
    }
}

#[derive(Default)]
struct EventFields {
    message: String,
    stage: String,
}

impl tracing::field::Visit for EventFields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "stage" {
            self.stage = value.to_string();
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for MapAssigned {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        if fields.message == "partition assigned" && fields.stage == "map" {
            self.0.get_or_init(Instant::now);
        }
    }
}

/// CPU seconds over a phase: this process, by thread role, the broker's process, and the rest of
/// the machine (other processes: a busy machine makes the figures meaningless).
#[derive(Default)]
struct Cpu {
    process: f64,
    threads: HashMap<&'static str, f64>,
    broker: Option<f64>,
    others: f64,
}

/// Counters at the start of a phase.
struct CpuStart {
    machine: u64,
    process: u64,
    threads: HashMap<String, (String, u64)>,
    broker_pid: Option<u32>,
    broker: Option<u64>,
}

impl Cpu {
    fn start(broker_pid: Option<u32>) -> CpuStart {
        CpuStart {
            machine: machine_ticks(),
            process: ticks("/proc/self/stat").map_or(0, |(_, t)| t),
            threads: threads(),
            broker_pid,
            broker: broker_pid
                .and_then(|pid| ticks(&format!("/proc/{pid}/stat")))
                .map(|(_, t)| t),
        }
    }
}

impl CpuStart {
    fn stop(self) -> Cpu {
        let seconds = |t: u64| t as f64 / CLOCK_TICKS;
        let mut cpu = Cpu {
            process: seconds(
                ticks("/proc/self/stat")
                    .map_or(0, |(_, t)| t)
                    .saturating_sub(self.process),
            ),
            ..Cpu::default()
        };
        for (tid, (name, now)) in threads() {
            let before = self.threads.get(&tid).map_or(0, |(_, t)| *t);
            *cpu.threads.entry(role(&name)).or_default() += seconds(now.saturating_sub(before));
        }
        cpu.threads.retain(|_, s| *s > 0.0);
        if let (Some(pid), Some(before)) = (self.broker_pid, self.broker) {
            cpu.broker = ticks(&format!("/proc/{pid}/stat")).map(|(_, t)| seconds(t.saturating_sub(before)));
        }
        let busy = seconds(machine_ticks().saturating_sub(self.machine));
        cpu.others = (busy - cpu.process - cpu.broker.unwrap_or(0.0)).max(0.0);
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
    } else if name.starts_with("bench_e2e") {
        "main"
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

/// Every thread of this process: id → (name, ticks).
fn threads() -> HashMap<String, (String, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return HashMap::new();
    };
    dir.filter_map(|entry| {
        let id = entry.ok()?.file_name().to_string_lossy().into_owned();
        Some((id.clone(), ticks(&format!("/proc/self/task/{id}/stat"))?))
    })
    .collect()
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}
