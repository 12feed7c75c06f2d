//! `weir build`: turns a module project into a component, with the language's own toolchain.
//!
//! | language | manifest | tool |
//! | --- | --- | --- |
//! | Rust | `Cargo.toml` | cargo, wasm32-wasip2 |
//! | Python | `pyproject.toml` | componentize-py, with the `weir` package |
//! | JavaScript | `package.json` | componentize-js, with `weir.js` |
//! | C | `*.c` | clang + wasi-libc, wit-bindgen's C generator, the preview1 adapter |
//!
//! The component goes to `build/NAME.wasm`. The SDKs and the contract are built into the
//! binary and written under `build/.weir/` for the tools, so a project needs no Weir checkout;
//! the tools themselves come from `scripts/guest-toolchains` (see [`tools`](crate::tools)).
//! What it does not do: run the module (that is `weir run`) or check it against the sandbox
//! (`weir run` and `weir serve` do when they load it).

mod c;
mod js;
mod python;
mod rust;

use crate::project::{Lang, Project};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `weir build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The project's language, when its files do not tell (Cargo.toml: rust, pyproject.toml:
    /// python, package.json: js, *.c: c).
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// Where to write the component (default: build/NAME.wasm in the project).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// No summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `weir build`.
pub fn build(args: &BuildArgs) -> Result<()> {
    let started = Instant::now();
    let project = Project::open(&args.dir, args.lang)?;
    let build_dir = project.dir.join("build");
    let output = match &args.output {
        Some(path) => absolute(path)?,
        None => build_dir.join(format!("{}.wasm", project.name)),
    };
    if let Some(parent) = output.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let scratch = build_dir.join(".weir");
    let tool = match project.lang {
        Lang::Rust => rust::build(&project, &output)?,
        Lang::Python => python::build(&project, &scratch, &output)?,
        Lang::Js => js::build(&project, &scratch, &output)?,
        Lang::C => c::build(&project, &scratch, &output)?,
    };
    let size = std::fs::metadata(&output)
        .with_context(|| format!("the build wrote no {}", output.display()))?
        .len();
    if !args.quiet {
        let shown = shown_path(&output);
        eprintln!(
            "weir build: {shown} ({:.1} MB, {} via {tool}) in {:.1?}",
            size as f64 / 1e6,
            project.lang,
            started.elapsed(),
        );
        if project.dir.join("sample.txt").is_file() {
            let input = shown_path(&project.dir.join("sample.txt"));
            eprintln!("  run it:  weir run --module {shown} --input {input} --lines --window tumbling:10s");
        }
    }
    Ok(())
}

fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("the current directory")?
        .join(path))
}

/// `path` relative to the current directory when it is below it.
fn shown_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| cwd.canonicalize().ok())
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}
