//! Small things of the `weir` command line, run as a user runs them: shell completions, and
//! hints that name no path of the machine the binary was built on.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .output()
        .expect("weir runs")
}

#[test]
fn cli_completions_for_bash_zsh_and_fish() {
    let bash = weir(&["completions", "bash"]);
    assert!(bash.status.success());
    let script = String::from_utf8_lossy(&bash.stdout);
    assert!(
        script.contains("complete -F _weir") && script.contains("--output-topic"),
        "{script}"
    );
    // bash loads it, and then completes `weir`.
    let mut child = Command::new("bash")
        .args(["-c", "source /dev/stdin; complete -p weir"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("bash starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bash.stdout)
        .expect("write the script");
    let done = child.wait_with_output().expect("bash runs");
    assert!(
        String::from_utf8_lossy(&done.stdout).contains("-F _weir weir"),
        "bash did not register the completion: {}",
        String::from_utf8_lossy(&done.stdout)
    );
    let zsh = weir(&["completions", "zsh"]);
    assert!(String::from_utf8_lossy(&zsh.stdout).starts_with("#compdef weir"));
    let fish = weir(&["completions", "fish"]);
    assert!(String::from_utf8_lossy(&fish.stdout).contains("complete -c weir"));
    let other = weir(&["completions", "tcsh"]);
    assert!(!other.status.success());
}

#[test]
#[cfg(feature = "toolchain")]
fn cli_toolchain_hints_name_no_path_of_the_build_machine() {
    // The binary, outside any checkout, as it would be on another machine.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let binary = dir.path().join("weir");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_weir"), &binary).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_weir"), &binary).expect("copy weir");
    }
    let project = dir.path().join("demo");
    let init = Command::new(&binary)
        .args(["init", "--lang", "python", "demo"])
        .current_dir(dir.path())
        .output()
        .expect("weir init runs");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let build = Command::new(&binary)
        .arg("build")
        .arg(&project)
        .env("WEIR_COMPONENTIZE_PY", dir.path().join("no-such-componentize-py"))
        .output()
        .expect("weir build runs");
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(!build.status.success(), "{stderr}");
    assert!(
        stderr.contains("`scripts/guest-toolchains install python` (run from a Weir checkout: "),
        "{stderr}"
    );
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the checkout")
        .display()
        .to_string();
    assert!(
        !stderr.contains(&checkout),
        "the build machine's checkout leaks: {stderr}"
    );
    let readme = std::fs::read_to_string(project.join("README.md")).expect("the README");
    assert!(!readme.contains(&checkout), "{readme}");
    // A Rust scaffold needs the SDK of a checkout; this binary is in none, and says so.
    let rust = Command::new(&binary)
        .args(["init", "--lang", "rust", "demo-rs"])
        .current_dir(dir.path())
        .output()
        .expect("weir init runs");
    let stderr = String::from_utf8_lossy(&rust.stderr);
    assert!(
        !rust.status.success() && stderr.contains("--rust-sdk"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&checkout),
        "the build machine's checkout leaks: {stderr}"
    );
}
