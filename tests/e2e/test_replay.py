"""Operating a job's input and dead letters end to end, on the session's tansu broker, through the
`weir` CLI against a `weir serve` runtime: `weir dead-letters list` and `tail` show what a module
refused, `weir dead-letters replay` publishes it back once the job runs a fixed module (every
dead letter counted exactly once, a second replay adding nothing), and `weir job reset --to
earliest` reprocesses the whole input, giving every count again.

The broken module refuses the record `reject` and panics on `panic-map` (tests/guests/
hostile-panic), and counts every other record under its text, as word count does a one-word
line: word count is its fix. The job windows on processing time, so that records published back
are counted in the windows open when they arrive; the check is on each word's total over all
windows (results deduplicated by (window, key): the output is at-least-once)."""

import json
import random
import subprocess
import threading
import time

import pytest

from conftest import ROOT
from control import cli, job_spec, job_status, serving, upload, wait_for, word_count_bytes
from pool import WORDS, create_topic, read_topic, unique

PICKY = ROOT / "target" / "guests" / "wasm32-wasip2" / "release" / "hostile_panic.wasm"


@pytest.fixture
def runtime(weir, broker, tmp_path):
    with serving(weir, broker, tmp_path, "replay") as rt:
        yield rt


def totals(broker, topic, want, deadline=120.0, logs=lambda: ""):
    """Each word's count summed over every window of `topic` (a result repeated for the same
    (window, key) counted once), read until it equals `want` or the deadline passes."""
    def summed(records):
        last = {}
        for key, value, _ in records:
            last[key] = json.loads(value)["value"]
        out = {}
        for key, value in last.items():
            word = json.loads(key)["key"]
            out[word] = out.get(word, 0) + value
        return out

    records = read_topic(broker, topic, idle=2.0, deadline=deadline, until=lambda rs: summed(rs) == want)
    got = summed(records)
    assert got == want, (
        f"diff (word: got, want): { {w: (got.get(w), want.get(w)) for w in set(got) | set(want) if got.get(w) != want.get(w)} }"
        f"\n{logs()}")
    return got


def plus(*counts):
    out = {}
    for c in counts:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out


def dead_letter_json(weir, rt, job, *args):
    return json.loads(cli(weir, rt, "dead-letters", "list", job, "-o", "json", *args).stdout)


def dead_letters_so_far(weir, rt, job):
    """How many dead letters the job has, 0 while it has not started (its dead-letter topic is
    made when it starts: until then the listing is refused with topic_not_found)."""
    done = cli(weir, rt, "dead-letters", "list", job, "-o", "json", check=False)
    if done.returncode != 0:
        assert "topic_not_found" in done.stderr, done.stderr
        return 0
    return len(json.loads(done.stdout)["dead_letters"])


def replay_once_started(weir, rt, job):
    """`weir dead-letters replay JOB -o json`'s answer, once the job's new revision has started
    (the replay is refused with revision_starting until then)."""
    def replay():
        done = cli(weir, rt, "dead-letters", "replay", job, "-o", "json", check=False)
        if done.returncode != 0:
            assert "revision_starting" in done.stderr, done.stderr
            return None
        return json.loads(done.stdout)
    return wait_for("the replay", replay, deadline=60)


def test_dead_letters_are_listed_followed_replayed_once_and_a_reset_counts_the_input_again(weir, broker, runtime):
    rt = runtime
    assert PICKY.exists(), f"{PICKY} is missing: `cargo build -p weir` builds the test guests"
    source, output, job = unique("rp-in"), unique("rp-out"), unique("rp-job")
    create_topic(broker, source, 3)
    picky, fixed = unique("picky"), unique("wc")
    assert upload(rt, PICKY.read_bytes(), picky).status == 201
    assert upload(rt, word_count_bytes(), fixed).status == 201
    spec = job_spec(job, picky, [source], output, window="tumbling:2s", time="processing")
    reply = rt.api("POST", "/v1/jobs", spec)
    assert reply.status == 201, reply
    rt.jobs.append(job)
    wait_for("the job to run", lambda: job_status(rt, job)["state"] == "running")

    # Follow the dead letters from now on, as they come.
    followed = []
    tail = subprocess.Popen([weir, "dead-letters", "tail", job, "-n", "0", "-o", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"WEIR_SERVER": rt.url, "WEIR_CLIENT_CONFIG": "/dev/null", "PATH": "/usr/bin:/bin"})
    reader = threading.Thread(target=lambda: [followed.append(json.loads(line)) for line in tail.stdout], daemon=True)
    reader.start()
    try:
        rng = random.Random(16)
        lines = [rng.choice(WORDS) for _ in range(200)] + ["reject"] * 20 + ["panic-map"] * 3
        rng.shuffle(lines)
        from confluent_kafka import Producer
        producer = Producer({"bootstrap.servers": broker, "enable.idempotence": True, "linger.ms": 5})
        for i, line in enumerate(lines):
            producer.produce(source, value=line.encode(), key=f"k{i}".encode(), partition=i % 3,
                             headers=[("trace", f"t{i}".encode())])
        assert producer.flush(30) == 0

        wait_for("23 dead letters", lambda: dead_letters_so_far(weir, rt, job) >= 23, deadline=90)
        listed = dead_letter_json(weir, rt, job)["dead_letters"]
        assert len(listed) == 23, listed
        rejected = [d for d in listed if d["reason"] == "rejected"]
        assert len(rejected) == 20 and {d["value"] for d in rejected} == {"reject"}
        assert {d["reason"] for d in listed} == {"rejected", "panic"}
        for d in listed:
            assert d["source"]["topic"] == source and d["source"]["offset"] >= 0, d
            assert d["error"] and d["stage"] == "map" and d["module"] and d["at"], d
            assert d["key"].startswith("k") and d["headers"]["trace"].startswith("t"), d
            assert not d["replayed"] and not d["value_truncated"], d
        assert "refused on purpose" in rejected[0]["error"]
        only = dead_letter_json(weir, rt, job, "--reason", "panic")["dead_letters"]
        assert [d["value"] for d in only] == ["panic-map"] * 3
        assert len(dead_letter_json(weir, rt, job, "--limit", "5")["dead_letters"]) == 5
        table = cli(weir, rt, "dead-letters", "list", job).stdout
        assert table.startswith("AT") and "REASON" in table and f"{source}/" in table, table
        assert "refused on purpose" in table and "reject" in table, table
        bad = cli(weir, rt, "dead-letters", "list", job, "--reason", "rejectd", check=False)
        assert bad.returncode == 1 and "invalid_filter" in bad.stderr and "rejected" in bad.stderr, bad.stderr

        wait_for("tail to follow all 23", lambda: len(followed) >= 23, deadline=30)
        assert sorted((d["partition"], d["offset"]) for d in followed) == \
            sorted((d["partition"], d["offset"]) for d in listed)
    finally:
        tail.terminate()
        tail.wait(timeout=10)

    words = {w: lines.count(w) for w in set(lines) if w not in ("reject", "panic-map")}
    first = totals(broker, output, words, logs=rt.logs)

    # Before the fix, nothing is replayed: the module the job runs would refuse them again.
    early = cli(weir, rt, "dead-letters", "replay", job)
    assert "replayed 0 dead letters" in early.stdout and "skipped 23" in early.stdout, early.stdout
    assert "update the job" in early.stdout, early.stdout

    cli(weir, rt, "job", "update", job, "--module", fixed)
    wait_for("revision 2 to run", lambda: (lambda j: j["revision"] == 2 and j["state"] == "running")(job_status(rt, job)))

    replayed = replay_once_started(weir, rt, job)
    assert replayed["replayed"] == 23 and replayed["topics"] == {source: 23}, replayed
    assert replayed["skipped"] == [], replayed

    fixed_words = plus(words, {"reject": 20, "panic": 3, "map": 3})
    after_replay = totals(broker, output, fixed_words, logs=rt.logs)
    # Replayed records carry their original key and headers, and say which dead letter they were.
    back = read_topic(broker, source, idle=1.0, until=lambda rs: len(rs) >= len(lines) + 23)
    again = [(k, h) for k, _, h in back if "weir.replay.of" in h]
    assert len(again) == 23 and all(k.startswith(b"k") and h["trace"].startswith(b"t") for k, h in again)

    # A second replay publishes nothing: every dead letter was replayed once.
    second = cli(weir, rt, "dead-letters", "replay", job)
    assert "replayed 0 dead letters" in second.stdout, second.stdout
    assert all(d["replayed"] for d in dead_letter_json(weir, rt, job)["dead_letters"])
    time.sleep(3)
    assert totals(broker, output, fixed_words, deadline=10) == after_replay
    assert first == words

    # A reset of a running job needs --pause; a shuffled job moves every partition at once.
    refused = cli(weir, rt, "job", "reset", job, "--to", "earliest", check=False)
    assert refused.returncode == 1 and "job_running" in refused.stderr and "--pause" in refused.stderr, refused.stderr
    partial = cli(weir, rt, "job", "reset", job, "--to", "0=1", "--pause", check=False)
    assert partial.returncode == 1 and "partial_reset" in partial.stderr, partial.stderr
    assert f"{source}/1" in partial.stderr and job_status(rt, job)["state"] != "paused", partial.stderr
    nonsense = cli(weir, rt, "job", "reset", job, "--to", "yesterday", "--pause", check=False)
    assert nonsense.returncode == 1 and "invalid_reset" in nonsense.stderr, nonsense.stderr

    done = cli(weir, rt, "job", "reset", job, "--to", "earliest", "--pause")
    assert "paused for it and resumed" in done.stdout and "3 input partitions" in done.stdout, done.stdout
    assert "reduce stage" in done.stdout, done.stdout
    wait_for("the reset job to run", lambda: job_status(rt, job)["state"] == "running")
    # The whole input again, every record counted by the fixed module: the 223 records first
    # published (the 23 refused ones included) and the 23 replayed.
    second_pass = plus(words, {"reject": 40, "panic": 6, "map": 6})
    totals(broker, output, plus(fixed_words, second_pass), logs=rt.logs)


FILTER = ROOT / "target" / "guests" / "wasm32-wasip2" / "release" / "filter.wasm"


def test_a_reset_moves_only_the_named_partitions_of_a_job_without_shuffle_or_each_to_a_time(weir, broker, runtime):
    """A transform (one output per big order, no windows): offsets move only the partitions they
    name, a paused job stays paused, and a time moves every partition to its first record at or
    after it."""
    rt = runtime
    source, output, job = unique("rs-in"), unique("rs-out"), unique("rs-job")
    create_topic(broker, source, 3)
    module = upload(rt, FILTER.read_bytes(), unique("filter")).json["id"]
    spec = {"name": job, "module": module, "input": [source], "output": output, "commit_interval": "200ms"}
    assert rt.api("POST", "/v1/jobs", spec).status == 201
    rt.jobs.append(job)
    base = 1_700_000_000_000
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": broker, "linger.ms": 5})
    for p in range(3):
        for i in range(10):
            order = {"id": f"p{p}-{i}", "customer": "c", "amount": 150.0, "currency": "EUR"}
            producer.produce(source, value=json.dumps(order).encode(), partition=p, timestamp=base + i * 1000)
    assert producer.flush(30) == 0

    def ids(n):
        records = read_topic(broker, output, idle=1.0, until=lambda rs: len(rs) >= n, deadline=60)
        return sorted(json.loads(v)["id"] for _, v, _ in records)
    first = ids(30)
    assert len(first) == 30, first

    cli(weir, rt, "job", "pause", job)
    wait_for("the job to pause", lambda: job_status(rt, job)["state"] == "paused")
    moved = cli(weir, rt, "job", "reset", job, "--to", "0=4,2=8")
    assert "2 input partitions" in moved.stdout and "stays paused" in moved.stdout, moved.stdout
    assert "reduce stage" not in moved.stdout, moved.stdout
    rows = [l.split() for l in moved.stdout.splitlines()[2:]]
    assert rows == [[source, "0", "10", "4"], [source, "2", "10", "8"]], moved.stdout
    assert job_status(rt, job)["state"] == "paused"
    cli(weir, rt, "job", "resume", job)
    again = [f"p0-{i}" for i in range(4, 10)] + ["p2-8", "p2-9"]
    assert ids(38) == sorted(first + again)

    # A time: every partition from its first record at or after it, the running job paused for it.
    at = cli(weir, rt, "job", "reset", job, "--to", str(base + 5000), "--pause")
    assert "3 input partitions" in at.stdout and "resumed" in at.stdout, at.stdout
    assert ids(53) == sorted(first + again + [f"p{p}-{i}" for p in range(3) for i in range(5, 10)])


def test_records_the_fixed_module_read_again_when_it_took_over_are_not_replayed(weir, broker, runtime):
    """Event time, one window still open when the module is fixed: the update resumes each
    partition from its committed offset, the oldest record the open window needs, so the fixed
    module reads again (and counts) the refused records from there on. Replay then publishes only
    those before it (partition 0's first record), and each word is counted once when the window
    closes."""
    rt = runtime
    source, output, job = unique("ev-in"), unique("ev-out"), unique("ev-job")
    create_topic(broker, source, 3)
    picky = upload(rt, PICKY.read_bytes(), unique("picky")).json["id"]
    fixed = upload(rt, word_count_bytes(), unique("wc")).json["id"]
    assert rt.api("POST", "/v1/jobs", job_spec(job, picky, [source], output, window="tumbling:60s")).status == 201
    rt.jobs.append(job)
    base = 1_700_000_000_000
    rng = random.Random(7)
    per_partition = {p: [rng.choice(WORDS) for _ in range(30)] for p in range(3)}
    per_partition[0][0] = "reject"  # before every record the open window needs
    for p in range(3):
        for i in rng.sample(range(1, 30), 6):
            per_partition[p][i] = "reject"
    refused = sum(lines.count("reject") for lines in per_partition.values())
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": broker, "linger.ms": 5})
    for p, lines in per_partition.items():
        for i, line in enumerate(lines):
            producer.produce(source, value=line.encode(), partition=p, timestamp=base + i)
    assert producer.flush(30) == 0
    wait_for(f"{refused} dead letters", lambda: dead_letters_so_far(weir, rt, job) >= refused)
    time.sleep(1.0)  # a few commit cycles: the checkpoints say where the open window starts

    cli(weir, rt, "job", "update", job, "--module", fixed)

    replayed = replay_once_started(weir, rt, job)
    skipped = sum(s["count"] for s in replayed["skipped"])
    assert (replayed["replayed"], skipped) == (1, refused - 1), replayed
    assert all("took over at offset" in s["why"] for s in replayed["skipped"]), replayed

    producer.produce(source, value=b"end", partition=0, timestamp=base + 3_600_000)
    for p in (1, 2):
        producer.produce(source, value=b"end", partition=p, timestamp=base + 3_600_000)
    assert producer.flush(30) == 0
    words = {}
    for lines in per_partition.values():
        for line in lines:
            words[line] = words.get(line, 0) + 1
    totals(broker, output, words, logs=rt.logs)
