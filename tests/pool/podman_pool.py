"""A pool of Weir runtime containers on a podman network, and what the pool tests measure.

One `Pool` is one isolated world: a user-defined podman network, a tansu broker container with
its data in a named volume, and `weir serve` containers from the runtime image
(`localhost/weir:latest`, built by `scripts/images`), all running the same word-count config.

The test process reaches the broker only through 127.0.0.1: a second tansu container runs
`tansu proxy` with its port published on loopback and advertises that loopback address, so the
test's own client (confluent-kafka) never follows metadata to a container address. The
runtimes use the broker's name on the pool's network, as a deployment would.

Rebalances are timed from the containers' logs: podman stamps every line it captures, and the
runtimes log each `partition assigned` / `partition revoked` with its stage and partition. Both
log formats of `weir` are understood (text `key=value` and `WEIR_LOG_JSON=true`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import pathlib
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid

from confluent_kafka.admin import AdminClient

ROOT = pathlib.Path(__file__).resolve().parents[2]


sys.path.insert(0, str(ROOT / "tests"))
from e2e_helpers import load_e2e_helpers  # noqa: E402  (tests/e2e/pool.py, shared with tests/{pool,deploy})


e2e = load_e2e_helpers()
create_topic = e2e.create_topic

CONTAINERS_CONF = ROOT / "deploy" / "podman" / "containers.conf"
WEIR_IMAGE = "localhost/weir:latest"
TANSU_IMAGE = "localhost/weir-tansu:0.6.0"
SESSION_TIMEOUT_S = 6
INPUT_PARTITIONS = 6


def podman(*args, check=True, timeout=120, capture=True):
    """Runs podman with the project's containers.conf; returns stdout."""
    env = {"CONTAINERS_CONF": str(CONTAINERS_CONF), "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    result = subprocess.run(["podman", *map(str, args)], env=env, timeout=timeout,
                            capture_output=capture, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(map(str, args))} failed ({result.returncode}): "
                           f"{result.stderr.strip()}")
    return result.stdout if capture else ""


def podman_status(*args, timeout=120):
    """Runs podman; returns (exit code, stdout and stderr)."""
    env = {"CONTAINERS_CONF": str(CONTAINERS_CONF), "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    result = subprocess.run(["podman", *map(str, args)], env=env, timeout=timeout,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return result.returncode, result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- logs ----------------------------------------------------------------------------------

_KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def parse_event(line: str):
    """A runtime's log line as (podman timestamp, message, fields), or None.

    `podman logs -t` prefixes RFC 3339 timestamps with nanoseconds; the rest is the runtime's own
    line, either tracing's text format (`... partition assigned stage="map" partition=3`) or
    its JSON format (`{"fields": {"message": ..., "stage": ...}}`)."""
    stamp, _, rest = line.partition(" ")
    try:
        when = _parse_time(stamp)
    except ValueError:
        return None
    rest = rest.strip()
    if rest.startswith("{"):
        try:
            doc = json.loads(rest)
        except json.JSONDecodeError:
            return None
        fields = dict(doc.get("fields", {}))
        fields.update({k: v for k, v in doc.items() if k not in ("fields", "span", "spans")})
        return when, str(fields.get("message", "")), fields
    fields = {}
    for key, value in _KV.findall(rest):
        fields[key] = json.loads(value) if value.startswith('"') else value
    # The message is the text before the first key=value pair, after the target's colon.
    head = _KV.split(rest, maxsplit=1)[0]
    message = head.rsplit(": ", 1)[-1].strip()
    return when, message, fields


def _parse_time(stamp: str) -> float:
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", stamp)
    if not match:
        raise ValueError(stamp)
    base, frac, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    when = dt.datetime.fromisoformat(base + zone)
    return when.timestamp() + (float("0." + frac) if frac else 0.0)


def _clock(when: float) -> str:
    """A UTC wall-clock time to the millisecond, as the reports print it: 18:30:50.067Z."""
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3] + "Z"


def _truthy(value) -> bool:
    return value is True or str(value).lower() == "true"


class Runtime:
    """One `weir serve` container."""

    def __init__(self, pool: "Pool", name: str):
        self.pool, self.name = pool, name

    def logs(self) -> str:
        return podman_status("logs", "-t", self.name)[1]

    def events(self, until: float | None = None):
        """Partition events: (time, stage, topic, partition, kind, lost), kind assigned/revoked."""
        out = []
        for line in self.logs().splitlines():
            parsed = parse_event(line)
            if not parsed:
                continue
            when, message, fields = parsed
            if until is not None and when > until:
                break
            if message not in ("partition assigned", "partition revoked"):
                continue
            out.append((when, str(fields.get("stage")), str(fields.get("topic")),
                        int(fields.get("partition")), message.split()[1],
                        _truthy(fields.get("lost", False))))
        return out

    def held_since(self, stage: str, until: float | None = None) -> dict[int, float]:
        """The partitions of `stage` this runtime holds (at `until`), from its log, each with
        the time it was assigned."""
        held: dict[int, float] = {}
        for when, s, _, partition, kind, _ in self.events(until):
            if s != stage:
                continue
            if kind == "assigned":
                held.setdefault(partition, when)
            else:
                held.pop(partition, None)
        return held

    def assignment(self, stage: str, until: float | None = None) -> set[int]:
        """The partitions of `stage` this runtime holds (at `until`), from its log."""
        return set(self.held_since(stage, until))

    def state(self) -> dict:
        return json.loads(podman("inspect", "--format", "{{json .State}}", self.name))

    def peak_rss_mb(self) -> float | None:
        """The process's peak resident memory so far (VmHWM), while it runs."""
        pid = podman("inspect", "--format", "{{.State.Pid}}", self.name, check=False).strip()
        try:
            status = pathlib.Path(f"/proc/{pid}/status").read_text()
        except (OSError, ValueError):
            return None
        kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)
        return round(kb / 1024, 1) if kb else None

    def kill(self):
        podman("kill", "--signal", "KILL", self.name)

    def stop(self, timeout=30) -> float:
        """SIGTERM, then SIGKILL after `timeout` s; returns how long the runtime took to exit."""
        start = time.monotonic()
        podman("stop", "--time", timeout, self.name, timeout=timeout + 30)
        return time.monotonic() - start

    def disconnect(self):
        podman("network", "disconnect", self.pool.network, self.name)

    def connect(self):
        podman("network", "connect", self.pool.network, self.name)


class Pool:
    """A broker, a loopback proxy to it, and runtime containers, on one podman network."""

    def __init__(self, workdir: pathlib.Path, tag: str | None = None):
        self.id = tag or f"wp-{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.network = self.id
        self.volume = f"{self.id}-broker"
        self.broker_name = f"{self.id}-broker"
        self.proxy_name = f"{self.id}-proxy"
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self.runtimes: list[Runtime] = []
        self.job = f"wc-{uuid.uuid4().hex[:6]}"
        self.lines, self.counts = f"{self.job}-lines", f"{self.job}-counts"
        self.config = workdir / "weir.toml"
        self.started = time.time()
        self.steps: list[tuple[float, str]] = []

    def step(self, what: str):
        """Notes a step of the test, with its wall-clock time (the report lists them, beside
        the containers' own timestamps)."""
        self.steps.append((time.time(), what))

    # lifecycle ---------------------------------------------------------------------------

    def up(self):
        podman("network", "create", self.network)
        podman("volume", "create", self.volume)
        self._start_broker()
        podman("run", "-d", "--name", self.proxy_name, "--network", self.network, "--read-only",
               "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
               "-p", f"127.0.0.1:{self.port}:9092", TANSU_IMAGE,
               "proxy", "--listener-url", "tcp://0.0.0.0:9092",
               "--advertised-listener-url", f"tcp://{self.bootstrap}",
               "--origin-url", "tcp://broker:9092")
        self.wait_for_broker()
        create_topic(self.bootstrap, self.lines, INPUT_PARTITIONS)
        self.step("broker up, input topic created")
        self.config.write_text(
            'brokers = "broker:9092"\n'
            f'session_timeout = "{SESSION_TIMEOUT_S}s"\n\n'
            "[[job]]\n"
            f'name = "{self.job}"\n'
            'module = "word-count"\n'
            f'input = ["{self.lines}"]\n'
            f'output = "{self.counts}"\n'
            'window = "tumbling:10s"\n'
            'commit_interval = "200ms"\n')
        self.config.chmod(0o644)
        return self

    def _start_broker(self):
        # A fixed address on the pool's network, as a Service or a StatefulSet pod's name would
        # give: the proxy resolves `broker` once, and a restarted container would otherwise come
        # back at another address (the runtimes' librdkafka resolves again; tansu's proxy not).
        subnet = podman("network", "inspect", "--format",
                        "{{range .Subnets}}{{.Subnet}} {{end}}", self.network).split()[0]
        address = list(ipaddress.ip_network(subnet).hosts())[-2]
        self.broker_address = str(address)
        podman("run", "-d", "--name", self.broker_name, "--network", self.network,
               "--ip", address, "--network-alias", "broker", "--read-only",
               "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
               "-v", f"{self.volume}:/var/lib/tansu",
               "-e", "ADVERTISED_LISTENER_URL=tcp://broker:9092", TANSU_IMAGE)

    def wait_for_broker(self, deadline=60.0):
        """Until the broker answers through the proxy (metadata with a broker in it)."""
        start = time.monotonic()
        last = None
        while time.monotonic() - start < deadline:
            for name in (self.broker_name, self.proxy_name):
                running = podman("inspect", "--format", "{{.State.Running}}", name, check=False).strip()
                if running != "true":
                    raise RuntimeError(f"container {name} is not running:\n{self.container_logs(name)}")
            try:
                admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
                metadata = admin.list_topics(timeout=2)
                if metadata.brokers:
                    return
            except Exception as err:  # noqa: BLE001 - any failure means "not yet"
                last = err
            time.sleep(0.3)
        raise RuntimeError(f"the broker did not answer on {self.bootstrap} within {deadline} s: "
                           f"{last}\n{self.container_logs(self.broker_name)}")

    def start_runtime(self, env: dict[str, str] | None = None) -> Runtime:
        name = f"{self.id}-r{len(self.runtimes) + 1}"
        extra = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
        podman("run", "-d", "--name", name, "--network", self.network, *extra,
               # `broker` in /etc/hosts: podman 4.3's aardvark-dns (Debian 12) sometimes leaves
               # a new container's queries unanswered for most of a minute, and that runtime
               # then joined the group up to 50 s late (one pool start in three). What the tests
               # measure is the group's behaviour, not the name service's.
               "--add-host", f"broker:{self.broker_address}",
               # What an operator would run: nothing writable but /tmp and the image's
               # compile-cache volume, no capabilities.
               "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
               "-v", f"{self.config}:/etc/weir/weir.toml:ro",
               "-e", "WEIR_CONFIG=/etc/weir/weir.toml",
               "-e", f"WEIR_TOKEN={self.token}",
               # librdkafka's errors name the cause of a broker failure a stage restarts after.
               "-e", "WEIR_LOG=info,librdkafka=error,rdkafka=error",
               WEIR_IMAGE)
        runtime = Runtime(self, name)
        self.runtimes.append(runtime)
        return runtime

    def restart_broker(self, down_seconds=3.0):
        """Stops the broker container (SIGTERM), waits, starts it again on the same volume.
        The test's loopback proxy is restarted with it: tansu's proxy does not reconnect to a
        restarted origin. The runtimes talk to the broker directly and are left alone."""
        podman("stop", "--time", 10, self.broker_name)
        time.sleep(down_seconds)
        podman("start", self.broker_name)
        podman("restart", "--time", 0, self.proxy_name)

    def down(self):
        names = [r.name for r in self.runtimes] + [self.proxy_name, self.broker_name]
        for name in names:  # kept with the test's tmp_path (pytest keeps the last 3 runs)
            (self.workdir / f"{name}.log").write_text(podman_status("logs", "-t", name)[1])
        podman("rm", "-f", "-v", "--ignore", "--time", 0, *names, check=False)
        podman("volume", "rm", "-f", self.volume, check=False)
        podman("network", "rm", "-f", self.network, check=False)

    # observation -------------------------------------------------------------------------

    def container_logs(self, name: str, tail=60) -> str:
        """The last lines a container wrote (podman logs puts its stderr on stderr)."""
        return "\n".join(podman_status("logs", name)[1].splitlines()[-tail:])

    def report(self) -> str:
        parts = ["--- the test's steps ---"]
        for when, what in self.steps:
            parts.append(f"{_clock(when)}  +{when - self.started:6.1f} s  {what}")
        for runtime in self.runtimes:
            try:
                state = runtime.state()
            except (RuntimeError, json.JSONDecodeError):
                state = {}
            moves = [f"{_clock(when)} {stage} {partition} {kind}{' (lost)' if lost else ''}"
                     for when, stage, _, partition, kind, lost in runtime.events()]
            parts.append(f"--- {runtime.name} ({state.get('Status')}, exit {state.get('ExitCode')}) ---\n"
                         + "partition events: " + "; ".join(moves) + "\n"
                         + self.container_logs(runtime.name, 30))
        parts.append(f"--- {self.broker_name} ---\n" + self.container_logs(self.broker_name, 20))
        return "\n".join(parts)

    def wait_until_spread(self, runtimes, stage="map", partitions=INPUT_PARTITIONS, deadline=60.0):
        """Until every partition of `stage` is held by exactly one of `runtimes` and each holds
        at least one. Returns {runtime name: partitions}."""
        start = time.monotonic()
        while True:
            held = {r.name: r.assignment(stage) for r in runtimes}
            union = [p for parts in held.values() for p in parts]
            if (sorted(union) == list(range(partitions))
                    and all(held.values())):
                return held
            if time.monotonic() - start > deadline:
                raise AssertionError(f"the {stage} stage's partitions did not spread over "
                                     f"{len(runtimes)} runtimes: {held}\n{self.report()}")
            time.sleep(0.3)

    def wait_until_settled(self, runtimes, quiet=5.0, deadline=60.0):
        """Until no partition of any stage has moved at any of `runtimes` for `quiet` seconds:
        a group still rebalancing when a fault begins hides what the fault does (a member in
        the middle of a rebalance never times its session out, librdkafka checks that only in
        its steady state). `quiet` spans three heartbeat intervals (a stage heartbeats every
        quarter of the session timeout, 1.5 s here), within each of which every member of a
        rebalancing group hears of it. A rebalance that moves nothing leaves no trace in the
        logs and is not waited for."""
        start = time.monotonic()
        while True:
            last = max((e[0] for r in runtimes for e in r.events()), default=0.0)
            if time.time() - last >= quiet:
                return
            if time.monotonic() - start > deadline:
                raise AssertionError(f"partitions still moved {deadline} s on (last at "
                                     f"{_clock(last)})\n{self.report()}")
            time.sleep(0.5)

    def time_to_move(self, victim: Runtime, survivors, fault_at: float, stage: str, deadline=90.0,
                     strict=True):
        """Seconds from `fault_at` until every partition `victim` held of `stage` was held by
        one of `survivors` (the last one counts). Returns (seconds, the partitions, those that
        did not move); seconds is None when some did not move within `deadline`, which fails
        the test if `strict`.

        tansu 0.6 answers each JoinGroup at once, without waiting for the other members, so a
        leader assigns from the metadata the others sent at their last join (docs/kafka.md,
        "tansu's group coordinator"). Two effects: a survivor may hold a partition before the
        old owner revoked it (both process it; the output stays exact, results being keyed by
        (window, key) and commits never passing a checkpoint), taken here at `fault_at`; and,
        rarely, a partition nobody holds until the next rebalance."""
        lost = victim.assignment(stage, until=fault_at)
        assert lost, f"{victim.name} held no {stage} partition when the fault began\n{self.report()}"
        start = time.monotonic()
        while True:
            taken = {}
            for runtime in survivors:
                for partition, since in runtime.held_since(stage).items():
                    if partition in lost:
                        when = max(since, fault_at)
                        taken[partition] = min(taken.get(partition, when), when)
            if set(taken) == lost:
                return max(taken.values()) - fault_at, sorted(lost), []
            if time.monotonic() - start > deadline:
                message = (f"{victim.name}'s {stage} partitions {sorted(lost)} did not move within "
                           f"{deadline} s (moved: {sorted(taken)})")
                assert not strict, f"{message}\n{self.report()}"
                self.step(message)
                return None, sorted(lost), sorted(lost - set(taken))
            time.sleep(0.3)
