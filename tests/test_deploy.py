"""The deployment files in deploy/: they parse, name only metrics the code declares, use only
declared settings or documented credentials, and hold no secret values."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

from chotdon.config import SETTINGS
from chotdon.prometheus import (
    ConnectorMetrics,
    FeedMetrics,
    PipelineMetrics,
    SinkMetrics,
    TallyCounter,
    TallyHistogram,
    WorkerMetrics,
)

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
DASHBOARD = DEPLOY / "grafana" / "chotdon-dashboard.json"
COMPOSE = DEPLOY / "compose.yml"
K8S = DEPLOY / "k8s"
SOURCES = ("chotdon", "ingest", "stream_jobs", "sinks")
OWN_FILES = [
    *sorted((DEPLOY / "prometheus").glob("*.yml")),
    *sorted((DEPLOY / "grafana").rglob("*.yml")),
    COMPOSE,
    *sorted(K8S.glob("*.yaml")),
]

METRIC_REF = re.compile(r"(?<![\w:])chotdon_[a-zA-Z0-9_]+")
DECLARATION = re.compile(r"\b(?:Tally)?(Counter|Gauge|Histogram|Summary)\(\s*\"(chotdon_\w+)\"")
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|_KEY$|SECRETS$")
SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "Summary": ("", "_sum", "_count", "_created"),
}


def declared_metrics() -> dict[str, str]:
    """Metric name -> type, from the quoted names in the Python sources."""
    found: dict[str, str] = {}
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            for kind, name in DECLARATION.findall(path.read_text(encoding="utf-8")):
                found[name] = kind
    return found


def exposed_names() -> set[str]:
    """The sample names Prometheus sees for the declared metrics."""
    names: set[str] = set()
    for name, kind in declared_metrics().items():
        base = name.removesuffix("_total") if kind == "Counter" else name
        names.update(base + suffix for suffix in SUFFIXES[kind])
    return names


def registered_metrics() -> dict[str, tuple[str, ...]]:
    """Name -> label names of the metrics the processes really register."""
    found: dict[str, tuple[str, ...]] = {}
    for holder in (
        PipelineMetrics(),
        FeedMetrics(),
        WorkerMetrics(),
        SinkMetrics(),
        ConnectorMetrics(),
    ):
        for value in vars(holder).values():
            if isinstance(value, MetricWrapperBase):
                found[value._name] = tuple(value._labelnames)
            elif isinstance(value, TallyCounter | TallyHistogram):  # custom collectors
                found[value.name] = value.labels if isinstance(value, TallyCounter) else ()
    return found


def labels_of(sample: str) -> set[str]:
    """Label names a query may use on a sample name: its metric's labels, target labels, `le`."""
    for name, labels in registered_metrics().items():
        stems = {name, name + "_total", name + "_bucket", name + "_sum", name + "_count"}
        if sample in stems:
            return {*labels, "job", "instance", "le"}
    raise AssertionError(f"{sample}: not a registered metric")


def load_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in doc["templating"]["list"] if v["type"] == "query"]
    return exprs


def k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    if "jobTemplate" in spec:
        spec = spec["jobTemplate"]["spec"]
    result: list[dict[str, Any]] = spec.get("template", {}).get("spec", {}).get("containers", [])
    return result


def compose_env(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.partition("=")[::2] if "=" in item else (item, None) for item in env)
    return dict(env)


def documented_credentials() -> set[str]:
    """Environment variables the README's live-platform table documents."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Live platforms", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)", section))


SETTING_ENVS = {s.env for s in SETTINGS}


def allowed_env(name: str) -> bool:
    return name in SETTING_ENVS or name in documented_credentials()


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", OWN_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_files_parse(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs)


def test_dashboard_parses_with_a_datasource_and_stream_variable() -> None:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert doc["schemaVersion"] >= 36
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["stream"]["query"]["query"] == "label_values(chotdon_comments_total, stream)"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for p in doc["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
            assert p["targets"], p["title"]


# -- metric names ----------------------------------------------------------------------------


def test_source_scan_finds_every_registered_metric() -> None:
    declared = {
        name.removesuffix("_total") if kind == "Counter" else name
        for name, kind in declared_metrics().items()
    }
    assert set(registered_metrics()) <= declared  # a counter registers without _total
    assert "chotdon_comments_total" in exposed_names()
    assert "chotdon_parse_latency_seconds_bucket" in exposed_names()
    assert "chotdon_comments" not in exposed_names()  # a counter is exposed with _total


@pytest.mark.parametrize("path", [RULES, DASHBOARD], ids=lambda p: p.name)
def test_only_declared_metric_names(path: Path) -> None:
    referenced = set(METRIC_REF.findall(path.read_text(encoding="utf-8")))
    assert referenced, "no chotdon_ metric referenced"
    assert referenced <= exposed_names(), sorted(referenced - exposed_names())


def test_label_matchers_use_the_metrics_labels() -> None:
    matcher = re.compile(r"(chotdon_\w+)\{([^}]*)\}")
    label = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
    exprs = [r["expr"] for r in load_rules()] + dashboard_exprs()
    seen = 0
    for expr in exprs:
        for sample, body in matcher.findall(expr):
            seen += 1
            unknown = set(label.findall(body)) - labels_of(sample)
            assert not unknown, f"{sample}: no label {unknown} in {expr!r}"
    assert seen > 0


def test_dashboard_covers_every_metric() -> None:
    text = " ".join(dashboard_exprs())
    missing = [m for m in registered_metrics() if m.removesuffix("_total") not in text]
    assert not missing


# -- alert rules -----------------------------------------------------------------------------


def test_every_alert_has_severity_and_a_bilingual_summary() -> None:
    alerts = [r for r in load_rules() if "alert" in r]
    assert len(alerts) >= 8
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names))
    for a in alerts:
        assert a["expr"].strip(), a["alert"]
        assert a["labels"]["severity"] in {"critical", "warning", "info"}, a["alert"]
        summary = a["annotations"]["summary"]
        vietnamese, _, english = summary.partition(" / ")
        assert english, f"{a['alert']}: summary is not 'Vietnamese / English'"
        assert re.search(r"[^\x00-\x7f]", vietnamese), f"{a['alert']}: no Vietnamese"
        if "for" in a:
            assert re.fullmatch(r"\d+[smh]", a["for"]), a["alert"]


def test_rule_expressions_balance_and_records_are_named() -> None:
    for rule in load_rules():
        assert ("alert" in rule) != ("record" in rule)
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")"), expr
        assert expr.count("{") == expr.count("}"), expr
        if "record" in rule:
            assert re.fullmatch(r"chotdon:[a-z0-9_]+:[a-z0-9_]+", rule["record"])


def test_queue_alert_matches_the_queue_size_default() -> None:
    queue_size = next(s.default for s in SETTINGS if s.name == "queue_size")
    (alert,) = [r for r in load_rules() if r.get("alert") == "ChotdonQueueNearCapacity"]
    assert str(queue_size) in alert["expr"]


def test_prometheus_loads_the_rules_and_scrapes_metrics() -> None:
    doc = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    assert any(f.endswith("rules.yml") for f in doc["rule_files"])
    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    assert {"chotdon-feed", "chotdon-embedded", "chotdon-connectors"} <= set(jobs)
    for name in ("chotdon-feed", "chotdon-embedded"):
        assert jobs[name]["metrics_path"] == "/metrics"
        assert jobs[name]["static_configs"][0]["targets"][0].endswith(":8080")
    # the job names the alerts select on exist
    for rule in load_rules():
        for job in re.findall(r'job="([^"]+)"', rule["expr"]):
            assert job in jobs, job


# -- compose and Kubernetes ------------------------------------------------------------------


def chotdon_services() -> dict[str, dict[str, Any]]:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    return {n: s for n, s in services.items() if s.get("image", "").startswith("chotdon")}


def test_compose_runs_the_distributed_mode() -> None:
    services = chotdon_services()
    commands = {n: tuple(s["command"][:2]) for n, s in services.items()}
    assert ("topics", "create") in commands.values()
    assert ("sink", "redis") in commands.values()
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["feed"]["command"] == ["feed"]
    all_services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert all_services["kafka"]["image"].startswith("apache/kafka:4.")
    assert {"redis", "prometheus", "grafana"} <= set(all_services)


def test_compose_env_names_are_settings_or_credentials() -> None:
    for name, service in chotdon_services().items():
        env = compose_env(service)
        assert env, name
        bad = [k for k in env if not allowed_env(k)]
        assert not bad, f"{name}: {bad}"


def test_k8s_env_names_are_settings_or_credentials() -> None:
    docs = k8s_docs()
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    names = set(config["data"])
    for doc in docs:
        for c in containers(doc):
            names |= {e["name"] for e in c.get("env", [])}
            assert c["image"].startswith("chotdon") or doc["metadata"]["name"] == "redis", c["name"]
    assert names and all(allowed_env(n) for n in names), sorted(
        n for n in names if not allowed_env(n)
    )
    assert "CHOTDON_HOST_TOKEN" in names


def test_k8s_has_worker_sink_feed_and_service() -> None:
    docs = k8s_docs()
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert deployments["chotdon-worker"]["spec"]["replicas"] == 2
    assert containers(deployments["chotdon-worker"])[0]["args"] == ["worker"]
    assert containers(deployments["chotdon-sink-redis"])[0]["args"] == ["sink", "redis"]
    feed = deployments["chotdon-feed"]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    service = services["chotdon-feed"]
    assert (
        service["spec"]["selector"].items()
        <= feed["spec"]["template"]["metadata"]["labels"].items()
    )
    for d in deployments.values():
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert d["spec"]["selector"]["matchLabels"].items() <= labels.items()
        for c in containers(d):
            assert any(e["configMapRef"]["name"] == "chotdon-config" for e in c["envFrom"])


def test_redis_keeps_its_data_on_a_volume() -> None:
    """Compose and Kubernetes run Redis with an append-only file in a persistent volume."""
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    redis = compose["services"]["redis"]
    args = redis["command"]
    assert args[args.index("--appendonly") + 1] == "yes"
    data_dir = args[args.index("--dir") + 1]
    volumes = dict(v.split(":")[:2][::-1] for v in redis["volumes"])  # path -> volume
    assert volumes[data_dir] in compose["volumes"]

    docs = k8s_docs()
    (server,) = [d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "redis"]
    (container,) = containers(server)
    args = container["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    claims = {c["metadata"]["name"] for c in server["spec"]["volumeClaimTemplates"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[args[args.index("--dir") + 1]] in claims
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    assert config["data"]["CHOTDON_REDIS"].startswith(f"redis://{server['spec']['serviceName']}:")
    assert server["spec"]["serviceName"] in services


# -- secrets ---------------------------------------------------------------------------------


def test_compose_holds_no_secret_values() -> None:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    for name, service in services.items():
        for key, value in compose_env(service).items():
            if SECRET_NAME.search(key):
                # from the shell: passed through (no value) or ${VAR} / ${VAR:?…}, no default
                assert value is None or re.fullmatch(r"\$\{\w+(:\?[^}]*)?\}", value), (name, key)


def test_k8s_takes_secrets_from_a_secret() -> None:
    docs = k8s_docs()
    assert not [d for d in docs if d["kind"] == "Secret"], "the Secret is created outside git"
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            assert not [k for k in doc["data"] if SECRET_NAME.search(k)]
        for c in containers(doc):
            for e in c.get("env", []):
                if SECRET_NAME.search(e["name"]):
                    assert "value" not in e, e["name"]
                    assert e["valueFrom"]["secretKeyRef"]["name"] == "chotdon-secrets"


@pytest.mark.parametrize(
    "path", [*OWN_FILES, DEPLOY / "Dockerfile"], ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_no_token_like_literals(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    # long opaque strings (Facebook tokens start with EAA, Google keys with AIza)
    assert not re.search(r"\b(EAA[A-Za-z0-9]{20,}|AIza[\w-]{30,}|[A-Fa-f0-9]{32,})\b", text)
