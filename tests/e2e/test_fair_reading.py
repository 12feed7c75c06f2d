"""A stage reads its partitions at the same pace (runtime/src/kafka/partition_queues.rs): a job
started over a backlog in 3 partitions must not read one partition to its end before the next.
The shuffle's frontier is the slowest upstream's watermark, so reading one partition after the
other made stage 2 hold every window until the last partition was read (BENCHMARKS.md,
"Speed"). Through one consumer queue, librdkafka 2.12 delivered each partition's whole backlog
in turn; with a queue per partition the stage takes a batch from each in turn.

Seen from outside: the order of stage 1's partials in the repartition topic. Every record holds
the same word, so every partial goes to one repartition partition, in the order stage 1 wrote
them; the test follows how many windows each upstream has sent along that order."""

import struct
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from pool import Weir, counts_of, create_topic, read_topic, unique

PARTITIONS = 3
WINDOWS = 6
# About 1 MB of input per window and partition: a stage prefetches at most 1,000 records and
# one 1 MiB fetch response of a partition ahead of the others, about 2 windows here.
PER_WINDOW = 1000
PADDING = "-" * 1000
WINDOW_MS = 10_000
MAX_SKEW = 3


def read_all(broker, topic, deadline=60.0):
    """Every record of `topic`, as (partition, value) in each partition's order."""
    consumer = Consumer({"bootstrap.servers": broker, "group.id": f"fair-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        todo = {}
        for p in partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > 0:
                todo[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in todo])
        records, start = [], time.monotonic()
        while todo and time.monotonic() - start < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            records.append((message.partition(), message.value()))
            if message.offset() + 1 >= todo.get(message.partition(), 0):
                todo.pop(message.partition(), None)
        assert not todo, f"could not read {topic} to its end"
        return records
    finally:
        consumer.close()


def partial_upstream(value):
    """The upstream of a repartition record of packed (`b`) or single (`p`) partials, else None
    (a marker), as runtime/src/shuffle/mod.rs writes them."""
    if value[:1] not in (b"b", b"p"):
        return None
    n = struct.unpack(">H", value[1:3])[0]
    return value[3:3 + n].decode()


def test_a_backlog_in_several_partitions_is_read_at_the_same_pace(broker, weir, tmp_path):
    name = unique("fair")
    lines, counts = f"{name}-lines", f"{name}-counts"
    create_topic(broker, lines, PARTITIONS)
    base = (int(time.time() * 1000) // WINDOW_MS) * WINDOW_MS - 3_600_000
    producer = Producer({"bootstrap.servers": broker, "linger.ms": 20, "batch.size": 200_000})
    for p in range(PARTITIONS):
        for w in range(WINDOWS):
            for i in range(PER_WINDOW):
                ts = base + w * WINDOW_MS + i * (WINDOW_MS // PER_WINDOW)
                producer.produce(lines, value=f"x {PADDING}".encode(), partition=p, timestamp=ts)
            producer.poll(0)
        # Closes the last window.
        producer.produce(lines, value=b"end", partition=p, timestamp=base + (WINDOWS + 5) * WINDOW_MS)
    assert producer.flush(120) == 0

    runtime = Weir(weir, broker, tmp_path, name, [lines], counts)
    runtime.start()
    want = {(base + w * WINDOW_MS, "x"): PARTITIONS * PER_WINDOW for w in range(WINDOWS)}
    try:
        output = read_topic(broker, counts, deadline=180,
                            until=lambda rs: want.keys() <= counts_of(rs)[0].keys())
        got = {k: v for k, v in counts_of(output)[0].items() if k[1] == "x"}
        assert got == want, runtime.logs()
        records = read_all(broker, f"weir.{name}.repartition")
    finally:
        runtime.stop()

    # Along the repartition partition that holds the partials, how many windows each upstream
    # has sent, and how far apart the upstreams ever were.
    sent = {f"{lines}/{p}": 0 for p in range(PARTITIONS)}
    skew, order = 0, []
    for _, value in records:
        upstream = partial_upstream(value)
        if upstream is None or upstream not in sent:
            continue
        sent[upstream] += 1
        order.append(upstream[-1])
        skew = max(skew, max(sent.values()) - min(sent.values()))
    assert all(n >= WINDOWS for n in sent.values()), sent
    assert skew <= MAX_SKEW, f"one upstream ran {skew} windows ahead; partials by upstream: {''.join(order)}"
