//! # Weir: a sandboxed stream processor
//!
//! Users write a map and an associative reduce, compile them to a WebAssembly component with
//! `weir-sdk`, and Weir runs them in a wasmtime sandbox over event-time windows.
//!
//! The data path, top-down:
//! - [`engine`]: loads and validates components, runs guest instances under limits;
//! - [`pipeline`]: map → window → reduce → fire over batches, isolating poison records;
//! - [`window`]: window assignment, watermarks and per-(window, key) state;
//! - [`shuffle`]: the keyed shuffle that makes a reduce global (partials, markers, merging);
//! - [`job`]: a job on Kafka: its stages, a task per assigned partition, the commit cycle;
//! - [`kafka`]: consumer group source, producer sink, progress topic, dead letters, admin;
//! - [`config`]: the jobs `weir serve` runs;
//! - [`cli`]: the `weir` commands (`weir run` drives the pipeline from a file, `weir serve` from
//!   Kafka; `weir produce` and `weir consume` move records in and out of Kafka).

pub mod api;
pub mod cli;
pub mod config;
pub mod engine;
pub mod guest;
pub mod job;
pub mod kafka;
pub mod metrics;
pub mod pipeline;
pub mod record;
pub mod registry;
pub mod server;
pub mod shuffle;
pub mod supervisor;
pub mod window;
