"""The Grafana dashboard (deploy/grafana/weir.json) and its provisioning, checked without a
Grafana (none can be installed on this project's machines): the JSON model's structure, every
query parsed by promtool, the panels an operator needs, and the compose stack's provisioning
pointing at it. Whether each metric it names is exposed: test_metrics_exposed.py."""

import json
import re

import yaml

from conftest import DEPLOY, dashboard_exprs, metric_names, promtool, run

DASHBOARD = DEPLOY / "grafana" / "weir.json"
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}


def load():
    return json.loads(DASHBOARD.read_text())


def test_the_dashboard_model_is_well_formed():
    dashboard = load()
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    cells = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panel {panel['title']!r} overlaps another"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), f"refIds repeat in {panel['title']!r}"
        for target in panel["targets"]:
            used = set(re.findall(r"\$\{?(\w+)", target["expr"] + target.get("legendFormat", "")))
            unknown = used - set(variables) - set(GRAFANA_VARIABLES)
            assert not unknown, f"{panel['title']!r} uses undefined variables {unknown}"


def test_every_query_of_the_dashboard_is_valid_promql(tmp_path):
    rules = []
    for index, (title, expr) in enumerate(dashboard_exprs()):
        if expr.startswith("label_values("):
            expr = re.fullmatch(r"label_values\((.+),\s*\w+\)", expr).group(1)
        for name, value in GRAFANA_VARIABLES.items():
            expr = expr.replace("$" + name, value)
        expr = re.sub(r"\$\{?\w+\}?", ".*", expr)  # multi-value variables become regexes
        rules.append({"record": f"dashboard:query_{index}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run(promtool(), "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_shows_what_an_operator_of_a_pool_needs():
    titles_by_metric = {}
    for title, expr in dashboard_exprs():
        for name in metric_names(expr):
            titles_by_metric.setdefault(name, []).append(title)
    needed = {
        "throughput": {"weir_records_in_total", "weir_records_out_total"},
        "lag per partition": {"weir_consumer_lag"},
        "guest latency": {"weir_guest_call_duration_seconds"},
        "traps": {"weir_guest_traps_total"},
        "dead letters": {"weir_dead_letters_total"},
        "windows fired": {"weir_windows_fired_total", "weir_last_window_fired_timestamp_seconds"},
        "rebalances": {"weir_rebalances_total"},
    }
    for topic, names in needed.items():
        missing = names - set(titles_by_metric)
        assert not missing, f"no panel shows {topic}: {missing}"
    lag = [expr for _, expr in dashboard_exprs() if "weir_consumer_lag" in expr]
    assert any("partition" in expr for expr in lag), "lag is broken down per partition"


def test_the_compose_stack_provisions_the_dashboard_and_its_data_source():
    sources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/weir.yml").read_text())
    (provider,) = providers["providers"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/weir.json:{provider['options']['path']}/weir.json:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
