"""Every metric the dashboard and the alert rules name is one a live `weir serve` exposes on
`/metrics`, with the labels they select on.

The test starts a tansu broker (scripts/test-broker) and `weir serve --listen` with a word-count
job, feeds it a stream with a poison record, a late record and a record whose output passes the
job's output limit (so the dead-letter, late-record and trap series exist), waits for its output, then scrapes `/metrics`. A family with no series at all
(nothing observed yet) still counts as exposed when `/metrics` prints its `# TYPE` line.

The binary is WEIR_BIN, else target/debug/weir (under CARGO_TARGET_DIR when set)."""

import json
import os
import pathlib
import re
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from conftest import ROOT, dashboard_exprs, load_e2e_helpers, metric_names, rule_exprs, selector_labels

e2e = load_e2e_helpers()
Stream, create_topic, read_topic = e2e.Stream, e2e.create_topic, e2e.read_topic


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary() -> pathlib.Path:
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = pathlib.Path(os.environ.get("WEIR_BIN", target / "debug" / "weir"))
    if not path.exists():
        pytest.fail(f"{path} is missing: cargo build -p weir")
    return path


def parse_exposition(text: str):
    """{family: set of label names seen on its samples} from the Prometheus text format."""
    families: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            families.setdefault(line.split()[2], set())
        elif line and not line.startswith("#"):
            match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
            if not match:
                continue
            name = match.group(1)
            base = next((name[: -len(s)] for s in ("_bucket", "_sum", "_count")
                         if name.endswith(s) and name[: -len(s)] in families), name)
            labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', match.group(3) or ""))
            families.setdefault(base, set()).update(labels - {"le", "quantile"})
    return families


@pytest.fixture(scope="module")
def exposed(tmp_path_factory):
    weir = binary()
    work = tmp_path_factory.mktemp("metrics")
    broker_dir, port = work / "broker", free_port()
    script = ROOT / "scripts" / "test-broker"
    subprocess.run([script, "start", broker_dir, str(port)], check=True)
    broker = f"127.0.0.1:{port}"
    job = f"wc-{uuid.uuid4().hex[:6]}"
    lines, counts = f"{job}-lines", f"{job}-counts"
    create_topic(broker, lines, 3)
    config = work / "weir.toml"
    config.write_text(f'brokers = "{broker}"\n\n[[job]]\nname = "{job}"\nmodule = "word-count"\n'
                      f'input = ["{lines}"]\noutput = "{counts}"\nwindow = "tumbling:10s"\n'
                      'commit_interval = "200ms"\nlimits = { max_output = "64KiB" }\n')
    listen = f"127.0.0.1:{free_port()}"
    log = open(work / "weir.log", "w")
    proc = subprocess.Popen([weir, "serve", "--config", config, "--listen", listen],
                            stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, WEIR_TOKEN="metrics-test", WEIR_LOG="info"))
    try:
        stream = Stream(partitions=3, lines=300, seconds=30, seed=61)
        stream.publish(broker, lines)
        from confluent_kafka import Producer
        producer = Producer({"bootstrap.servers": broker})
        producer.produce(lines, value=b"\xff\xfe not text", partition=1, timestamp=stream.end_ms - 70_000)
        producer.produce(lines, value=b"far too late", partition=2, timestamp=stream.records[0][1])
        # 40 000 distinct words: their pairs pass the job's 64 KiB output limit, a trap of kind
        # output_limit (weir_guest_traps_total has no series until a guest call fails). Distinct,
        # because the guest combines the pairs of one word into one before returning them.
        many = " ".join(f"w{i}" for i in range(40_000)).encode()
        producer.produce(lines, value=many, partition=0, timestamp=stream.records[-1][1])
        assert producer.flush(30) == 0
        stream.close_windows(broker, lines)
        reference = stream.reference()
        read_topic(broker, counts, deadline=120, until=lambda rs: len({r[0] for r in rs}) >= len(reference))
        time.sleep(2)  # one more commit cycle: lag, commit and window series updated
        with urllib.request.urlopen(f"http://{listen}/metrics", timeout=10) as response:
            assert response.status == 200
            assert response.headers.get("Content-Type", "").startswith("text/plain")
            text = response.read().decode()
        (work / "metrics.txt").write_text(text)
        yield parse_exposition(text)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run([script, "stop", broker_dir], check=True)


def named():
    """(where, expr) of every dashboard query and rule."""
    return [(f"dashboard: {t}", e) for t, e in dashboard_exprs()] + [(f"rule: {a}", e) for a, e in rule_exprs()]


def test_every_metric_the_dashboard_and_rules_name_is_exposed(exposed):
    missing = {}
    for where, expr in named():
        for name in metric_names(expr) - set(exposed):
            missing.setdefault(name, []).append(where)
    assert not missing, "named but not exposed on /metrics:\n" + json.dumps(missing, indent=1)


def test_the_labels_they_select_on_are_exposed(exposed):
    wrong = {}
    for where, expr in named():
        for name, labels in selector_labels(expr).items():
            seen = exposed.get(name)
            if not seen:  # not exposed (the test above says so) or no series yet
                continue
            if labels - seen:
                wrong.setdefault(f"{name}: {sorted(labels - seen)}", []).append(where)
    assert not wrong, "selectors on labels /metrics does not expose:\n" + json.dumps(wrong, indent=1)


def test_the_parser_reads_families_and_labels():
    text = ('# HELP weir_x_seconds a\n# TYPE weir_x_seconds histogram\n'
            'weir_x_seconds_bucket{job="a",le="0.1"} 1\nweir_x_seconds_sum{job="a"} 1\n'
            '# TYPE weir_y_total counter\n')
    assert parse_exposition(text) == {"weir_x_seconds": {"job"}, "weir_y_total": set()}
