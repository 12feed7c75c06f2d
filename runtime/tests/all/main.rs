//! Integration tests of the Weir core: one binary, a module per feature (wasmtime's `tests/all`
//! layout: the runtime is linked once, which keeps CI's build short). The guest components
//! come from `weir-guest-artifacts`, built from sources in this repository.

mod claims;
mod cli_dev;
mod cli_misc;
mod cli_run;
mod compile_cache;
mod console;
mod dev;
mod growth;
mod hostile;
mod markers;
mod packed_records;
// `weir build` and `weir init` (weir-toolchain) are in the binary with the default features only.
#[cfg(feature = "toolchain")]
mod languages;
mod shuffle_prop;
mod support;
mod untrusted;
mod upload;
mod windows_prop;
