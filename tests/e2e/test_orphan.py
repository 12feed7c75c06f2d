"""A member the group leaves without a partition while input partitions go unconsumed says so
and rejoins (issue 13, cause 8). After a kill -9 and a restart, tansu once kept giving every
partition to the dead member: the new runtime held nothing for minutes, without a word.

Here a foreign member of the map stage's group takes the only input partition first and never
commits: Weir's member gets nothing while records wait. It must name the partition in a
warning, count the rejoin in `weir_group_rejoins_total`, and rejoin (the squatter keeps the
partition under cooperative-sticky, so nothing changes yet). When the squatter leaves, Weir gets
the partition and every count comes out exact."""

import time
from collections import Counter

from confluent_kafka import Consumer, Producer

from pool import Weir, create_topic, expect_exact, metric, unique

BASE = 1_700_000_000_000  # a multiple of the 10 s window
WORDS = ("alpha", "bravo", "charlie")


def test_a_member_without_partitions_names_the_unconsumed_ones_and_rejoins(broker, weir, tmp_path):
    name = unique("orphan")
    lines, counts = f"{name}-lines", f"{name}-counts"
    create_topic(broker, lines, 1)
    squatter = Consumer({
        "bootstrap.servers": broker,
        "group.id": f"weir.{name}",  # the map stage's group
        "partition.assignment.strategy": "cooperative-sticky",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
    })
    squatter.subscribe([lines])
    deadline = time.time() + 60
    while not squatter.assignment():
        assert time.time() < deadline, "the squatter got no partition"
        squatter.poll(0.2)

    runtime = Weir(weir, broker, tmp_path, name, [lines], counts)
    try:
        runtime.start()
        producer = Producer({"bootstrap.servers": broker, "linger.ms": 5})
        want = Counter()
        for second in range(20):
            word = WORDS[second % len(WORDS)]
            t = BASE + second * 1000
            producer.produce(lines, value=word.encode(), timestamp=t)
            want[(t - t % 10_000, word)] += 1
        producer.produce(lines, value=b"closing", timestamp=BASE + 35_000)
        assert producer.flush(30) == 0

        # Two looks a join deadline apart (36 s with a 6 s session), then the warning.
        warning = f"holds no partition while {lines}/0 (21 records waiting"
        deadline = time.time() + 150
        while warning not in runtime.logs(tail=None):
            assert time.time() < deadline, f"no warning naming {lines}/0:\n{runtime.logs()}"
            squatter.poll(0.5)
        rejoins = metric(runtime.ports[0], "weir_group_rejoins_total", job=name, stage="map")
        assert rejoins is not None and rejoins >= 1, runtime.logs()
        assert runtime.assigned(0) == 0, "the squatter still holds the partition"

        squatter.close()
        runtime.wait_assigned(0, timeout=60)
        expect_exact(broker, counts, dict(want), runtime.logs, deadline=90)
    finally:
        runtime.stop()
