"""The alert rules and the Prometheus config: promtool's syntax checks, promtool's unit tests
(tests/deploy/alerts_test.yml), and the PrometheusRule of deploy/k8s carrying the same rules.

`python tests/deploy/test_rules.py --write` rewrites the PrometheusRule from alerts.yml."""

import sys

import yaml

from conftest import DEPLOY, ROOT, promtool, run

ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROMETHEUS_RULE = DEPLOY / "k8s" / "components" / "monitoring" / "prometheusrule.yaml"
HEADER = """\
# The Weir alert rules for the prometheus-operator: the same groups as
# deploy/prometheus/alerts.yml, the source of truth (tests/deploy checks they are equal;
# after editing alerts.yml, run `.venv/bin/python tests/deploy/test_rules.py --write`).
# Your Prometheus's ruleSelector may want other labels than `role: alert-rules`.
"""


def test_the_rules_and_the_compose_prometheus_config_pass_promtool():
    checked = run(promtool(), "check", "rules", ALERTS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = run(promtool(), "check", "config", DEPLOY / "prometheus" / "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_each_alert_fires_when_it_should_and_only_then(tmp_path):
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    tests = ROOT / "tests" / "deploy" / "alerts_test.yml"
    (tmp_path / "alerts_test.yml").write_text(tests.read_text())
    result = run(promtool(), "test", "rules", tmp_path / "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    # Every alert of the file is exercised by at least one firing case.
    tested = yaml.safe_load(tests.read_text())
    fired = {case["alertname"] for test in tested["tests"] for case in test["alert_rule_test"]
             if case.get("exp_alerts")}
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert alerts <= fired, f"alerts without a firing test case: {sorted(alerts - fired)}"


def prometheus_rule() -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "weir", "labels": {"role": "alert-rules"}},
        "spec": yaml.safe_load(ALERTS.read_text()),
    }


def test_the_prometheus_rule_resource_carries_exactly_the_rules_of_alerts_yml():
    shipped = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert shipped == prometheus_rule(), (
        "deploy/k8s/components/monitoring/prometheusrule.yaml differs from alerts.yml: run "
        "`.venv/bin/python tests/deploy/test_rules.py --write`")


def write():
    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper, data):
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, text)
    PROMETHEUS_RULE.write_text(HEADER + yaml.dump(prometheus_rule(), Dumper=Dumper, sort_keys=False, width=100))


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        sys.exit("usage: test_rules.py --write")
