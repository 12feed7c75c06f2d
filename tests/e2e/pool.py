"""Helpers of the pipeline tests: word-count input with a reference count, `weir serve`
processes, and reading the output and dead-letter topics with confluent-kafka."""

import json
import os
import random
import re
import signal
import subprocess
import time
import urllib.request
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import free_port

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray").split()


def words(line):
    """The word-count module's tokenizer: runs of letters and digits, lower-cased."""
    return [w.lower() for w in re.split(r"[^0-9A-Za-z]+", line) if w]


def client_config(broker, **settings):
    """confluent-kafka settings for `broker` with `settings` (dots written as `_`) over them.
    `broker` is a bootstrap address, or a dict of settings: the secured-cluster test's, with
    its security properties."""
    config = dict(broker) if isinstance(broker, dict) else {"bootstrap.servers": broker}
    config.update({k.replace("_", "."): v for k, v in settings.items()})
    return config


def create_topic(broker, name, partitions):
    admin = AdminClient(client_config(broker))
    for future in admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)]).values():
        future.result(timeout=30)


class Stream:
    """Lines with event times spread over `seconds`, each sent to a random partition, and the
    exact windowed word counts they must produce."""

    def __init__(self, partitions, lines, seconds, seed=7, size_ms=10_000):
        rng = random.Random(seed)
        # Kafka clients read a timestamp of 0 as "now": start at a round, non-zero time.
        base = 1_700_000_000_000
        self.partitions = partitions
        self.size_ms = size_ms
        self.records = []  # (partition, timestamp_ms, line)
        for i in range(lines):
            ts = base + int(i * seconds * 1000 / lines)
            line = " ".join(rng.choice(WORDS).capitalize() if rng.random() < 0.3 else rng.choice(WORDS)
                            for _ in range(rng.randint(1, 8)))
            self.records.append((rng.randrange(partitions), ts, line))
        # One record per partition far ahead closes every window of the stream.
        self.end_ms = base + (seconds + 60) * 1000
        self.closing = [(p, self.end_ms, "end") for p in range(partitions)]

    def reference(self):
        """(window_start, word) -> count, for every window the closing records close."""
        counts = {}
        for _, ts, line in self.records:
            start = ts - ts % self.size_ms
            for w in words(line):
                counts[(start, w)] = counts.get((start, w), 0) + 1
        return counts

    def publish(self, broker, topic, records=None, pause_every=None, pause=0.0):
        producer = Producer(client_config(broker, enable_idempotence=True, linger_ms=5))
        for i, (partition, ts, line) in enumerate(records if records is not None else self.records):
            producer.produce(topic, value=line.encode(), partition=partition, timestamp=ts)
            if pause_every and i % pause_every == pause_every - 1:
                producer.flush(30)
                time.sleep(pause)
        assert producer.flush(30) == 0, "the test's producer could not deliver everything"

    def close_windows(self, broker, topic):
        self.publish(broker, topic, self.closing)


def read_topic(broker, topic, idle=3.0, deadline=120.0, until=None):
    """Every record of `topic` from the beginning, as (key, value, headers) triples. Stops when
    `until(records)` holds (then after `idle` s without records), or at the deadline."""
    consumer = Consumer(client_config(broker, **{
        "group.id": f"reader-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }))
    start = time.monotonic()
    # A consumer subscribed to a topic that does not exist yet only notices it at its next
    # metadata refresh (minutes): wait until the job has created it.
    while topic not in consumer.list_topics(timeout=10).topics:
        assert time.monotonic() - start < deadline, f"topic {topic} was never created"
        time.sleep(0.2)
    consumer.subscribe([topic])
    records = []
    last = time.monotonic()
    try:
        while time.monotonic() - start < deadline:
            message = consumer.poll(0.2)
            if message is None:
                if time.monotonic() - last > idle and (until is None or until(records)):
                    break
                continue
            if message.error():
                continue
            last = time.monotonic()
            records.append((message.key(), message.value(), dict(message.headers() or [])))
    finally:
        consumer.close()
    return records


def counts_of(records):
    """The output records as (window_start, word) -> count, keeping the last value per key
    (the output is keyed by (window, key): at-least-once, and a compacted topic keeps the last).
    Also returns how many records repeated a key, and whether any repeat changed a value."""
    counts, repeats, changed = {}, 0, 0
    for key, value, _ in records:
        k = json.loads(key)
        v = json.loads(value)
        ident = (k["window_start"], k["key"])
        if ident in counts:
            repeats += 1
            changed += counts[ident] != v["value"]
        counts[ident] = v["value"]
    return counts, repeats, changed


def expect_exact(broker, topic, reference, logs, deadline=120.0):
    """Reads `topic` until every (window_start, word) of `reference` is there, then checks each
    has its exact count, nothing else is there, and no repeated result had another value
    (repeats are the at-least-once guarantee). `logs()` explains a failure. Returns the counts
    and how many results were repeated."""
    records = read_topic(broker, topic, deadline=deadline,
                         until=lambda rs: len({r[0] for r in rs}) >= len(reference))
    got, repeats, changed = counts_of(records)
    missing = {k: v for k, v in reference.items() if k not in got}
    wrong = {k: (got[k], v) for k, v in reference.items() if k in got and got[k] != v}
    extra = {k: v for k, v in got.items() if k not in reference}
    windows = {w for w, _ in reference}
    assert not missing and not wrong and not extra, (
        f"{len(windows)} windows expected; missing {len(missing)} {sorted(missing.items())[:5]}, "
        f"wrong (got, want) {len(wrong)} {sorted(wrong.items())[:5]}, extra {len(extra)} "
        f"{sorted(extra.items())[:5]}\n{logs()}")
    assert changed == 0, f"{changed} repeated results had another value"
    return got, repeats


def committed_lag(broker, group, topic, partitions):
    """Sum over partitions of (end offset - committed offset) for `group`."""
    consumer = Consumer({"bootstrap.servers": broker, "group.id": group, "enable.auto.commit": False})
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        committed = consumer.committed(tps, timeout=30)
        lag = 0
        for tp in committed:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=30)
            lag += high - max(tp.offset, 0)
        return lag
    finally:
        consumer.close()


class Weir:
    """`weir serve` processes running one job (word count unless `module` names another bundled
    module)."""

    def __init__(self, binary, broker, workdir, job, inputs, output, window="tumbling:10s", extra="",
                 module="word-count"):
        self.binary, self.broker, self.workdir = binary, broker, workdir
        self.job = job
        self.config = workdir / f"{job}.toml"
        self.config.write_text(
            # A registry of its own: API jobs of other tests must not run in these runtimes.
            f'brokers = "{broker}"\nsession_timeout = "6s"\nregistry_topic = "weir.{job}.registry"\n'
            f'status_topic = "weir.{job}.status"\n\n[[job]]\nname = "{job}"\n'
            f'module = "{module}"\ninput = {json.dumps(inputs)}\noutput = "{output}"\n'
            f'window = "{window}"\ncommit_interval = "200ms"\n{extra}\n')
        self.procs = []
        self.ports = []

    def assigned(self, index, stage="map"):
        """How many partitions of `stage` runtime `index` holds, from its /metrics."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[index]}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return 0
        pattern = rf'^weir_assigned_partitions\{{job="{re.escape(self.job)}",stage="{stage}"\}} (\d+)$'
        found = re.search(pattern, text, re.MULTILINE)
        return int(found.group(1)) if found else 0

    def wait_assigned(self, index, stage="map", timeout=90):
        """Waits until runtime `index` holds at least one partition of `stage`."""
        deadline = time.time() + timeout
        while self.assigned(index, stage) == 0:
            assert time.time() < deadline, f"runtime {index} got no {stage} partition:\n{self.logs()}"
            time.sleep(0.2)

    def start(self):
        index = len(self.procs)
        log = open(self.workdir / f"{self.job}-{index}.log", "w")
        env = dict(os.environ, WEIR_LOG="info,librdkafka=off,rdkafka=off")
        port = free_port()
        self.ports.append(port)
        proc = subprocess.Popen([self.binary, "serve", "--config", self.config, "--listen", f"127.0.0.1:{port}"],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        return proc

    def logs(self, tail=4000):
        """Each runtime's log, its last `tail` characters (for a failure's message), or all of
        it with `tail=None` (to search: a line can be followed by more than `tail` characters)."""
        return "\n".join(
            f"--- runtime {i} ---\n" + (self.workdir / f"{self.job}-{i}.log").read_text()[-(tail or 0):]
            for i in range(len(self.procs)))

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def metric(port, name, **labels):
    """The value of the series `name{labels}` on the /metrics of the runtime at `port`, or None."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
