//! `weir dev`, the quickstart, as a user runs it: the binary starts its embedded broker, runs
//! word count on the bundled sample text, and prints each window's counts; the counts must be
//! the sample's own, whatever windows the wall clock split them into.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a `weir dev` run may take before the test gives up on it.
const TIMEOUT: Duration = Duration::from_secs(120);

fn weir_dev(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("dev")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start weir dev")
}

/// Each stdout line of `child` as it comes, on a channel; stderr whole, once it closes.
fn watch(child: &mut Child) -> (mpsc::Receiver<String>, std::thread::JoinHandle<String>) {
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    (received, errors)
}

/// Waits for `child` to exit, killing it after `timeout`.
fn wait(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait for weir dev") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// word → count over the window lines `[HH:MM:SS–HH:MM:SS) UTC  N words: w=n w=n ...`.
fn printed_counts(lines: &[String]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in lines.iter().filter(|l| l.starts_with('[')) {
        let (head, words) = line
            .split_once("words: ")
            .unwrap_or_else(|| panic!("a window line without counts: {line}"));
        let mut total = 0;
        for pair in words.split_whitespace() {
            let (word, n) = pair
                .rsplit_once('=')
                .unwrap_or_else(|| panic!("not word=count: {pair} in {line}"));
            let n: u64 = n.parse().unwrap_or_else(|_| panic!("not a count: {pair}"));
            *counts.entry(word.to_string()).or_default() += n;
            total += n;
        }
        assert!(
            head.contains(&format!("  {total} ")),
            "the window's total is not the sum of its counts: {line}"
        );
    }
    counts
}

/// The sample's word counts, by word count's rule: runs of letters and digits, lower-cased.
fn sample_counts() -> BTreeMap<String, u64> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/word-count/sample.txt");
    let text = std::fs::read_to_string(path).expect("the sample text");
    let mut counts = BTreeMap::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    counts
}

#[test]
fn dev_counts_the_sample_text_and_says_how_to_publish_more() {
    // Two-second windows keep the test short; the job is the same as with the default.
    let mut child = weir_dev(&["--once", "--window", "tumbling:2s"]);
    let (lines, errors) = watch(&mut child);
    let status = wait(&mut child, TIMEOUT);
    // The child has exited (or was killed): its stdout is closed, so this ends.
    let stdout: Vec<String> = lines.iter().collect();
    let stderr = errors.join().expect("stderr reader");
    let status = status.unwrap_or_else(|| {
        panic!(
            "weir dev --once did not finish within {TIMEOUT:?}\nstdout:\n{}\nstderr:\n{stderr}",
            stdout.join("\n")
        )
    });
    assert!(
        status.success(),
        "weir dev --once failed: {status}\nstdout:\n{}\nstderr:\n{stderr}",
        stdout.join("\n")
    );
    let exports = stdout
        .iter()
        .find_map(|l| l.trim().strip_prefix("export "))
        .unwrap_or_else(|| panic!("no export line in:\n{}", stdout.join("\n")));
    let brokers = exports
        .split_whitespace()
        .find_map(|v| v.strip_prefix("WEIR_BROKERS="))
        .unwrap_or_else(|| panic!("no WEIR_BROKERS in: {exports}"));
    assert!(brokers.starts_with("127.0.0.1:"), "{brokers}");
    assert!(
        stdout.iter().any(|l| l.contains("weir consume --topic counts")),
        "no ready consume command in:\n{}",
        stdout.join("\n")
    );
    let api = exports
        .split_whitespace()
        .find_map(|v| v.strip_prefix("WEIR_SERVER="))
        .unwrap_or_else(|| panic!("no WEIR_SERVER in: {exports}"));
    assert!(
        stdout
            .iter()
            .any(|l| l.starts_with(&format!("web console: {api}/"))),
        "no console URL in:\n{}",
        stdout.join("\n")
    );
    assert_eq!(printed_counts(&stdout), sample_counts());
}

#[test]
fn dev_stops_cleanly_on_ctrl_c() {
    let mut child = weir_dev(&["--no-sample"]);
    let (lines, errors) = watch(&mut child);
    let deadline = Instant::now() + TIMEOUT;
    let mut ready = false;
    while !ready && Instant::now() < deadline {
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => ready = line.contains("weir consume --topic"),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    assert!(ready, "weir dev printed no ready command");
    // Let the job join its groups, then interrupt it as Ctrl-C does.
    std::thread::sleep(Duration::from_secs(4));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let status = wait(&mut child, Duration::from_secs(30));
    let stderr = errors.join().expect("stderr reader");
    let status =
        status.unwrap_or_else(|| panic!("weir dev did not stop within 30s of SIGINT\nstderr:\n{stderr}"));
    assert!(
        status.success(),
        "weir dev failed on SIGINT: {status}\nstderr:\n{stderr}"
    );
}
