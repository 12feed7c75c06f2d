//! Tests only: the commands whose arguments this library defines (`job`, `module`, `runtime`),
//! nested as the binary's command line nests them (`src/main.rs`), for the parsing tests.

use super::job::JobArgs;
use super::module::ModuleArgs;
use super::runtime::RuntimeArgs;

/// `weir` with the commands below.
#[derive(Debug, clap::Parser)]
#[command(name = "weir")]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// `weir job`.
    Job(JobArgs),
    /// `weir module`.
    Module(ModuleArgs),
    /// `weir runtime`.
    Runtime(RuntimeArgs),
}
