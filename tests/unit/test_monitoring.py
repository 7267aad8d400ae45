"""deploy/monitoring: the rules pass promtool and their unit tests, every alert is runnable by an operator.

Run as a module, it prints the PrometheusRule that deploy/k8s/components/monitoring must carry.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "rules.yml"
RULE_TESTS = MONITORING / "tests.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "accounts-service.json"
COMPONENT = ROOT / "deploy" / "k8s" / "components" / "monitoring"
SEVERITIES = {"critical", "warning", "info"}
# Label names that would make a series per tenant or per account: never on a metric.
UNBOUNDED_LABELS = {"account", "account_id", "organization", "organization_id", "client", "client_id", "user"}


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alerts() -> list[dict[str, Any]]:
    return [rule for group in _yaml(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


def prometheus_rule() -> dict[str, Any]:
    """The Prometheus Operator's form of rules.yml."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "accounts-service",
            "labels": {
                "app.kubernetes.io/name": "accounts-service",
                "app.kubernetes.io/component": "monitoring",
            },
        },
        "spec": {"groups": _yaml(RULES)["groups"]},
    }


def expressions() -> list[str]:
    """Every PromQL expression the rules and the dashboard evaluate."""
    exprs = [rule["expr"] for group in _yaml(RULES)["groups"] for rule in group["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    return exprs


def metric_names(expr: str) -> set[str]:
    """The service's metric names an expression reads (recording rules, with a colon, left out)."""
    return set(re.findall(r"(?<![\w:])accounts_[a-z0-9_]+(?![\w:])", expr))


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (.ci/run does)")
    return subprocess.run([promtool, *args], cwd=MONITORING, capture_output=True, text=True, timeout=120)


def test_rules_are_valid_for_promtool() -> None:
    result = _promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass() -> None:
    result = _promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_in_one_test_and_stays_quiet_in_another() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in _yaml(RULE_TESTS)["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {alert["alert"] for alert in alerts()}
    assert names - fired == set(), "alerts no test fires"
    assert names - quiet == set(), "alerts no test keeps quiet"


def _anchors(markdown: str) -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", markdown, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading).strip().lower().replace(" ", "-") for heading in headings}


def test_every_alert_has_a_severity_a_summary_and_a_runbook_that_exists() -> None:
    anchors = _anchors(RUNBOOKS.read_text())
    for alert in alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in SEVERITIES, name
        assert alert["annotations"]["summary"], name
        path, _, anchor = alert["annotations"]["runbook_url"].partition("#")
        assert path == "docs/runbooks.md", name
        assert anchor == name.lower() and anchor in anchors, f"{name}: no runbook section"
        parts = r"\*\*Means\.\*\*.*?\*\*Confirm\.\*\*.*?\*\*Fix\.\*\*.*?\*\*Do not\*\*"
        section = re.search(rf"^## {name}\n\n{parts}", RUNBOOKS.read_text(), flags=re.M | re.S)
        assert section, f"{name}: its runbook lacks what it means, how to confirm, fix, or what not to do"


def test_the_kubernetes_component_carries_exactly_these_rules() -> None:
    files = sorted(COMPONENT.glob("*.yaml"))
    documents = [doc for path in files for doc in yaml.safe_load_all(path.read_text())]
    kustomization = next(doc for doc in documents if doc.get("kind") == "Component")
    listed = {Path(name).name for name in kustomization["resources"]}
    assert listed == {path.name for path in COMPONENT.glob("*.yaml")} - {"kustomization.yaml"}
    rule = next(doc for doc in documents if doc.get("kind") == "PrometheusRule")
    assert rule == prometheus_rule(), "regenerate: python -m tests.unit.test_monitoring > " + str(
        (COMPONENT / "prometheus-rule.yaml").relative_to(ROOT)
    )
    monitors = {doc["metadata"]["name"]: doc for doc in documents if doc.get("kind") == "PodMonitor"}
    assert set(monitors) == {"accounts-api", "accounts-relay", "accounts-webhooks"}


def test_dashboard_is_a_grafana_dashboard_whose_panels_all_query_something() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert metric_names(target["expr"]), f"{panel['title']}: {target['expr']} reads no service metric"
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_queries_never_group_by_an_unbounded_label() -> None:
    for expr in expressions():
        grouped = re.findall(r"\bby \(([^)]*)\)", expr)
        for labels in grouped:
            assert not {label.strip() for label in labels.split(",")} & UNBOUNDED_LABELS, expr


def test_compose_monitoring_profile_loads_these_rules_and_dashboards() -> None:
    services = _yaml(ROOT / "docker-compose.yml")["services"]
    assert services["prometheus"]["profiles"] == ["monitoring"]
    assert services["grafana"]["profiles"] == ["monitoring"]
    mounts = " ".join(services["prometheus"]["volumes"] + services["grafana"]["volumes"])
    for path in ("deploy/monitoring/rules.yml", "deploy/monitoring/prometheus.yml", "grafana/dashboards"):
        assert path in mounts
    scrape = _yaml(MONITORING / "prometheus.yml")
    assert scrape["rule_files"] == ["/etc/prometheus/rules.yml"]
    assert {job["job_name"] for job in scrape["scrape_configs"]} >= {
        "accounts-api",
        "accounts-relay",
        "accounts-webhooks",
    }


if __name__ == "__main__":
    print(
        "# Generated from deploy/monitoring/rules.yml; tests/unit/test_monitoring.py fails if they differ.\n"
        "# python -m tests.unit.test_monitoring > deploy/k8s/components/monitoring/prometheus-rule.yaml"
    )
    print(yaml.safe_dump(prometheus_rule(), sort_keys=False, width=110), end="")
