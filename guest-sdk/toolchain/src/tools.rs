//! Finding the tools `weir build` runs, and saying how to install one that is missing.
//!
//! `scripts/guest-toolchains install` (in the Weir checkout) installs the pinned versions in
//! the toolchain directory: `$WEIR_TOOLCHAINS`, else `$XDG_DATA_HOME/weir/toolchains`, else
//! `~/.local/share/weir/toolchains`. A tool is looked up by its environment override first,
//! then in that directory, then on `PATH`.

use anyhow::{Context, Result, bail};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The componentize-py version the Python SDK is tested with (scripts/guest-toolchains).
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
/// The componentize-js version the JavaScript SDK is tested with (guest-sdk/js/toolchain).
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";

/// A tool `weir build` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// componentize-py (PyPI), for Python modules.
    ComponentizePy,
    /// componentize-js (npm), for JavaScript modules.
    ComponentizeJs,
    /// Debian's clang with wasi-libc, for C modules.
    Clang,
    /// cargo, for Rust modules.
    Cargo,
}

impl Tool {
    /// The executable's name on `PATH`.
    fn program(self) -> &'static str {
        match self {
            Tool::ComponentizePy => "componentize-py",
            Tool::ComponentizeJs => "componentize-js",
            Tool::Clang => "clang",
            Tool::Cargo => "cargo",
        }
    }

    /// The environment variable that names the executable, overriding the lookup.
    fn env(self) -> &'static str {
        match self {
            Tool::ComponentizePy => "WEIR_COMPONENTIZE_PY",
            Tool::ComponentizeJs => "WEIR_COMPONENTIZE_JS",
            Tool::Clang => "WEIR_CLANG",
            Tool::Cargo => "CARGO",
        }
    }

    /// Where scripts/guest-toolchains installs it, under the toolchain directory.
    fn installed(self, toolchains: &Path) -> Option<PathBuf> {
        match self {
            Tool::ComponentizePy => Some(toolchains.join("python/bin/componentize-py")),
            Tool::ComponentizeJs => Some(toolchains.join("js/node_modules/.bin/componentize-js")),
            // clang comes from apt; clang-14 is the pinned Debian 12 one. Its real path, not
            // the /usr/bin/clang-14 link: clang looks for wasm-ld beside itself, and lld-14
            // puts wasm-ld in /usr/lib/llvm-14/bin only.
            Tool::Clang => Some(PathBuf::from("/usr/lib/llvm-14/bin/clang")),
            Tool::Cargo => None,
        }
    }

    /// How to install it.
    fn install_hint(self) -> String {
        let script = script();
        let note = script_note();
        match self {
            Tool::ComponentizePy => format!(
                "install componentize-py {COMPONENTIZE_PY_VERSION} with `{script} install python`{note} \
                 (a venv in {}/python), or set WEIR_COMPONENTIZE_PY to a componentize-py binary",
                dir_display()
            ),
            Tool::ComponentizeJs => format!(
                "install componentize-js {COMPONENTIZE_JS_VERSION} with `{script} install js`{note} (npm, \
                 into {}/js), or set WEIR_COMPONENTIZE_JS to a componentize-js binary; it needs Node.js 20+",
                dir_display()
            ),
            Tool::Clang => format!(
                "install Debian's clang, lld and wasi-libc with `{script} install c`{note} (apt-get \
                 install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32), or set WEIR_CLANG to a \
                 clang that targets wasm32-wasi"
            ),
            Tool::Cargo => "install Rust with rustup (https://rustup.rs); the wasm32-wasip2 \
                            target is then added by `weir build`"
                .to_string(),
        }
    }
}

/// The toolchain directory scripts/guest-toolchains installs into.
pub fn dir() -> Option<PathBuf> {
    let nonempty = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from);
    nonempty("WEIR_TOOLCHAINS")
        .or_else(|| nonempty("XDG_DATA_HOME").map(|d| d.join("weir/toolchains")))
        .or_else(|| nonempty("HOME").map(|h| h.join(".local/share/weir/toolchains")))
}

fn dir_display() -> String {
    dir().map_or_else(|| "$WEIR_TOOLCHAINS".to_string(), |d| d.display().to_string())
}

/// How to run scripts/guest-toolchains: its path in the Weir checkout this `weir` runs from
/// (`target/{debug,release}/weir` of a checkout), else `scripts/guest-toolchains`, to run from
/// a checkout ([`script_note`] says where to get one). Never where the binary was built: that
/// path means nothing on another machine.
pub fn script() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| checkout_script(&exe))
        .map_or_else(|| SCRIPT.to_string(), |path| path.display().to_string())
}

/// What follows [`script`] in a hint: nothing when the script was found, else where a checkout
/// comes from.
pub fn script_note() -> String {
    let found = std::env::current_exe()
        .ok()
        .and_then(|exe| checkout_script(&exe))
        .is_some();
    if found {
        String::new()
    } else {
        format!(" (run from a Weir checkout: {})", env!("CARGO_PKG_REPOSITORY"))
    }
}

/// The script's path in a checkout.
const SCRIPT: &str = "scripts/guest-toolchains";

/// scripts/guest-toolchains of the checkout `exe` was built in, if `exe` is in one: the
/// directory three or four levels up (`target/release/weir`, `target/debug/deps/weir-...`).
fn checkout_script(exe: &Path) -> Option<PathBuf> {
    exe.ancestors()
        .skip(1)
        .take(4)
        .map(|dir| dir.join(SCRIPT))
        .find(|path| path.is_file())
        .and_then(|path| path.canonicalize().ok())
}

/// The path of `tool`, or an error that says how to install it.
pub fn find(tool: Tool) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(tool.env()).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        if let Some(found) = on_path(path.as_os_str()) {
            return Ok(found);
        }
        bail!(
            "{} names {}, which does not exist: {}",
            tool.env(),
            path.display(),
            tool.install_hint()
        );
    }
    let installed = dir()
        .and_then(|d| tool.installed(&d))
        .or_else(|| tool.installed(Path::new("")));
    if let Some(path) = installed.filter(|p| p.is_file()) {
        return Ok(path);
    }
    if let Some(found) = on_path(tool.program().as_ref()) {
        return Ok(found);
    }
    bail!("{} is not installed: {}", tool.program(), tool.install_hint())
}

/// The first `name` on PATH.
fn on_path(name: &std::ffi::OsStr) -> Option<PathBuf> {
    if Path::new(name).components().count() > 1 {
        return None;
    }
    let path: OsString = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The first line a tool prints for `--version` (empty when it prints nothing).
pub fn version(path: &Path) -> String {
    Command::new(path)
        .arg("--version")
        .output()
        .ok()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Runs a build step with its output passed through; an error names the step when it fails.
pub fn run(mut command: Command, what: &str) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {what} ({:?})", command.get_program()))?;
    if !status.success() {
        bail!("{what} failed ({status}); its messages are above");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_is_found_beside_the_running_binary_never_where_it_was_built() -> Result<()> {
        let checkout = tempfile::tempdir()?;
        std::fs::create_dir_all(checkout.path().join("scripts"))?;
        std::fs::write(checkout.path().join(SCRIPT), "#!/bin/sh\n")?;
        let release = checkout.path().join("target/release");
        std::fs::create_dir_all(&release)?;
        let found = checkout_script(&release.join("weir"));
        assert_eq!(found, Some(checkout.path().join(SCRIPT).canonicalize()?));
        let elsewhere = tempfile::tempdir()?;
        assert_eq!(checkout_script(&elsewhere.path().join("bin/weir")), None);
        // This test runs from this checkout's target directory, where the script is.
        let here = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(SCRIPT)
            .canonicalize()?;
        assert_eq!(script(), here.display().to_string());
        assert_eq!(script_note(), "");
        Ok(())
    }
}
