"""Options and fixtures of the nemesis runs.

    pytest tests/nemesis                                  1 seed per window kind (the default set)
    pytest tests/nemesis --seeds 20 --windows session     seeds 1..20, session windows only
    pytest tests/nemesis --seed 7,12 --shuffle on,off     those seeds, with and without the shuffle
    pytest tests/nemesis --faults none --runtimes 1       the baseline: no fault, one runtime

Each run prints one `nemesis seed=...` line; they are gathered in a section at the end of the
session (and appended to $WEIR_NEMESIS_REPORT when set)."""

import os
import pathlib
import shutil
import subprocess
import time

import pytest

from nemesis import DEFAULT_FAULTS, FAULT_KINDS, WINDOWS, e2e

ROOT = pathlib.Path(__file__).resolve().parents[2]
LINES: list[str] = []
BINARY: list[str] = []  # which weir the session ran, for the summary


def pytest_addoption(parser):
    group = parser.getgroup("nemesis")
    group.addoption("--seeds", type=int, default=1, help="how many seeds per window kind (default 1)")
    group.addoption("--seed-start", type=int, default=1, help="the first seed of --seeds (default 1)")
    group.addoption("--seed", default=None, help="exact seeds, comma-separated (instead of --seeds)")
    group.addoption("--windows", default="tumbling,hopping,session",
                    help="window kinds, comma-separated: tumbling, hopping, session")
    group.addoption("--shuffle", default="on", help="on, off or on,off (default on)")
    group.addoption("--runtimes", type=int, default=None, help="pool size at start (default: the seed picks 2 or 3)")
    group.addoption("--faults", default=",".join(DEFAULT_FAULTS),
                    help=f"fault kinds, comma-separated, of {', '.join(FAULT_KINDS)}; or none "
                         f"(default {','.join(DEFAULT_FAULTS)})")
    group.addoption("--fault-count", default="3-6", help="faults per run, MIN-MAX (default 3-6)")
    group.addoption("--late", action="store_true", help="add late records (they must become dead letters)")
    group.addoption("--lateness", type=int, default=0, help="the job's allowed lateness, ms (default 0)")
    group.addoption("--lines", type=int, default=3000, help="input lines per run (default 3000)")
    group.addoption("--publish-seconds", type=float, default=40.0, help="how long publishing lasts (default 40)")
    group.addoption("--settle-seconds", type=float, default=60.0,
                    help="how long the results may take after the closing records (default 60)")
    group.addoption("--batch-size", type=int, default=None, help="the job's batch_size (default: Weir's)")


def _list(text, allowed, what):
    items = [x.strip() for x in text.split(",") if x.strip()]
    for item in items:
        if item not in allowed:
            raise pytest.UsageError(f"unknown {what} `{item}` (expected one of {', '.join(allowed)})")
    return items


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    config = metafunc.config
    if config.getoption("seed"):
        seeds = [int(s) for s in config.getoption("seed").split(",") if s.strip()]
    else:
        first = config.getoption("seed_start")
        seeds = list(range(first, first + config.getoption("seeds")))
    windows = _list(config.getoption("windows"), list(WINDOWS), "window kind")
    shuffles = _list(config.getoption("shuffle"), ["on", "off"], "shuffle setting")
    cases = [(w, s, seed) for w in windows for s in shuffles for seed in seeds]
    metafunc.parametrize("case", cases, ids=[f"{w}-shuffle_{s}-seed{seed}" for w, s, seed in cases])


@pytest.fixture
def options(request):
    """The run's options but its window kind, shuffle and seed (see `case`)."""
    config = request.config
    text = config.getoption("faults")
    faults = () if text.strip() == "none" else tuple(_list(text, FAULT_KINDS, "fault kind"))
    low, _, high = config.getoption("fault_count").partition("-")
    return dict(
        runtimes=config.getoption("runtimes"), faults=faults,
        fault_count=(int(low), int(high or low)), late=config.getoption("late"),
        lateness_ms=config.getoption("lateness"), lines=config.getoption("lines"),
        publish_s=config.getoption("publish_seconds"), settle_s=config.getoption("settle_seconds"),
        batch_size=config.getoption("batch_size"))


@pytest.fixture(scope="session")
def weir(tmp_path_factory):
    """A copy of the weir binary (WEIR_BIN, or target/debug/weir), taken once per session: a
    `cargo build` during a soak must not put two builds in one pool (runtimes restart)."""
    path = pathlib.Path(os.environ.get("WEIR_BIN", ROOT / "target" / "debug" / "weir"))
    assert path.exists(), f"{path} is missing: run `cargo build -p weir` first"
    copy = tmp_path_factory.mktemp("bin") / "weir"
    shutil.copy2(path, copy)
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    BINARY.append(f"weir: {path} (built {built}), run from a copy at {copy}")
    # Compiled modules in the build tree, not in ~/.cache: each restarted runtime reuses them.
    os.environ.setdefault("WEIR_COMPILE_CACHE", str(ROOT / "target" / "weir-compile-cache"))
    return copy


@pytest.fixture
def broker(tmp_path):
    """A tansu broker of the run's own (SQLite storage, so a restart keeps everything), and a
    function that stops or starts it again on the same port and data."""
    data, port = tmp_path / "broker", e2e.free_port()
    script = ROOT / "scripts" / "test-broker"

    def control(command):
        if command == "start":
            log = data / "tansu.log"
            if log.exists():  # the script starts a fresh log: keep the one of before the restart
                log.rename(data / f"tansu.log.{len(list(data.glob('tansu.log.*')))}")
            subprocess.run([script, "start", data, str(port)], check=True)
        else:
            subprocess.run([script, "stop", data], check=True)

    control("start")
    yield f"127.0.0.1:{port}", control
    control("stop")


@pytest.fixture
def report(request):
    """Records the run's line: it travels with the test's report (pytest-xdist included)."""
    def record(line):
        request.node.user_properties.append(("nemesis", line))
    return record


def pytest_runtest_logreport(report):
    if report.when == "call":
        LINES.extend(v for k, v in report.user_properties if k == "nemesis")


def pytest_terminal_summary(terminalreporter, config):
    if not LINES or hasattr(config, "workerinput"):
        return
    terminalreporter.section("nemesis: one line per run")
    for line in BINARY:
        terminalreporter.write_line(line)
    for line in LINES:
        terminalreporter.write_line(line)
    path = os.environ.get("WEIR_NEMESIS_REPORT")
    if path:
        with open(path, "a") as out:
            out.writelines(line + "\n" for line in LINES)
