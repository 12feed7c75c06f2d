"""Derives the vendored JSON schemas in tests/deploy/schemas/ from upstream sources.

Kubernetes' own kinds are checked by kubernetes-validate (PyPI), which bundles the API's
OpenAPI schemas per version. Custom resources are not in those, so their schemas come from the
CRDs their projects publish:

  keda.sh/v1alpha1 ScaledObject       kedacore/keda  config/crd/bases/keda.sh_scaledobjects.yaml
  monitoring.coreos.com/v1 ServiceMonitor, PrometheusRule
        prometheus-operator/prometheus-operator  example/prometheus-operator-crd/*.yaml
  KEDA's Kafka trigger metadata keys  kedacore/keda  pkg/scalers/kafka_scaler.go (`keda:"..."` tags)

A CRD's `openAPIV3Schema` is JSON Schema with Kubernetes extensions. The conversion:
`x-kubernetes-int-or-string` becomes integer-or-string, `nullable` adds null, and every object
that lists its properties and does not say `x-kubernetes-preserve-unknown-fields` gets
`additionalProperties: false`: the API server would silently prune an unknown (misspelt) field,
and a test should say so instead.

    python tests/deploy/derive_schemas.py KEDA_CHECKOUT PROMETHEUS_OPERATOR_CHECKOUT SOURCE_NOTE

(the checkouts need only the files above; SOURCE_NOTE names the commits, for the record).
"""

import json
import pathlib
import re
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent / "schemas"

CRDS = [
    ("keda", "config/crd/bases/keda.sh_scaledobjects.yaml", "v1alpha1", "keda-scaledobject-v1alpha1.json"),
    ("prometheus-operator", "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
     "v1", "monitoring-servicemonitor-v1.json"),
    ("prometheus-operator", "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
     "v1", "monitoring-prometheusrule-v1.json"),
]


def strict(schema):
    """openAPIV3Schema (with Kubernetes extensions) → plain JSON Schema, closed objects."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def crd_schema(path: pathlib.Path, version: str, source: str) -> dict:
    crd = yaml.safe_load(path.read_text())
    spec = crd["spec"]
    served = next(v for v in spec["versions"] if v["name"] == version)
    schema = strict(served["schema"]["openAPIV3Schema"])
    # metadata is `type: object` in a CRD; the API server checks it, not the CRD.
    schema["properties"]["metadata"] = {"type": "object"}
    schema["properties"]["apiVersion"] = {"const": f"{spec['group']}/{version}"}
    schema["properties"]["kind"] = {"const": spec["names"]["kind"]}
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$comment"] = f"Derived by tests/deploy/derive_schemas.py from {source}"
    return schema


def kafka_trigger_keys(go_source: str, source: str) -> dict:
    """The metadata keys of KEDA's `kafka` trigger, from the scaler's struct tags."""
    keys = {}
    for name, order, rest in re.findall(r'keda:"name=(\w+),order=([\w;]+)((?:,[^"]*)?)"', go_source):
        if "triggerMetadata" not in order:
            continue
        field = {}
        enum = re.search(r"enum=([\w;]+)", rest)
        if enum:
            field["enum"] = enum.group(1).split(";")
        field["optional"] = "optional" in rest or "default=" in rest
        keys[name] = field
        if "resolvedEnv" in order:
            keys[name + "FromEnv"] = {"optional": True}
    return {"$comment": f"KEDA kafka trigger metadata keys, derived from {source}", "keys": keys}


def main():
    keda, prom, note = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
    roots = {"keda": keda, "prometheus-operator": prom}
    for repo, rel, version, out in CRDS:
        source = f"{'kedacore/keda' if repo == 'keda' else 'prometheus-operator/prometheus-operator'} {rel} ({note})"
        schema = crd_schema(roots[repo] / rel, version, source)
        (HERE / out).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    go = (keda / "pkg/scalers/kafka_scaler.go").read_text()
    keys = kafka_trigger_keys(go, f"kedacore/keda pkg/scalers/kafka_scaler.go ({note})")
    (HERE / "keda-kafka-trigger.json").write_text(json.dumps(keys, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
