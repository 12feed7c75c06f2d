//! The `weir` command line: one file per command.

pub mod build;
mod chunks;
pub mod client;
pub mod consume;
pub mod dead_letters;
pub mod dev;
pub mod init;
mod input;
pub mod job;
pub mod job_history;
pub mod job_logs;
pub mod job_reset;
pub mod job_spec;
pub mod module;
pub mod output;
mod print;
pub mod produce;
pub mod run;
pub mod serve;

use clap::{Parser, Subcommand};

/// Weir: run WebAssembly map/reduce modules over streams of records, in event-time windows.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `weir=debug`. Also `WEIR_LOG`.
    /// librdkafka's own connection chatter is off by default: Weir reports what failed.
    #[arg(
        long,
        global = true,
        env = "WEIR_LOG",
        default_value = "warn,librdkafka=off,rdkafka=off"
    )]
    pub log: String,
    /// Log as JSON lines instead of text (also `WEIR_LOG_JSON=true`).
    #[arg(long, global = true, env = "WEIR_LOG_JSON")]
    pub log_json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
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
    Init(init::InitArgs),
    /// Build the module project in a directory (Rust, Python, JavaScript or C) into a component,
    /// with the language's toolchain: build/NAME.wasm.
    Build(build::BuildArgs),
    /// Manage the modules of a Weir server's registry: upload, list, inspect, rm.
    Module(module::ModuleArgs),
    /// Manage the jobs of a pool of Weir runtimes: create, list, status, update, pause, resume,
    /// rollback, history, reset, logs, rm.
    Job(job::JobArgs),
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
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Runs `weir completions`: the script for `shell`, on stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "weir", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(|e| anyhow::Error::new(e).context("write to stdout"))
}
