//! The contract and the guest SDKs, built into the `weir` binary so `weir build` works in any
//! directory: it writes what a build needs under the project's `build/.weir/`.

use anyhow::{Context, Result};
use std::path::Path;

/// The WIT world every module targets (`guest-sdk/wit/weir.wit`).
pub const WIT: &str = include_str!("../../wit/weir.wit");

/// The Python SDK, the `weir` package (`guest-sdk/python/weir`).
pub const PYTHON: &[(&str, &str)] = &[
    ("weir/__init__.py", include_str!("../../python/weir/__init__.py")),
    (
        "weir/_component.py",
        include_str!("../../python/weir/_component.py"),
    ),
    ("weir/_errors.py", include_str!("../../python/weir/_errors.py")),
    ("weir/_guest.py", include_str!("../../python/weir/_guest.py")),
    (
        "weir/_registry.py",
        include_str!("../../python/weir/_registry.py"),
    ),
    ("weir/_types.py", include_str!("../../python/weir/_types.py")),
];

/// The JavaScript SDK (`guest-sdk/js/weir.js`).
pub const JS: &[(&str, &str)] = &[("weir.js", include_str!("../../js/weir.js"))];

/// The C SDK (`guest-sdk/c`).
pub const C: &[(&str, &str)] = &[
    ("weir.h", include_str!("../../c/weir.h")),
    ("weir.c", include_str!("../../c/weir.c")),
];

/// Writes `files` under `dir`, replacing what a previous build left.
pub fn write(dir: &Path, files: &[(&str, &str)]) -> Result<()> {
    for (name, text) in files {
        write_file(&dir.join(name), text)?;
    }
    Ok(())
}

/// Writes one file, creating its directory.
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
