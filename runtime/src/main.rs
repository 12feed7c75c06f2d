//! The `weir` binary: parses the command line, sets up logging, runs the command.
//!
//! The commands that run, serve and talk to a pool are the `weir` library's ([`weir::cli`]);
//! `weir init` and `weir build`, the module author's toolchain, are `weir-toolchain`'s, behind
//! the default `toolchain` feature: `cargo build -p weir --no-default-features` makes a
//! server that does not link wit-bindgen-c or wit-component.

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;
use weir::cli::{consume, dead_letters, dev, job, module, produce, run, runtime, serve};

/// mimalloc instead of the system allocator: batches make many short-lived buffers (lifting guest
/// results, staging pairs), and glibc's malloc took 29% of the Wasm word-count profile
/// (BENCHMARKS.md). Built with `no_thp` (Cargo.toml): with transparent huge pages, mimalloc's
/// fresh arenas were zeroed 2 MiB at a time, 6-8% of `weir run`'s CPU in the engine benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 3's `mi_option_purge_delay` (the index in `mimalloc.h`'s `mi_option_e`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// How long mimalloc keeps freed memory before it gives it back to the OS, in ms. Its default,
/// 1 s, kept 50-60 MB of `weir serve`'s peak RSS in the end-to-end benchmark in freed pages
/// (batches, fetched records, packed partials come and go many times a second); 10 ms (mimalloc
/// 2's default) keeps about 30 MB. `MIMALLOC_PURGE_DELAY` still sets it.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Sets mimalloc's purge delay unless the environment does, and (with glibc) one malloc arena
/// for the C code. The crate's only `unsafe`: calls into mimalloc's and glibc's C APIs, which
/// the `mimalloc` and `libc` crates do not wrap safely.
#[allow(unsafe_code)]
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: `mi_option_set` takes plain integers and stores the value in mimalloc's option
        // table, which it reads atomically; an index it does not know it ignores.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
    // librdkafka allocates with glibc's malloc: fetched records on its broker threads, freed on
    // the stages' threads. glibc gave each thread an arena of its own and kept their freed
    // memory: one arena took 5-10 MB off `weir serve`'s peak RSS in the end-to-end benchmark
    // (92-97 MB instead of 98-107, same speed). `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES` still
    // set it.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() && std::env::var_os("GLIBC_TUNABLES").is_none() {
        // SAFETY: `mallopt` takes plain integers and sets an allocator parameter; this runs at
        // the start of `main`, before any other thread exists.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    }
}

/// Logs to stderr through `filter` (plain or JSON lines), beside the layer that notes the
/// Kafka cluster refusing connections whatever the filter (`kafka::refusals`).
fn init_logs(filter: &str, json: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("warn"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = if json { fmt.json().boxed() } else { fmt.boxed() };
    let refusals = weir::kafka::refusals::RefusalLayer
        .with_filter(Targets::new().with_target(weir::kafka::refusals::TARGET, LevelFilter::ERROR));
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(refusals)
        .init();
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    init_logs(&cli.log, cli.log_json);
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Produce(args) => produce::produce(&args),
        Command::Consume(args) => consume::consume(&args),
        Command::Serve(args) => serve::serve(&args),
        Command::Dev(args) => dev::dev(&args),
        #[cfg(feature = "toolchain")]
        Command::Init(args) => weir_toolchain::init(&args),
        #[cfg(feature = "toolchain")]
        Command::Build(args) => weir_toolchain::build(&args),
        Command::Module(args) => module::module(&args),
        Command::Job(args) => job::job(&args),
        Command::Runtime(args) => runtime::runtime(&args),
        Command::DeadLetters(args) => dead_letters::dead_letters(&args),
        Command::Completions(args) => completions(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `weir run ... | head`: the reader left, which is not an error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Weir: run WebAssembly map/reduce modules over streams of records, in event-time windows.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `weir=debug`. Also `WEIR_LOG`.
    /// librdkafka's own connection chatter is off by default: Weir reports what failed.
    #[arg(
        long,
        global = true,
        env = "WEIR_LOG",
        default_value = "warn,librdkafka=off,rdkafka=off"
    )]
    log: String,
    /// Log as JSON lines instead of text (also `WEIR_LOG_JSON=true`).
    #[arg(long, global = true, env = "WEIR_LOG_JSON")]
    log_json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a module over a file of records (or stdin) and print each window's results:
    /// the local test tool for module authors, and the reference the Kafka pipeline agrees with.
    Run(run::RunArgs),
    /// Publish stdin (text lines, or JSON records with --json) to a Kafka topic.
    Produce(produce::ProduceArgs),
    /// Print a Kafka topic's records with their headers: JSON lines, or text with -o text.
    Consume(consume::ConsumeArgs),
    /// Run the jobs of a config file on Kafka, as one runtime of a pool.
    Serve(serve::ServeArgs),
    /// The quickstart: an embedded broker running word count on a sample text, printing each
    /// window's counts as it closes, with the commands to publish your own lines.
    Dev(dev::DevArgs),
    /// Create a module project (word count) in Rust, Python, JavaScript or C, with a README, a
    /// sample input and a unit test; `weir build` builds it.
    #[cfg(feature = "toolchain")]
    Init(weir_toolchain::InitArgs),
    /// Build the module project in a directory (Rust, Python, JavaScript or C) into a component,
    /// with the language's toolchain: build/NAME.wasm.
    #[cfg(feature = "toolchain")]
    Build(weir_toolchain::BuildArgs),
    /// Manage the modules of a Weir server's registry: upload, list, inspect, rm.
    Module(module::ModuleArgs),
    /// Manage the jobs of a pool of Weir runtimes: create, list, status, update, pause, resume,
    /// rollback, history, reset, logs, rm.
    Job(job::JobArgs),
    /// The runtimes of the pool: list (each with its state, version, jobs and partitions, those
    /// running no job included).
    Runtime(runtime::RuntimeArgs),
    /// A job's dead letters: list, tail (follow), replay (back to the input once the module is
    /// fixed).
    #[command(name = "dead-letters")]
    DeadLetters(dead_letters::DeadLettersArgs),
    /// Print a shell completion script: `source <(weir completions bash)` (bash), or save
    /// `weir completions zsh` as `_weir` on $fpath, `weir completions fish` in
    /// ~/.config/fish/completions/weir.fish.
    Completions(CompletionsArgs),
}

/// Arguments of `weir completions`.
#[derive(Debug, clap::Args)]
struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Runs `weir completions`: the script for `shell`, on stdout.
fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "weir", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(|e| anyhow::Error::new(e).context("write to stdout"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
