"""Every runtime of a pool is listed, whether or not it runs a job: each `weir serve` publishes
a heartbeat on the status topic (when it starts, every few seconds, when what it runs changes,
when it stops), and any runtime's `GET /v1/runtimes` and `weir runtime list` list them.

Two runtimes that run no job are both listed, ready, by each other (API and CLI). One killed
with SIGKILL cannot say so: the other sees it `missing` once it has been silent for a few of its
heartbeat intervals. The other, stopped with SIGTERM, says `stopped` before it exits; a third
runtime started afterwards reads both from the topic. The runtimes have a registry and a status
topic of their own, so the lists hold exactly them."""

import re
import signal

from control import Runtime, cli, cli_json, pool_config, wait_for


def name_of(rt):
    reply = rt.api("GET", "/v1/runtime")
    assert reply.status == 200, reply
    return reply.json["runtime"]


def listed(rt):
    """The runtimes `rt` lists, by name."""
    reply = rt.api("GET", "/v1/runtimes")
    assert reply.status == 200, reply
    return {r["runtime"]: r for r in reply.json["runtimes"]}


def wait_for_states(rt, expected, what, deadline=60.0):
    """Polls `rt`'s listing until it holds exactly the runtimes of `expected` (name -> state) in
    those states; returns it, or fails with the last listing's states."""
    last = {}

    def probe():
        nonlocal last
        seen = listed(rt)
        last = {name: r["state"] for name, r in seen.items()}
        return seen if last == expected else None
    try:
        return wait_for(what, probe, deadline=deadline)
    except AssertionError as err:
        raise AssertionError(f"{err}; expected {expected}, last listed {last}\n{rt.logs()}") from None


def table_rows(text):
    """A kubectl-style table as a list of cell lists (cells are separated by 2+ spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def test_runtimes_without_jobs_are_listed_then_missing_when_killed_and_stopped_when_stopped(
        weir, broker, tmp_path):
    config = pool_config(tmp_path, "runtimes")
    a = Runtime(weir, broker, tmp_path, "a", extra=["--config", config])
    b = Runtime(weir, broker, tmp_path, "b", extra=["--config", config])
    c = None
    try:
        a.wait_ready()
        b.wait_ready()
        name_a, name_b = name_of(a), name_of(b)
        assert name_a != name_b and name_a.endswith(f"/{a.pid}") and name_b.endswith(f"/{b.pid}")

        # Both listed, ready, by either runtime: neither runs a job.
        both = {name_a: "ready", name_b: "ready"}
        seen = wait_for_states(a, both, "A to list both runtimes, ready")
        wait_for_states(b, both, "B to list both runtimes, ready")
        for rt, name in ((a, name_a), (b, name_b)):
            entry = seen[name]
            assert entry["api"] == rt.url and entry["pid"] == rt.pid, entry
            assert entry["jobs"] == [] and entry["version"] and entry["started_at"], entry
            assert entry["this"] == (rt is a), f"A answered: {entry}"
        assert a.api("GET", "/v1/openapi.json").json["paths"]["/v1/runtimes"]["get"], "documented"

        # The CLI: JSON as the API answers it, a table with a row per runtime, -o wide its API.
        runtimes = cli_json(weir, b, "runtime", "list")["runtimes"]
        assert sorted(r["runtime"] for r in runtimes) == sorted(both), runtimes
        rows = table_rows(cli(weir, a, "runtime", "list").stdout)
        assert rows[0] == ["RUNTIME", "STATE", "VERSION", "JOBS", "PARTITIONS", "LAST-SEEN", "AGE"], rows
        assert sorted((row[0], row[1], row[3], row[4]) for row in rows[1:]) == \
            sorted((name, "ready", "<none>", "0") for name in both), rows
        wide = cli(weir, a, "runtime", "ls", "-o", "wide").stdout
        assert a.url in wide and b.url in wide, wide

        # B killed without warning: A sees it missing once it has been silent long enough, and
        # stays ready itself.
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(timeout=30)
        wait_for_states(a, {name_a: "ready", name_b: "missing"}, "A to see B missing", deadline=120)

        # A stopped with SIGTERM: it says so before it exits.
        a.proc.send_signal(signal.SIGTERM)
        assert a.proc.wait(timeout=60) == 0, a.logs()

        # A runtime started afterwards reads both from the topic: A stopped, B missing.
        c = Runtime(weir, broker, tmp_path, "c", extra=["--config", config]).wait_ready()
        name_c = name_of(c)
        after = {name_a: "stopped", name_b: "missing", name_c: "ready"}
        seen = wait_for_states(c, after, "C to list A stopped, B missing and itself ready")
        assert seen[name_c]["this"] and not seen[name_a]["this"], seen
        rows = table_rows(cli(weir, c, "runtime", "list").stdout)
        assert sorted((row[0], row[1]) for row in rows[1:]) == sorted(after.items()), rows
    finally:
        for rt in (a, b, c):
            if rt is not None:
                rt.stop()
