//! Rust modules: `cargo build --release --target wasm32-wasip2`, then the `cdylib` it reports.

use crate::project::Project;
use crate::tools::{self, Tool};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds the component; returns the tool that did it, for the summary.
pub fn build(project: &Project, output: &Path) -> Result<String> {
    let cargo = tools::find(Tool::Cargo)?;
    add_wasm_target(&project.dir);
    let mut child = Command::new(&cargo)
        .current_dir(&project.dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", cargo.display()))?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let mut wasm: Option<PathBuf> = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("read cargo's output")?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let is_cdylib = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib"));
        if message["reason"] == "compiler-artifact" && is_cdylib {
            let files = message["filenames"].as_array().cloned().unwrap_or_default();
            if let Some(file) = files
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
            {
                wasm = Some(PathBuf::from(file));
            }
        }
    }
    let status = child.wait().context("wait for cargo")?;
    if !status.success() {
        bail!(
            "cargo build failed ({status}); its messages are above. If the wasm32-wasip2 target is \
             missing: rustup target add wasm32-wasip2"
        );
    }
    let Some(wasm) = wasm else {
        bail!(
            "cargo built no WebAssembly library: Cargo.toml needs [lib] crate-type = [\"cdylib\"] \
             (see `weir init --lang rust`)"
        );
    };
    std::fs::copy(&wasm, output)
        .with_context(|| format!("cannot copy {} to {}", wasm.display(), output.display()))?;
    let version = tools::version(&cargo);
    Ok(if version.is_empty() {
        "cargo".to_string()
    } else {
        version
    })
}

/// Adds the wasm32-wasip2 target with rustup, if rustup is there: rustup reads the project's
/// rust-toolchain.toml `targets` only when it installs a toolchain, not for one already
/// installed. Quiet and quick when the target is present; a failure shows in cargo's error.
fn add_wasm_target(dir: &Path) {
    let _ = Command::new("rustup")
        .current_dir(dir)
        .args(["target", "add", "wasm32-wasip2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
