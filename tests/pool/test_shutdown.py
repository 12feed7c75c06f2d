"""Graceful shutdown of a runtime container (`podman stop`, SIGTERM), beyond what scenario b of
test_pool.py checks (partitions handed over, exit code 0, counts exact, nothing fired partial):
the runtime keeps to its grace period (`WEIR_SHUTDOWN_GRACE`) even when it cannot finish,
because the broker is out of reach and its commit cycle's flush would wait 15 s.

The exit is checked without a timing threshold: podman's own timeout (SIGKILL, exit 137) is far
beyond the grace, so an exit code of 0 says the runtime left by itself, and its log says it
gave up waiting for its job at the grace. How long it took is reported as a figure."""

import threading
import time

from podman_pool import INPUT_PARTITIONS, Pool, e2e

Stream = e2e.Stream
GRACE_S = 2
PODMAN_STOP_TIMEOUT_S = 60


def test_sigterm_exits_at_the_grace_period_when_the_broker_is_out_of_reach(pool: Pool, figures):
    runtime = pool.start_runtime(env={"WEIR_SHUTDOWN_GRACE": f"{GRACE_S}s"})
    pool.wait_until_spread([runtime], "map")
    pool.wait_until_spread([runtime], "reduce")
    stream = Stream(partitions=INPUT_PARTITIONS, lines=3000, seconds=60, seed=67)
    first, rest = stream.records[:1000], stream.records[1000:]
    stream.publish(pool.bootstrap, pool.lines, first, pause_every=250, pause=0.2)
    # Records keep arriving while the runtime is cut off, so it is cut off with records consumed
    # since its last commit cycle: the next cycle's checkpoints cannot be written.
    publisher = threading.Thread(
        target=stream.publish, args=(pool.bootstrap, pool.lines, rest),
        kwargs={"pause_every": 50, "pause": 0.1}, daemon=True)
    publisher.start()
    time.sleep(1.0)
    runtime.disconnect()
    time.sleep(1.0)
    took = runtime.stop(timeout=PODMAN_STOP_TIMEOUT_S)
    publisher.join(timeout=120)
    state = runtime.state()
    logs = runtime.logs()
    assert state["ExitCode"] == 0, (
        f"exit code {state['ExitCode']}: the runtime did not leave by itself before podman's "
        f"SIGKILL\n{pool.report()}")
    assert f"did not stop within the {GRACE_S}s grace period" in logs, (
        f"the runtime never reached its grace period's end, so this test proves nothing about it\n"
        f"{pool.report()}")
    figures(scenario="SIGTERM with the broker out of reach", grace_s=GRACE_S,
            exit_s=round(took, 2))
