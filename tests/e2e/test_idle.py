"""An idle input partition does not hold an event-time job back (issue 13, cause 9): with
`idle_timeout`, a partition that gets no record for that long stops holding the reduce stage's
event time back (Flink's `withIdleness`). Here one of 4 input partitions never gets a record;
the windows of the other three still fire, each with its exact count."""

from collections import Counter

from confluent_kafka import Producer

from pool import Weir, create_topic, expect_exact, unique

BASE = 1_700_000_000_000  # a multiple of the 10 s window
WORDS = ("alpha", "bravo", "charlie", "delta")


def test_an_idle_partition_does_not_hold_the_windows_of_the_others_back(broker, weir, tmp_path):
    name = unique("idle")
    lines, counts = f"{name}-lines", f"{name}-counts"
    create_topic(broker, lines, 4)
    runtime = Weir(weir, broker, tmp_path, name, [lines], counts, extra='idle_timeout = "2s"')
    try:
        runtime.start()
        runtime.wait_assigned(0)
        producer = Producer({"bootstrap.servers": broker, "linger.ms": 5})
        want = Counter()
        # Partitions 0-2 get a record a second for 30 s of event time, then one at 45 s that
        # closes the windows up to 40 s; partition 3 gets nothing.
        for partition in range(3):
            for second in range(30):
                word = WORDS[(second + partition) % len(WORDS)]
                t = BASE + second * 1000
                producer.produce(lines, value=word.encode(), partition=partition, timestamp=t)
                want[(t - t % 10_000, word)] += 1
            producer.produce(lines, value=b"closing", partition=partition, timestamp=BASE + 45_000)
        assert producer.flush(30) == 0

        expect_exact(broker, counts, dict(want), runtime.logs, deadline=90)
    finally:
        runtime.stop()
