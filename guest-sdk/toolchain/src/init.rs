//! `weir init --lang rust|python|js|c NAME`: a new module project that builds with
//! `weir build` and passes `weir run` as it is.
//!
//! Every scaffold is its language's word count (the code of `examples/word-count*`, built into
//! this binary), with a README, a sample input (`sample.txt`) and a unit test that runs
//! natively. The per-language files with placeholders live in `guest-sdk/toolchain/templates/`.

use crate::project::Lang;
use crate::sdk;
use crate::tools::{self, COMPONENTIZE_JS_VERSION, COMPONENTIZE_PY_VERSION};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// Arguments of `weir init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The module's language.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// The project's name; also the directory created for it (in the current directory).
    pub name: String,
    /// Rust only: the `guest-sdk` directory of a Weir checkout (weir-sdk is not published
    /// yet). Default: the checkout this binary was built from.
    #[arg(long, value_name = "DIR")]
    pub rust_sdk: Option<PathBuf>,
}

const SAMPLE: &str = include_str!("../../../examples/word-count/sample.txt");

/// (path in the project, contents); `{{name}}`, `{{module}}` and friends are filled in.
type Files = &'static [(&'static str, &'static str)];

const RUST: Files = &[
    ("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
    (
        "rust-toolchain.toml",
        include_str!("../templates/rust/rust-toolchain.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../examples/word-count/src/lib.rs"),
    ),
    ("README.md", include_str!("../templates/rust/README.md")),
    (".gitignore", include_str!("../templates/rust/gitignore")),
];

const PYTHON: Files = &[
    (
        "pyproject.toml",
        include_str!("../templates/python/pyproject.toml"),
    ),
    (
        "{{module}}.py",
        include_str!("../../../examples/word-count-py/word_count.py"),
    ),
    (
        "alphanumeric.py",
        include_str!("../../../examples/word-count-py/alphanumeric.py"),
    ),
    (
        "test_{{module}}.py",
        include_str!("../../../examples/word-count-py/test_word_count.py"),
    ),
    ("README.md", include_str!("../templates/python/README.md")),
    (".gitignore", include_str!("../templates/python/gitignore")),
];

const JS: Files = &[
    ("package.json", include_str!("../templates/js/package.json")),
    (
        "{{module}}.js",
        include_str!("../../../examples/word-count-js/word_count.js"),
    ),
    (
        "alphanumeric.js",
        include_str!("../../../examples/word-count-js/alphanumeric.js"),
    ),
    (
        "{{module}}.test.js",
        include_str!("../../../examples/word-count-js/word_count.test.js"),
    ),
    ("README.md", include_str!("../templates/js/README.md")),
    (".gitignore", include_str!("../templates/js/gitignore")),
];

const C: Files = &[
    (
        "{{module}}.c",
        include_str!("../../../examples/word-count-c/word_count.c"),
    ),
    ("words.c", include_str!("../../../examples/word-count-c/words.c")),
    ("words.h", include_str!("../../../examples/word-count-c/words.h")),
    (
        "alphanumeric.h",
        include_str!("../../../examples/word-count-c/alphanumeric.h"),
    ),
    (
        "test_words.c",
        include_str!("../../../examples/word-count-c/test_words.c"),
    ),
    ("README.md", include_str!("../templates/c/README.md")),
    (".gitignore", include_str!("../templates/c/gitignore")),
];

/// Runs `weir init`.
pub fn init(args: &InitArgs) -> Result<()> {
    let name = args.name.as_str();
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!("`{name}` cannot name a project: use letters, digits, `-` and `_`, starting with a letter");
    }
    let dir = PathBuf::from(name);
    if dir.exists() {
        bail!(
            "{} already exists: choose another name, or remove it first",
            dir.display()
        );
    }
    let module = name.replace('-', "_");
    let sdk_path = match args.lang {
        Lang::Rust => rust_sdk(args.rust_sdk.as_deref())?.display().to_string(),
        _ => String::new(),
    };
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{module}}", &module)
            .replace("{{sdk_path}}", &sdk_path)
            .replace("{{toolchains}}", &tools::script())
            .replace("{{componentize_py}}", COMPONENTIZE_PY_VERSION)
            .replace("{{componentize_js}}", COMPONENTIZE_JS_VERSION)
    };
    let files = match args.lang {
        Lang::Rust => RUST,
        Lang::Python => PYTHON,
        Lang::Js => JS,
        Lang::C => C,
    };
    let mut written = Vec::new();
    for (path, text) in files.iter().copied().chain([("sample.txt", SAMPLE)]) {
        let path = fill(path);
        let mut text = fill(text);
        // The examples' tests import the example's module by its file name.
        if path.starts_with("test_") || path.ends_with(".test.js") {
            text = text.replace("word_count", &module);
        }
        sdk::write_file(&dir.join(&path), &text)?;
        written.push(path);
    }
    if args.lang == Lang::Python {
        // So the unit tests import `weir` before the first build (which writes it again).
        sdk::write(&dir.join("build/.weir/python"), sdk::PYTHON)?;
    }

    println!("created {name}/ ({} module): {}", args.lang, written.join(", "));
    println!(
        "next:\n  cd {name}\n  weir build\n  weir run --module build/{name}.wasm --input sample.txt --lines --window tumbling:10s"
    );
    let test = match args.lang {
        Lang::Rust => "cargo test".to_string(),
        Lang::Python => "python3 -m unittest".to_string(),
        Lang::Js => "node --test".to_string(),
        Lang::C => "cc -o build/test_words test_words.c words.c && build/test_words".to_string(),
    };
    println!("  {test}");
    Ok(())
}

/// The weir-sdk crate a Rust scaffold depends on, by path: `--rust-sdk`, else the guest-sdk of
/// the checkout the running `weir` is in (never where the binary was built).
fn rust_sdk(given: Option<&Path>) -> Result<PathBuf> {
    let dir = match given {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| {
                exe.ancestors()
                    .skip(1)
                    .take(4)
                    .map(|dir| dir.join("guest-sdk"))
                    .find(|dir| is_sdk(dir))
            })
            .with_context(|| {
                "weir-sdk is not published yet, and this weir does not run from a Weir checkout: \
                 pass --rust-sdk with the guest-sdk directory of a checkout"
                    .to_string()
            })?,
    };
    if !is_sdk(&dir) {
        bail!(
            "weir-sdk is not published yet, and {} is not its directory: pass --rust-sdk with the \
             guest-sdk directory of a Weir checkout",
            dir.display()
        );
    }
    dir.canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))
}

/// Whether `dir` holds the weir-sdk crate.
fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|text| text.contains("name = \"weir-sdk\""))
}
