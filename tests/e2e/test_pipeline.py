"""The Kafka pipeline against a real broker: `weir serve` processes run word count; the test
publishes the input and reads the output with confluent-kafka, and checks every count against
its own reference."""

import signal
import subprocess
import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from conftest import ROOT, free_port
from pool import Stream, Weir, committed_lag, create_topic, expect_exact, read_topic, unique, words


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
    return expect_exact(broker, counts_topic, stream.reference(), runtime.logs, deadline)[1]


def test_a_word_count_over_six_partitions_is_exact(broker, job):
    runtime, lines, counts = job
    stream = Stream(partitions=6, lines=3000, seconds=60)
    runtime.start()
    stream.publish(broker, lines)
    stream.close_windows(broker, lines)
    expect_counts(broker, runtime, counts, stream)
    wait_for_lag(broker, runtime, lines)


def halves(stream):
    middle = len(stream.records) // 2
    return stream.records[:middle], stream.records[middle:]


def test_b_kill_9_mid_window_then_restart_loses_nothing(broker, job):
    runtime, lines, counts = job
    stream = Stream(partitions=6, lines=3000, seconds=60, seed=11)
    first, rest = halves(stream)
    victim = runtime.start()
    runtime.wait_assigned(0)
    stream.publish(broker, lines, first, pause_every=250, pause=0.2)
    time.sleep(1.0)  # some windows fired and were committed, others are open
    victim.kill()
    victim.wait()
    # Restarted at once, as a supervisor would: the group must not wait for the dead member
    # longer than the rebalance timeout.
    runtime.start()
    stream.publish(broker, lines, rest)
    stream.close_windows(broker, lines)
    expect_counts(broker, runtime, counts, stream)


def test_c_a_pool_of_three_survives_a_kill(broker, job):
    runtime, lines, counts = job
    stream = Stream(partitions=6, lines=3000, seconds=60, seed=13)
    first, rest = halves(stream)
    pool = [runtime.start() for _ in range(3)]
    time.sleep(3.0)  # the group settles: two partitions each
    stream.publish(broker, lines, first, pause_every=250, pause=0.2)
    pool[1].kill()
    stream.publish(broker, lines, rest, pause_every=250, pause=0.2)
    stream.close_windows(broker, lines)
    expect_counts(broker, runtime, counts, stream)
    wait_for_lag(broker, runtime, lines)


def test_d_scaling_from_one_to_three_runtimes_loses_nothing(broker, job):
    runtime, lines, counts = job
    stream = Stream(partitions=6, lines=3000, seconds=60, seed=17)
    first, rest = halves(stream)
    runtime.start()
    stream.publish(broker, lines, first, pause_every=250, pause=0.2)
    runtime.start()
    runtime.start()
    stream.publish(broker, lines, rest, pause_every=250, pause=0.2)
    stream.close_windows(broker, lines)
    expect_counts(broker, runtime, counts, stream)
    wait_for_lag(broker, runtime, lines)


def test_f_poison_and_late_records_go_to_the_dead_letter_topic(broker, job):
    runtime, lines, counts = job
    stream = Stream(partitions=6, lines=600, seconds=30, seed=19)
    runtime.start()
    stream.publish(broker, lines)
    producer = Producer({"bootstrap.servers": broker})
    # Not UTF-8: word count's map refuses it. Then a line from before the watermark.
    producer.produce(lines, value=b"\xff\xfe not text", partition=2, timestamp=stream.end_ms - 70_000)
    producer.produce(lines, value=b"far too late", partition=4, timestamp=stream.records[0][1])
    assert producer.flush(30) == 0
    stream.close_windows(broker, lines)
    expect_counts(broker, runtime, counts, stream)
    dead = read_topic(broker, f"{runtime.job}.dead-letters", until=lambda rs: len(rs) >= 2)
    assert len(dead) == 2, dead
    by_reason = {h["weir.reason"].decode(): (v, h) for _, v, h in dead}
    assert set(by_reason) == {"rejected", "late"}, by_reason
    value, headers = by_reason["rejected"]
    assert value == b"\xff\xfe not text"
    assert headers["weir.stage"] == b"map"
    assert headers["weir.source.topic"] == lines.encode()
    assert headers["weir.source.partition"] == b"2"
    assert headers["weir.job"] == runtime.job.encode()
    assert len(headers["weir.module"]) == 64
    value, headers = by_reason["late"]
    assert value == b"far too late"
    assert headers["weir.stage"] == b"window"
    assert headers["weir.source.partition"] == b"4"
    assert b"too late" in headers["weir.error"]


def test_g_a_runtime_paused_past_its_session_timeout_changes_no_count(broker, job):
    runtime, lines, counts = job
    stream = Stream(partitions=6, lines=3000, seconds=60, seed=23)
    first, rest = halves(stream)
    sleeper, _ = runtime.start(), runtime.start()
    # The sleeper must hold partitions when it is stopped, or there is nothing for it to lose.
    runtime.wait_assigned(0)
    runtime.wait_assigned(1)
    stream.publish(broker, lines, first, pause_every=250, pause=0.2)
    sleeper.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    # Past the 6 s session timeout: the other runtime takes every partition and goes on.
    stream.publish(broker, lines, rest[: len(rest) // 2], pause_every=250, pause=0.5)
    # Stopped for 10 s in all, whatever the publishing took (a fixed 4 s after it left the
    # sleeper stopped for under 6 s once, and it was never evicted).
    time.sleep(max(0.0, 10.0 - (time.monotonic() - stopped)))
    sleeper.send_signal(signal.SIGCONT)
    stream.publish(broker, lines, rest[len(rest) // 2:], pause_every=250, pause=0.2)
    stream.close_windows(broker, lines)
    expect_counts(broker, runtime, counts, stream)
    wait_for_lag(broker, runtime, lines)
    # The whole logs: the rebalances after the pause log more than a failure message shows.
    assert "lost=true" in runtime.logs(tail=None), \
        f"the paused runtime did not notice it had lost its partitions:\n{runtime.logs()}"



def test_e_a_broker_restart_mid_stream_is_survived(weir, tmp_path):
    data, port = tmp_path / "broker", free_port()
    script = ROOT / "scripts" / "test-broker"
    subprocess.run([script, "start", data, str(port)], check=True)
    broker = f"127.0.0.1:{port}"
    name = unique("wc")
    lines, counts = f"{name}-lines", f"{name}-counts"
    runtime = Weir(weir, broker, tmp_path, name, [lines], counts)
    try:
        create_topic(broker, lines, 6)
        stream = Stream(partitions=6, lines=3000, seconds=60, seed=29)
        first, rest = halves(stream)
        runtime.start()
        runtime.wait_assigned(0)
        stream.publish(broker, lines, first, pause_every=250, pause=0.2)
        subprocess.run([script, "stop", data], check=True)
        time.sleep(3.0)
        subprocess.run([script, "start", data, str(port)], check=True)
        stream.publish(broker, lines, rest, pause_every=250, pause=0.2)
        stream.close_windows(broker, lines)
        expect_counts(broker, runtime, counts, stream)
        wait_for_lag(broker, runtime, lines)
    finally:
        runtime.stop()
        subprocess.run([script, "stop", data], check=True)


def wait_for_lag(broker, runtime, lines, partitions=6, deadline=60.0):
    """The map group's lag comes down to one record per partition: the closing record, whose
    window is still open (the offset rule keeps it uncommitted until that window fires)."""
    start = time.monotonic()
    while True:
        lag = committed_lag(broker, f"weir.{runtime.job}", lines, partitions)
        if lag <= partitions or time.monotonic() - start > deadline:
            break
        time.sleep(0.5)
    assert lag <= partitions, f"lag {lag}\n{runtime.logs()}"


def test_an_unknown_input_topic_is_reported_and_the_job_starts_once_it_exists(broker, weir, tmp_path):
    name = unique("wc")
    lines, counts = f"{name}-lines", f"{name}-counts"
    runtime = Weir(weir, broker, tmp_path, name, [lines], counts)
    try:
        proc = runtime.start()
        start = time.monotonic()
        while f"topic `{lines}` does not exist" not in runtime.logs() and time.monotonic() - start < 30:
            time.sleep(0.2)
        assert f"job `{name}` reads `{lines}`: topic `{lines}` does not exist" in runtime.logs(), runtime.logs()
        assert proc.poll() is None, "the runtime keeps running"
        create_topic(broker, lines, 6)
        stream = Stream(partitions=6, lines=300, seconds=20, seed=31)
        stream.publish(broker, lines)
        stream.close_windows(broker, lines)
        expect_counts(broker, runtime, counts, stream)
    finally:
        runtime.stop()


def test_without_the_shuffle_input_keyed_by_word_is_counted_per_partition(broker, weir, tmp_path):
    """`shuffle = false`: each input partition is reduced on its own, which is exact when the
    input is keyed by the reduce key. No repartition topic is made."""
    name = unique("wc")
    lines, counts = f"{name}-lines", f"{name}-counts"
    create_topic(broker, lines, 3)
    runtime = Weir(weir, broker, tmp_path, name, [lines], counts, extra="shuffle = false")
    try:
        stream = Stream(partitions=3, lines=1200, seconds=40, seed=37)
        # One word per record, keyed by the word: the producer's partitioner keeps a word on one
        # partition. The closing records carry an empty word list (no count).
        stream.records = [(None, ts, w) for _, ts, line in stream.records for w in words(line)[:1]]
        runtime.start()
        producer = Producer({"bootstrap.servers": broker})
        for _, ts, word in stream.records:
            producer.produce(lines, key=word.encode(), value=word.encode(), timestamp=ts)
        assert producer.flush(30) == 0
        stream.close_windows(broker, lines)
        expect_counts(broker, runtime, counts, stream)
        topics = AdminClient({"bootstrap.servers": broker}).list_topics(timeout=10).topics
        assert f"weir.{name}.repartition" not in topics
    finally:
        runtime.stop()
