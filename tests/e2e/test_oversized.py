"""A record too large to write never wedges a job (DESIGN.md section 6, issue 13): the bundled
filter module rejects records that are not JSON; two of them, of 999,800 bytes and of 5 MB, sit
between good orders. As they are, their dead letters would be over the producer's 1 MB limit
(the stage used to restart on them forever and output nothing after them); they must be cut to
fit, say so in `weir.truncated`, and every good order must come out, without a stage restart."""

import json
import re
import time

import pytest
from confluent_kafka import Producer

from pool import Weir, create_topic, metric, read_topic, unique

# The producer's message.max.bytes, less the margin Weir keeps for the record batch header.
RECORD_LIMIT = 1_000_000 - 512
BAD_SIZES = (999_800, 5_000_000)


def order(i):
    return json.dumps({"id": f"o{i}", "customer": f"c{i % 3}", "amount": 100.0 + i, "currency": "EUR"}).encode()


def bad(size):
    """Not JSON, `size` bytes, with a recognisable head."""
    head = f"not json, {size} bytes: ".encode()
    body = bytes(range(256)) * (size // 256 + 1)
    return (head + body)[:size]


def wire_size(key, value, headers):
    """librdkafka's measure of a record: key, value, headers (name, value and two varints each)
    and its 36-byte worst-case overhead."""
    def varint(n):
        n, size = n * 2, 1
        while n >= 0x80:
            n, size = n >> 7, size + 1
        return size
    return 36 + len(key or b"") + len(value or b"") + sum(
        len(k.encode()) + len(v) + varint(len(k.encode())) + varint(len(v)) for k, v in headers.items())


@pytest.fixture
def job(broker, weir, tmp_path):
    name = unique("big")
    orders, big_orders = f"{name}-orders", f"{name}-big-orders"
    create_topic(broker, orders, 1)
    runtime = Weir(weir, broker, tmp_path, name, [orders], big_orders, module="filter")
    yield runtime, orders, big_orders
    runtime.stop()


def test_dead_letters_over_the_size_limit_are_cut_and_the_job_goes_on(broker, job):
    runtime, orders, big_orders = job
    runtime.start()
    runtime.wait_assigned(0)

    # 10 orders, the 999,800-byte record, 10 orders, the 5 MB record, 10 orders: one partition,
    # so the orders after each bad record can only come out if the stage got past it.
    producer = Producer({"bootstrap.servers": broker, "message.max.bytes": 10_000_000, "linger.ms": 5})
    sent, bad_offsets, offset = [], {}, 0
    now = int(time.time() * 1000)
    for part, size in enumerate((*BAD_SIZES, None)):
        for _ in range(10):
            producer.produce(orders, value=order(len(sent)), partition=0, timestamp=now + offset)
            sent.append(f"o{len(sent)}")
            offset += 1
        if size is not None:
            producer.produce(orders, value=bad(size), partition=0, timestamp=now + offset)
            bad_offsets[size] = offset
            offset += 1
    assert producer.flush(60) == 0, "the test's producer could not deliver everything"

    output = read_topic(broker, big_orders, deadline=120, until=lambda rs: len(rs) >= len(sent))
    got = [json.loads(value)["id"] for _, value, _ in output]
    assert sorted(set(got)) == sorted(sent), f"got {got}\n{runtime.logs()}"

    dead = read_topic(broker, f"{runtime.job}.dead-letters", deadline=60, until=lambda rs: len(rs) >= 2)
    assert len(dead) == 2, f"{[h for _, _, h in dead]}\n{runtime.logs()}"
    for key, value, headers in dead:
        assert headers["weir.reason"] == b"rejected", headers
        assert headers["weir.stage"] == b"map", headers
        assert headers["weir.error"], headers
        assert headers["weir.source.topic"] == orders.encode(), headers
        size = int(re.match(rb"not json, (\d+) bytes", value).group(1))
        assert headers["weir.source.offset"] == str(bad_offsets[size]).encode(), headers
        truncated = headers["weir.truncated"].decode()
        assert truncated == f"value:{size}>{len(value)}", truncated
        assert value == bad(size)[:len(value)], "the dead letter keeps the head of the record"
        assert 990_000 < len(value) < size
        assert wire_size(key, value, headers) <= RECORD_LIMIT

    port = runtime.ports[0]
    assert metric(port, "weir_dead_letters_truncated_total", job=runtime.job) == 2
    assert metric(port, "weir_dead_letters_total", job=runtime.job, reason="rejected") == 2
    assert metric(port, "weir_stage_restarts_total", job=runtime.job, stage="map") in (None, 0), runtime.logs()
    log = (runtime.workdir / f"{runtime.job}-0.log").read_text()
    assert "stage restarts" not in log, log[-4000:]
