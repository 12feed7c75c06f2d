"""The Kafka pipeline against a real broker: `weir serve` processes run word count; the test
publishes the input and reads the output with confluent-kafka, and checks every count against
its own reference."""

import pytest

from pool import Stream, Weir, committed_lag, counts_of, create_topic, read_topic, unique


@pytest.fixture
def job(broker, weir, tmp_path):
    """A fresh 6-partition input topic, an output topic, and a Weir job over them."""
    name = unique("wc")
    lines, counts = f"{name}-lines", f"{name}-counts"
    create_topic(broker, lines, 6)
    runtime = Weir(weir, broker, tmp_path, name, [lines], counts)
    yield runtime, lines, counts
    runtime.stop()


def expect_counts(broker, runtime, counts_topic, stream, deadline=120.0):
    reference = stream.reference()
    records = read_topic(
        broker, counts_topic, deadline=deadline,
        until=lambda rs: len({r[0] for r in rs}) >= len(reference))
    got, repeats, changed = counts_of(records)
    missing = {k: v for k, v in reference.items() if k not in got}
    wrong = {k: (got[k], v) for k, v in reference.items() if k in got and got[k] != v}
    extra = {k: v for k, v in got.items() if k not in reference}
    assert not missing and not wrong and not extra, (
        f"missing {len(missing)} {list(missing.items())[:5]}, wrong {len(wrong)} {list(wrong.items())[:5]}, "
        f"extra {len(extra)} {list(extra.items())[:5]}\n{runtime.logs()}")
    assert changed == 0, f"{changed} repeated results had another value"
    return repeats


def test_a_word_count_over_six_partitions_is_exact(broker, job):
    runtime, lines, counts = job
    stream = Stream(partitions=6, lines=3000, seconds=60)
    runtime.start()
    stream.publish(broker, lines)
    stream.close_windows(broker, lines)
    expect_counts(broker, runtime, counts, stream)
    assert committed_lag(broker, f"weir.{runtime.job}", lines, 6) <= 6, "every partition committed"
