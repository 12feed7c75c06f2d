"""Fixtures of the container pool tests: a fresh `Pool` (network, broker, loopback proxy) per
test, torn down after it, and the rebalance figures the tests measure, printed at the end of the
run (and written to $WEIR_POOL_REPORT as JSON when set; BENCHMARKS.md quotes them).

Run by `scripts/test-pool`, which builds the images first. WEIR_POOL_TRACE=1 (with `-s`) prints
each test's steps and the containers' logs even when it passes."""

import json
import os
import shutil
import subprocess

import pytest

from podman_pool import CONTAINERS_CONF, TANSU_IMAGE, WEIR_IMAGE, Pool

FIGURES: list[dict] = []


def pytest_sessionstart(session):
    if shutil.which("podman") is None:
        pytest.exit("podman is not installed: run scripts/container-tools install", returncode=3)
    env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
    for image in (WEIR_IMAGE, TANSU_IMAGE):
        if subprocess.run(["podman", "image", "exists", image], env=env).returncode != 0:
            pytest.exit(f"image {image} is missing: run scripts/images", returncode=3)


@pytest.fixture
def pool(tmp_path, request):
    world = Pool(tmp_path)
    try:
        world.up()
        yield world
    finally:
        failed = getattr(request.node, "rep_call", None)
        if (failed is not None and failed.failed) or os.environ.get("WEIR_POOL_TRACE"):
            print(world.report())
        world.down()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def figures(request):
    """Records a measured figure: figures(scenario=..., **values). It travels with the test's
    report, so the figures of tests run by pytest-xdist's workers reach the summary too."""
    def record(**values):
        request.node.user_properties.append(("pool_figure", json.dumps(values, sort_keys=True)))
    return record


def pytest_runtest_logreport(report):
    if report.when == "call":
        FIGURES.extend(json.loads(v) for k, v in report.user_properties if k == "pool_figure")


def pytest_terminal_summary(terminalreporter, config):
    if not FIGURES or hasattr(config, "workerinput"):
        return
    terminalreporter.section("pool: measured figures (not asserted)")
    for figure in FIGURES:
        terminalreporter.write_line(json.dumps(figure, sort_keys=True))
    path = os.environ.get("WEIR_POOL_REPORT")
    if path:
        with open(path, "a") as out:
            for figure in FIGURES:
                out.write(json.dumps(figure, sort_keys=True) + "\n")
