//! # Weir: a sandboxed stream processor
//!
//! Users write a map and an associative reduce, compile them to a WebAssembly component with
//! `weir-sdk`, and Weir runs them in a wasmtime sandbox over event-time windows.
//!
//! Every module, the data path first (record in → map → window → combine → fire → output):
//! - [`units`]: sizes, durations and timestamps as people write and read them (flags, config
//!   files, the API), below everything that parses or prints one;
//! - [`record`]: the records that flow through Weir and cross the sandbox boundary;
//! - [`guest`]: the [`guest::Guest`] trait, the three batch calls the pipeline makes into a module;
//! - [`engine`]: loads and validates components, runs guest instances under limits;
//! - [`window`]: window assignment, watermarks and per-(window, key) state;
//! - [`pipeline`]: map → window → reduce → fire over batches, isolating poison records;
//! - [`shuffle`]: the keyed shuffle that makes a reduce global (partials, markers, merging);
//! - [`outgoing`]: a record to write to Kafka and its kind (output, dead letter, partial, marker,
//!   checkpoint);
//! - [`kafka`]: consumer group source, producer sink, progress topic, dead letters, admin;
//! - [`job`]: a job on Kafka: its stages, a task per assigned partition (all run on one worker
//!   pool), the commit cycle;
//! - [`metrics`]: the Prometheus metrics, registered and rendered;
//! - [`events`]: events counted at one place each (a dead letter written or cut, a record
//!   dropped), not by the code that makes the record;
//! - [`config`]: the jobs `weir serve` runs, typed and validated;
//! - [`report`]: what a runtime reports about a job it runs: the status topic's records, served
//!   by the API as they are;
//! - [`registry`]: modules and jobs in a compacted Kafka topic, shared by the pool, and the
//!   status topic (job statuses, runtime heartbeats);
//! - [`supervisor`]: makes the jobs this runtime runs match the config file and the registry;
//! - [`api`]: the HTTP API every runtime serves (modules, jobs, runtimes, metrics, probes, the
//!   console);
//! - [`server`]: one runtime of the pool (`weir serve`, `weir dev`): API, registry, supervisor;
//! - [`cli`]: the `weir` commands (`weir run` drives the pipeline from a file, `weir serve` from
//!   Kafka; `weir produce` and `weir consume` move records in and out of Kafka). `weir build`
//!   and `weir init`, the module author's toolchain, are the `weir-toolchain` crate's: the
//!   binary links it, this library does not.

pub mod api;
pub mod cli;
pub mod config;
pub mod engine;
pub mod events;
pub mod guest;
pub mod job;
pub mod kafka;
pub mod metrics;
pub mod outgoing;
pub mod pipeline;
pub mod record;
pub mod registry;
pub mod report;
pub mod server;
pub mod shuffle;
pub mod supervisor;
pub mod units;
pub mod window;
