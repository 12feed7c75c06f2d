"""deploy/compose.yaml, statically: valid against the Compose Specification's JSON schema
(vendored in tests/deploy/schemas), every file it mounts present, the runtimes hardened as in
Kubernetes, and Prometheus scraping every runtime. That it comes up and counts the demo
exactly is `scripts/compose check` (run by scripts/test-pool)."""

import json
import re
import tomllib

import jsonschema
import yaml

from conftest import DEPLOY, SCHEMAS

COMPOSE = DEPLOY / "compose.yaml"


def interpolate(text: str, env: dict) -> str:
    """Compose's ${VAR:-default} and ${VAR} substitution."""
    def sub(match):
        name, default = match.group(1), match.group(3)
        return env.get(name) or (default if default is not None else "")
    return re.sub(r"\$\{(\w+)(:-([^}]*))?\}", sub, text)


def load(env=None):
    return yaml.safe_load(interpolate(COMPOSE.read_text(), env or {}))


def test_the_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    compose = load()
    jsonschema.Draft7Validator(schema).validate(compose)
    # and so is a variant with every port moved, as scripts/compose may run it
    moved = load({"WEIR_BROKER_PORT": "29092", "WEIR_HTTP_PORT_1": "28081"})
    jsonschema.Draft7Validator(schema).validate(moved)
    assert moved["services"]["broker-host"]["ports"] == ["127.0.0.1:29092:19092"]
    assert "tcp://localhost:29092" in moved["services"]["broker-host"]["command"]


def test_every_mounted_file_exists_and_the_runtimes_share_one_config():
    compose = load()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which is missing"
    runtimes = {n: s for n, s in compose["services"].items() if n.startswith("weir-")}
    assert len(runtimes) == 3
    for name, service in runtimes.items():
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert service["environment"]["WEIR_BROKERS"] == "broker:9092"
        assert service["ports"][0].startswith("127.0.0.1:"), "nothing is exposed beyond loopback"
    token = load({"WEIR_TOKEN": "from-the-environment"})["services"]["weir-1"]["environment"]
    assert token["WEIR_TOKEN"] == "from-the-environment"
    config = tomllib.loads((DEPLOY / "compose" / "weir.toml").read_text())
    (job,) = config["job"]
    topics = compose["services"]["topics"]["command"]
    assert topics[:3] == ["topic", "create", job["input"][0]]


def test_prometheus_scrapes_every_runtime_and_loads_the_rules():
    compose = load()
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (scrape,) = prometheus["scrape_configs"]
    assert scrape["job_name"] == "weir" and scrape["honor_labels"] is True
    targets = {t for c in scrape["static_configs"] for t in c["targets"]}
    runtimes = {f"{n}:8080" for n in compose["services"] if n.startswith("weir-")}
    assert targets == runtimes
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
    assert prometheus["rule_files"] == ["alerts.yml"]
