//! Modules in Python, JavaScript and C, as users build and run them: `weir build` with the
//! toolchains `scripts/guest-toolchains` installs, then `weir run`. Every language's word count
//! must write exactly the records the Rust one writes; `weir init` scaffolds must build and
//! pass `weir run` out of the box; a Python guest must get errors, not data, from the sandbox.
//!
//! These tests need the toolchains (`scripts/guest-toolchains install`, which `scripts/test`
//! runs first); without them they fail with the install command.

mod tables;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runtime/ sits in the workspace")
        .to_path_buf()
}

/// A scratch directory for this test binary, under cargo's target dir.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("languages")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch dir");
    dir
}

/// Runs `weir ARGS` in `dir`.
fn weir(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("start weir")
}

fn succeeded(what: &str, output: Output) -> Output {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Copies a project's sources (not its build output) into `to`.
fn copy_project(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the project copy");
    for entry in std::fs::read_dir(from).expect("list the project") {
        let path = entry.expect("a directory entry").path();
        let name = path
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        if path.is_file() {
            std::fs::copy(&path, to.join(&name)).expect("copy a project file");
        } else if path.is_dir() && !matches!(name.as_str(), "build" | "node_modules" | "target") {
            copy_project(&path, &to.join(&name));
        }
    }
}

/// Builds `examples/word-count-LANG` once per test run (in a copy, so the source tree stays
/// clean); returns the component.
fn example(lang: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(lang) {
        return path.clone();
    }
    let project = scratch(&format!("example-{lang}")).join(format!("word-count-{lang}"));
    copy_project(
        &root().join("examples").join(format!("word-count-{lang}")),
        &project,
    );
    succeeded(
        &format!("weir build of the {lang} example"),
        weir(&project, &["build"]),
    );
    let component = project.join("build").join(format!("word-count-{lang}.wasm"));
    assert!(component.is_file(), "weir build wrote no {}", component.display());
    built.insert(lang.to_string(), component.clone());
    component
}

/// Text the Rust word count splits in ways a language's own tables would not: combining vowel
/// signs (Devanagari, Thai), numbers that are not ASCII digits, the final sigma, the dotted
/// capital I, decomposed accents, CJK, emoji and punctuation between words.
const MULTILINGUAL: &str = "\
Ünïcode straße ÉTÉ l'été NAÏVE café e\u{301}te\u{301}
ΟΔΟΣ Σοφία ΣΑΣ ΌΣΟΣ Σ σίσυφος
Русский текст, Ёлка и ЁЖ
नमस्ते दुनिया हिन्दी ภาษาไทย สวัสดี
日本語のテキスト 中文字 한국어 텍스트
x² ½ ٣٤ ² Ⅻ 2024–2025 १२३
İstanbul İSTANBUL DİYARBAKIR
snake_case don't e-mail 🙂emoji🙂 tab\tand\u{a0}nbsp
";

/// The lines `weir run` prints for `module` over `input` (text lines), sorted: each line is
/// one output record's value, byte for byte. (The Kafka test compares the record keys too.)
fn word_count_records(dir: &Path, module: &str, input: &Path) -> Vec<String> {
    let output = succeeded(
        &format!("weir run --module {module}"),
        weir(
            dir,
            &[
                "run",
                "--module",
                module,
                "--input",
                &input.display().to_string(),
                "--lines",
                "--window",
                "tumbling:10s",
                "--quiet",
            ],
        ),
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// The sample text plus the multilingual lines, as a file.
fn word_count_input(dir: &Path) -> PathBuf {
    let sample =
        std::fs::read_to_string(root().join("examples/word-count/sample.txt")).expect("the sample text");
    let path = dir.join("input.txt");
    std::fs::write(&path, format!("{sample}{MULTILINGUAL}")).expect("write the input");
    path
}

fn matches_rust(lang: &str) {
    let component = example(lang);
    let dir = scratch(&format!("run-{lang}"));
    let input = word_count_input(&dir);
    let rust = word_count_records(&dir, weir_guest_artifacts::WORD_COUNT, &input);
    let got = word_count_records(&dir, &component.display().to_string(), &input);
    // Spot checks that the reference saw what the multilingual lines are for.
    for word in [
        "\"दुनिया\"",
        "\"οδος\"",
        "\"σας\"",
        "\"i\u{307}stanbul\"",
        "\"x²\"",
        "\"٣٤\"",
        "\"ภาษาไทย\"",
    ] {
        assert!(
            rust.iter().any(|line| line.contains(&format!("\"key\":{word}"))),
            "the Rust word count has no {word}"
        );
    }
    assert!(rust.len() > 150, "{} records", rust.len());
    let missing: Vec<&String> = rust.iter().filter(|l| !got.contains(l)).collect();
    let extra: Vec<&String> = got.iter().filter(|l| !rust.contains(l)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the {lang} word count differs from Rust's:\nonly in Rust's: {missing:#?}\nonly in {lang}'s: {extra:#?}"
    );
    assert_eq!(got, rust);
}

#[test]
fn python_word_count_writes_what_the_rust_one_writes() {
    matches_rust("py");
}

#[test]
fn javascript_word_count_writes_what_the_rust_one_writes() {
    matches_rust("js");
}

#[test]
fn c_word_count_writes_what_the_rust_one_writes() {
    matches_rust("c");
}

/// Tries what a guest must not be able to do, and emits what it got: errors, not data.
const PYTHON_PROBE: &str = r#"
import os
import weir

def attempt(what, action):
    try:
        return what, "got: " + repr(action())
    except Exception as e:
        return what, f"error: {type(e).__name__}"

def connect():
    import socket
    with socket.create_connection(("127.0.0.1", 22), timeout=1) as s:
        return s.recv(16)

@weir.map
def map(record):
    if record.text() == "boom":
        raise ValueError("boom")
    return [
        attempt("read /etc/passwd", lambda: open("/etc/passwd").read()),
        attempt("write /tmp", lambda: open("/tmp/weir-probe", "w").write("x")),
        attempt("list /", lambda: os.listdir("/")),
        attempt("list .", lambda: os.listdir(".")),
        attempt("environment", lambda: dict(os.environ)),
        attempt("socket", connect),
        attempt("clock", lambda: __import__("time").time()),
    ]

@weir.reduce
def reduce(a, b):
    return a
"#;

#[test]
fn a_python_guest_gets_errors_not_data_from_the_sandbox() {
    let dir = scratch("probe");
    let project = dir.join("probe");
    std::fs::create_dir_all(&project).expect("create the probe project");
    std::fs::write(project.join("pyproject.toml"), "[project]\nname = \"probe\"\n").expect("write");
    std::fs::write(project.join("probe.py"), PYTHON_PROBE).expect("write");
    succeeded("weir build of the probe", weir(&project, &["build"]));
    let input = dir.join("input.txt");
    std::fs::write(&input, "probe\nboom\n").expect("write");
    let dead = dir.join("dead.jsonl");
    let output = succeeded(
        "weir run of the probe",
        weir(
            &project,
            &[
                "run",
                "--module",
                "build/probe.wasm",
                "--input",
                &input.display().to_string(),
                "--lines",
                "--dead-letters",
                &dead.display().to_string(),
                "--quiet",
            ],
        ),
    );
    let got: BTreeMap<String, String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("JSON output");
            (
                v["key"].as_str().expect("a key").to_string(),
                v["value"].as_str().expect("a value").to_string(),
            )
        })
        .collect();
    let want: BTreeMap<String, String> = [
        ("read /etc/passwd", "error: FileNotFoundError"),
        ("write /tmp", "error: FileNotFoundError"),
        ("list /", "error: FileNotFoundError"),
        ("list .", "error: FileNotFoundError"),
        // Nothing inherited from the host's environment.
        ("environment", "got: {}"),
        // componentize-py's CPython has no socket module; WASI sockets are denied beneath it.
        ("socket", "error: ModuleNotFoundError"),
        // The clock is frozen at the epoch.
        ("clock", "got: 0.0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);

    // An exception in map is a dead letter with the author's line, and the stream goes on.
    let letters = std::fs::read_to_string(&dead).expect("the dead letters");
    let letter: serde_json::Value = serde_json::from_str(letters.trim()).expect("one dead letter");
    assert_eq!(letter["reason"], "rejected", "{letter}");
    assert_eq!(letter["record"]["value"], "boom", "{letter}");
    let message = letter["message"].as_str().expect("a message");
    assert!(message.starts_with("ValueError: boom (at probe.py:"), "{message}");
}

/// `weir init --lang LANG demo-LANG`, `weir build`, `weir run` over its sample: the records
/// the Rust word count writes for that sample. Then the scaffold's own unit test.
fn scaffold(lang: &str) -> PathBuf {
    let dir = scratch(&format!("init-{lang}"));
    let name = format!("demo-{lang}");
    succeeded(
        &format!("weir init --lang {lang}"),
        weir(&dir, &["init", "--lang", lang, &name]),
    );
    let project = dir.join(&name);
    for file in ["README.md", "sample.txt", ".gitignore"] {
        assert!(project.join(file).is_file(), "the {lang} scaffold has no {file}");
    }
    let again = weir(&dir, &["init", "--lang", lang, &name]);
    assert!(
        !again.status.success(),
        "init over an existing project must refuse"
    );

    succeeded(
        &format!("weir build of the {lang} scaffold"),
        weir(&project, &["build"]),
    );
    let component = format!("build/{name}.wasm");
    let sample = project.join("sample.txt");
    let got = word_count_records(&project, &component, &sample);
    let rust = word_count_records(&project, weir_guest_artifacts::WORD_COUNT, &sample);
    assert!(!rust.is_empty());
    assert_eq!(got, rust, "the {lang} scaffold's output over its sample");
    project
}

fn native_test(project: &Path, program: &str, args: &[&str]) {
    let output = Command::new(program)
        .current_dir(project)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    succeeded(&format!("{program} {}", args.join(" ")), output);
}

#[test]
fn python_scaffold_builds_runs_and_passes_its_test() {
    let project = scaffold("python");
    native_test(&project, "python3", &["-m", "unittest", "-v"]);
}

#[test]
fn javascript_scaffold_builds_runs_and_passes_its_test() {
    let project = scaffold("js");
    native_test(&project, "node", &["--test"]);
}

#[test]
fn c_scaffold_builds_runs_and_passes_its_test() {
    let project = scaffold("c");
    let test = project.join("build").join("test_words");
    native_test(
        &project,
        "cc",
        &["-o", &test.display().to_string(), "test_words.c", "words.c"],
    );
    native_test(&project, &test.display().to_string(), &[]);
}

#[test]
fn rust_scaffold_builds_and_runs() {
    // Its unit test is plain `cargo test` (not run here: a second, native build of its
    // dependencies would cost a minute for no new coverage).
    scaffold("rust");
}

#[test]
fn a_missing_toolchain_names_the_script_that_installs_it() {
    let dir = scratch("missing");
    let empty = dir.join("no-toolchains");
    std::fs::create_dir_all(&empty).expect("create");
    for (lang, install) in [("py", "install python"), ("js", "install js"), ("c", "install c")] {
        let project = dir.join(lang);
        copy_project(
            &root().join("examples").join(format!("word-count-{lang}")),
            &project,
        );
        let output = Command::new(env!("CARGO_BIN_EXE_weir"))
            .current_dir(&project)
            .arg("build")
            .env("WEIR_TOOLCHAINS", &empty)
            .env("WEIR_CLANG", empty.join("clang"))
            .env("PATH", "/nonexistent")
            .output()
            .expect("start weir");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{lang}: built without a toolchain");
        assert!(
            stderr.contains("scripts/guest-toolchains") && stderr.contains(install),
            "{lang}: the error does not say how to install the toolchain:\n{stderr}"
        );
    }
}

#[test]
fn the_word_tables_are_rusts_is_alphanumeric() {
    let ranges = tables::ranges();
    let bless = std::env::var_os("WEIR_BLESS").is_some();
    let examples = root().join("examples");
    for (path, want) in [
        (
            examples.join("word-count-py/alphanumeric.py"),
            tables::python(&ranges),
        ),
        (
            examples.join("word-count-js/alphanumeric.js"),
            tables::js(&ranges),
        ),
        (examples.join("word-count-c/alphanumeric.h"), tables::c(&ranges)),
    ] {
        let got = std::fs::read_to_string(&path).unwrap_or_default();
        if got == want {
            continue;
        }
        if bless {
            std::fs::File::create(&path)
                .and_then(|mut f| f.write_all(want.as_bytes()))
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        } else {
            panic!(
                "{} is not Rust's char::is_alphanumeric of this toolchain: rerun with WEIR_BLESS=1 \
                 to regenerate it",
                path.display()
            );
        }
    }
}
