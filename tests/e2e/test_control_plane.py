"""The HTTP control plane end to end: `weir serve` runtimes with no config file, driven through
their API by independent clients (curl, Python's urllib) and by the `weir` CLI, over the real
broker of the session. Input is published and output read with confluent-kafka, and every count
is checked against the test's own reference.

All runtimes of the session share the broker, so they share the registry: each test names its
topics, modules and jobs uniquely, and deletes its jobs before stopping its runtimes."""

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse

import pytest

from conftest import free_port
from control import (
    COMPONENT_HEADER, CORE_MODULE, TOKEN, WORD_COUNT, Runtime, cli, cli_json, component_exporting,
    custom_section, expect_exact_counts, http, job_spec, job_status, map_assigned, metric_sum, records_in,
    runtimes_of, sha256, upload, wait_for, word_count_bytes, word_count_variant,
)
from pool import Stream, committed_lag, create_topic, read_topic, unique


@pytest.fixture
def runtimes(weir, broker, tmp_path):
    """Starts runtimes on demand; at the end deletes the jobs the test registered, then stops
    the runtimes (a job left in the registry would run on every later runtime)."""
    started, jobs = [], []

    def start(label, extra=()):
        runtime = Runtime(weir, broker, tmp_path, label, extra=extra)
        started.append(runtime)
        return runtime

    start.jobs = jobs
    yield start
    live = [r for r in started if r.proc.poll() is None]
    for name in jobs:
        if live:
            reply = live[0].api("DELETE", f"/v1/jobs/{name}")
            assert reply.status in (204, 404), f"cleanup of job {name}: {reply}"
    for runtime in started:
        runtime.stop()


def logs_of(*rts):
    return lambda: "\n".join(r.logs() for r in rts)


def curl(*args):
    """curl with the status code appended; returns (status, JSON body or None)."""
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *map(str, args)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), (json.loads(body) if body.strip() else None)


def table_rows(text):
    """A kubectl-style table as a list of cell lists (cells are separated by 2+ spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def test_a_the_tour_with_curl_and_an_independent_kafka_client(broker, runtimes):
    name = unique("tour")
    lines, counts = f"{name}-lines", f"{name}-counts"
    create_topic(broker, lines, 6)
    rt = runtimes("a").wait_ready()
    auth = ["-H", f"Authorization: Bearer {TOKEN}"]

    status, module = curl("-X", "POST", "--data-binary", f"@{WORD_COUNT}", "-H", "Content-Type: application/wasm",
                          *auth, f"{rt.url}/v1/modules?name={name}-wc")
    assert status == 201, module
    wasm = word_count_bytes()
    assert module["id"] == sha256(wasm)
    assert module["name"] == f"{name}-wc"
    assert module["size"] == len(wasm)
    assert module["world"] == "weir:processor@0.1.0"
    assert module["kind"] == "map_reduce", "API v1: a module's kind is `map_reduce` or `transform`"
    assert module["used_by"] == []
    status, again = curl("-X", "POST", "--data-binary", f"@{WORD_COUNT}", "-H", "Content-Type: application/wasm",
                         *auth, f"{rt.url}/v1/modules?name={name}-wc")
    assert (status, again["id"]) == (200, module["id"]), "the same bytes again are not a new module"

    spec = job_spec(name, f"{name}-wc", [lines], counts)
    runtimes.jobs.append(name)
    status, job = curl("-X", "POST", "-H", "Content-Type: application/json", *auth, "--data", json.dumps(spec),
                       f"{rt.url}/v1/jobs")
    assert status == 201, job
    assert (job["name"], job["revision"], job["state"], job["source"]) == (name, 1, "starting", "api"), \
        "no runtime holds its partitions the moment it is created"
    assert job["spec"]["module"] == module["id"], "the module ref is resolved to its id"
    assert job["module"] == {"id": module["id"], "name": f"{name}-wc"}
    status, listed = curl(f"{rt.url}/v1/modules/{module['id'][:12]}")
    assert (status, listed["used_by"]) == (200, [name])

    stream = Stream(partitions=6, lines=1500, seconds=40, seed=41)
    stream.publish(broker, lines)
    stream.close_windows(broker, lines)
    expect_exact_counts(broker, counts, stream, logs_of(rt))

    # A runtime publishes its status when its partitions change and its counts every few
    # seconds (board::INTERVAL), so the counts may lag the assignment: wait for both. (This
    # read the counts as soon as the partitions showed, and failed twice in full runs once the
    # output came back within that interval.)
    def reported():
        _, job = curl(f"{rt.url}/v1/jobs/{name}")
        mine = [r for r in runtimes_of(job) if r["runtime"].endswith(f"/{rt.pid}")]
        if mine and sorted(map_assigned(mine[0])) == sorted(f"{lines}/{p}" for p in range(6)) \
                and records_in(job) >= len(stream.records) + 6:
            return job
    job = wait_for("the runtime to report all six input partitions and every record read", reported)
    assert job["status"]["assigned_partitions"] == 6, "API v1: the job's input partitions held by some runtime"


def test_b_bad_uploads_get_their_status_and_code(weir, runtimes, tmp_path):
    rt = runtimes("b", extra=["--max-upload", "64KiB"]).wait_ready()
    cases = [
        ("garbage", b"this is not WebAssembly", 400, "not_wasm"),
        ("a core module", CORE_MODULE, 422, "core_module"),
        ("a component that does not parse", COMPONENT_HEADER + b"\x05\x10garbage", 422, "invalid_component"),
        ("a component of another world", component_exporting("wasi:cli/run@0.2.0"), 422, "missing_export"),
        ("another version of the world", component_exporting("weir:processor/processor@0.2.0"), 422,
         "world_version"),
        ("a component over --max-upload", word_count_variant(unique("big")), 413, "payload_too_large"),
    ]
    for what, data, status, code in cases:
        reply = upload(rt, data, name=unique("bad"))
        assert reply.status == status and reply.error_code() == code, f"{what}: {reply}"
        assert reply.json["error"]["message"], f"{what}: the error says what happened"

    for token, what in [(None, "no token"), ("not-the-token", "a wrong token")]:
        reply = rt.api("POST", "/v1/modules", body=word_count_bytes()[:1000], token=token,
                       content_type="application/wasm")
        assert (reply.status, reply.error_code()) == (401, "unauthorized"), f"upload with {what}: {reply}"
        reply = rt.api("POST", "/v1/jobs", body=job_spec(unique("x"), "word-count", ["in"], "out"), token=token)
        assert (reply.status, reply.error_code()) == (401, "unauthorized"), f"job with {what}: {reply}"
        reply = rt.api("DELETE", f"/v1/modules/{'0' * 64}", token=token)
        assert (reply.status, reply.error_code()) == (401, "unauthorized"), f"delete with {what}: {reply}"

    reply = rt.api("GET", "/v1/modules", token=None)
    assert reply.status == 200, f"reads need no token: {reply}"
    stored = {m["id"] for m in reply.json["modules"]}
    assert not stored & {sha256(data) for _, data, _, _ in cases}, "a refused upload is not stored"

    # The CLI prints the server's code and message, and fails.
    garbage = tmp_path / "garbage.wasm"
    garbage.write_bytes(b"this is not WebAssembly")
    done = cli(weir, rt, "module", "upload", garbage, check=False)
    assert done.returncode != 0
    assert done.stderr.startswith("error: not_wasm: "), done.stderr
    big = tmp_path / "big.wasm"
    big.write_bytes(word_count_bytes() + custom_section("padding", b"\0" * (4 << 20)))
    done = cli(weir, rt, "module", "upload", big, check=False)
    assert done.returncode != 0
    assert done.stderr.startswith("error: payload_too_large: "), f"the 413, not a broken pipe: {done.stderr}"
    done = cli(weir, rt, "module", "upload", garbage, token=None, check=False)
    assert done.returncode != 0
    assert done.stderr.startswith("error: unauthorized: "), done.stderr
    assert "WEIR_TOKEN" in done.stderr, "the CLI says how to give a token"


def test_b_bad_job_requests_get_their_status_and_code(weir, broker, runtimes, tmp_path):
    name, fixed = unique("jobs"), unique("fixed")
    lines, counts = f"{name}-lines", f"{name}-counts"
    create_topic(broker, lines, 3)
    config = tmp_path / "serve.toml"
    config.write_text(f'[[job]]\nname = "{fixed}"\nmodule = "word-count"\ninput = ["{lines}"]\n'
                      f'output = "{fixed}-counts"\nwindow = "tumbling:10s"\n')
    rt = runtimes("jobs", extra=["--config", config]).wait_ready()
    module = upload(rt, word_count_variant(name)).json["id"]

    runtimes.jobs.append(name)
    good = job_spec(name, module, [lines], counts)
    created = rt.api("POST", "/v1/jobs", body=good)
    assert created.status == 201, created
    cases = [
        ("the same name again", "POST", "/v1/jobs", good, 409, "job_exists"),
        ("a window that does not parse", "PUT", f"/v1/jobs/{name}", dict(good, window="tumbling:soon"), 400,
         "invalid_job"),
        ("an unknown field", "PUT", f"/v1/jobs/{name}", dict(good, windw="tumbling:10s"), 400, "invalid_job"),
        ("changing the window in place (checkpoints would refire windows)", "PUT", f"/v1/jobs/{name}",
         dict(good, window="tumbling:20s"), 409, "incompatible_update"),
        ("turning the shuffle off in place", "PUT", f"/v1/jobs/{name}", dict(good, shuffle=False), 409,
         "incompatible_update"),
        ("no output topic", "POST", "/v1/jobs", {k: v for k, v in dict(good, name=unique("x")).items()
                                                 if k != "output"}, 400, "invalid_job"),
        ("a module nobody uploaded", "POST", "/v1/jobs", dict(good, name=unique("x"), module="f" * 64), 404,
         "module_not_found"),
        ("a rollback of a first revision", "POST", f"/v1/jobs/{name}/rollback", None, 409,
         "no_previous_revision"),
        ("a job that does not exist", "GET", f"/v1/jobs/{unique('nope')}", None, 404, "job_not_found"),
        ("pausing a job that does not exist", "POST", f"/v1/jobs/{unique('nope')}/pause", None, 404,
         "job_not_found"),
        ("deleting a module a job uses", "DELETE", f"/v1/modules/{module}", None, 409, "module_in_use"),
        ("changing a job of the config file", "PUT", f"/v1/jobs/{fixed}", dict(good, name=fixed), 409,
         "job_defined_in_config"),
        ("deleting a job of the config file", "DELETE", f"/v1/jobs/{fixed}", None, 409, "job_defined_in_config"),
    ]
    for what, method, path, body, status, code in cases:
        reply = rt.api(method, path, body=body)
        assert reply.status == status and reply.json and reply.error_code() == code, f"{what}: {reply}"
        assert reply.json["error"]["message"], f"{what}: the error says what happened"
    job = job_status(rt, name)
    assert (job["revision"], job["spec"]["window"]) == (1, "tumbling:10s"), "refused changes change nothing"
    listed = {j["name"]: j for j in rt.api("GET", "/v1/jobs").json["jobs"]}
    assert listed[fixed]["source"] == "config" and listed[name]["source"] == "api"
    assert "created_at" not in listed[fixed], "a config-file job has no creation time: absent, not null"

    # The CLI lists and shows a config-file job (it once failed on `created_at: null`).
    rows = table_rows(cli(weir, rt, "job", "list").stdout)
    assert [fixed, "0"] in [row[:2] for row in rows[1:]], rows
    status = cli(weir, rt, "job", "status", fixed).stdout
    assert re.search(r"^Created:\s+<none> \(a runtime's config file\)$", status, re.M), status
    # An input topic nobody made is refused, not waited for.
    missing = unique("nosuchtopic")
    reply = rt.api("POST", "/v1/jobs", body=job_spec(unique("typo"), module, [missing], counts))
    assert (reply.status, reply.error_code()) == (404, "topic_not_found"), reply
    assert f"input topic `{missing}` does not exist" in reply.json["error"]["message"]

    assert rt.api("GET", "/healthz").status == 200
    openapi = rt.api("GET", "/v1/openapi.json")
    assert openapi.status == 200, openapi
    paths = set(openapi.json["paths"])
    assert {"/v1/modules", "/v1/jobs", "/v1/jobs/{name}"} <= paths, paths


def test_c_two_runtimes_share_the_registry_and_split_a_job(weir, broker, runtimes, tmp_path):
    name = unique("pair")
    lines, counts = f"{name}-lines", f"{name}-counts"
    create_topic(broker, lines, 6)
    a, b = runtimes("a"), runtimes("b")
    a.wait_ready()
    b.wait_ready()

    # Over 1 MB, so the registry holds it in several chunks that B reassembles (and checks
    # against the sha256) before it runs the job.
    padded = word_count_variant(name) + custom_section("weir-e2e-padding", os.urandom(3 << 20))
    uploaded = upload(a, padded, name=f"{name}-wc")
    assert uploaded.status == 201, uploaded
    module = uploaded.json["id"]
    assert (module, uploaded.json["size"]) == (sha256(padded), len(padded))

    def on_b():
        reply = b.api("GET", f"/v1/modules/{name}-wc")
        return reply.json if reply.status == 200 else None
    assert wait_for("the module uploaded on A to be found by name on B", on_b)["id"] == module

    # Created on B with the CLI from a JSON spec file, referring to the module by id prefix.
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(job_spec(name, module[:16], [lines], counts)))
    runtimes.jobs.append(name)
    created = cli_json(weir, b, "job", "create", "-f", spec)
    assert (created["name"], created["spec"]["module"]) == (name, module)

    partitions = sorted(f"{lines}/{p}" for p in range(6))

    def spread():
        # The job was created through B: A serves it once it has read it from the registry.
        reply = a.api("GET", f"/v1/jobs/{name}")
        if reply.status == 404:
            return None
        assert reply.status == 200, reply
        job = reply.json
        ours = {r["runtime"]: map_assigned(r) for r in runtimes_of(job)
                if r["runtime"].endswith((f"/{a.pid}", f"/{b.pid}"))}
        every = sorted(p for assigned in ours.values() for p in assigned)
        if len(ours) == 2 and all(ours.values()) and every == partitions:
            return job
    job = wait_for("both runtimes to report a share of the six input partitions", spread)
    assert all(r["module"] == module and r["revision"] == 1 for r in runtimes_of(job))

    stream = Stream(partitions=6, lines=1200, seconds=30, seed=43)
    stream.publish(broker, lines)
    stream.close_windows(broker, lines)
    expect_exact_counts(broker, counts, stream, logs_of(a, b))


def test_d_a_module_upgrade_mid_stream_loses_no_window(broker, runtimes):
    name = unique("upgrade")
    lines, counts = f"{name}-lines", f"{name}-counts"
    create_topic(broker, lines, 6)
    a, b = runtimes("a"), runtimes("b")
    a.wait_ready()
    b.wait_ready()
    v1 = upload(a, word_count_variant(f"{name}-1")).json["id"]
    v2 = upload(a, word_count_variant(f"{name}-2")).json["id"]
    assert v1 != v2

    runtimes.jobs.append(name)
    created = a.api("POST", "/v1/jobs", body=job_spec(name, v1, [lines], counts))
    assert created.status == 201, created
    wait_for("both runtimes to run revision 1",
             lambda: len([r for r in runtimes_of(job_status(a, name))
                          if r["revision"] == 1 and r["state"] == "running"]) == 2)

    stream = Stream(partitions=6, lines=3000, seconds=60, seed=47)
    middle = len(stream.records) // 2
    stream.publish(broker, lines, stream.records[:middle], pause_every=250, pause=0.2)
    updated = b.api("PUT", f"/v1/jobs/{name}", body=job_spec(name, v2, [lines], counts))
    assert updated.status == 200, updated
    assert (updated.json["revision"], updated.json["module"]["id"]) == (2, v2)
    stream.publish(broker, lines, stream.records[middle:], pause_every=250, pause=0.2)
    stream.close_windows(broker, lines)
    expect_exact_counts(broker, counts, stream, logs_of(a, b))

    def upgraded():
        job = job_status(a, name)
        ours = [r for r in runtimes_of(job) if r["runtime"].endswith((f"/{a.pid}", f"/{b.pid}"))]
        if len(ours) == 2 and all((r["revision"], r["module"], r["state"]) == (2, v2, "running") for r in ours):
            return job
    job = wait_for("every runtime to report revision 2 on the new module", upgraded)
    assert (job["revision"], job["module"]["id"], job["spec"]["module"]) == (2, v2, v2)
    assert [(h["revision"], h["module"]) for h in job["history"]] == [(1, v1), (2, v2)], \
        "API v1: the history lists every revision, the current one included"


def test_e_the_cli_pauses_resumes_rolls_back_and_removes(weir, broker, runtimes, tmp_path):
    name = unique("cli")
    lines, counts = f"{name}-lines", f"{name}-counts"
    create_topic(broker, lines, 6)
    rt = runtimes("e").wait_ready()
    first_wasm, second_wasm = tmp_path / "wc.wasm", tmp_path / "wc2.wasm"
    first_wasm.write_bytes(word_count_variant(f"{name}-1"))
    second_wasm.write_bytes(word_count_variant(f"{name}-2"))
    v1, v2 = sha256(first_wasm.read_bytes()), sha256(second_wasm.read_bytes())
    module = f"{name}-wc"

    out = cli(weir, rt, "module", "upload", first_wasm, "--name", module).stdout
    assert out.startswith(f"module {module} uploaded\n") and v1 in out, out
    out = cli(weir, rt, "module", "upload", first_wasm, "--name", module).stdout
    assert out.startswith(f"module {module} unchanged"), out
    listed = cli_json(weir, rt, "module", "list")
    assert [m["name"] for m in listed["modules"] if m["id"] == v1] == [module]
    rows = table_rows(cli(weir, rt, "module", "list").stdout)
    assert rows[0] == ["NAME", "ID", "KIND", "SIZE", "USED-BY", "AGE"]
    assert [module, v1[:12], "map_reduce"] in [row[:3] for row in rows[1:]]
    assert f"id: {v1}" in cli(weir, rt, "module", "inspect", module, "-o", "yaml").stdout

    runtimes.jobs.append(name)
    out = cli(weir, rt, "job", "create", name, "--module", module, "--input", lines, "--output-topic", counts,
              "--window", "tumbling:10s", "--commit-interval", "200ms").stdout
    assert out.startswith(f"job {name} created: revision 1, starting"), out
    done = cli(weir, rt, "module", "rm", module, check=False)
    assert done.returncode != 0 and done.stderr.startswith("error: module_in_use: "), done.stderr
    rows = table_rows(cli(weir, rt, "job", "list").stdout)
    assert rows[0] == ["NAME", "REVISION", "STATE", "MODULE", "LAG", "PARTITIONS", "LAST-WINDOW", "AGE"]
    (row,) = [row for row in rows[1:] if row[0] == name]
    assert row[1] == "1" and row[3] == f"{module}@{v1[:12]}", row
    assert row[2] in ("starting", "running"), f"running once its partitions are assigned: {row}"

    # Running: the first windows come out.
    stream = Stream(partitions=6, lines=1800, seconds=60, seed=53)
    split = stream.records[0][1] + 25_000
    before, after = [r for r in stream.records if r[1] < split], [r for r in stream.records if r[1] >= split]
    stream.publish(broker, lines, before)
    read_topic(broker, counts, idle=0.5, deadline=60, until=lambda rs: len(rs) > 0)

    # Paused: nothing is consumed, so the group's lag grows by what is published meanwhile.
    paused = cli_json(weir, rt, "job", "pause", name)
    assert paused["state"] == "paused", paused
    wait_for("no runtime to run the paused job",
             lambda: not [r for r in runtimes_of(job_status(rt, name)) if r["state"] != "paused"])
    consumed = metric_sum(rt, "weir_records_in_total", name, "map")
    stream.publish(broker, lines, after)
    stream.close_windows(broker, lines)
    published = len(after) + len(stream.closing)
    # Long enough for a job that still ran to read, fire every window and commit (every 200 ms).
    time.sleep(3.0)
    lag = committed_lag(broker, f"weir.{name}", lines, 6)
    assert lag >= published, f"the paused job's group lags by {lag} < {published} published while paused"
    assert metric_sum(rt, "weir_records_in_total", name, "map") == consumed, "a paused job read records"
    status = cli(weir, rt, "job", "status", name).stdout
    assert re.search(r"^State:\s+paused$", status, re.M), status

    # Resumed: everything comes out, exact.
    assert cli_json(weir, rt, "job", "resume", name)["state"] == "starting"
    wait_for("the resumed job to run", lambda: job_status(rt, name)["state"] == "running")
    expect_exact_counts(broker, counts, stream, logs_of(rt))
    assert metric_sum(rt, "weir_records_in_total", name, "map") >= consumed + published
    wait_for("the group's lag to come down to the closing records",
             lambda: committed_lag(broker, f"weir.{name}", lines, 6) <= len(stream.closing))

    # `job status` shows what the console shows: the records in and out over the pool, the
    # watermark, each runtime's version, and per stage its figures (those the runtime reports
    # every few seconds, so waited for).
    def status_with_figures():
        text = cli(weir, rt, "job", "status", name).stdout
        records = re.search(r"^Records:\s+(\d+) in, (\d+) out, \d+ dead letters? ", text, re.M)
        watermark = re.search(r"^Watermark:\s+\d{4}-\d\d-\d\dT", text, re.M)
        return records and int(records[1]) > 0 and int(records[2]) > 0 and watermark and text
    status = wait_for("job status to show records and a watermark", status_with_figures)
    stages = table_rows(status.split("\nStages:\n", 1)[1].split("\n\n", 1)[0])
    assert stages[0][:6] == ["RUNTIME", "STAGE", "ASSIGNED", "LAG", "RECORDS-IN", "RECORDS-OUT"], stages
    assert {row[1] for row in stages[1:]} == {"map", "reduce"}, stages
    runtimes_table = table_rows(status.split("\nRuntimes:\n", 1)[1].split("\n\n", 1)[0])
    assert runtimes_table[0][:2] == ["RUNTIME", "VERSION"], runtimes_table
    assert all(row[1] not in ("", "<none>") for row in runtimes_table[1:]), runtimes_table

    # Update to another module, then roll back: a new revision with the previous spec.
    cli(weir, rt, "module", "upload", second_wasm)
    updated = cli_json(weir, rt, "job", "update", name, "--module", v2[:12])
    assert (updated["revision"], updated["spec"]["module"]) == (2, v2), updated
    assert (updated["spec"]["window"], updated["spec"]["input"], updated["spec"]["output"]) == \
        ("tumbling:10s", [lines], counts), "update changes only what its flags name"
    rolled = cli_json(weir, rt, "job", "rollback", name)
    assert (rolled["revision"], rolled["spec"]["module"], rolled["module"]["id"]) == (3, v1, v1), rolled
    assert [(h["revision"], h["module"]) for h in rolled["history"]] == [(1, v1), (2, v2), (3, v1)], \
        "API v1: the history lists every revision, the current one included"
    status = cli(weir, rt, "job", "status", name).stdout
    assert "Revision:" in status and f"{module}@{v1[:12]}" in status, status

    # Removed: the job, then the module it no longer holds.
    assert cli(weir, rt, "job", "rm", name).stdout == f"job {name} deleted\n"
    done = cli(weir, rt, "job", "status", name, check=False)
    assert done.returncode != 0 and done.stderr.startswith("error: job_not_found: "), done.stderr
    assert cli(weir, rt, "module", "rm", module).stdout == f"module {module} deleted\n"
    assert cli(weir, rt, "module", "rm", v2).stdout == f"module {v2} deleted\n"
    done = cli(weir, rt, "module", "inspect", v1, check=False)
    assert done.returncode != 0 and done.stderr.startswith("error: module_not_found: "), done.stderr

    # Where the server and token come from: a config file, and a flag naming a dead server.
    config = tmp_path / "client.toml"
    config.write_text(f'server = "{rt.url}"\ntoken = "{rt.token}"\n')
    done = cli(weir, None, "module", "list", "-o", "json", env_extra={"WEIR_CLIENT_CONFIG": str(config)})
    assert "modules" in json.loads(done.stdout)
    dead = f"http://127.0.0.1:{free_port()}"
    done = cli(weir, None, "job", "list", "--server", dead, check=False)
    assert done.returncode != 0
    expected = f"error: cannot reach the Weir server at {dead} (from the command line)"
    assert done.stderr.startswith(expected), done.stderr
    assert "--server" in done.stderr and "WEIR_SERVER" in done.stderr, done.stderr


def prometheus_config(path, target):
    # honor_labels keeps the runtime's own `job` label (the Weir job) instead of renaming it
    # `exported_job` to make room for the scrape job's.
    path.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: weir-e2e\n    honor_labels: true\n"
        f"    static_configs:\n      - targets: ['{target}']\n")


def test_f_metrics_pass_promtool_and_a_prometheus_server_scrapes_them(broker, runtimes, tmp_path):
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    assert promtool and prometheus, "promtool and prometheus are missing: scripts/prometheus-tools installs them"
    name = unique("metrics")
    lines, counts = f"{name}-lines", f"{name}-counts"
    create_topic(broker, lines, 6)
    rt = runtimes("f").wait_ready()

    config, port = tmp_path / "prometheus.yml", free_port()
    prometheus_config(config, f"127.0.0.1:{rt.port}")
    log = open(tmp_path / "prometheus.log", "w")
    server = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        uploaded = upload(rt, word_count_variant(name))
        runtimes.jobs.append(name)
        created = rt.api("POST", "/v1/jobs", body=job_spec(name, uploaded.json["id"], [lines], counts))
        assert created.status == 201, created
        stream = Stream(partitions=6, lines=600, seconds=20, seed=59)
        stream.publish(broker, lines)
        stream.close_windows(broker, lines)
        expect_exact_counts(broker, counts, stream, logs_of(rt))

        metrics = http("GET", f"{rt.url}/metrics")
        assert metrics.status == 200, metrics
        text = metrics.raw.decode()
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                               timeout=60)
        assert check.returncode == 0, f"promtool check metrics:\n{check.stdout}{check.stderr}"

        def scraped_by_the_runtime():
            return metric_sum(rt, "weir_records_in_total", name, "map")

        wait_for("every input record counted in weir_records_in_total",
                 lambda: scraped_by_the_runtime() >= len(stream.records) + len(stream.closing))

        query = urllib.parse.quote(f'sum(weir_records_in_total{{job="{name}",stage="map"}})')

        def from_prometheus():
            try:
                reply = http("GET", f"http://127.0.0.1:{port}/api/v1/query?query={query}", timeout=5)
            except OSError:  # not listening yet
                return None
            if reply.status != 200 or not reply.json["data"]["result"]:
                return None
            value = float(reply.json["data"]["result"][0]["value"][1])
            return value if value == scraped_by_the_runtime() else None
        wait_for("Prometheus to return the runtime's weir_records_in_total for the job",
                 lambda: _alive(server, tmp_path) and from_prometheus())
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _alive(server, tmp_path):
    assert server.poll() is None, "prometheus exited:\n" + (tmp_path / "prometheus.log").read_text()[-3000:]
    return True
