//! `weir run` as a user runs it: the binary, a module built from `examples/`, a file of records.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn weir_run(module: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--module", module])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start weir");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("weir runs");
    assert!(
        output.status.success(),
        "weir run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// (window_start, key) → value of `weir run` output lines.
fn by_window_and_key(lines: &[Value]) -> BTreeMap<(i64, String), Value> {
    lines
        .iter()
        .map(|v| {
            let start = v["window_start"].as_i64().expect("window_start");
            let end = v["window_end"].as_i64().expect("window_end");
            assert!(end > start);
            (
                (start, v["key"].as_str().expect("key").to_string()),
                v["value"].clone(),
            )
        })
        .collect()
}

#[test]
fn word_count_over_the_sample_matches_a_hand_count_per_window() {
    let sample = format!("{}/../examples/word-count/sample.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&sample).expect("sample text");
    let output = weir_run(
        weir_guest_artifacts::WORD_COUNT,
        &["--input", &sample, "--lines", "--window", "tumbling:10s"],
        "",
    );
    let got = by_window_and_key(&json_lines(&output.stdout));

    // By hand: line i is at i seconds, so window k holds lines 10k..10k+9.
    let mut want: BTreeMap<(i64, String), Value> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let window_start = (i as i64 / 10) * 10_000;
        for word in line
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let slot = want
                .entry((window_start, word.to_lowercase()))
                .or_insert(json!(0));
            *slot = json!(slot.as_u64().unwrap_or(0) + 1);
        }
    }
    assert_eq!(got, want);
    assert_eq!(
        got[&(0, "the".to_string())],
        json!(9),
        "spot check: 'the' in the first ten lines"
    );
    assert_eq!(
        got[&(10_000, "été".to_string())],
        json!(3),
        "Unicode words are lower-cased"
    );
    let summary = String::from_utf8_lossy(&output.stderr);
    assert!(
        summary.contains("20 records") && summary.contains("0 dead letters"),
        "{summary}"
    );
}

#[test]
fn hopping_and_session_windows_by_hand() {
    let input = [
        json!({"value": "a b", "timestamp": 0}),
        json!({"value": "b", "timestamp": 1000}),
        json!({"value": "a", "timestamp": 5000}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");

    let sessions = weir_run(
        weir_guest_artifacts::WORD_COUNT,
        &["--window", "session:2s", "-q"],
        &input,
    );
    assert_eq!(
        json_lines(&sessions.stdout),
        [
            json!({"window_start": 0, "window_end": 2000, "key": "a", "value": 1}),
            json!({"window_start": 0, "window_end": 3000, "key": "b", "value": 2}),
            json!({"window_start": 5000, "window_end": 7000, "key": "a", "value": 1}),
        ]
    );

    let hopping = weir_run(
        weir_guest_artifacts::WORD_COUNT,
        &["--window", "hopping:4s,2s", "-q"],
        &input,
    );
    let got = by_window_and_key(&json_lines(&hopping.stdout));
    let want: BTreeMap<(i64, String), Value> = [
        ((-2000, "a"), 1),
        ((-2000, "b"), 2),
        ((0, "a"), 1),
        ((0, "b"), 2),
        ((2000, "a"), 1),
        ((4000, "a"), 1),
    ]
    .into_iter()
    .map(|((s, k), v)| ((s, k.to_string()), json!(v)))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn processing_time_windows_by_the_wall_clock() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    // Record timestamps are ignored in processing time: these are decades apart.
    let input = [
        json!({"value": "x y", "timestamp": 0}),
        json!({"value": "x", "timestamp": 999_999_999_999_i64}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let output = weir_run(
        weir_guest_artifacts::WORD_COUNT,
        &["--window", "tumbling:1h", "--time", "processing", "-q"],
        &input,
    );
    let lines = json_lines(&output.stdout);
    let total: u64 = lines.iter().map(|l| l["value"].as_u64().expect("count")).sum();
    assert_eq!(total, 3);
    for line in &lines {
        let start = line["window_start"].as_i64().expect("start");
        assert!(
            start <= before + 3_600_000 && start > before - 7_200_000,
            "window near now: {line}"
        );
    }
}

#[test]
fn sensor_stats_takes_event_time_from_the_reading() {
    let readings = [
        ("s1", 1.5, 1_000),
        ("s2", 10.0, 2_000),
        ("s1", 2.5, 9_999),
        ("s1", -4.0, 10_000),
        ("s2", 20.0, 3_000),
    ];
    let input: String = readings
        .iter()
        .map(|(s, v, ts)| {
            // The record timestamp is deliberately far off: the event time is `ts`.
            json!({"value": {"sensor": s, "value": v, "ts": ts}, "timestamp": 999_999_999}).to_string() + "\n"
        })
        .collect();
    // s2's reading at 3s arrives after s1's at 10s: it needs out-of-orderness to count.
    let output = weir_run(
        weir_guest_artifacts::SENSOR_STATS,
        &["--window", "tumbling:10s", "--out-of-orderness", "10s", "-q"],
        &input,
    );
    let got = by_window_and_key(&json_lines(&output.stdout));
    let stats = |count: u64, sum: f64, min: f64, max: f64| json!({"count": count, "sum": sum, "min": min, "max": max, "mean": sum / count as f64});
    let want: BTreeMap<(i64, String), Value> = [
        ((0, "s1".to_string()), stats(2, 4.0, 1.5, 2.5)),
        ((0, "s2".to_string()), stats(2, 30.0, 10.0, 20.0)),
        ((10_000, "s1".to_string()), stats(1, -4.0, -4.0, -4.0)),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);

    let strict = weir_run(
        weir_guest_artifacts::SENSOR_STATS,
        &["--window", "tumbling:10s", "-q"],
        &input,
    );
    let got = by_window_and_key(&json_lines(&strict.stdout));
    assert_eq!(
        got[&(0, "s2".to_string())],
        stats(1, 10.0, 10.0, 10.0),
        "without slack the 3s reading is late"
    );
    let dead = json_lines(&strict.stderr);
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0]["reason"].as_str(), dead[0]["record"]["offset"].as_i64()),
        (Some("late"), Some(4))
    );
}

#[test]
fn filter_keeps_and_reshapes_big_orders() {
    let orders = [
        ("o1", "alice", 99.99),
        ("o2", "bob", 100.0),
        ("o3", "alice", 250.456),
    ];
    let input: String = orders
        .iter()
        .map(|(id, c, a)| {
            json!({"value": {"id": id, "customer": c, "amount": a, "currency": "EUR"}}).to_string() + "\n"
        })
        .collect();
    let output = weir_run(weir_guest_artifacts::FILTER, &["--with-keys", "-q"], &input);
    let got: Vec<(Value, Value)> = json_lines(&output.stdout)
        .into_iter()
        .map(|v| (v["key"].clone(), v["value"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                json!("bob"),
                json!({"id": "o2", "customer": "bob", "total_cents": 10000, "currency": "EUR"})
            ),
            (
                json!("alice"),
                json!({"id": "o3", "customer": "alice", "total_cents": 25046, "currency": "EUR"})
            ),
        ]
    );
}

#[test]
fn late_and_undecodable_records_go_to_the_dead_letters_with_reasons() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dead_path = dir.path().join("dead.jsonl");
    let input = [
        json!({"value": "a", "timestamp": 0}).to_string(),
        json!({"value": "b", "timestamp": 20_000}).to_string(),
        "this line is not JSON".to_string(),
        json!({"value": "late", "timestamp": 1_000}).to_string(),
    ]
    .join("\n");
    let output = weir_run(
        weir_guest_artifacts::WORD_COUNT,
        &[
            "--window",
            "tumbling:10s",
            "--dead-letters",
            dead_path.to_str().expect("utf-8 path"),
        ],
        &input,
    );
    let outputs = by_window_and_key(&json_lines(&output.stdout));
    assert_eq!(
        outputs.len(),
        2,
        "a and b are counted, the late record is not: {outputs:?}"
    );
    let dead = json_lines(&std::fs::read(&dead_path).expect("dead letters written"));
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert_eq!(dead[0]["reason"], "undecodable");
    assert_eq!(dead[0]["line"], 3);
    assert_eq!(dead[1]["reason"], "late");
    assert_eq!(dead[1]["record"]["offset"], 3);
    assert_eq!(dead[1]["record"]["value"], "late");
    let summary = String::from_utf8_lossy(&output.stderr);
    assert!(
        summary.contains("2 dead letters (1 late, 1 undecodable)"),
        "{summary}"
    );
}

#[test]
fn a_bad_module_fails_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "not a module").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--module", path.to_str().expect("utf-8"), "--input", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("weir runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a WebAssembly file"), "{stderr}");
}

#[test]
fn map_threads_change_nothing_in_the_output_or_the_dead_letters() {
    // Out-of-order records, some of them late, capitalized words (a copy in the guest) and
    // undecodable lines, in batches of 4: the map threads' combined batches meet windows that
    // close mid-batch and records that are late.
    let mut input = String::new();
    for i in 0..600i64 {
        let t = (i * 37 % 100) * 40 + i * 15;
        let line = json!({"value": format!("w{} w{} W{} w{}", i % 7, i % 3, i % 5, i % 7), "timestamp": t});
        input.push_str(&format!("{line}\n"));
        if i % 97 == 0 {
            input.push_str("not json\n");
        }
    }
    let run = |threads: &str| {
        let args = [
            "--window",
            "tumbling:1s",
            "--out-of-orderness",
            "300ms",
            "--batch-size",
            "4",
            "--map-threads",
            threads,
            "--quiet",
        ];
        let output = weir_run("word-count", &args, &input);
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (alone, alone_dead) = run("0");
    assert!(json_lines(alone.as_bytes()).len() > 20, "{alone}");
    assert!(
        alone_dead.contains("\"late\""),
        "the input has late records: {alone_dead}"
    );
    assert!(alone_dead.contains("\"undecodable\""), "{alone_dead}");
    for threads in ["1", "3"] {
        let (got, dead) = run(threads);
        assert_eq!(got, alone, "output with {threads} map threads");
        assert_eq!(dead, alone_dead, "dead letters with {threads} map threads");
    }
}

/// `weir run --module MODULE ARGS` over `stdin`, whatever its exit status.
fn weir_run_status(module: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--module", module])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start weir");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("weir runs")
}

#[test]
fn cli_run_fails_when_every_record_is_a_dead_letter_and_hints_at_lines() {
    let text = "the quick brown fox\njumps over the lazy dog\n";
    let done = weir_run_status(
        weir_guest_artifacts::WORD_COUNT,
        &["--window", "tumbling:10s"],
        text,
    );
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: every record read (2) went to the dead letters")
            && stderr.contains("did you mean --lines?"),
        "{stderr}"
    );
    assert!(stderr.contains("2 dead letters (2 undecodable)"), "{stderr}");

    // JSON records the module refuses, every one: a failure, with no --lines hint.
    let refused = "{\"value\":\"reject\"}\n{\"value\":\"reject\"}\n";
    let done = weir_run_status(
        weir_guest_artifacts::HOSTILE_PANIC,
        &["--window", "tumbling:10s"],
        refused,
    );
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("every record read (2) went to the dead letters"),
        "{stderr}"
    );
    assert!(!stderr.contains("--lines"), "{stderr}");

    // One good record among them: a success, and "1 record" in the singular.
    let done = weir_run_status(weir_guest_artifacts::WORD_COUNT, &["--lines"], "hello\n");
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    assert!(
        stderr.contains("weir run: 1 record, 1 pair, 1 window result, 1 output, 0 dead letters"),
        "{stderr}"
    );
    let done = weir_run_status(
        weir_guest_artifacts::HOSTILE_PANIC,
        &["--window", "tumbling:10s"],
        "{\"value\":\"reject\"}\n{\"value\":\"fine\"}\n",
    );
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
}
