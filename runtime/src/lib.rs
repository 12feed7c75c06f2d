//! # Weir: a sandboxed stream processor
//!
//! Users write a map and an associative reduce, compile them to a WebAssembly component with
//! `weir-sdk`, and Weir runs them in a wasmtime sandbox over event-time windows.
//!
//! The data path, top-down:
//! - [`engine`]: loads and validates components, runs guest instances under limits;
//! - [`pipeline`]: map → window → reduce → fire over batches, isolating poison records;
//! - [`window`]: window assignment, watermarks and per-(window, key) state;
//! - [`kafka`]: client settings shared by every Kafka consumer and producer;
//! - [`cli`]: the `weir` commands (`weir run` drives the pipeline from a file; `weir produce` and
//!   `weir consume` move records in and out of Kafka).

pub mod cli;
pub mod engine;
pub mod guest;
pub mod kafka;
pub mod pipeline;
pub mod record;
pub mod window;
