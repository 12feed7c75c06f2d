//! # weir-sdk: write Weir modules in Rust
//!
//! A Weir module is a map function and an associative reduce function, compiled to a WebAssembly
//! component that the Weir runtime runs in a sandbox over a stream of records, grouped by key into
//! event-time windows. This crate hides the component contract (`wit/weir.wit`): you write plain
//! functions over serde types, add one attribute, and build with
//! `cargo build --release --target wasm32-wasip2`.
//!
//! ```no_run
//! use weir_sdk::{Emitter, MapReduce, Record, Result};
//!
//! struct WordCount;
//!
//! #[weir_sdk::processor]
//! impl MapReduce for WordCount {
//!     type Key = String;
//!     type Value = u64;
//!
//!     fn map(record: &Record, out: &mut Emitter<String, u64>) -> Result<()> {
//!         for word in record.text()?.split(|c: char| !c.is_alphanumeric()) {
//!             if !word.is_empty() {
//!                 out.emit(word.to_lowercase(), 1);
//!             }
//!         }
//!         Ok(())
//!     }
//!
//!     fn reduce(a: u64, b: u64) -> u64 {
//!         a + b
//!     }
//! }
//! ```
//!
//! What the runtime does with these functions:
//! - `map` runs once per input record and emits (key, value) pairs, optionally with an event time
//!   of its own ([`Emitter::emit_at`]); returning an error sends that record to the dead-letter
//!   output with your message, and the stream goes on.
//! - `reduce` folds two values into one. It must be associative; the runtime calls it in input
//!   order per (window, key), and also to merge session windows (earlier session first), so with
//!   session windows it should be commutative too.
//! - `finish` (optional) turns a closed window's result into the output record; the default writes
//!   `{"window_start": ms, "window_end": ms, "key": .., "value": ..}` keyed by the window and key.
//!
//! A stateless per-record transform (filter, reshape, route) implements [`Transform`] instead.
//!
//! Keys and values cross the sandbox boundary in postcard, a compact binary serde format; only the
//! final output is JSON (or whatever bytes your `finish` writes).

mod combine;
mod emitter;
mod encode;
mod error;
mod output;
mod packed;
mod processor;
mod record;

#[doc(hidden)]
pub mod __private;

/// The README's code blocks, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Bindings generated from the WIT contract (`wit/weir.wit`). Guest authors do not need them.
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "combining-guest",
        pub_export_macro: true,
        export_macro_name: "__export_guest",
        default_bindings_module: "::weir_sdk::bindings",
    });
}

pub use emitter::{Emitter, Outputs};
pub use error::{Error, Result};
pub use output::{Output, Window};
pub use processor::{MapReduce, Transform};
pub use record::Record;
/// Marks an `impl MapReduce for T` or `impl Transform for T` block as the module's entry point.
///
/// It keeps the impl as written and exports it as the component's `processor` interface. One per
/// module.
pub use weir_sdk_macros::processor;

/// Logs a message through the host's structured logs (the host rate-limits guest logs).
pub fn log(level: LogLevel, message: &str) {
    bindings::weir::processor::log::log(level.into(), message);
}

/// Severity of a [`log`] message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Very verbose diagnostics.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the module handled.
    Warn,
    /// Something failed.
    Error,
}

impl From<LogLevel> for bindings::weir::processor::log::Level {
    fn from(level: LogLevel) -> Self {
        use bindings::weir::processor::log::Level;
        match level {
            LogLevel::Trace => Level::Trace,
            LogLevel::Debug => Level::Debug,
            LogLevel::Info => Level::Info,
            LogLevel::Warn => Level::Warn,
            LogLevel::Error => Level::Error,
        }
    }
}
