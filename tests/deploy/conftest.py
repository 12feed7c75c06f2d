"""Shared helpers of the deployment checks (tests/deploy): where things are, and the metric
names that dashboards and rules use. Run by scripts/test-deploy."""

import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMAS = pathlib.Path(__file__).resolve().parent / "schemas"

# Grafana's and PromQL's own words, which look like metric names to a tokenizer.
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "bool", "offset", "rate", "irate", "increase", "delta",
    "deriv", "histogram_quantile", "clamp_min", "clamp_max", "time", "absent", "label_values",
    "topk", "bottomk", "le", "inf", "nan",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def metric_names(expr: str) -> set[str]:
    """The `weir_` metric names a PromQL expression reads (histogram series by base name)."""
    names = set()
    for name in re.findall(r"\bweir_[a-z0-9_]+", expr):
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        names.add(name)
    return names


def selector_labels(expr: str) -> dict[str, set[str]]:
    """metric -> label names its selectors match on (`weir_x{a="1", b=~"2"}`)."""
    out: dict[str, set[str]] = {}
    for name, body in re.findall(r"\b(weir_[a-z0-9_]+)\{([^}]*)\}", expr):
        base = metric_names(name).pop()
        out.setdefault(base, set()).update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", body))
    return out


def yaml_docs(path: pathlib.Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def dashboard_exprs() -> list[tuple[str, str]]:
    import json
    dashboard = json.loads((DEPLOY / "grafana" / "weir.json").read_text())
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            out.append((f"variable {var['name']}", var["definition"]))
    return out


def rule_exprs() -> list[tuple[str, str]]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [(r.get("alert") or r.get("record"), r["expr"]) for g in rules["groups"] for r in g["rules"]]


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: scripts/container-tools install (Debian's prometheus)")
    return path


sys.path.insert(0, str(ROOT / "tests"))
from e2e_helpers import load_e2e_helpers  # noqa: E402  (tests/e2e/pool.py, shared with tests/{pool,deploy})


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
