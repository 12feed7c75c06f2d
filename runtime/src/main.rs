//! The `weir` binary: parses the command line, sets up logging, runs the command.

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;
use weir::cli::{Cli, Command};

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

/// Sets mimalloc's purge delay unless the environment does. The crate's only `unsafe`: a call
/// into mimalloc's C API, which the `mimalloc` crate does not wrap.
#[allow(unsafe_code)]
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: `mi_option_set` takes plain integers and stores the value in mimalloc's option
        // table, which it reads atomically; an index it does not know it ignores.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if cli.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
    let result = match cli.command {
        Command::Run(args) => weir::cli::run::run(&args),
        Command::Produce(args) => weir::cli::produce::produce(&args),
        Command::Consume(args) => weir::cli::consume::consume(&args),
        Command::Serve(args) => weir::cli::serve::serve(&args),
        Command::Dev(args) => weir::cli::dev::dev(&args),
        Command::Init(args) => weir::cli::init::init(&args),
        Command::Build(args) => weir::cli::build::build(&args),
        Command::Module(args) => weir::cli::module::module(&args),
        Command::Job(args) => weir::cli::job::job(&args),
        Command::Runtime(args) => weir::cli::runtime::runtime(&args),
        Command::DeadLetters(args) => weir::cli::dead_letters::dead_letters(&args),
        Command::Completions(args) => weir::cli::completions(&args),
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
