"""The runtime image as an operator would run it: non-root, no shell, a read-only root
filesystem, no capabilities, and a health check that asks the runtime's own `/healthz`."""

import json
import time

from podman_pool import TANSU_IMAGE, WEIR_IMAGE, podman, podman_status


def image_config(image):
    return json.loads(podman("image", "inspect", image))[0]


def test_the_runtime_image_is_non_root_shell_less_and_small(figures):
    config = image_config(WEIR_IMAGE)
    assert config["Config"]["User"] == "65532:65532"
    assert config["Config"]["Entrypoint"] == ["/usr/local/bin/weir"]
    assert config["Config"]["Cmd"] == ["serve"]
    assert "WEIR_LISTEN=0.0.0.0:8080" in config["Config"]["Env"]
    health = config.get("Healthcheck")
    assert health and health["Test"] == ["CMD", "/usr/local/bin/weir-probe", "/healthz"], health
    version = podman("run", "--rm", "--read-only", "--cap-drop", "ALL", WEIR_IMAGE, "--version")
    assert version.startswith("weir "), version
    # Nothing to exec into: no shell, no coreutils.
    for tool in ("/bin/sh", "/bin/ls"):
        code, output = podman_status("run", "--rm", "--entrypoint", tool, WEIR_IMAGE)
        assert code != 0 and "no such file" in output.lower(), (code, output)
    figures(scenario="image sizes", weir_mb=round(config["Size"] / 1e6, 1),
            tansu_mb=round(image_config(TANSU_IMAGE)["Size"] / 1e6, 1))


def test_the_runtime_runs_as_uid_65532(pool):
    runtime = pool.start_runtime()
    deadline = time.monotonic() + 30
    while not runtime.state()["Running"] and time.monotonic() < deadline:
        time.sleep(0.2)
    pid = podman("inspect", "--format", "{{.State.Pid}}", runtime.name).strip()
    status = open(f"/proc/{pid}/status").read()
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert uids == ["65532"] * 4, uids  # real, effective, saved, filesystem
    caps = next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff:"))
    assert int(caps, 16) == 0, f"no capability in effect: {caps}"


def test_the_health_check_reports_a_serving_runtime(pool):
    runtime = pool.start_runtime()
    deadline = time.monotonic() + 60
    while True:
        code, _ = podman_status("healthcheck", "run", runtime.name)
        if code == 0:
            break
        assert time.monotonic() < deadline, f"never healthy: {runtime.state()}\n{pool.report()}"
        time.sleep(1)


def test_the_health_check_fails_when_nothing_serves():
    """The probe can say no: in a container where no runtime listens, it exits 1."""
    code, output = podman_status("run", "--rm", "--entrypoint", "/usr/local/bin/weir-probe",
                                 WEIR_IMAGE, "/healthz")
    assert code == 1 and "connect" in output, (code, output)
