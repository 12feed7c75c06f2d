"""Helpers of the control-plane tests: `weir serve` runtimes with the HTTP API, an HTTP client
that is not Weir's (the standard library's), the `weir` CLI, hand-built components, and exact
word-count checks on the output topic."""

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

from conftest import ROOT, free_port
from pool import expect_exact, unique

WORD_COUNT = ROOT / "target" / "guests" / "wasm32-wasip2" / "release" / "word_count.wasm"
TOKEN = "e2e-secret-token"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- WebAssembly binaries, built byte by byte ------------------------------------------------

COMPONENT_HEADER = b"\0asm\x0d\x00\x01\x00"  # magic, version 0x0d, layer 1 (component)
CORE_MODULE = b"\0asm\x01\x00\x00\x00"  # magic, version 1, layer 0: an empty core module


def leb128(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _name(text):
    data = text.encode()
    return leb128(len(data)) + data


def _section(section_id, content):
    return bytes([section_id]) + leb128(len(content)) + content


def custom_section(name, payload):
    """A custom section (id 0): may follow any section of a module or component, and changes
    its bytes (so its sha256) without changing what it does."""
    return _section(0, _name(name) + payload)


def component_exporting(interface):
    """A component whose only export is an empty instance named `interface`: valid, but not a
    Weir processor. An instance section (id 5) with one instance made of no exports, then an
    export section (id 11) exporting instance 0 under `interface`."""
    instances = _section(5, leb128(1) + b"\x01" + leb128(0))
    exports = _section(11, leb128(1) + b"\x00" + _name(interface) + b"\x05" + leb128(0) + b"\x00")
    return COMPONENT_HEADER + instances + exports


def word_count_bytes():
    assert WORD_COUNT.exists(), f"{WORD_COUNT} is missing: `cargo build -p weir` builds it"
    return WORD_COUNT.read_bytes()


def word_count_variant(tag):
    """word count with a custom section appended: another module id, the same counts."""
    return word_count_bytes() + custom_section("weir-e2e", tag.encode())


# --- the API over HTTP, with the standard library ---------------------------------------------

class Reply:
    def __init__(self, status, body):
        self.status, self.raw = status, body

    @property
    def json(self):
        return json.loads(self.raw) if self.raw else None

    def error_code(self):
        return self.json["error"]["code"]

    def __repr__(self):
        return f"HTTP {self.status} {self.raw[:500]!r}"


def http(method, url, body=None, token=None, content_type=None, timeout=60):
    """One request; returns the reply whatever its status (4xx/5xx included)."""
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        content_type = content_type or "application/json"
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, response.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.read())


# --- runtimes -----------------------------------------------------------------------------------

class Runtime:
    """One `weir serve` process with its API on a free loopback port, and no config file: it
    runs the registry's jobs only."""

    def __init__(self, binary, broker, workdir, label, token=TOKEN, extra=(), env_extra=None,
                 log="info,librdkafka=off,rdkafka=off"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.log_path = workdir / f"serve-{label}-{self.port}.log"
        self.log = open(self.log_path, "w")
        env = dict(os.environ, WEIR_LOG=log, **(env_extra or {}))
        env.pop("WEIR_TOKEN", None)
        self.proc = subprocess.Popen(
            [binary, "serve", "--brokers", broker, "--listen", f"127.0.0.1:{self.port}",
             "--token", token, *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)

    @property
    def pid(self):
        return self.proc.pid

    def api(self, method, path, body=None, token="default", **kwargs):
        token = self.token if token == "default" else token
        return http(method, f"{self.url}{path}", body=body, token=token, **kwargs)

    def wait_ready(self, deadline=60.0):
        """Until /readyz answers 200 (the registry is read, the API serves)."""
        start = time.monotonic()
        while time.monotonic() - start < deadline:
            assert self.proc.poll() is None, f"weir serve exited\n{self.logs()}"
            try:
                if http("GET", f"{self.url}/readyz", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.url}/readyz never answered 200\n{self.logs()}")

    def logs(self):
        self.log.flush()
        return f"--- runtime {self.url} (pid {self.pid}) ---\n" + self.log_path.read_text()[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def pool_config(tmp_path, label):
    """A config file naming a registry and a status topic of their own: runtimes started with it
    (`extra=["--config", path]`) form a pool apart from the other tests' on the same broker,
    running only the jobs created on it and listing only each other."""
    name = unique(label)
    path = tmp_path / f"{name}.toml"
    path.write_text(f'registry_topic = "weir.{name}.registry"\nstatus_topic = "weir.{name}.status"\n')
    return path


@contextlib.contextmanager
def serving(binary, broker, workdir, label):
    """A `weir serve` runtime whose API answers, for a test: the jobs the test appends to its
    `jobs` are deleted before it stops (a job left in the registry would run on every later
    runtime of the session)."""
    runtime = Runtime(binary, broker, workdir, label).wait_ready()
    runtime.jobs = []
    try:
        yield runtime
    finally:
        for name in runtime.jobs:
            runtime.api("DELETE", f"/v1/jobs/{name}")
        runtime.stop()


def upload(runtime, data, name=None):
    """POSTs a module. The API compiles it before it answers: a Python or JavaScript component
    (12-20 MB) takes 30-60 s in a debug build with both cores busy, so the client waits up to
    the server's own request timeout (300 s), not the default 60 s."""
    path = "/v1/modules" + (f"?name={name}" if name else "")
    return runtime.api("POST", path, body=data, content_type="application/wasm", timeout=300)


def job_spec(name, module, inputs, output, **extra):
    spec = {"name": name, "module": module, "input": inputs, "output": output,
            "window": "tumbling:10s", "commit_interval": "200ms"}
    spec.update(extra)
    return spec


def wait_for(what, probe, deadline=60.0, interval=0.3):
    """Polls `probe()` until it returns something truthy; fails naming `what` with the last value."""
    start, last = time.monotonic(), None
    while time.monotonic() - start < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def job_status(runtime, name):
    reply = runtime.api("GET", f"/v1/jobs/{name}")
    assert reply.status == 200, reply
    return reply.json


def runtimes_of(job):
    return job["status"]["runtimes"]


def map_assigned(runtime_status):
    return [p for s in runtime_status["stages"] if s["stage"] == "map" for p in s["assigned"]]


def records_in(job, stage="map"):
    return sum(s.get("records_in") or 0 for r in runtimes_of(job) for s in r["stages"] if s["stage"] == stage)


def metric_sum(runtime, metric, job, stage):
    """The sum of `metric`'s series for (job, stage) in the runtime's /metrics (0 when none)."""
    reply = http("GET", f"{runtime.url}/metrics")
    assert reply.status == 200, reply
    total = 0.0
    for line in reply.raw.decode().splitlines():
        if line.startswith(metric + "{") and f'job="{job}"' in line and f'stage="{stage}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


# --- the weir CLI -------------------------------------------------------------------------------

def cli(binary, runtime, *args, token="default", env_extra=None, check=True):
    """Runs `weir ARGS` against `runtime` (server and token from WEIR_SERVER/WEIR_TOKEN)."""
    env = {k: v for k, v in os.environ.items() if k not in ("WEIR_SERVER", "WEIR_TOKEN")}
    env["WEIR_CLIENT_CONFIG"] = os.devnull  # no personal config file leaks into the test
    if runtime is not None:
        env["WEIR_SERVER"] = runtime.url
    if token == "default":
        token = runtime.token if runtime is not None else None
    if token:
        env["WEIR_TOKEN"] = token
    env.update(env_extra or {})
    done = subprocess.run([binary, *map(str, args)], capture_output=True, text=True, env=env, timeout=120)
    if check:
        command = " ".join(map(str, args))
        assert done.returncode == 0, f"weir {command}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def cli_json(binary, runtime, *args):
    return json.loads(cli(binary, runtime, *args, "-o", "json").stdout)


# --- checking the output ------------------------------------------------------------------------

def expect_exact_counts(broker, output, stream, logs, deadline=120.0):
    """`stream`'s reference counts, exactly, in `output` (see `pool.expect_exact`)."""
    return expect_exact(broker, output, stream.reference(), logs, deadline)[0]
