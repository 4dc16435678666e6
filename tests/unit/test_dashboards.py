"""The operator's dashboard and alert rules (`deploy/`) name only metrics, and labels, that the
services really export; the rules are well formed and fire on the series they describe."""

from __future__ import annotations

import copy
import importlib
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import promql_parser as pq
import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

import shared

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "helpdesk.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"

Labels = frozenset[str]
#: Labels Prometheus adds to every scraped series.
TARGET_LABELS: Labels = frozenset({"job", "instance"})
#: Series Prometheus makes itself for every target.
PROMETHEUS_SERIES: dict[str, Labels] = {"up": TARGET_LABELS}
#: The series names each kind of metric family exports, and the labels a suffix adds.
SUFFIXES: dict[str, dict[str, Labels]] = {
    "counter": {"_total": frozenset(), "_created": frozenset()},
    "gauge": {"": frozenset()},
    "histogram": {
        "_bucket": frozenset({"le"}),
        "_sum": frozenset(),
        "_count": frozenset(),
        "_created": frozenset(),
    },
    "summary": {"": frozenset({"quantile"}), "_sum": frozenset(), "_count": frozenset()},
    "info": {"_info": frozenset()},
    "stateset": {"": frozenset()},
    "enum": {"": frozenset()},
}
#: A duration as Prometheus writes one (`0m`, `90s`, `1h30m`).
PROMETHEUS_DURATION = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")
#: The labels of a series nobody exports: already reported, so any label passes on it.
UNKNOWN = "*"
#: Grafana's interval variables stand where PromQL wants a duration.
GRAFANA_INTERVALS = ("__rate_interval", "__interval", "__range")


# --- What the services export ----------------------------------------------------------------


def exported_series(registry: CollectorRegistry) -> dict[str, Labels]:
    """Every series name `registry` can serve, with its label names, whether or not a labelled
    metric has been used yet (one that has not serves no sample, so its label names come from
    the metric itself)."""
    series: dict[str, Labels] = {}
    for collector in list(registry._collector_to_names):
        if isinstance(collector, MetricWrapperBase):
            family = collector._name  # a counter's name without `_total`
            for suffix, extra in SUFFIXES[str(collector._type)].items():
                series[family + suffix] = frozenset(collector._labelnames) | extra
            continue
        for metric in collector.collect():
            for sample in metric.samples:
                series[sample.name] = series.get(sample.name, frozenset()) | set(sample.labels)
    return series


def faststream_middleware(broker: Any) -> Any:
    from faststream.prometheus.middleware import PrometheusMiddleware

    found = [m for m in broker.middlewares if isinstance(m, PrometheusMiddleware)]
    return found[0] if found else None


@pytest.fixture(scope="module")
def service_broker() -> Any:
    """A broker built as every service builds its own: its Prometheus middleware registers
    FastStream's metric families when it is made."""
    from shared.broker import make_broker
    from shared.settings import ServiceSettings

    return make_broker(ServiceSettings(service_name="dashboards"))


@pytest.fixture(scope="module")
def exported(service_broker: Any) -> dict[str, Labels]:
    """What a service process serves on /metrics (the default registry, or in multiprocess
    mode the same families added up over the processes: `shared.metrics.exposition`), once
    every module of `shared` (where the services' metrics are declared) is imported."""
    for module in pkgutil.walk_packages(shared.__path__, "shared."):
        importlib.import_module(module.name)
    return exported_series(REGISTRY) | PROMETHEUS_SERIES


# --- What the dashboard and the rules ask ----------------------------------------------------


def panels_of(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside (collapsed) rows too."""
    for panel in panels:
        yield panel
        yield from panels_of(panel.get("panels", []))


def dashboard_queries(dashboard: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable of a dashboard, with
    Grafana's variables replaced by values PromQL accepts."""
    names = [v["name"] for v in dashboard.get("templating", {}).get("list", [])]
    queries = [
        (f"panel {panel.get('title')!r} target {target.get('refId')}", target["expr"])
        for panel in panels_of(dashboard.get("panels", []))
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            query = query["query"] if isinstance(query, dict) else query
            queries.append((f"variable {variable['name']!r}", variable_promql(query)))
    return [(where, grafana_to_promql(expr, names)) for where, expr in queries]


def variable_promql(query: str) -> str:
    """A query variable as PromQL: `label_values(metric, label)` asks for `label` on
    `metric`, as `count by (label) (metric)` does."""
    found = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\s*\)\s*", query)
    if found:
        return f"count by ({found[2]}) ({found[1]})"
    found = re.fullmatch(r"\s*query_result\((.+)\)\s*", query)
    return found[1] if found else query


def grafana_to_promql(expr: str, variables: list[str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name in GRAFANA_INTERVALS:
            return "5m"
        if name in variables:
            return ".+"
        return match[0]  # an unknown variable stays, and fails to parse

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


# --- Checking one expression ------------------------------------------------------------------


def problems_of(promql: str, series: Mapping[str, Labels]) -> list[str]:
    """What is wrong with `promql` against the exported `series`: names nobody exports,
    labels the series do not have (in matchers, `by`, `on`), a quantile over series without
    `le`, and vector operations whose sides can never match."""
    try:
        tree = pq.parse(promql)
    except Exception as exc:
        return [f"does not parse: {exc}"]
    found: list[str] = []

    def lacking(kind: str, wanted: list[str], have: Labels) -> None:
        missing = sorted(set(wanted) - have)
        if missing and UNKNOWN not in have:
            found.append(f"{kind} {missing} not among the labels {sorted(have)}")

    def labels(node: Any) -> Labels | None:
        """The label names `node`'s result may carry; None for a scalar or a string."""
        if isinstance(node, pq.VectorSelector):
            if node.name is None:
                found.append(f"a selector without a metric name: {node}")
                return frozenset()
            if node.name not in series:
                found.append(f"no service exports {node.name}")
                return frozenset({UNKNOWN})
            have = series[node.name] | TARGET_LABELS
            lacking(f"{node.name} matcher", [m.name for m in node.matchers.matchers], have)
            return have
        if isinstance(node, pq.MatrixSelector):
            return labels(node.vector_selector)
        if isinstance(node, pq.ParenExpr | pq.UnaryExpr | pq.SubqueryExpr):
            return labels(node.expr)
        if isinstance(node, pq.Call):
            return call(node)
        if isinstance(node, pq.AggregateExpr):
            return aggregate(node)
        if isinstance(node, pq.BinaryExpr):
            return binary(node)
        return None  # a number or a string

    def call(node: Any) -> Labels | None:
        args = [labels(arg) for arg in node.args]
        vectors = [a for a in args if a is not None]
        name = node.func.name
        if name in {"time", "pi", "scalar"}:
            return None
        if name in {"vector", "absent", "absent_over_time"}:
            return frozenset()
        if name == "histogram_quantile":
            lacking("histogram_quantile needs", ["le"], args[1] or frozenset())
            return (args[1] or frozenset()) - {"le"}
        if name in {"label_replace", "label_join"}:
            return (args[0] or frozenset()) | {node.args[1].val}
        return vectors[0] if vectors else None

    def aggregate(node: Any) -> Labels:
        inner = labels(node.expr) or frozenset()
        op, modifier = str(node.op), node.modifier
        grouping = list(modifier.labels) if modifier is not None else []
        by = modifier is not None and modifier.type == pq.AggModifierType.By
        lacking(f"{op} by" if by else f"{op} without", grouping, inner)
        if op in {"topk", "bottomk", "limitk", "limit_ratio"}:
            return inner
        kept = frozenset(grouping) if by else inner - set(grouping)
        return kept | {node.param.val} if op == "count_values" else kept

    def binary(node: Any) -> Labels | None:
        lhs, rhs = labels(node.lhs), labels(node.rhs)
        if lhs is None or rhs is None:
            return rhs if lhs is None else lhs
        op = str(node.op).split()[0]
        modifier = node.modifier
        matching = modifier.matching if modifier is not None else None
        if matching is not None and matching.type == pq.LabelModifierType.Include:
            lacking(f"left of {op} on", list(matching.labels), lhs)
            lacking(f"right of {op} on", list(matching.labels), rhs)
        elif op != "or":
            ignored = set(matching.labels) if matching is not None else set()
            if lhs - ignored != rhs - ignored and UNKNOWN not in lhs | rhs:
                found.append(
                    f"the sides of {op} carry different labels ({sorted(lhs - ignored)} and "
                    f"{sorted(rhs - ignored)}): no series would match"
                )
        group = frozenset(modifier.group_labels or ()) if modifier is not None else frozenset()
        if op == "or":
            return lhs | rhs
        if modifier is not None and modifier.card == pq.VectorMatchCardinality.OneToMany:
            return rhs | group
        return lhs | group

    labels(tree)
    return found


def metric_names(promql: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, pq.VectorSelector) and node.name:
            names.add(node.name)

    pq.walk(pq.parse(promql), visit)
    return names


def problems_in(
    queries: list[tuple[str, str]], series: Mapping[str, Labels]
) -> dict[str, list[str]]:
    return {
        f"{where}: {expr}": found for where, expr in queries if (found := problems_of(expr, series))
    }


# --- The dashboard -----------------------------------------------------------------------------


def test_every_dashboard_query_names_exported_metrics_and_labels(
    exported: dict[str, Labels],
) -> None:
    queries = dashboard_queries(json.loads(DASHBOARD.read_text()))
    assert len(queries) >= 25
    assert problems_in(queries, exported) == {}


def test_dashboard_is_a_grafana_dashboard_on_a_chosen_prometheus() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["job"]["type"] == "query"
    panels = list(panels_of(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert 'job=~"$job"' in target["expr"], f"{panel['title']} ignores the service"


def test_queries_inside_collapsed_rows_are_checked_too() -> None:
    dashboard = {
        "templating": {"list": [{"name": "job", "type": "custom"}]},
        "panels": [
            {
                "type": "row",
                "collapsed": True,
                "panels": [
                    {
                        "title": "inside",
                        "targets": [
                            {"refId": "A", "expr": 'rate(x_total{job=~"$job"}[$__rate_interval])'},
                        ],
                    },
                ],
            },
        ],
    }
    assert dashboard_queries(dashboard) == [
        ("panel 'inside' target A", 'rate(x_total{job=~".+"}[5m])')
    ]


# --- The checker itself ---------------------------------------------------------------------

SERIES: dict[str, Labels] = {
    "helpdesk_events_published_total": frozenset({"topic"}),
    "helpdesk_deliveries_total": frozenset({"channel", "outcome"}),
    "helpdesk_time_to_assignment_seconds_bucket": frozenset({"le"}),
    "helpdesk_time_to_assignment_seconds_count": frozenset(),
}


@pytest.mark.parametrize(
    ("promql", "complaint"),
    [
        ("rate(helpdesk_made_up_things_total[5m])", "no service exports"),
        ("sum by (colour) (rate(helpdesk_events_published_total[5m]))", "sum by ['colour']"),
        ('helpdesk_events_published_total{colour="red"}', "matcher ['colour']"),
        (
            "histogram_quantile(0.9, sum by (job) (rate(helpdesk_time_to_assignment_seconds_bucket"
            "[5m])))",
            "histogram_quantile needs ['le']",
        ),
        (
            "sum by (channel) (rate(helpdesk_deliveries_total[5m])) / "
            "sum by (outcome) (rate(helpdesk_deliveries_total[5m]))",
            "no series would match",
        ),
        ("max by (topic) (sum by (channel) (helpdesk_deliveries_total))", "max by ['topic']"),
        (
            "rate(helpdesk_deliveries_total[5m]) / on (topic) "
            "rate(helpdesk_events_published_total[5m])",
            "left of / on ['topic']",
        ),
        ("rate(helpdesk_events_published_total[5m)", "does not parse"),
    ],
)
def test_checker_rejects_what_no_service_exports(promql: str, complaint: str) -> None:
    found = problems_of(promql, SERIES)
    assert any(complaint in problem for problem in found), found


def test_an_unknown_name_is_reported_once_not_again_for_its_labels() -> None:
    promql = (
        'sum by (topic) (rate(helpdesk_made_up_total{job="x"}[5m]))'
        " / on (topic) sum by (topic) (rate(helpdesk_events_published_total[5m]))"
    )
    assert problems_of(promql, SERIES) == ["no service exports helpdesk_made_up_total"]


def test_checker_accepts_what_the_series_carry() -> None:
    for promql in [
        'sum by (channel) (rate(helpdesk_deliveries_total{outcome="failed"}[5m]))'
        " / sum by (channel) (rate(helpdesk_deliveries_total[5m])) > 0.05",
        "histogram_quantile(0.9, sum by (le, job) "
        "(rate(helpdesk_time_to_assignment_seconds_bucket[5m])))",
        "rate(helpdesk_time_to_assignment_seconds_bucket[5m]) / ignoring (le) group_left "
        "rate(helpdesk_time_to_assignment_seconds_count[5m])",
        "topk(3, sum by (topic) (rate(helpdesk_events_published_total[5m])))",
    ]:
        assert problems_of(promql, SERIES) == [], promql


def test_a_made_up_name_fails_against_what_the_services_export(
    exported: dict[str, Labels],
) -> None:
    assert "helpdesk_events_published_total" in exported
    assert problems_of("rate(helpdesk_events_published_total[5m])", exported) == []
    assert problems_of("rate(helpdesk_tickets_teleported_total[5m])", exported) == [
        "no service exports helpdesk_tickets_teleported_total"
    ]
    # FastStream names a subscriber `handler`, not by its topic.
    [problem] = problems_of(
        "sum by (topic) (rate(faststream_received_messages_total[5m]))", exported
    )
    assert problem.startswith(
        "sum by ['topic'] not among the labels ['app_name', 'broker', 'handler'"
    )


def test_service_broker_serves_faststream_metrics_on_metrics(service_broker: Any) -> None:
    middleware = faststream_middleware(service_broker)
    assert middleware is not None, "make_broker adds no Prometheus middleware"
    # `/metrics` serves the default registry: metrics kept in another one never reach it.
    assert middleware._metrics_container._registry is REGISTRY


# --- The alert rules ---------------------------------------------------------------------------


def test_every_alert_names_exported_metrics_and_labels(exported: dict[str, Labels]) -> None:
    queries = [(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]
    assert problems_in(queries, exported) == {}


def test_every_rule_is_a_complete_alert() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["expr"].strip(), rule["alert"]
        assert PROMETHEUS_DURATION.fullmatch(str(rule["for"])), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert len(rule["annotations"]["description"]) > 80, rule["alert"]


def test_alerts_cover_what_the_operator_must_hear() -> None:
    asked = {metric for rule in alert_rules() for metric in metric_names(rule["expr"])}
    assert {
        "helpdesk_consumer_lag",
        "helpdesk_dead_letters_total",
        "helpdesk_sla_firing_lateness_seconds_bucket",
        "helpdesk_deliveries_total",
        "helpdesk_sla_breaches_total",
    } <= asked


def test_lateness_histogram_resolves_the_alert_threshold() -> None:
    """histogram_quantile cannot say more than the buckets: without a bound at 1 s and one
    above it, p99 above 1 s is either never seen or reported from the wrong bucket."""
    from shared.metrics import SLA_FIRING_LATENESS

    bounds = SLA_FIRING_LATENESS._upper_bounds
    assert 1.0 in bounds
    assert any(1.0 < bound < float("inf") for bound in bounds)


# --- promtool, where it is installed ------------------------------------------------------------


def promtool() -> str:
    """Prometheus's own checker: $PROMTOOL, on the PATH, or beside the venv's python."""
    candidates = [os.environ.get("PROMTOOL"), shutil.which("promtool")]
    candidates.append(str(Path(sys.executable).parent / "promtool"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("promtool is not installed (Debian's prometheus package ships it)")


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60)


def test_promtool_accepts_the_rules() -> None:
    checked = run_promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    selector = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{selector}}}", "values": values}


def expect(at: str, alert: str, *fired: dict[str, str]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": alert, "exp_alerts": [{"exp_labels": f} for f in fired]}


def lateness(values: Callable[[str], str], **target: str) -> list[dict[str, str]]:
    name = "helpdesk_sla_firing_lateness_seconds_bucket"
    return [series(name, values(le), le=le, **target) for le in ("0.1", "1", "5", "+Inf")]


SLA_1 = {"job": "helpdesk-sla", "instance": "sla-1:8000"}
SLA_2 = {"job": "helpdesk-sla", "instance": "sla-2:8000"}
ROUTER = {"job": "helpdesk-router", "instance": "router-1:8000"}
LAG = {"group": "helpdesk-router", "topic": "helpdesk.tickets.v1"}
STEADY = {"group": "helpdesk-sla", "topic": "helpdesk.routing.v1"}
FAILING = {"0.1": "0+90x40", "1": "0+95x40", "5": "0+100x40", "+Inf": "0+100x40"}
WEBHOOK, EMAIL = {"channel": "webhook", **ROUTER}, {"channel": "email", **ROUTER}
#: Each alert on series where it must fire, beside series where it must not.
ALERT_CASES: list[dict[str, Any]] = [
    {
        "input_series": [series("up", "1 1 0 0 0 0 0 0", **SLA_1), series("up", "1x8", **SLA_2)],
        "alert_rule_test": [
            expect("3m", "HelpdeskTargetDown"),
            expect("5m", "HelpdeskTargetDown", {"severity": "critical", **SLA_1}),
        ],
    },
    {
        "input_series": [
            series("helpdesk_consumer_lag", "0+100x40", partition="0", **LAG, **ROUTER),
            series("helpdesk_consumer_lag", "5+0x40", partition="1", **LAG, **ROUTER),
            series("helpdesk_consumer_lag", "5000x40", partition="0", **STEADY, **SLA_1),
            series("helpdesk_consumer_lag", "5000-100x40", partition="1", **STEADY, **SLA_1),
        ],
        "alert_rule_test": [
            expect("15m", "HelpdeskConsumerLagHigh"),
            expect("25m", "HelpdeskConsumerLagHigh", {"severity": "warning", **LAG}),
        ],
    },
    {
        "input_series": [
            series(
                "helpdesk_dead_letters_total",
                "_x5 1x10",
                service="intake",
                topic="helpdesk.contacts.v1",
                reason_type="ValidationError",
                **ROUTER,
            ),
            series(
                "helpdesk_dead_letters_total",
                "0x40",
                service="router",
                topic="helpdesk.tickets.v1",
                reason_type="PermanentError",
                **ROUTER,
            ),
        ],
        "alert_rule_test": [
            expect("4m", "HelpdeskDeadLetters"),
            expect(
                "7m",
                "HelpdeskDeadLetters",
                {
                    "severity": "warning",
                    "service": "intake",
                    "topic": "helpdesk.contacts.v1",
                    "reason_type": "ValidationError",
                },
            ),
            expect("16m", "HelpdeskDeadLetters"),
        ],
    },
    {
        "input_series": [
            *lateness(lambda le: FAILING[le], **SLA_1),
            *lateness(lambda le: "0+100x40", **SLA_2),
        ],
        "alert_rule_test": [
            expect("10m", "HelpdeskSlaFiringLate"),
            expect("20m", "HelpdeskSlaFiringLate", {"severity": "warning", **SLA_1}),
        ],
    },
    {
        "input_series": [
            series("helpdesk_sla_breaches_total", "0+1x90", target="first_response", **SLA_1),
            series("helpdesk_sla_breaches_total", "0+0.1x90", target="resolution", **SLA_1),
        ],
        "alert_rule_test": [
            expect("20m", "HelpdeskSlaBreachesHigh"),
            expect(
                "40m",
                "HelpdeskSlaBreachesHigh",
                {"severity": "warning", "target": "first_response"},
            ),
        ],
    },
    {
        "input_series": [
            series("helpdesk_deliveries_total", "0+60x40", outcome="failed", **WEBHOOK),
            series("helpdesk_deliveries_total", "0+40x40", outcome="sent", **WEBHOOK),
            series("helpdesk_deliveries_total", "0+10x40", outcome="failed", **EMAIL),
            series("helpdesk_deliveries_total", "0+90x40", outcome="sent", **EMAIL),
            # Tries scheduled again are not finished: counted, they would dilute 10 % to 2 %.
            series("helpdesk_deliveries_total", "0+500x40", outcome="retried", **EMAIL),
            series(
                "helpdesk_deliveries_total", "0+900x40", outcome="sent", channel="push", **ROUTER
            ),
        ],
        "alert_rule_test": [
            expect(
                "35m",
                "HelpdeskDeliveryFailures",
                {"severity": "warning", "channel": "email"},
                {"severity": "warning", "channel": "webhook"},
            ),
            expect(
                "35m", "HelpdeskDeliveryChannelDown", {"severity": "critical", "channel": "webhook"}
            ),
        ],
    },
]


def test_each_alert_fires_on_its_series_and_only_there(tmp_path: Path) -> None:
    """promtool evaluates the real rules over minutes of made-up series. Annotations are left
    out of the copy it runs (it would compare their whole text); `check rules` parses them."""
    rules = yaml.safe_load(ALERTS.read_text())
    bare = copy.deepcopy(rules)
    for group in bare["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations")
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(bare))
    cases = [{"interval": "1m", **case} for case in ALERT_CASES]
    tested = {test["alertname"] for case in cases for test in case["alert_rule_test"]}
    assert tested == {rule["alert"] for rule in alert_rules()}, "an alert has no case"
    suite = {"rule_files": ["alerts.yaml"], "evaluation_interval": "1m", "tests": cases}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    ran = run_promtool("test", "rules", str(tmp_path / "tests.yaml"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "SUCCESS" in ran.stdout
