//! # weir-toolchain: the module author's tools, `weir build` and `weir init`
//!
//! A module author turns a project in Rust, Python, JavaScript or C into a component with
//! `weir build`, and starts one with `weir init`. Both are driven from here: [`build()`] finds the
//! project's language ([`Project`]), runs that language's tools (cargo; componentize-py;
//! componentize-js; clang with wasi-libc, then wit-bindgen's C generator and wit-component in
//! process) and writes `build/NAME.wasm`; [`init()`] writes a word-count scaffold from the
//! examples and the templates in `templates/`. The SDKs and the contract are compiled in
//! ([`sdk`]), so neither command needs a Weir checkout; the tools come from
//! `scripts/guest-toolchains` ([`tools`]).
//!
//! What it does not do: load, check or run a component. That is the `weir` library's engine,
//! which serves modules and links none of this: a server built without the `weir` binary's
//! `toolchain` feature leaves wit-bindgen-c and wit-component out.

pub mod build;
pub mod init;
pub mod project;
pub mod sdk;
pub mod tools;

pub use build::{BuildArgs, build};
pub use init::{InitArgs, init};
pub use project::{Lang, Project};
