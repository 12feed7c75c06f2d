//! The CLI against `weir dev`, as a new user meets it: one embedded broker and API for the
//! whole module (started on first use, stopped when the test binary exits), and `weir
//! produce`, `consume`, `module` and `job` run as processes, pointed at it only by the
//! `export WEIR_BROKERS=... WEIR_SERVER=...` line `weir dev` prints. Each test uses topics,
//! modules and jobs of its own, so they run side by side.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// How long `weir dev` may take to print its banner and serve its API.
const START: Duration = Duration::from_secs(120);

/// The shared `weir dev`: what its banner exported.
pub(crate) struct Dev {
    /// The embedded broker's bootstrap address (`WEIR_BROKERS`).
    pub(crate) brokers: String,
    server: String,
    port: u16,
    /// `weir dev` runs under `sh`, which stops it when this pipe closes (when the test binary
    /// exits, whichever way): Rust never drops statics, so nothing else would.
    _lifeline: Mutex<(Child, ChildStdin)>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub(crate) static DEV: LazyLock<Dev> = LazyLock::new(|| {
    let (port, api) = (free_port(), free_port());
    let script = format!(
        "\"$0\" dev --no-sample --port {port} --listen 127.0.0.1:{api} & pid=$!; \
         read _; kill -INT $pid; wait $pid"
    );
    let mut child = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_weir")])
        .env("WEIR_LOG", "warn,librdkafka=off,rdkafka=off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start weir dev");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + START;
    let mut banner = Vec::new();
    let exports = loop {
        let line = received
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("weir dev printed no export line:\n{}", banner.join("\n")));
        if let Some(exports) = line.trim().strip_prefix("export ") {
            break exports.to_string();
        }
        banner.push(line);
    };
    let var = |name: &str| {
        exports
            .split_whitespace()
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in `export {exports}`"))
            .to_string()
    };
    let dev = Dev {
        brokers: var("WEIR_BROKERS"),
        server: var("WEIR_SERVER"),
        port,
        _lifeline: Mutex::new((child, stdin)),
    };
    // The API answers once the registry is read.
    while dev.weir(&["job", "list"]).is_err() {
        assert!(
            Instant::now() < deadline,
            "weir dev's API never answered `weir job list`"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    dev
});

impl Dev {
    /// `weir ARGS` with the banner's exports and no other setting, with `stdin`.
    fn run<A: AsRef<str>>(&self, args: &[A], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args.iter().map(AsRef::as_ref))
            .env_remove("WEIR_TOKEN")
            .env("WEIR_CLIENT_CONFIG", "/dev/null")
            .env("WEIR_BROKERS", &self.brokers)
            .env("WEIR_SERVER", &self.server)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start weir");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).expect("write stdin");
        drop(input);
        child.wait_with_output().expect("weir runs")
    }

    /// `weir ARGS`: its stdout, or its stderr as the error.
    fn weir<A: AsRef<str>>(&self, args: &[A]) -> Result<String, String> {
        self.weir_with(args, "")
    }

    /// `weir ARGS` with `stdin`: its stdout, or its stderr as the error.
    fn weir_with<A: AsRef<str>>(&self, args: &[A], stdin: &str) -> Result<String, String> {
        let output = self.run(args, stdin);
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// `weir ARGS`, which must succeed.
    fn ok<A: AsRef<str>>(&self, args: &[A]) -> String {
        self.ok_with(args, "")
    }

    /// `weir ARGS` with `stdin`, which must succeed.
    fn ok_with<A: AsRef<str>>(&self, args: &[A], stdin: &str) -> String {
        self.weir_with(args, stdin)
            .unwrap_or_else(|err| panic!("weir {} failed:\n{err}", shown(args)))
    }

    /// `weir ARGS`, which must fail: its stderr.
    fn fails<A: AsRef<str>>(&self, args: &[A]) -> String {
        self.fails_with(args, "")
    }

    /// `weir ARGS` with `stdin`, which must fail: its stderr.
    fn fails_with<A: AsRef<str>>(&self, args: &[A], stdin: &str) -> String {
        match self.weir_with(args, stdin) {
            Ok(out) => panic!("weir {} succeeded:\n{out}", shown(args)),
            Err(err) => err,
        }
    }

    /// A topic of its own (`PREFIX-...`), created with `lines` in it.
    fn topic(&self, prefix: &str, lines: &str) -> String {
        let topic = unique(prefix);
        self.ok_with(&["produce", "-t", &topic, "--create"], lines);
        topic
    }

    /// `component` uploaded as a module of its own (`PREFIX-...`: another module id, the same
    /// behaviour): its name.
    fn module(&self, component: &str, prefix: &str) -> String {
        let module = unique(prefix);
        let (_dir, file) = variant(component, &module);
        self.ok(&["module", "upload", &file, "--name", &module]);
        module
    }
}

/// `weir ARGS` as a command line, for messages.
fn shown<A: AsRef<str>>(args: &[A]) -> String {
    args.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ")
}

/// `job create JOB --module MODULE --input INPUT --output-topic OUT` (an output topic of its
/// own), then `extra` (`--window tumbling:10s` for a map/reduce module).
fn create_job(job: &str, module: &str, input: &str, extra: &[&str]) -> Vec<String> {
    let output = unique(&format!("{job}-out"));
    let mut args = [
        "job",
        "create",
        job,
        "--module",
        module,
        "--input",
        input,
        "--output-topic",
        &output,
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// A map/reduce job's window in these tests.
const WINDOW: [&str; 2] = ["--window", "tumbling:10s"];

/// A name no other test uses.
pub(crate) fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn cli_dev_pins_its_broker_port_and_exports_what_the_cli_reads() {
    let dev = &*DEV;
    assert_eq!(
        dev.brokers,
        format!("127.0.0.1:{}", dev.port),
        "--port is the port clients use"
    );
    assert!(dev.server.starts_with("http://127.0.0.1:"), "{}", dev.server);
    // Through the fixed port, with nothing but the exported variables.
    let topic = "lines";
    dev.ok_with(&["produce", "--topic", topic], "pinned port\n");
    let printed = dev.ok(&["consume", "--topic", topic, "--idle-timeout", "3s"]);
    assert!(printed.contains("pinned port"), "{printed}");
}

#[test]
fn cli_dev_jobs_of_the_config_list_and_show_without_a_creation_time() {
    let dev = &*DEV;
    let table = dev.ok(&["job", "list"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("word-count "))
        .unwrap_or_else(|| panic!("no word-count row:\n{table}"));
    assert!(
        row.trim_end().ends_with("<none>"),
        "AGE of a config-file job: {row}"
    );
    let listed = json(&dev.ok(&["job", "list", "-o", "json"]));
    let job = listed["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["name"] == "word-count"))
        .unwrap_or_else(|| panic!("word-count is not listed: {listed}"));
    assert_eq!(job["source"], "config");
    assert!(job.get("created_at").is_none(), "no null creation time: {job}");
    let status = dev.ok(&["job", "status", "word-count"]);
    assert!(
        status.contains("Created:      <none> (a runtime's config file)"),
        "{status}"
    );
    dev.ok(&["job", "status", "word-count", "-o", "yaml"]);
}

#[test]
fn cli_dev_produce_refuses_an_unknown_topic_unless_told_to_create_it() {
    let dev = &*DEV;
    let topic = unique("never-made");
    let err = dev.fails_with(&["produce", "-t", &topic], "x\n");
    assert!(
        err.contains(&format!("topic `{topic}` does not exist")) && err.contains("--create"),
        "{err}"
    );
    // The refusal did not create it behind the user's back (the embedded broker creates
    // topics a producer asks about).
    let err = dev.fails_with(&["produce", "-t", &topic], "x\n");
    assert!(err.contains("does not exist"), "{err}");
    let err = dev.fails(&["consume", "-t", &topic, "--idle-timeout", "1s"]);
    assert!(err.contains("does not exist"), "{err}");
    let done = dev.run(&["produce", "-t", &topic, "--create"], "made\n");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let said = String::from_utf8_lossy(&done.stderr);
    assert!(said.contains(&format!("created topic `{topic}`")), "{said}");
    assert!(
        said.contains(&format!("1 record to {topic}")),
        "one record, singular: {said}"
    );
    let printed = dev.ok(&["consume", "-t", &topic, "--idle-timeout", "3s"]);
    assert!(printed.contains("\"made\""), "{printed}");
}

#[test]
fn cli_dev_consume_shows_the_headers_produce_sent() {
    let dev = &*DEV;
    let topic = unique("headers");
    let records = [
        r#"{"key":"k1","value":"first","headers":{"weir.reason":"late","tag":["a","b"]}}"#,
        r#"{"value":"keyless"}"#,
    ]
    .join("\n");
    dev.ok_with(
        &["produce", "-t", &topic, "--create", "--json", "-k", "fallback"],
        &records,
    );
    let printed = dev.ok(&["consume", "-t", &topic, "-n", "2", "--idle-timeout", "5s"]);
    let lines: Vec<Value> = printed.lines().map(json).collect();
    let first = lines
        .iter()
        .find(|l| l["value"] == "first")
        .unwrap_or_else(|| panic!("no first record: {printed}"));
    assert_eq!(first["key"], "k1", "a record's own key wins over -k");
    assert_eq!(
        first["headers"],
        serde_json::json!({"weir.reason": "late", "tag": ["a", "b"]}),
        "{printed}"
    );
    let keyless = lines
        .iter()
        .find(|l| l["value"] == "keyless")
        .unwrap_or_else(|| panic!("no keyless record: {printed}"));
    assert_eq!(keyless["key"], "fallback", "-k is the key of records without one");
    assert_eq!(keyless["headers"], serde_json::json!({}));
    let text = dev.ok(&[
        "consume",
        "-t",
        &topic,
        "-n",
        "2",
        "-o",
        "text",
        "--idle-timeout",
        "5s",
    ]);
    assert!(text.contains("  header weir.reason: late\n"), "{text}");
    assert!(text.contains("  header tag: a\n  header tag: b\n"), "{text}");
    assert!(text.contains("  value: first\n"), "{text}");
    // What consume prints, produce reads back: headers included.
    let copy = unique("headers-copy");
    dev.ok_with(&["produce", "-t", &copy, "--create", "--json"], &printed);
    let again = dev.ok(&["consume", "-t", &copy, "-n", "2", "--idle-timeout", "5s"]);
    assert!(
        again.contains(r#""headers":{"tag":["a","b"],"weir.reason":"late"}"#),
        "{again}"
    );
}

#[test]
fn cli_dev_produce_json_refuses_unknown_fields() {
    let dev = &*DEV;
    let topic = unique("strict");
    let err = dev.fails_with(
        &["produce", "-t", &topic, "--create", "--json"],
        "{\"value\":\"fine\"}\n{\"val\":\"typo\"}\n",
    );
    assert!(
        err.contains("line 2 is not a record: unknown field `val`"),
        "{err}"
    );
}

#[test]
fn cli_dev_consume_idle_timeout_counts_from_the_assignment() {
    let dev = &*DEV;
    let topic = unique("idle");
    let lines: String = (0..25).map(|i| format!("line {i}\n")).collect();
    dev.ok_with(&["produce", "-t", &topic, "--create"], &lines);
    // A group member first joins its group, which takes the embedded broker seconds; the idle
    // clock must not count that.
    for group in [None, Some(unique("group"))] {
        let mut args = vec!["consume", "-t", &topic, "--idle-timeout", "2s"];
        if let Some(group) = &group {
            args.extend(["--group", group]);
        }
        let printed = dev.ok(&args);
        assert_eq!(printed.lines().count(), 25, "group {group:?}:\n{printed}");
    }
}

#[test]
fn cli_dev_dash_o_is_the_format_everywhere_and_wide_adds_columns() {
    let dev = &*DEV;
    let wide = dev.ok(&["job", "list", "-o", "wide"]);
    let header = wide.lines().next().unwrap_or_default();
    for column in ["NAME", "AGE", "INPUT", "OUTPUT", "WINDOW", "SOURCE", "RUNTIMES"] {
        assert!(header.contains(column), "{column} missing from:\n{wide}");
    }
    let row = wide
        .lines()
        .find(|l| l.starts_with("word-count "))
        .unwrap_or_else(|| panic!("no word-count row:\n{wide}"));
    assert!(row.contains(" lines ") && row.contains(" counts "), "{row}");
    let modules = dev.ok(&["module", "list", "-o", "wide"]);
    assert!(
        modules.starts_with("NAME ") && modules.contains(" SDK "),
        "{modules}"
    );
    json(&dev.ok(&["module", "list", "--output", "json"]));
    json(&dev.ok(&["job", "list", "--format", "json"]));
    let err = dev.fails(&[
        "job", "create", "typo", "--module", "m", "--input", "lines", "--output", "counts",
    ]);
    assert!(
        err.contains("`counts` is not an output format") && err.contains("--output-topic"),
        "{err}"
    );
    let err = dev.fails(&[
        "job", "create", "typo", "--module", "m", "--input", "lines", "-o", "json",
    ]);
    assert!(
        err.contains("a job needs output") && err.contains("--output-topic"),
        "{err}"
    );
}

/// `path`'s component with a custom section naming `tag` appended: another module id, the
/// same behaviour. Written to a temporary file that lives as long as the returned guard.
fn variant(path: &str, tag: &str) -> (tempfile::TempDir, String) {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                return;
            }
        }
    }
    let mut bytes = std::fs::read(path).expect("the guest component");
    let mut content = Vec::new();
    leb128(b"weir-test".len(), &mut content);
    content.extend_from_slice(b"weir-test");
    content.extend_from_slice(tag.as_bytes());
    bytes.push(0);
    leb128(content.len(), &mut bytes);
    bytes.extend_from_slice(&content);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join(format!("{tag}.wasm"));
    std::fs::write(&file, bytes).expect("write the component");
    let file = file.to_str().expect("a UTF-8 path").to_string();
    (dir, file)
}

#[test]
fn cli_dev_the_same_bytes_under_another_name_keep_the_old_name() {
    let dev = &*DEV;
    let (first, second) = (unique("wc-first"), unique("wc-second"));
    let (_dir, file) = variant(weir_guest_artifacts::WORD_COUNT, &first);
    let uploaded = json(&dev.ok(&["module", "upload", &file, "--name", &first, "-o", "json"]));
    let id = uploaded["id"].as_str().expect("an id").to_string();
    let again = dev.ok(&["module", "upload", &file, "--name", &second]);
    assert!(
        again.starts_with(&format!(
            "module {second} uploaded: the same bytes as {first}, which still refer to them\n"
        )),
        "{again}"
    );
    for name in [&first, &second] {
        let module = json(&dev.ok(&["module", "inspect", name, "-o", "json"]));
        assert_eq!(module["id"], id.as_str(), "{name} resolves to the module");
        assert_eq!(module["names"], serde_json::json!([second, first]), "{module}");
    }
    // A job made by the old name runs the module.
    let topic = dev.topic("alias-in", "a b\n");
    let job = unique("alias-job");
    let created = json(&dev.ok(&create_job(
        &job,
        &first,
        &topic,
        &[WINDOW[0], WINDOW[1], "-o", "json"],
    )));
    assert_eq!(created["spec"]["module"], id.as_str(), "{created}");
    dev.ok(&["job", "rm", &job]);
    let unchanged = dev.ok(&["module", "upload", &file, "--name", &first]);
    assert!(
        unchanged.starts_with(&format!("module {first} unchanged")),
        "{unchanged}"
    );
}

#[test]
fn cli_dev_a_job_on_an_unknown_input_topic_is_refused() {
    let dev = &*DEV;
    let module = dev.module(weir_guest_artifacts::WORD_COUNT, "typo-module");
    let missing = unique("nosuchtopic");
    let err = dev.fails(&create_job(&unique("typo"), &module, &missing, &WINDOW));
    assert!(
        err.starts_with(&format!(
            "error: topic_not_found: input topic `{missing}` does not exist"
        )),
        "{err}"
    );
    // Asking did not create it.
    let err = dev.fails(&["consume", "-t", &missing, "--idle-timeout", "1s"]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn cli_dev_a_transform_job_needs_no_window_and_a_map_reduce_one_does() {
    let dev = &*DEV;
    let topic = dev.topic("transform-in", "x\n");
    let filter = dev.module(weir_guest_artifacts::FILTER, "filter");
    let job = unique("transform");
    let created = dev.ok(&create_job(&job, &filter, &topic, &[]));
    assert!(
        created.starts_with(&format!("job {job} created: revision 1")),
        "{created}"
    );
    let status = dev.ok(&["job", "status", &job]);
    assert!(status.contains("Window:       <none>"), "{status}");
    dev.ok(&["job", "rm", &job]);

    let counter = dev.module(weir_guest_artifacts::WORD_COUNT, "counter");
    let err = dev.fails(&create_job(&unique("windowless"), &counter, &topic, &[]));
    assert!(
        err.starts_with("error: invalid_job: ") && err.contains("needs a window"),
        "{err}"
    );
}

#[test]
fn cli_dev_server_errors_name_the_field_and_print_sizes_in_units() {
    let dev = &*DEV;
    let topic = dev.topic("limits-in", "x\n");
    let module = dev.module(weir_guest_artifacts::WORD_COUNT, "limits");
    let create = |extra: &[&str]| {
        let args = [&WINDOW[..], extra].concat();
        dev.fails(&create_job(&unique("limits-job"), &module, &topic, &args))
    };
    let err = create(&["--memory", "100GiB"]);
    assert!(
        err.contains("memory = 100 GiB, above this pool's maximum of 512 MiB"),
        "{err}"
    );
    let err = create(&["--timeout", "soon"]);
    assert!(
        err.contains("`limits.timeout`: `soon` is not a duration like 10s, 500ms or 1m"),
        "{err}"
    );
    assert!(!err.contains("line 1") && !err.contains(" at 0"), "{err}");
}

#[test]
fn cli_dev_a_new_job_is_starting_until_its_partitions_are_assigned() {
    let dev = &*DEV;
    let topic = dev.topic("starting-in", "a\n");
    let module = dev.module(weir_guest_artifacts::WORD_COUNT, "starting");
    let job = unique("starting-job");
    let created = dev.ok(&create_job(&job, &module, &topic, &WINDOW));
    assert!(
        created.starts_with(&format!("job {job} created: revision 1, starting,")),
        "no runtime holds its partitions yet: {created}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let running = loop {
        let status = json(&dev.ok(&["job", "status", &job, "-o", "json"]));
        if status["state"] == "running" {
            break status;
        }
        assert!(Instant::now() < deadline, "not running after 60 s: {status}");
        assert_ne!(status["state"], "failed", "{status}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        running["status"]["assigned_partitions"].as_u64() > Some(0),
        "running means partitions are held: {running}"
    );
    let paused = dev.ok(&["job", "pause", &job]);
    assert!(paused.contains(", paused,"), "{paused}");
    let resumed = dev.ok(&["job", "resume", &job]);
    assert!(resumed.contains(", starting,"), "{resumed}");
    dev.ok(&["job", "rm", &job]);
}

#[test]
fn cli_dev_short_prefixes_say_they_need_8_digits_and_rm_prints_the_id() {
    let dev = &*DEV;
    let module = unique("rm-me");
    let (_dir, file) = variant(weir_guest_artifacts::WORD_COUNT, &module);
    let id = json(&dev.ok(&["module", "upload", &file, "--name", &module, "-o", "json"]))["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let err = dev.fails(&["module", "inspect", &id[..6]]);
    assert!(err.contains("give 8 or more hex digits"), "{err}");
    let deleted = json(&dev.ok(&["module", "rm", &id[..12], "-o", "json"]));
    assert_eq!(
        deleted,
        serde_json::json!({"deleted": id, "names": [module]}),
        "the whole id, not the prefix given"
    );
}

#[test]
fn cli_dev_consume_shows_why_a_record_is_a_dead_letter() {
    let dev = &*DEV;
    let topic = dev.topic("poison-in", "fine\n");
    let module = dev.module(weir_guest_artifacts::HOSTILE_PANIC, "panicky");
    let job = unique("poison");
    dev.ok(&create_job(
        &job,
        &module,
        &topic,
        &[WINDOW[0], WINDOW[1], "--commit-interval", "200ms"],
    ));
    // The module refuses this record: it goes to the job's dead letters with the reason.
    dev.ok_with(&["produce", "-t", &topic], "reject\n");
    let dead = format!("{job}.dead-letters");
    let deadline = Instant::now() + Duration::from_secs(90);
    let text = loop {
        let printed = dev.weir(&[
            "consume",
            "-t",
            &dead,
            "-n",
            "1",
            "-o",
            "text",
            "--idle-timeout",
            "3s",
        ]);
        if let Ok(text) = &printed
            && text.contains("value: reject")
        {
            break text.clone();
        }
        assert!(Instant::now() < deadline, "no dead letter in {dead}: {printed:?}");
    };
    assert!(text.contains("  header weir.reason: rejected\n"), "{text}");
    assert!(text.contains("  header weir.error: "), "{text}");
    assert!(
        text.contains(&format!("  header weir.source.topic: {topic}\n")),
        "{text}"
    );
    dev.ok(&["job", "rm", &job]);
}

/// Under `weir dev` (the mock cluster): the dead letters and guest logs of its config-file job
/// are shown like an API job's, but a config-file job is neither reset nor replayed over the
/// API (its file is where it is changed), and the CLI says why.
#[test]
fn cli_dev_a_config_file_jobs_dead_letters_and_logs_show_but_it_is_not_reset_or_replayed() {
    let dev = &*DEV;
    let listed = dev.ok(&["dead-letters", "list", "word-count", "-o", "json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("the list is JSON");
    assert_eq!(listed["topic"], "word-count.dead-letters", "{listed}");
    assert!(listed["dead_letters"].is_array(), "{listed}");
    let logs = dev.ok(&["job", "logs", "word-count", "-o", "json"]);
    let logs: serde_json::Value = serde_json::from_str(&logs).expect("the logs are JSON");
    assert_eq!(logs["topic"], "weir.word-count.logs", "{logs}");
    let replay = dev.fails(&["dead-letters", "replay", "word-count"]);
    assert!(
        replay.contains("job_defined_in_config") && replay.contains("config file"),
        "{replay}"
    );
    let reset = dev.fails(&["job", "reset", "word-count", "--to", "earliest", "--pause"]);
    assert!(reset.contains("job_defined_in_config"), "{reset}");
    let unknown = dev.fails(&["dead-letters", "list", "no-such-job"]);
    assert!(unknown.contains("job_not_found"), "{unknown}");
}
