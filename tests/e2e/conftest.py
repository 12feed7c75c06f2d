"""End-to-end test fixtures: a real Kafka-protocol broker (tansu, started by the project's own
script) on a free loopback port, the `weir` binary, and the independent client (confluent-kafka)."""

import os
import pathlib
import socket
import subprocess
import uuid

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """Bootstrap address of a tansu broker with SQLite storage, stopped after the session."""
    data = tmp_path_factory.mktemp("tansu")
    port = free_port()
    script = ROOT / "scripts" / "test-broker"
    subprocess.run([script, "start", data, str(port)], check=True)
    yield f"127.0.0.1:{port}"
    subprocess.run([script, "stop", data], check=True)


@pytest.fixture(scope="session")
def weir():
    """Path of the weir binary (built by `cargo test`, or WEIR_BIN)."""
    path = pathlib.Path(os.environ.get("WEIR_BIN", ROOT / "target" / "debug" / "weir"))
    assert path.exists(), f"{path} is missing: run `cargo build -p weir` first"
    return path


@pytest.fixture
def topic(broker):
    """A fresh topic with 3 partitions."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": broker})
    for future in admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)]).values():
        future.result(timeout=30)
    return name
