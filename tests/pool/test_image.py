"""The runtime image as an operator would run it: non-root, no shell, a read-only root
filesystem, no capabilities, and a health check that asks the runtime's own `/healthz`."""

import json
import time

from podman_pool import TANSU_IMAGE, WEIR_IMAGE, podman, podman_status


def image_config(image):
    return json.loads(podman("image", "inspect", image))[0]


def test_the_runtime_image_is_non_root_shell_less_and_small(figures, tmp_path):
    config = image_config(WEIR_IMAGE)
    assert config["Config"]["User"] == "65532:65532"
    assert config["Config"]["Entrypoint"] == ["/usr/local/bin/weir"]
    assert config["Config"]["Cmd"] == ["serve"]
    assert "WEIR_LISTEN=0.0.0.0:8080" in config["Config"]["Env"]
    assert "WEIR_COMPILE_CACHE=/var/cache/weir" in config["Config"]["Env"]
    volumes = config["Config"].get("Volumes") or {}
    assert "/var/cache/weir" in volumes, volumes
    health = config.get("Healthcheck")
    assert health and health["Test"] == ["CMD", "/usr/local/bin/weir-probe", "/healthz"], health
    version = podman("run", "--rm", "--read-only", "--cap-drop", "ALL", WEIR_IMAGE, "--version")
    assert version.startswith("weir "), version
    # Nothing to exec into: no shell, no coreutils.
    for tool in ("/bin/sh", "/bin/ls"):
        code, output = podman_status("run", "--rm", "--entrypoint", tool, WEIR_IMAGE)
        assert code != 0 and "no such file" in output.lower(), (code, output)
    # The CA certificates librdkafka's `ssl.ca.location=probe` finds, so a secured cluster with a
    # public certificate verifies (docs/kafka.md, "Secured clusters").
    container = podman("create", WEIR_IMAGE).strip()
    try:
        podman("cp", f"{container}:/etc/ssl/certs/ca-certificates.crt", str(tmp_path / "ca.crt"))
    finally:
        podman("rm", "--volumes", container)  # and the anonymous volume of the image's VOLUME
    assert b"BEGIN CERTIFICATE" in (tmp_path / "ca.crt").read_bytes()
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


def wait_for_log(runtime, text: str, after: int = 0, deadline: float = 90.0) -> str:
    """The runtime's log once `text` appears in it past its first `after` characters."""
    start = time.monotonic()
    while True:
        logs = runtime.logs()
        if text in logs[after:]:
            return logs
        assert time.monotonic() - start < deadline, (
            f"no {text!r} in {runtime.name}'s log\n{logs[-3000:]}")
        time.sleep(0.5)


def test_a_restarted_runtime_loads_its_module_from_the_compile_cache(pool):
    """The image keeps compiled modules in a volume of their own (WEIR_COMPILE_CACHE), which a
    read-only root filesystem leaves writable and a restart of the container keeps: the
    runtime compiles the job's module once, and loads it after a restart. Without it, every
    start warned that it could not create ~/.cache (the user has no home) and compiled again:
    tens of seconds for a Python or JavaScript module."""
    runtime = pool.start_runtime()
    first = wait_for_log(runtime, "compiled in")
    assert "as the compile cache" not in first, first[-3000:]
    runtime.stop()
    podman("start", runtime.name)
    logs = wait_for_log(runtime, "loaded compiled code from the compile cache", after=len(first))
    assert "as the compile cache" not in logs, logs[-3000:]
