"""`weir produce` and `weir consume` against a real broker, checked with an independent client."""

import json
import subprocess
import uuid

from confluent_kafka import Consumer, Producer


def read_all(broker, topic, count, timeout=30.0):
    consumer = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": f"check-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records = []
    try:
        import time

        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            records.append(message)
    finally:
        consumer.close()
    return records


def test_weir_produce_is_read_by_an_independent_client(broker, weir, topic):
    lines = [
        {"key": "k1", "value": "first", "timestamp": 1_000, "headers": {"h": "v"}},
        {"key": "k2", "value": {"n": 2}, "timestamp": 2_000},
        {"value": "no key", "timestamp": 3_000},
    ]
    stdin = "\n".join(json.dumps(l) for l in lines) + "\n"
    done = subprocess.run(
        [weir, "produce", "--brokers", broker, "--topic", topic, "--json"],
        input=stdin, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"3 records to {topic}" in done.stderr

    got = read_all(broker, topic, 3)
    by_value = {m.value(): m for m in got}
    assert set(by_value) == {b"first", b'{"n":2}', b"no key"}
    first = by_value[b"first"]
    assert first.key() == b"k1"
    assert first.timestamp()[1] == 1_000
    assert first.headers() == [("h", b"v")]
    assert by_value[b"no key"].key() is None


def test_text_lines_with_a_key_land_in_one_partition_in_order(broker, weir, topic):
    lines = [f"line {i}" for i in range(50)]
    done = subprocess.run(
        [weir, "produce", "-b", broker, "-t", topic, "--key", "same"],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    got = read_all(broker, topic, 50)
    assert {m.partition() for m in got} == {got[0].partition()}
    assert [m.value().decode() for m in sorted(got, key=lambda m: m.offset())] == lines


def test_weir_consume_prints_what_an_independent_client_published(broker, weir, topic):
    producer = Producer({"bootstrap.servers": broker})
    sent = [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(20)]
    for key, value in sent:
        producer.produce(topic, key=key, value=value, timestamp=5_000)
    assert producer.flush(30) == 0

    done = subprocess.run(
        [weir, "consume", "-b", broker, "-t", topic, "-n", "20", "--idle-timeout", "30s"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted((p["key"], p["value"]) for p in printed) == sorted((k.decode(), v.decode()) for k, v in sent)
    assert all(p["timestamp"] == 5_000 and 0 <= p["partition"] < 3 for p in printed)


def test_an_unknown_topic_is_a_clear_error(broker, weir):
    done = subprocess.run(
        [weir, "produce", "-b", broker, "-t", "no-such-topic"],
        input="x\n", capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "topic `no-such-topic` does not exist" in done.stderr


def test_an_unreachable_broker_is_a_clear_error(weir):
    done = subprocess.run(
        [weir, "consume", "-b", "127.0.0.1:1", "-t", "anything"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "cannot reach the Kafka brokers at 127.0.0.1:1" in done.stderr


def test_consume_shows_headers_as_json_and_text(broker, weir, topic):
    """What `weir produce --json` sends with headers, `weir consume` prints with them (the dead
    letters' `weir.reason` and `weir.error` are headers too), and an independent client agrees."""
    lines = [
        {"key": "k1", "value": "first", "timestamp": 1_000,
         "headers": {"weir.reason": "late", "weir.error": "the window had fired", "tag": ["a", "b"]}},
    ]
    done = subprocess.run(
        [weir, "produce", "-b", broker, "-t", topic, "--json"],
        input="".join(json.dumps(l) + "\n" for l in lines), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"1 record to {topic}" in done.stderr, "one record, singular"
    (message,) = read_all(broker, topic, 1)
    assert message.headers() == [("tag", b"a"), ("tag", b"b"), ("weir.error", b"the window had fired"),
                                 ("weir.reason", b"late")]

    done = subprocess.run(
        [weir, "consume", "-b", broker, "-t", topic, "-n", "1", "--idle-timeout", "30s"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (printed,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert printed["headers"] == {"weir.reason": "late", "weir.error": "the window had fired", "tag": ["a", "b"]}
    done = subprocess.run(
        [weir, "consume", "-b", broker, "-t", topic, "-n", "1", "-o", "text", "--idle-timeout", "30s"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "  header weir.reason: late\n" in done.stdout, done.stdout
    assert "  header weir.error: the window had fired\n" in done.stdout, done.stdout


def test_consume_idle_timeout_starts_once_the_group_is_assigned(broker, weir, topic):
    """A group join takes the broker seconds; `--idle-timeout 3s` must not count it."""
    producer = Producer({"bootstrap.servers": broker})
    for i in range(25):
        producer.produce(topic, value=f"record {i}".encode())
    assert producer.flush(30) == 0
    for extra in ([], ["--group", f"idle-{uuid.uuid4().hex[:8]}"]):
        done = subprocess.run(
            [weir, "consume", "-b", broker, "-t", topic, "--idle-timeout", "3s", *extra],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == 25, (extra, done.stdout)


def test_produce_create_makes_a_missing_topic_with_its_partitions(broker, weir):
    name = f"made-{uuid.uuid4().hex[:12]}"
    done = subprocess.run(
        [weir, "produce", "-b", broker, "-t", name, "--create", "--partitions", "3"],
        input="a\nb\n", capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"created topic `{name}`" in done.stderr and f"2 records to {name}" in done.stderr
    from confluent_kafka.admin import AdminClient
    metadata = AdminClient({"bootstrap.servers": broker}).list_topics(name, timeout=30)
    assert len(metadata.topics[name].partitions) == 3


def test_produce_json_refuses_unknown_fields_and_key_fills_in(broker, weir, topic):
    done = subprocess.run(
        [weir, "produce", "-b", broker, "-t", topic, "--json"],
        input='{"val":"typo"}\n', capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "line 1 is not a record: unknown field `val`" in done.stderr, done.stderr
    done = subprocess.run(
        [weir, "produce", "-b", broker, "-t", topic, "--json", "-k", "default"],
        input='{"value":"keyless"}\n{"key":"own","value":"keyed"}\n', capture_output=True, text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    got = {m.value(): m.key() for m in read_all(broker, topic, 2)}
    assert got == {b"keyless": b"default", b"keyed": b"own"}
