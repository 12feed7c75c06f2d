"""deploy/compose.yaml brought up with podman-compose on this machine, as a user would: the
broker, the host proxy, the topic, three runtimes and Prometheus; the demo text published and
every word's total read back from `counts` and compared with the text's own count, exactly;
then the stack brought down with its volumes. `scripts/compose check` does all of it; this test
runs it beside the pool scenarios, on host ports of its own, with the images `scripts/test-pool`
has built."""

import os
import subprocess

from podman_pool import ROOT, free_port


def test_the_compose_stack_comes_up_and_counts_the_demo_exactly(figures):
    ports = {name: str(free_port()) for name in (
        "WEIR_BROKER_PORT", "WEIR_HTTP_PORT_1", "WEIR_HTTP_PORT_2", "WEIR_HTTP_PORT_3",
        "WEIR_PROMETHEUS_PORT")}
    env = dict(os.environ, WEIR_IMAGES_READY="1", **ports)
    result = subprocess.run([ROOT / "scripts" / "compose", "check"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=600)
    summary = [line for line in result.stdout.splitlines()
               if line.startswith(("exact:", "counts differ", "compose check:"))]
    assert result.returncode == 0, "\n".join(result.stdout.splitlines()[-80:])
    assert any(line.startswith("exact:") for line in summary), result.stdout[-4000:]
    figures(scenario="compose check", summary=summary)
