"""A job's guest log lines end to end, on the session's tansu broker: a module that logs a line
per record (tests/guests/hostile-sandbox-probe) runs as a job of a `weir serve` runtime; `weir
job logs` shows its lines tagged with the job, stage, module, partition and offsets, `-f`
follows them as they come, and the job's rate limit lets 100 lines a second through and says
how many it dropped: every record's line is either shown or counted, exactly."""

import json
import subprocess
import threading

import pytest

from conftest import ROOT
from control import cli, http, job_spec, job_status, serving, upload, wait_for
from pool import create_topic, unique

PROBE = ROOT / "target" / "guests" / "wasm32-wasip2" / "release" / "hostile_sandbox_probe.wasm"
LINE = "the sandbox probe is probing"


@pytest.fixture
def runtime(weir, broker, tmp_path):
    with serving(weir, broker, tmp_path, "logs") as rt:
        yield rt


def test_guest_logs_are_tagged_followed_rate_limited_and_every_line_accounted_for(weir, broker, runtime):
    rt = runtime
    assert PROBE.exists(), f"{PROBE} is missing: `cargo build -p weir` builds the test guests"
    source, job = unique("gl-in"), unique("gl-job")
    create_topic(broker, source, 2)
    reply = upload(rt, PROBE.read_bytes(), unique("probe"))
    assert reply.status == 201, reply
    module = reply.json["id"]
    assert rt.api("POST", "/v1/jobs", job_spec(job, module, [source], unique("gl-out"))).status == 201
    rt.jobs.append(job)
    wait_for("the job to run", lambda: job_status(rt, job)["state"] == "running")
    assert cli(weir, rt, "job", "logs", job).stdout == "", "no line before any record"

    followed = []
    follow = subprocess.Popen([weir, "job", "logs", job, "-f", "-o", "json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env={"WEIR_SERVER": rt.url, "WEIR_CLIENT_CONFIG": "/dev/null", "PATH": "/usr/bin:/bin"})
    threading.Thread(target=lambda: [followed.append(json.loads(l)) for l in follow.stdout], daemon=True).start()
    try:
        from confluent_kafka import Producer
        producer = Producer({"bootstrap.servers": broker, "linger.ms": 5})
        records = 600
        for i in range(records):
            producer.produce(source, value=f"r{i}".encode(), partition=i % 2)
        assert producer.flush(30) == 0

        wait_for("the first lines to be followed", lambda: len(followed) >= 100, deadline=60)
        probing = [l for l in followed if l["message"] == LINE]
        for line in probing:
            assert line["job"] == job and line["stage"] == "map" and line["call"] == "map", line
            assert line["level"] == "warn" and line["module"] == module and line["runtime"], line
            first, last = line["offsets"]
            assert line["partition"] in (0, 1) and 0 <= first <= last < records, line

        # Pausing stops the job's stages, and its log reports the lines it still had to count.
        cli(weir, rt, "job", "pause", job)

        def accounted():
            lines = json.loads(cli(weir, rt, "job", "logs", job, "-n", "1000", "-o", "json").stdout)["lines"]
            shown = sum(1 for l in lines if l["message"] == LINE)
            dropped = sum(l.get("dropped") or 0 for l in lines)
            return (shown, dropped) if shown + dropped >= records else None
        shown, dropped = wait_for("every line shown or counted", accounted, deadline=60)
        assert shown + dropped == records, (shown, dropped)
        assert dropped > 0 and shown >= 100, (shown, dropped)
        # The runtime counts what it dropped (other runtimes of the session, sharing the
        # registry, may have run some partitions: then only theirs are not counted here).
        lines = json.loads(cli(weir, rt, "job", "logs", job, "-n", "1000", "-o", "json").stdout)["lines"]
        here = sum(l.get("dropped") or 0 for l in lines if l["runtime"].endswith(f"/{rt.pid}"))
        metrics = http("GET", f"{rt.url}/metrics").raw.decode()
        assert f'weir_guest_log_lines_dropped_total{{job="{job}"}} {here}' in metrics or here == 0, \
            metrics[-2000:]
        wait_for("-f to follow the dropped count", lambda: any(l.get("dropped") for l in followed), deadline=30)
    finally:
        follow.terminate()
        follow.wait(timeout=10)

    table = cli(weir, rt, "job", "logs", job, "-n", "3").stdout.splitlines()
    assert len(table) == 3, table
    assert any(" WARN " in t and " map " in t and LINE in t for t in table) or "dropped" in table[-1], table
    missing = cli(weir, rt, "job", "logs", unique("nojob"), check=False)
    assert missing.returncode == 1 and "job_not_found" in missing.stderr, missing.stderr
