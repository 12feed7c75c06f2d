//! The `weir` commands that run, serve and talk to a pool: one file per command.
//!
//! The command line itself (the `Cli` parser, its global options and the dispatch) is the
//! binary's, `src/main.rs`: it adds `weir build` and `weir init` from `weir-toolchain`, the
//! module author's toolchain, which this library does not link.

mod chunks;
pub mod client;
pub mod consume;
pub mod dead_letters;
pub mod dev;
mod input;
pub mod job;
pub mod job_history;
pub mod job_logs;
pub mod job_reset;
pub mod job_spec;
pub mod job_status;
pub mod kafka_properties;
pub mod module;
pub mod output;
pub mod produce;
pub mod run;
pub mod runtime;
pub mod serve;
#[cfg(test)]
mod test_job;
#[cfg(test)]
mod test_parser;
