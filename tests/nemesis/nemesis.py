"""The nemesis: one seeded run of a word-count job on a pool of `weir serve` processes while
processes are killed, terminated, paused past their session timeout, added and removed, checked
against a plain Python computation over exactly the records published.

Everything random comes from `random.Random(seed)`: the records (words, partitions, event times)
and the plan of faults (kinds, times, targets, delays). Only the scheduling of the processes by
the operating system is not reproducible, so a seed that fails once may pass the next time.

The input is built so that the reference is a plain computation:
- event time advances steadily with the record index, and each record's timestamp is at most
  `MAX_DISORDER_MS` behind it; the job's out-of-orderness is larger, so with per-partition
  watermarks (largest event time seen minus out-of-orderness) no record is ever late;
- with the shuffle off, every word belongs to one input partition and a line only holds words of
  its partition, so per-partition reduction is the global one;
- optional late records (`late=True`) carry words of their own, seen nowhere else, and event
  times so far behind their partition's watermark (computed here, record by record, as Weir
  does) that all their windows are closed: they must go to the dead-letter topic and count
  nowhere, whatever the window kind.

Reused from tests/e2e/pool.py: the `weir serve` launcher (`Weir`: config file, log file per
process, /metrics probe of assigned partitions), topic creation and the module's tokenizer
(`words`). The output is read by a tail of our own, which notes when each result arrived.
"""

import dataclasses
import json
import pathlib
import random
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from e2e_helpers import load_e2e_helpers  # noqa: E402  (tests/e2e/pool.py)

e2e = load_e2e_helpers()

PARTITIONS = 4
SESSION_TIMEOUT_S = 6  # what e2e.Weir writes into the serve config
OUT_OF_ORDERNESS_MS = 3000
MAX_DISORDER_MS = 1500  # < out-of-orderness: nothing is late unless made late on purpose
T0 = 1_700_000_000_000  # Kafka clients read a timestamp of 0 as "now": start at a round time
CLOSING_WORD = "end"  # the closing records' word: its windows never close, so never output

WINDOWS = {
    # kind: (window spec, extent in ms of the window a pair opens, slide)
    "tumbling": ("tumbling:10s", 10_000, 10_000),
    "hopping": ("hopping:10s,5s", 10_000, 5_000),
    "session": ("session:3s", 3_000, None),
}
FAULT_KINDS = ("kill9", "term", "stop", "add", "remove", "broker")
DEFAULT_FAULTS = ("kill9", "term", "stop", "add", "remove")
FAULT_WEIGHTS = {"kill9": 3, "term": 2, "stop": 2, "add": 1, "remove": 1, "broker": 1}

# 60 words: the e2e vocabulary and 36 more. Lines capitalize some, as the module lower-cases.
VOCABULARY = tuple(e2e.WORDS) + tuple(
    "amber basil cedar dune ember fern garnet harbor iris jasper kelp lotus maple nectar onyx "
    "pebble quartz raven sage thistle umber violet willow yarrow zinnia acorn birch clover "
    "dahlia elm fig grove heath ivy juniper koi".split())
assert len(VOCABULARY) == 60 and CLOSING_WORD not in VOCABULARY


@dataclasses.dataclass
class Options:
    """What one run does, besides its seed."""
    window: str = "tumbling"
    shuffle: bool = True
    runtimes: int | None = None  # None: the seed picks 2 or 3
    faults: tuple = DEFAULT_FAULTS  # () for none
    fault_count: tuple = (3, 6)  # inclusive range, the seed picks
    late: bool = False
    lateness_ms: int = 0
    lines: int = 3000
    publish_s: float = 40.0
    settle_s: float = 60.0  # after the closing records, how long results may take at most
    idle_s: float = 6.0  # once every expected result is there, how long to wait for more
    batch_size: int | None = None


# --- the input and its reference -----------------------------------------------------------------

@dataclasses.dataclass
class Record:
    partition: int
    ts: int
    line: str
    late: bool = False


class Input:
    """The records of one seed, in publication order, and the exact results they must give."""

    def __init__(self, rng, opts):
        self.opts = opts
        self.spec, self.extent, self.slide = WINDOWS[opts.window]
        # Event time runs ~3x (sessions ~6x) faster than the publication: windows fire while
        # the faults happen. Sessions get a longer span so that rarer words break into many.
        span = 240_000 if opts.window == "session" else 120_000
        self.t0 = T0 + rng.randrange(0, 10_000)
        self.span = span
        vocab = list(VOCABULARY)
        rng.shuffle(vocab)  # which words are frequent: Zipf weights over a seeded order
        weights = {w: 1.0 / (rank + 1) for rank, w in enumerate(vocab)}
        if opts.shuffle:
            by_partition = {p: vocab for p in range(PARTITIONS)}
        else:
            owner = {w: i % PARTITIONS for i, w in enumerate(rng.sample(vocab, len(vocab)))}
            by_partition = {p: [w for w in vocab if owner[w] == p] for p in range(PARTITIONS)}
        cumulative = {p: list(_accumulate(weights[w] for w in ws)) for p, ws in by_partition.items()}

        self.records = []
        max_seen = {}  # partition -> largest event time seen (Weir's per-partition watermark)
        late_every = 97 if opts.late else None
        for i in range(opts.lines):
            base = self.t0 + i * span // opts.lines
            p = rng.randrange(PARTITIONS)
            ts = base - rng.randint(0, MAX_DISORDER_MS)
            ws = by_partition[p]
            line = " ".join(
                (w.capitalize() if rng.random() < 0.3 else w)
                for w in rng.choices(ws, cum_weights=cumulative[p], k=rng.randint(1, 8)))
            self.records.append(Record(p, ts, line))
            max_seen[p] = max(max_seen.get(p, ts), ts)
            if late_every and i > opts.lines // 10 and rng.randrange(late_every) == 0:
                q = rng.choice(sorted(max_seen))
                watermark = max_seen[q] - OUT_OF_ORDERNESS_MS
                late_ts = watermark - opts.lateness_ms - self.extent - rng.randint(1000, 20_000)
                self.records.append(Record(q, late_ts, f"tardy{len(self.records)} Tardy{len(self.records)}x", True))
        self.last_base = self.t0 + span
        # One record per partition far ahead closes every window of the stream (and every
        # session: the watermark passes the last session's end plus lateness).
        self.end_ms = self.last_base + 60_000 + opts.lateness_ms
        self.closing = [Record(p, self.end_ms, CLOSING_WORD) for p in range(PARTITIONS)]

    def on_time(self):
        return [r for r in self.records if not r.late]

    def late_records(self):
        return [r for r in self.records if r.late]

    def windows_of(self, t):
        """Tumbling/hopping windows containing t, as Weir's FixedWindows assigns them."""
        size, slide = self.extent, self.slide
        last = t - t % slide
        start = last - ((size - 1) // slide) * slide
        while start <= last:
            if t < start + size:
                yield start, start + size
            start += slide

    def reference(self):
        """(window_start, window_end, word) -> count over the on-time records."""
        counts = {}
        if self.opts.window == "session":
            times = {}
            for r in self.on_time():
                for w in e2e.words(r.line):
                    times.setdefault(w, []).append(r.ts)
            gap = self.extent
            for w, ts in times.items():
                ts.sort()
                start, end, n = ts[0], ts[0] + gap, 0
                for t in ts:
                    if t > end:  # [t, t + gap) neither overlaps nor touches the session
                        counts[(start, end, w)] = n
                        start, n = t, 0
                    end = max(end, t + gap)
                    n += 1
                counts[(start, end, w)] = n
        else:
            for r in self.on_time():
                for w in e2e.words(r.line):
                    for start, end in self.windows_of(r.ts):
                        counts[(start, end, w)] = counts.get((start, end, w), 0) + 1
        return counts

    def wall_of(self, event_ms):
        """Roughly when (s after the publication started) event time `event_ms` was published."""
        return (event_ms - self.t0) / self.span * self.opts.publish_s


def _accumulate(values):
    total = 0.0
    for v in values:
        total += v
        yield total


# --- the plan of faults ---------------------------------------------------------------------------

@dataclasses.dataclass
class Action:
    at: float  # seconds after the publication started
    do: str  # kill, term, start, stop, cont, broker-stop, broker-start
    slot: int | None = None
    fault: int = 0  # index of the fault it belongs to
    done_at: float | None = None
    note: str = ""


@dataclasses.dataclass
class Fault:
    kind: str
    at: float
    slot: int | None
    detail: str = ""

    def label(self):
        target = f"r{self.slot}" if self.slot is not None else "broker"
        detail = f",{self.detail}" if self.detail else ""
        return f"{self.kind}@{self.at:.1f}s({target}{detail})"


def plan_faults(rng, opts, runtimes):
    """Faults at random times of the publication, each on a runtime (slot) that no other fault
    is working on. Every fault but `remove` is undone (restart, SIGCONT) before the run ends,
    and `remove` keeps at least one runtime."""
    faults, actions = [], []
    if not opts.faults:
        return faults, actions
    count = rng.randint(*opts.fault_count)
    margin = 4.0
    times = sorted(rng.uniform(margin, opts.publish_s - margin) for _ in range(count))
    slots = list(range(runtimes))  # slots that exist and were not removed
    busy = {s: 0.0 for s in slots}  # slot -> when the fault on it is undone (roughly)
    broker_busy = 0.0
    next_slot = runtimes
    for at in times:
        free = [s for s in slots if busy[s] <= at]
        allowed = []
        if free:
            allowed += [k for k in ("kill9", "term", "stop") if k in opts.faults]
        if "add" in opts.faults and len(slots) < 3:
            allowed.append("add")
        if "remove" in opts.faults and len(slots) >= 2 and free:
            allowed.append("remove")
        if "broker" in opts.faults and broker_busy <= at:
            allowed.append("broker")
        if not allowed:
            continue
        kind = rng.choices(allowed, weights=[FAULT_WEIGHTS[k] for k in allowed])[0]
        index = len(faults)
        if kind == "broker":
            down = rng.uniform(1.0, 5.0)
            faults.append(Fault(kind, at, None, f"{down:.1f}s"))
            actions += [Action(at, "broker-stop", None, index), Action(at + down, "broker-start", None, index)]
            broker_busy = at + down + 5.0
            continue
        if kind == "add":
            slot = next_slot
            next_slot += 1
            slots.append(slot)
            busy[slot] = at + 5.0
            faults.append(Fault(kind, at, slot))
            actions.append(Action(at, "start", slot, index))
            continue
        slot = rng.choice(free)
        if kind == "kill9":
            delay = 0.0 if rng.random() < 0.4 else rng.uniform(1.0, 8.0)
            faults.append(Fault(kind, at, slot, f"+{delay:.1f}s"))
            actions += [Action(at, "kill", slot, index), Action(at + delay, "start", slot, index)]
            busy[slot] = at + delay + 3.0
        elif kind == "term":
            delay = 0.0 if rng.random() < 0.5 else rng.uniform(1.0, 8.0)
            faults.append(Fault(kind, at, slot, f"+{delay:.1f}s"))
            # The restart waits for the old process to exit (up to its shutdown grace).
            actions += [Action(at, "term", slot, index), Action(at + delay, "start", slot, index)]
            busy[slot] = at + delay + 8.0
        elif kind == "stop":
            pause = SESSION_TIMEOUT_S + rng.uniform(2.0, 6.0)
            faults.append(Fault(kind, at, slot, f"{pause:.1f}s"))
            actions += [Action(at, "stop", slot, index), Action(at + pause, "cont", slot, index)]
            busy[slot] = at + pause + 2.0
        elif kind == "remove":
            faults.append(Fault(kind, at, slot))
            actions.append(Action(at, "term", slot, index))
            slots.remove(slot)
    actions.sort(key=lambda a: a.at)
    return faults, actions


# --- the processes ----------------------------------------------------------------------------------

class Pool:
    """Runtimes by slot on top of e2e.Weir (which numbers processes, not slots: a restarted slot
    is a new process with a new log file)."""

    def __init__(self, weir):
        self.weir = weir
        self.slots = {}  # slot -> index in weir.procs of its current process
        self.history = []  # (slot, index) for every process started

    def proc(self, slot):
        return self.weir.procs[self.slots[slot]]

    def start(self, slot):
        self.weir.start()
        self.slots[slot] = len(self.weir.procs) - 1
        self.history.append((slot, self.slots[slot]))
        return self.proc(slot)

    def log_paths(self):
        """slot -> the log file of each of its processes, oldest first."""
        paths = {}
        for slot, index in self.history:
            paths.setdefault(slot, []).append(self.weir.workdir / f"{self.weir.job}-{index}.log")
        return paths


class Nemesis(threading.Thread):
    """Runs the planned actions at their times (relative to `t0`, a monotonic time)."""

    def __init__(self, pool, actions, t0, broker_ctl, publishing):
        super().__init__(daemon=True)
        self.pool, self.actions, self.t0, self.broker_ctl = pool, actions, t0, broker_ctl
        self.publishing = publishing  # held while the broker is down: no chunk spans a restart
        self.errors = []

    def now(self):
        return time.monotonic() - self.t0

    def run(self):
        for action in self.actions:
            delay = action.at - self.now()
            if delay > 0:
                time.sleep(delay)
            try:
                self.perform(action)
            except Exception as err:  # noqa: BLE001: reported with the run
                self.errors.append(f"{action}: {err!r}")
            action.done_at = self.now()

    def perform(self, action):
        pool = self.pool
        if action.do == "kill":
            proc = pool.proc(action.slot)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        elif action.do == "term":
            pool.proc(action.slot).send_signal(signal.SIGTERM)
        elif action.do == "stop":
            pool.proc(action.slot).send_signal(signal.SIGSTOP)
        elif action.do == "cont":
            pool.proc(action.slot).send_signal(signal.SIGCONT)
        elif action.do == "start":
            if action.slot in pool.slots:
                old = pool.proc(action.slot)
                try:
                    old.wait(timeout=45)
                except subprocess.TimeoutExpired:
                    action.note = "did not exit within 45 s of SIGTERM: killed"
                    old.kill()
                    old.wait()
                if old.returncode not in (0, -signal.SIGKILL):
                    action.note = f"previous process exited with {old.returncode}"
            pool.start(action.slot)
        elif action.do == "broker-stop":
            self.publishing.acquire()
            self.broker_ctl("stop")
        elif action.do == "broker-start":
            try:
                self.broker_ctl("start")
            finally:
                self.publishing.release()
        else:
            raise ValueError(action.do)


# --- reading the output ------------------------------------------------------------------------------

class Tail(threading.Thread):
    """Reads a topic from the beginning while the run goes on, noting when each record came."""

    def __init__(self, broker, topic, t0):
        super().__init__(daemon=True)
        self.broker, self.topic, self.t0 = broker, topic, t0
        self.records = []  # (seconds after t0, key bytes, value bytes, partition, offset)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.error = None

    def run(self):
        consumer = Consumer({
            "bootstrap.servers": self.broker,
            "group.id": f"nemesis-tail-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
            "topic.metadata.refresh.interval.ms": 2000,
        })
        try:
            partitions = None
            while partitions is None and not self.stopping.is_set():
                try:
                    meta = consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
                    if meta is not None and meta.error is None and meta.partitions:
                        partitions = sorted(meta.partitions)
                except Exception:  # noqa: BLE001: the broker may be down (broker fault)
                    pass
                if partitions is None:
                    time.sleep(0.3)
            if partitions is None:
                return
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            while not self.stopping.is_set():
                message = consumer.poll(0.2)
                if message is None or message.error():
                    continue
                with self.lock:
                    self.records.append((time.monotonic() - self.t0, message.key(), message.value(),
                                         message.partition(), message.offset()))
        except Exception as err:  # noqa: BLE001
            self.error = repr(err)
        finally:
            consumer.close()

    def snapshot(self):
        with self.lock:
            return list(self.records)


def read_to_end(broker, topic, deadline=60.0):
    """Every record of `topic` (none if it does not exist), read up to the end offsets it had
    when the read began: (key, value, headers, partition, offset)."""
    consumer = Consumer({"bootstrap.servers": broker, "group.id": f"nemesis-read-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            return []
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in meta.partitions}
        todo = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in todo])
        records, stop = [], time.monotonic() + deadline
        while todo and time.monotonic() < stop:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            p = message.partition()
            if message.offset() < ends[p]:
                records.append((message.key(), message.value(), dict(message.headers() or []), p, message.offset()))
            if message.offset() >= ends[p] - 1:
                todo.discard(p)
        assert not todo, f"could not read {topic} to its end within {deadline:.0f}s"
        return records
    finally:
        consumer.close()


def decode_shuffle(value):
    """A repartition record's value, as runtime/src/shuffle/mod.rs writes it: `m`/`b`/`p`, u16
    length + upstream, then i64 big-endian epoch and (watermark, earliest open session) for a
    marker or (window start, end) for packed partials (`b`) or a single partial (`p`). Raises
    ValueError on any other format."""
    try:
        kind = value[:1]
        n = struct.unpack(">H", value[1:3])[0]
        upstream = value[3:3 + n].decode()
        epoch, a, b = struct.unpack(">qqq", value[3 + n:3 + n + 24])
    except (struct.error, UnicodeDecodeError, TypeError) as err:
        raise ValueError(f"not a shuffle record: {err}") from err
    if kind == b"m":
        return "marker", upstream, epoch, a, b
    if kind in (b"b", b"p"):
        return "partial", upstream, epoch, a, b
    raise ValueError(f"unknown shuffle record kind {kind!r}")


def last_markers(records):
    """(upstream, epoch) -> (offset, watermark, earliest open session, markers, partials) of
    repartition records (key, value, headers, partition, offset) of one partition, and how many
    records did not decode."""
    out, undecoded = {}, 0
    for _, value, _, _, offset in records:
        try:
            kind, upstream, epoch, a, b = decode_shuffle(value)
        except ValueError:
            undecoded += 1
            continue
        o, wm, session, markers, partials = out.get((upstream, epoch), (None, None, None, 0, 0))
        if kind == "marker":
            out[(upstream, epoch)] = (offset, a, b, markers + 1, partials)
        else:
            out[(upstream, epoch)] = (o, wm, session, markers, partials + 1)
    return out, undecoded


def shuffle_diagnosis(broker, topic):
    """Per upstream, the epochs seen in repartition partition 0 (every marker goes to every
    partition) with their last watermark; flags an upstream whose newest epoch stopped short of
    an older one: stage 2 keeps the newest epoch, so its windows wait (or fire) without the
    owner that went on."""
    records = [r for r in read_to_end(broker, topic) if r[3] == 0]
    if not records:
        return []
    markers, undecoded = last_markers(records)
    lines = [f"shuffle markers in {topic}/0 ({len(records)} records, {undecoded} not decoded):"]
    for upstream in sorted({u for u, _ in markers}):
        epochs = sorted((e, v) for (u, e), v in markers.items() if u == upstream)
        text = ", ".join(f"epoch {e}: wm {v[1]} (offset {v[0]}, {v[3]} markers, {v[4]} partials)"
                         for e, v in epochs)
        furthest = max((v[1] for _, v in epochs if v[1] is not None), default=None)
        newest = epochs[-1][1][1]
        flag = ""
        if furthest is not None and newest is not None and newest < furthest:
            flag = f"  <- newest epoch {epochs[-1][0]} stopped at wm {newest}, an older epoch reached {furthest}"
        lines.append(f"  {upstream}: {text}{flag}")
    return lines


def parse_results(records):
    """ident -> list of values in the order written, and the records that did not parse."""
    values, bad = {}, []
    for _, key, value, partition, offset in records:
        try:
            k, v = json.loads(key), json.loads(value)
            ident = (k["window_start"], k["window_end"], k["key"])
            values.setdefault(ident, []).append(v["value"])
        except (TypeError, ValueError, KeyError) as err:
            bad.append((partition, offset, key, value, repr(err)))
    return values, bad


@dataclasses.dataclass
class Verdict:
    results: int  # distinct (window, key) written
    writes: int  # output records read
    wrong: dict  # ident -> (values written, want)
    missing: dict  # ident -> want
    extra: dict  # ident -> values written
    changed: dict  # ident -> values written (more than one distinct)
    bad: list


def judge(reference, records):
    values, bad = parse_results(records)
    wrong = {k: (vs, reference[k]) for k, vs in values.items() if k in reference and set(vs) != {reference[k]}}
    missing = {k: v for k, v in reference.items() if k not in values}
    extra = {k: vs for k, vs in values.items() if k not in reference}
    changed = {k: vs for k, vs in values.items() if len(set(vs)) > 1}
    return Verdict(len(values), len(records), wrong, missing, extra, changed, bad)


# --- one run -------------------------------------------------------------------------------------------

class Run:
    """One seed, start to verdict. `broker_ctl(command)` stops/starts the broker ("stop",
    "start") for the broker fault; `broker` is its bootstrap address."""

    def __init__(self, seed, opts, broker, broker_ctl, weir_bin, workdir):
        self.seed, self.opts = seed, opts
        self.broker, self.broker_ctl, self.weir_bin, self.workdir = broker, broker_ctl, weir_bin, workdir
        rng = random.Random(seed)
        self.input = Input(rng, opts)
        self.runtimes = opts.runtimes if opts.runtimes is not None else rng.choice([2, 3])
        self.faults, self.actions = plan_faults(rng, opts, self.runtimes)
        self.job = f"nem{seed}-{opts.window[:4]}-{uuid.uuid4().hex[:6]}"
        self.topic_in, self.topic_out = f"{self.job}-in", f"{self.job}-out"
        self.notes = []
        self.diagnosis = []
        self.publishing = threading.Lock()  # held by a chunk of the publication, and by a broker fault
        self.timeline = []  # (s, what): publication milestones, for the report

    def job_extra(self):
        lines = [f'out_of_orderness = "{OUT_OF_ORDERNESS_MS}ms"', f'lateness = "{self.opts.lateness_ms}ms"']
        if not self.opts.shuffle:
            lines.append("shuffle = false")
        if self.opts.batch_size:
            lines.append(f"batch_size = {self.opts.batch_size}")
        return "\n".join(lines)

    def execute(self):
        opts = self.opts
        e2e.create_topic(self.broker, self.topic_in, PARTITIONS)
        self.weir = e2e.Weir(self.weir_bin, self.broker, self.workdir, self.job, [self.topic_in], self.topic_out,
                             window=self.input.spec, extra=self.job_extra())
        self.pool = Pool(self.weir)
        try:
            self._execute(opts)
        finally:
            self.tail.stopping.set()
            self.weir.stop()
            self.tail.join(timeout=10)

    def _execute(self, opts):
        start = time.monotonic()
        self.tail = Tail(self.broker, self.topic_out, start)
        self.tail.start()
        for slot in range(self.runtimes):
            self.pool.start(slot)
        # The faults mean more when every runtime holds partitions: wait (bounded) for that.
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not all(self.weir.assigned(i) for i in range(self.runtimes)):
            time.sleep(0.3)
        unassigned = [f"r{i}" for i in range(self.runtimes) if not self.weir.assigned(i)]
        if unassigned:
            self.notes.append(f"after {time.monotonic() - start:.0f}s still no map partition: {unassigned}")
        self.startup_s = time.monotonic() - start

        t0 = time.monotonic()
        self.t0 = t0
        self.tail.t0 = t0  # arrival times from here on (earlier ones come out negative)
        nemesis = Nemesis(self.pool, self.actions, t0, self.broker_ctl, self.publishing)
        nemesis.start()
        self.publish(self.input.records, t0, opts.publish_s)
        nemesis.join()
        self.nemesis_errors = nemesis.errors
        for action in self.actions:
            if action.note:
                self.notes.append(f"{action.do}@{action.done_at:.1f}s(r{action.slot}): {action.note}")
        self.last_action = max((a.done_at for a in self.actions), default=None)
        self.publish(self.input.closing, None, 0)
        self.closed_at = time.monotonic() - t0
        self.timeline.append((self.closed_at, "closing records published"))

        # Until every expected result is there and nothing new came for idle_s, or settle_s.
        reference = self.input.reference()
        self.reference = reference
        deadline = time.monotonic() + opts.settle_s
        seen, last_count, last_change = set(), -1, time.monotonic()
        while time.monotonic() < deadline:
            records = self.tail.snapshot()
            if len(records) != last_count:
                last_count, last_change = len(records), time.monotonic()
                seen = set(parse_results(records)[0])
            if reference.keys() <= seen and time.monotonic() - last_change >= opts.idle_s:
                break
            time.sleep(0.25)
        else:
            self.notes.append(f"not every result came within {opts.settle_s:.0f}s of the closing records")
        self.records = self.tail.snapshot()
        assert self.tail.error is None and self.tail.is_alive(), f"the output reader failed: {self.tail.error}"
        self.verdict = judge(reference, self.records)
        self.last_result = max((r[0] for r in self.records), default=None)
        self.dead_letters = self.read_dead_letters()
        self.diagnosis = []
        if self.failed():
            self.save()
            if self.opts.shuffle:
                try:
                    self.diagnosis = shuffle_diagnosis(self.broker, f"weir.{self.job}.repartition")
                except Exception as err:  # noqa: BLE001: a diagnosis must not hide the verdict
                    self.diagnosis = [f"shuffle diagnosis failed: {err!r}"]

    def publish(self, records, t0, seconds):
        """Publishes in chunks spread over `seconds` (all at once when 0), in order. Each chunk
        has an idempotent producer of its own and holds `publishing` until it is delivered, so
        that no produce request of ours spans a broker restart (tansu 0.6 on SQLite panics in
        its idempotence check when a producer of before the restart sends again)."""
        chunks = max(1, int(seconds * 2))
        per = -(-len(records) // chunks)
        for c in range(chunks):
            with self.publishing:
                producer = Producer({"bootstrap.servers": self.broker, "enable.idempotence": True,
                                     "linger.ms": 5, "message.timeout.ms": 120_000})
                for r in records[c * per:(c + 1) * per]:
                    producer.produce(self.topic_in, value=r.line.encode(), partition=r.partition, timestamp=r.ts)
                remaining = producer.flush(120)
                assert remaining == 0, f"the test's producer could not deliver {remaining} records"
            if t0 is not None:
                pause = t0 + (c + 1) * seconds / chunks - time.monotonic()
                if pause > 0:
                    time.sleep(pause)

    def read_dead_letters(self):
        """Every record of the job's dead-letter topic, as (key, value, headers)."""
        return [(k, v, h) for k, v, h, _, _ in read_to_end(self.broker, f"{self.job}.dead-letters")]

    def save(self):
        """Keeps what a failed run needs for later study beside the logs: the results as read
        (arrival time, partition, offset, key, value) and the plan."""
        with open(self.workdir / "results.jsonl", "w") as out:
            for at, key, value, partition, offset in self.records:
                out.write(json.dumps({"at": round(at, 3), "partition": partition, "offset": offset,
                                      "key": key.decode(errors="replace") if key else None,
                                      "value": value.decode(errors="replace") if value else None}) + "\n")
        with open(self.workdir / "run.json", "w") as out:
            json.dump({"seed": self.seed, "options": dataclasses.asdict(self.opts), "job": self.job,
                       "t0_event_ms": self.input.t0, "span_ms": self.input.span,
                       "faults": [f.label() for f in self.faults],
                       "actions": [dataclasses.asdict(a) for a in self.actions],
                       "logs": {f"r{s}": [str(p) for p in ps] for s, ps in self.pool.log_paths().items()}},
                      out, indent=1)

    # --- the report ---

    def dead_letter_check(self):
        """(late records missing from the dead letters, dead letters that are not late records)."""
        late = {r.line.encode() for r in self.input.late_records()}
        got = {value for _, value, headers in self.dead_letters
               if headers.get("weir.reason") == b"late"}
        others = [(value, headers.get("weir.reason")) for _, value, headers in self.dead_letters
                  if value not in late]
        return sorted(late - got), others

    def line(self):
        v = self.verdict
        recover = None
        if self.last_result is not None:
            since = self.last_action if self.last_action is not None else self.closed_at
            recover = self.last_result - since
        fields = [
            f"nemesis seed={self.seed}", f"window={self.opts.window}",
            f"shuffle={'on' if self.opts.shuffle else 'off'}", f"runtimes={self.runtimes}",
            "faults=[" + ",".join(f.label() for f in self.faults) + "]",
            f"results={v.results}", f"wrong={len(v.wrong)}", f"missing={len(v.missing)}",
            f"extra={len(v.extra)}", f"changed={len(v.changed)}",
            f"recover_s={recover:.1f}" if recover is not None else "recover_s=-",
        ]
        dead_missing, dead_other = self.dead_letter_check()
        if self.opts.late:
            fields.append(f"late={len(self.input.late_records())} dead_missing={len(dead_missing)}")
        if dead_other:
            fields.append(f"dead_other={len(dead_other)}")
        return " ".join(fields)

    def failed(self):
        v = self.verdict
        dead_missing, dead_other = self.dead_letter_check()
        return bool(v.wrong or v.missing or v.extra or v.changed or v.bad or dead_missing or dead_other)

    def details(self):
        """What a failed run needs to be debugged."""
        v, inp = self.verdict, self.input
        out = [self.line(),
               f"  expected results {len(self.reference)}, output records read {v.writes}, "
               f"publication {self.opts.publish_s:.0f}s after a {self.startup_s:.1f}s start, "
               f"event time {inp.t0}..{inp.last_base} (+{inp.span / 1000 / self.opts.publish_s:.1f} s per s), "
               f"closing records at {self.closed_at:.1f}s, last result at "
               + (f"{self.last_result:.1f}s" if self.last_result is not None else "-")]
        out.append("  actions (planned -> done, s after the publication started):")
        for a in self.actions:
            done = f"{a.done_at:.1f}" if a.done_at is not None else "-"
            target = f"r{a.slot}" if a.slot is not None else "broker"
            out.append(f"    {a.at:6.1f} -> {done:>6}  {a.do} {target}" + (f"  ({a.note})" if a.note else ""))
        for note in self.notes + [f"nemesis error: {e}" for e in self.nemesis_errors]:
            out.append(f"  note: {note}")

        def when(ident):
            return f"~{inp.wall_of(ident[1]):.1f}s"

        def show(name, entries, fmt):
            if entries:
                out.append(f"  {name} ({len(entries)}), first 10 as (window_start, window_end, key) "
                           f"[window end published at]:")
                for ident in sorted(entries)[:10]:
                    out.append(f"    {ident} [{when(ident)}] {fmt(ident, entries[ident])}")
                windows = {}
                for ident in entries:
                    windows[(ident[0], ident[1])] = windows.get((ident[0], ident[1]), 0) + 1
                summary = ", ".join(f"{s}..{e}[{when((s, e))}]:{n}" for (s, e), n in sorted(windows.items())[:12])
                out.append(f"    by window ({len(windows)}): {summary}")

        show("wrong", v.wrong, lambda _, x: f"got {x[0]} want {x[1]}")
        show("missing", v.missing, lambda _, x: f"want {x}")
        show("extra", v.extra, lambda _, x: f"got {x}")
        show("changed", v.changed, lambda ident, x: f"written {x} want {self.reference.get(ident)}")
        if v.bad:
            out.append(f"  unparseable output ({len(v.bad)}): {v.bad[:3]}")
        dead_missing, dead_other = self.dead_letter_check()
        if dead_missing:
            out.append(f"  late records missing from the dead letters ({len(dead_missing)}): {dead_missing[:10]}")
        if dead_other:
            out.append(f"  dead letters that are not late records ({len(dead_other)}): {dead_other[:10]}")
        out.extend(f"  {line}" for line in self.diagnosis)
        out.append(f"  kept: {self.workdir / 'results.jsonl'} (results as read, with arrival times), "
                   f"{self.workdir / 'run.json'}; broker data {self.workdir / 'broker'} "
                   f"(scripts/test-broker start DIR PORT; python tests/nemesis/inspect_run.py)")
        out.append("  runtime logs:")
        for slot, paths in sorted(self.pool.log_paths().items(), key=lambda kv: (kv[0] is None, kv[0])):
            for path in paths:
                out.append(f"    r{slot}: {path}")
                out.extend(f"      {line}" for line in notable_lines(path))
        return "\n".join(out)


def notable_lines(path, limit=8):
    """The last warnings and errors of a runtime log (ANSI colours removed)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines = [line for line in text.splitlines() if " WARN " in line or " ERROR " in line or "panicked" in line]
    return [line[:300] for line in lines[-limit:]]

