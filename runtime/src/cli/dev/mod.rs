//! `weir dev`: the quickstart with nothing to install. It starts an embedded Kafka-protocol
//! broker, runs word count on it exactly as `weir serve` would, publishes a sample text, and
//! prints each window's counts as it closes, with the commands to publish your own lines.
//!
//! The broker is librdkafka's mock cluster, in this process (DESIGN.md section 10): it listens
//! on a real TCP port of 127.0.0.1, so `weir produce`, `weir consume` or any Kafka client can
//! reach it while `weir dev` runs, and it keeps everything in memory, so it all goes away on
//! exit. It is a development broker, not a store: use `weir serve` against a real cluster for
//! anything else. Clients reach it on a fixed port (`--port`, 9092 by default when free: see
//! `port.rs`), and the banner prints the `export WEIR_BROKERS=... WEIR_SERVER=...` line that
//! points `weir produce`, `weir consume`, `weir module` and `weir job` at it.
//!
//! The job reads `lines`, writes `counts`, and windows in processing time (the wall clock), so
//! a window closes on time while someone is typing; the printer reads `counts` and groups each
//! window's records into one line. This file owns none of the job's machinery: it builds a
//! [`ServeConfig`] and hands it to [`crate::server::run`], which also serves the HTTP API on
//! `--listen` (loopback, no token), so modules can be uploaded and jobs created as on a pool.

mod port;
mod printer;

use crate::config::{JobConfig, LimitsConfig, ServeConfig};
use crate::kafka::sink::Sink;
use crate::outgoing::{Kind, Outgoing};
use crate::pipeline::TimeMode;
use crate::window::WindowSpec;
use anyhow::{Context, Result, bail};
use printer::{Printer, QUIET};
use rdkafka::mocking::MockCluster;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The sample text published at start, one record per line.
pub const SAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/word-count/sample.txt"
));

/// The job's name (it names its consumer groups and internal topics).
const JOB: &str = "word-count";
/// The topic the job reads.
const INPUT: &str = "lines";
/// The topic the job writes.
const OUTPUT: &str = "counts";
/// Partitions of the output topic: one, so the windows arrive in the order they fire.
const OUTPUT_PARTITIONS: i32 = 1;
/// How long `--once` waits for the sample's windows beyond the window length itself.
const ONCE_GRACE: Duration = Duration::from_secs(60);

/// Where `weir dev`'s HTTP API listens when `--listen` is not given and the address is free.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Arguments of `weir dev`.
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Windows: tumbling:SIZE, hopping:SIZE,SLIDE or session:GAP, in processing time (the wall
    /// clock), so a window closes on time while you type.
    #[arg(long, short, default_value = "tumbling:10s")]
    pub window: WindowSpec,
    /// Partitions of the `lines` topic (more than one shows the shuffle at work: each partition
    /// counts its own lines, the reduce stage merges them).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub partitions: u16,
    /// Do not publish the sample text: count only what you publish.
    #[arg(long)]
    pub no_sample: bool,
    /// Exit once every word of the sample has been counted and printed, instead of running
    /// until Ctrl-C (for scripts and tests); fails if that takes longer than the window plus a
    /// minute.
    #[arg(long, conflicts_with = "no_sample")]
    pub once: bool,
    /// Address of the HTTP API and web console (upload modules, create jobs, /metrics); `off`
    /// for none [default: 127.0.0.1:8080 when it is free, else a port the system picks, and
    /// `weir dev` says so].
    #[arg(long)]
    pub listen: Option<String>,
    /// The port of 127.0.0.1 where Kafka clients reach the embedded broker, the same from run
    /// to run [default: 9092 when it is free, else a port the system picks, and `weir dev`
    /// says so]; `0`: always a port the system picks.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
}

/// Where clients reach the embedded broker: `--port`, else 9092 when free, else the mock's own
/// port (with a note saying why).
fn public_broker(asked: Option<u16>, internal: &str) -> Result<(String, Option<String>)> {
    let target = port::first_broker(internal)?;
    match asked {
        Some(0) => Ok((internal.to_string(), None)),
        Some(port) => {
            let fixed = port::FixedPort::open(port, target).map_err(|err| {
                anyhow::anyhow!("{err}: pick another port with --port, or --port 0 for any free one")
            })?;
            Ok((fixed.bootstrap(), None))
        }
        None => match port::FixedPort::open(port::DEFAULT_PORT, target) {
            Ok(fixed) => Ok((fixed.bootstrap(), None)),
            Err(err) => {
                let note = format!(
                    "weir dev: {err}; the embedded broker is at {internal} instead, which changes \
                     from run to run (`--port N` pins one)"
                );
                Ok((internal.to_string(), Some(note)))
            }
        },
    }
}

/// Runs `weir dev`.
pub fn dev(args: &DevArgs) -> Result<()> {
    let broker = MockCluster::new(1).context("cannot start the embedded Kafka broker")?;
    // The job, the printer and the sample's producer use the broker's own port; users, the
    // fixed one.
    let brokers = broker.bootstrap_servers();
    let (public, note) = public_broker(args.port, &brokers)?;
    let partitions = i32::from(args.partitions);
    let job = job(args.window);
    // The mock broker has no CreateTopics API: make every topic the job uses with its own API,
    // with the partition counts `weir serve` would choose (but one for the output).
    let topics = [
        (INPUT.to_string(), partitions),
        (job.output.clone(), OUTPUT_PARTITIONS),
        (job.dead_letter_topic(), partitions),
        (job.repartition_topic(), partitions),
        (job.progress_topic(), partitions),
        ("weir.registry".to_string(), 1),
        ("weir.status".to_string(), 1),
    ];
    for (topic, count) in &topics {
        broker
            .create_topic(topic, *count, 1)
            .with_context(|| format!("cannot create topic `{topic}` on the embedded broker"))?;
    }
    let config = ServeConfig {
        brokers: brokers.clone(),
        jobs: vec![job],
        listen: args.listen.clone().unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
        auto_create_topics: true,
        ..ServeConfig::default()
    };
    config.validate()?;
    let listener = match args.listen.as_deref() {
        Some("off") => None,
        Some(listen) => match crate::server::bind(listen) {
            Ok(listener) => Some(listener),
            Err(err) => {
                eprintln!("weir dev: no HTTP API: {err:#}");
                None
            }
        },
        // The default address, or any free one: a second `weir dev` (or anything else on 8080)
        // must not cost this one its API and console.
        None => match crate::server::bind(DEFAULT_LISTEN) {
            Ok(listener) => Some(listener),
            Err(_) => match crate::server::bind("127.0.0.1:0") {
                Ok(listener) => {
                    eprintln!(
                        "weir dev: {DEFAULT_LISTEN} is taken; the HTTP API listens on a port the system picked (below)"
                    );
                    Some(listener)
                }
                Err(err) => {
                    eprintln!("weir dev: no HTTP API: {err:#}");
                    None
                }
            },
        },
    };
    let api = listener
        .as_ref()
        .and_then(|listener| listener.local_addr().ok().map(|a| a.to_string()));

    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second Ctrl-C while the job winds down exits at once.
        signal_hook::flag::register_conditional_shutdown(signal, 1, shutdown.clone())
            .context("cannot handle signals")?;
        signal_hook::flag::register(signal, shutdown.clone()).context("cannot handle signals")?;
    }
    let printer = Printer::new(&brokers, OUTPUT_PARTITIONS, args.window)?;

    let stdout = io::stdout();
    let mut out = stdout.lock();
    if let Some(note) = note {
        eprintln!("{note}");
    }
    banner(&mut out, &public, api.as_deref(), args)?;
    let expected = if args.no_sample {
        0
    } else {
        let words = publish_sample(&brokers)?;
        writeln!(
            out,
            "published the sample text ({} lines, {words} words) to `{INPUT}`: its counts \
             print when its window closes",
            SAMPLE.lines().count()
        )?;
        words
    };
    out.flush()?;

    // From here on the job runs: every way out goes through the shutdown below.
    let jobs = start_jobs(config, listener, &shutdown)?;
    let once = args.once.then(|| Once {
        words: expected,
        deadline: Instant::now() + window_length(args.window) + ONCE_GRACE,
    });
    let printed = print_windows(printer, &mut out, &shutdown, &jobs, once);
    // Stop the job (it commits and leaves its groups) before the broker goes away.
    shutdown.store(true, Ordering::Relaxed);
    let stopped = match jobs.join() {
        Ok(result) => result.context("the word-count job failed"),
        Err(_) => Err(anyhow::anyhow!("the word-count job panicked")),
    };
    drop(broker);
    printed?;
    stopped
}

/// The word-count job `weir dev` runs.
fn job(window: WindowSpec) -> JobConfig {
    JobConfig {
        name: JOB.into(),
        module: PathBuf::from("word-count"),
        input: vec![INPUT.into()],
        output: OUTPUT.into(),
        dead_letters: None,
        window: Some(window),
        out_of_orderness: Duration::ZERO,
        lateness: Duration::ZERO,
        idle_timeout: Duration::ZERO,
        time: TimeMode::Processing,
        shuffle: true,
        reduce_partitions: None,
        batch_size: 1024,
        commit_interval: Duration::from_millis(200),
        limits: LimitsConfig::default(),
    }
}

/// The longest a window stays open after its first record, in processing time.
fn window_length(window: WindowSpec) -> Duration {
    let ms = match window {
        WindowSpec::Tumbling { size } | WindowSpec::Hopping { size, .. } => size,
        WindowSpec::Session { gap } => gap,
    };
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn banner(out: &mut impl Write, brokers: &str, api: Option<&str>, args: &DevArgs) -> Result<()> {
    let s = if args.partitions == 1 { "" } else { "s" };
    writeln!(
        out,
        "weir dev: an embedded Kafka broker (in memory, gone on exit) at {brokers}"
    )?;
    writeln!(
        out,
        "job `{JOB}`: `{INPUT}` ({} partition{s}) -> word-count -> `{OUTPUT}`, {} windows on \
         the wall clock",
        args.partitions, args.window
    )?;
    if let Some(api) = api {
        writeln!(
            out,
            "web console: http://{api}/  (jobs, lag, windows, dead letters, modules)"
        )?;
    }
    writeln!(out)?;
    writeln!(out, "  in another terminal, point weir at it:")?;
    let server = api
        .map(|api| format!(" WEIR_SERVER=http://{api}"))
        .unwrap_or_default();
    writeln!(out, "    export WEIR_BROKERS={brokers}{server}")?;
    let mut commands = vec![
        (
            format!("weir produce --topic {INPUT}"),
            "publish your own lines (one record per line)".to_string(),
        ),
        (
            format!("weir consume --topic {OUTPUT}"),
            "watch the raw output".to_string(),
        ),
    ];
    if let Some(api) = api {
        commands.push((
            "weir job list".to_string(),
            format!("the jobs; `weir module upload FILE.wasm` adds modules (API: http://{api})"),
        ));
    }
    for (command, what) in commands {
        writeln!(out, "    {command:<30}  {what}")?;
    }
    writeln!(
        out,
        "  (from a checkout, `weir` is `cargo run --release -p weir --`; Ctrl-C stops)"
    )?;
    writeln!(out)?;
    Ok(())
}

/// Starts the job (and the API) on a thread, as `weir serve` runs them.
fn start_jobs(
    config: ServeConfig,
    listener: Option<std::net::TcpListener>,
    shutdown: &Arc<AtomicBool>,
) -> Result<JoinHandle<Result<()>>> {
    let shutdown = shutdown.clone();
    std::thread::Builder::new()
        .name("weir-dev-jobs".into())
        .spawn(move || crate::server::run(&config, listener, &shutdown))
        .context("cannot start the job's thread")
}

/// Publishes [`SAMPLE`] to the input topic, one record per line; returns its word count.
fn publish_sample(brokers: &str) -> Result<u64> {
    let mut sink = Sink::new(brokers, Duration::from_secs(30))
        .with_context(|| format!("cannot create a producer for {brokers}"))?;
    let mut words = 0;
    for line in SAMPLE.lines() {
        words += word_count(line);
        sink.send(&Outgoing {
            kind: Kind::Other,
            topic: INPUT.into(),
            partition: None,
            key: None,
            value: Some(line.as_bytes().to_vec()),
            timestamp: None,
            headers: Vec::new(),
        })
        .context("cannot publish the sample text")?;
    }
    sink.flush().context("cannot publish the sample text")?;
    Ok(words)
}

/// The words word count finds in `line`: runs of letters and digits.
fn word_count(line: &str) -> u64 {
    line.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .count() as u64
}

/// When `--once` stops.
struct Once {
    /// How many words the sample holds.
    words: u64,
    /// When to give up.
    deadline: Instant,
}

/// Reads `counts` until `shutdown` is set (or the job stops, or `once` is satisfied), printing
/// one line per window.
fn print_windows(
    mut printer: Printer,
    out: &mut impl Write,
    shutdown: &AtomicBool,
    jobs: &JoinHandle<Result<()>>,
    once: Option<Once>,
) -> Result<()> {
    while !shutdown.load(Ordering::Relaxed) && !jobs.is_finished() {
        printer.poll(Duration::from_millis(100))?;
        printer.lines.print_quiet(out, Instant::now())?;
        if let Some(once) = &once {
            if printer.lines.counted >= once.words && printer.lines.pending.is_empty() {
                return Ok(());
            }
            if Instant::now() >= once.deadline {
                bail!(
                    "--once: {} of the sample's {} words were counted before the deadline (see the \
                     errors above, if any)",
                    printer.lines.counted,
                    once.words
                );
            }
        }
    }
    printer.lines.print_quiet(out, Instant::now() + QUIET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_bundled_and_has_words() {
        assert!(SAMPLE.lines().count() > 1);
        assert_eq!(word_count("The dog sleeps; the fox runs."), 6);
        assert_eq!(word_count("l'été 2024—Ünïcode_x"), 5);
    }
}
