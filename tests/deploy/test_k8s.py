"""The Kubernetes manifests (deploy/k8s): every resource valid against the Kubernetes API's
schemas (kubernetes-validate, strict: an unknown field is an error) or, for custom resources,
against the schemas derived from KEDA's and the prometheus-operator's CRDs (tests/deploy/
schemas, see derive_schemas.py); the kustomizations rendered by `kubectl kustomize`; and what
the schemas cannot say: that the pieces name each other correctly and that the pods are
hardened as the "restricted" Pod Security Standard asks."""

import json
import pathlib
import re
import shutil
import subprocess
import tomllib

import jsonschema
import kubernetes_validate
import pytest
import yaml

from conftest import DEPLOY, SCHEMAS, yaml_docs

K8S = DEPLOY / "k8s"
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject-v1alpha1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring-servicemonitor-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring-prometheusrule-v1.json",
}
KUSTOMIZATIONS = [K8S, K8S / "examples" / "hpa"]
# The image's user (deploy/Dockerfile, USER 65532:65532) and its shutdown grace (ENV).
IMAGE_UID = 65532


def manifest_files():
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def validate(doc: dict):
    key = (doc["apiVersion"], doc["kind"])
    if key in CRD_SCHEMAS:
        schema = json.loads((SCHEMAS / CRD_SCHEMAS[key]).read_text())
        jsonschema.Draft202012Validator(schema).validate(doc)
        return
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_each_manifest_is_valid_against_its_schema(path):
    for doc in yaml_docs(path):
        validate(doc)


def render(kustomization: pathlib.Path) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with its built-in kustomize) is missing: this project's machine "
                    "image ships it (Debian package kubectl), no registry here has it")
    out = subprocess.run([kubectl, "kustomize", str(kustomization)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(docs, kind):
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"one {kind}, not {len(found)}"
    return found[0]


@pytest.fixture(params=KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(DEPLOY)))
def rendered(request):
    return render(request.param)


def test_the_rendered_kustomizations_are_valid(rendered):
    for doc in rendered:
        validate(doc)
    kinds = {d["kind"] for d in rendered}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget",
            "ServiceMonitor", "PrometheusRule"} <= kinds
    assert len(kinds & {"ScaledObject", "HorizontalPodAutoscaler"}) == 1, "one autoscaler, not two"
    assert all(d["metadata"].get("namespace") == "weir" for d in rendered if d["kind"] != "Namespace")


def test_the_pods_are_hardened_and_probed(rendered):
    deployment = by_kind(rendered, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == IMAGE_UID
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    env = {e["name"]: e for e in container["env"]}
    assert env["WEIR_LISTEN"]["value"].endswith(f":{port}")
    assert env["WEIR_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == by_kind(rendered, "Secret")["metadata"]["name"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    grace = int(re.fullmatch(r"(\d+)s", env["WEIR_SHUTDOWN_GRACE"]["value"]).group(1))
    assert pod["terminationGracePeriodSeconds"] > grace, "Kubernetes waits past the runtime's grace"
    # The read-only root filesystem leaves /tmp to an emptyDir.
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])
    strategy = deployment["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0, "a rolling update never drops below the pool size"


def test_the_pieces_name_each_other(rendered):
    deployment = by_kind(rendered, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    matches = lambda selector: all(pod_labels.get(k) == v for k, v in selector.items())  # noqa: E731
    assert matches(deployment["spec"]["selector"]["matchLabels"])
    service = by_kind(rendered, "Service")
    assert matches(service["spec"]["selector"])
    assert matches(by_kind(rendered, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"])
    monitor = by_kind(rendered, "ServiceMonitor")
    assert all(service["metadata"]["labels"].get(k) == v
               for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    assert all(e["path"] == "/metrics" and e["honorLabels"] for e in monitor["spec"]["endpoints"])
    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "weir", \
        "the alert rules select up{job=\"weir\"}"
    config = by_kind(rendered, "ConfigMap")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == config["metadata"]["name"]
    tomllib.loads(config["data"]["weir.toml"])


def jobs(rendered) -> list[dict]:
    return tomllib.loads(by_kind(rendered, "ConfigMap")["data"]["weir.toml"])["job"]


# The input topic's partitions, as the ConfigMap's comment and docs/operations.md say: the most
# runtimes a job's consumer group can use.
INPUT_PARTITIONS = 6


def test_the_keda_scaler_reads_the_jobs_consumer_groups():
    rendered = render(K8S)
    scaled = by_kind(rendered, "ScaledObject")
    deployment = by_kind(rendered, "Deployment")
    assert scaled["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                                "name": deployment["metadata"]["name"]}
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"] <= INPUT_PARTITIONS
    allowed = json.loads((SCHEMAS / "keda-kafka-trigger.json").read_text())["keys"]
    brokers = by_kind(rendered, "ConfigMap")["data"]["brokers"]
    triggers = {}
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["type"] == "kafka"
        metadata = trigger["metadata"]
        unknown = set(metadata) - set(allowed)
        assert not unknown, f"KEDA's kafka trigger has no {unknown}"
        for key, spec in allowed.items():
            if key in metadata and "enum" in spec:
                assert metadata[key] in spec["enum"], (key, metadata[key])
        assert int(metadata["lagThreshold"]) > 0
        assert metadata["allowIdleConsumers"] == "false", "replicas stay bounded by partitions"
        assert metadata["bootstrapServers"] == brokers
        triggers[metadata["consumerGroup"]] = metadata["topic"]
    expected = {}
    for job in jobs(rendered):
        (topic,) = job["input"]
        expected[f"weir.{job['name']}"] = topic
        expected[f"weir.{job['name']}.reduce"] = f"weir.{job['name']}.repartition"
    assert triggers == expected


def test_the_plain_hpa_targets_the_deployment_within_the_partition_count():
    rendered = render(K8S / "examples" / "hpa")
    hpa = by_kind(rendered, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == by_kind(rendered, "Deployment")["metadata"]["name"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= INPUT_PARTITIONS


def test_a_misspelt_field_is_caught():
    """The validation above can fail: a Deployment and a ScaledObject with a typo each."""
    rendered = render(K8S)
    deployment = json.loads(json.dumps(by_kind(rendered, "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    scaled = json.loads(json.dumps(by_kind(rendered, "ScaledObject")))
    scaled["spec"]["maxReplicas"] = 6
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)
