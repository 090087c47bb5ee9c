"""deploy/ checked by the tools that will read it: promtool (the Prometheus config, its rules and
the rules' unit tests), docker-compose (the compose file as Compose resolves it), and kustomize
with the Kubernetes OpenAPI schemas (kubernetes-validate ships them: no network). deploy/setup
installs the tools (`make test` runs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
K8S = DEPLOY / "k8s"
KUBERNETES = "1.33.0"  # the oldest Kubernetes the manifests are meant for (schemas bundled)
METRICS_PORTS = {"chotdon-worker": 9102, "chotdon-sink-redis": 9103}


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run deploy/setup test (as root)")
    return found


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [tool(args[0]), *args[1:]],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# -- Prometheus ---------------------------------------------------------------------------------


def test_promtool_accepts_the_config_and_its_rules() -> None:
    out = run("promtool", "check", "config", "prometheus.yml", cwd=PROMETHEUS)
    assert "SUCCESS" in out and "1 rule files found" in out
    assert "SUCCESS" in run("promtool", "check", "rules", "rules.yml", cwd=PROMETHEUS)


def test_alert_rules_pass_their_unit_tests() -> None:
    out = run("promtool", "test", "rules", "rules_test.yml", cwd=PROMETHEUS)
    assert "SUCCESS" in out


def test_the_rule_tests_cover_the_alerts_a_live_sale_needs() -> None:
    tests = yaml.safe_load((PROMETHEUS / "rules_test.yml").read_text(encoding="utf-8"))
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert fired >= {
        "ChotdonCommentsStopped",
        "ChotdonWorkerLagGrowing",
        "ChotdonOrderLatencyHigh",
        "ChotdonDeadLettersRising",
        "ChotdonConnectorQuotaLow",
        "ChotdonConnectorTokenRenewalFailing",
        "ChotdonConnectorTokenExpiring",
        "ChotdonRedisUnreachable",
        "ChotdonKafkaUnreachable",
    }


# -- Compose ------------------------------------------------------------------------------------


def compose_config(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("docker-compose"), "-f", "compose.yml", "config"],
        cwd=DEPLOY,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compose_resolves_and_serves_every_process_metrics() -> None:
    done = compose_config(CHOTDON_HOST_TOKEN="t0ken", GRAFANA_ADMIN_PASSWORD="pw")
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert services["worker"]["environment"]["CHOTDON_METRICS"] == "0.0.0.0:9102"
    assert services["sink-redis"]["environment"]["CHOTDON_METRICS"] == "0.0.0.0:9103"
    assert services["feed"]["environment"]["CHOTDON_HOST_TOKEN"] == "t0ken"
    scrape = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["chotdon-worker"]["dns_sd_configs"][0] == {
        "names": ["worker"],
        "type": "A",
        "port": 9102,
    }
    assert jobs["chotdon-sink"]["static_configs"][0]["targets"] == ["sink-redis:9103"]
    assert jobs["chotdon-feed"]["static_configs"][0]["targets"] == ["feed:8080"]


def test_compose_refuses_to_start_without_its_secrets() -> None:
    done = compose_config(GRAFANA_ADMIN_PASSWORD="pw")
    assert done.returncode != 0 and "CHOTDON_HOST_TOKEN" in done.stderr


# -- Kubernetes ---------------------------------------------------------------------------------


def rendered() -> list[dict[str, Any]]:
    """What `kustomize build deploy/k8s` renders, and the per-livestream Job applied alone."""
    docs = list(yaml.safe_load_all(run("kustomize", "build", str(K8S))))
    docs += list(yaml.safe_load_all((K8S / "ingest-facebook-job.yaml").read_text("utf-8")))
    return [d for d in docs if d]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def test_kustomize_renders_manifests_the_kubernetes_schemas_accept() -> None:
    docs = rendered()
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
    assert kinds == [
        "ConfigMap/chotdon-config",
        "Deployment/chotdon-feed",
        "Deployment/chotdon-sink-redis",
        "Deployment/chotdon-worker",
        "Job/chotdon-ingest-facebook-kim-an-oi",
        "Job/chotdon-topics",
        "Service/chotdon-feed",
        "Service/redis",
        "StatefulSet/redis",
    ]
    for doc in docs:  # strict: a misspelt or misplaced field is an error too
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_schema_check_catches_a_broken_manifest() -> None:
    worker = next(d for d in rendered() if d["metadata"]["name"] == "chotdon-worker")
    broken = yaml.safe_load(yaml.safe_dump(worker))
    pod_spec(broken)["containers"][0]["resources"]["limit"] = {"memory": "1Gi"}  # not "limits"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_every_pod_is_bounded_stops_gracefully_and_runs_as_a_user() -> None:
    for doc in rendered():
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        spec, name = pod_spec(doc), doc["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for c in spec["containers"]:
            resources = c["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert "memory" in resources["limits"], name
            for e in c.get("env", []):
                if "TOKEN" in e["name"] or "SECRET" in e["name"]:
                    assert "secretKeyRef" in e["valueFrom"], (name, e["name"])
        if doc["kind"] == "Deployment":
            assert spec["terminationGracePeriodSeconds"] >= 15, name
            for c in spec["containers"]:
                assert c["readinessProbe"]["httpGet"]["path"] == "/metrics", name
                assert c["livenessProbe"]["httpGet"]["path"] == "/metrics", name


def test_worker_and_sink_serve_metrics_by_default() -> None:
    docs = {d["metadata"]["name"]: d for d in rendered()}
    for name, port in METRICS_PORTS.items():
        template = docs[name]["spec"]["template"]
        (container,) = template["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["CHOTDON_METRICS"] == f"0.0.0.0:{port}", name
        assert {"name": "metrics", "containerPort": port} in container["ports"], name
        assert template["metadata"]["annotations"]["prometheus.io/port"] == str(port), name


def test_the_image_installs_the_lock_and_runs_as_the_user_the_pods_expect() -> None:
    """No Docker engine here: the Dockerfile's instructions are read instead of built."""
    steps = [
        line.split(None, 1)
        for line in (DEPLOY / "Dockerfile")
        .read_text(encoding="utf-8")
        .replace("\\\n", " ")
        .splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    stages = [k for k, (op, _) in enumerate(steps) if op == "FROM"]
    build, steps = steps[stages[0] : stages[-1]], steps[stages[-1] :]  # the image: its last stage
    assert "uv sync --locked" in " ".join(args for op, args in build if op == "RUN")
    assert [args for op, args in steps if op == "COPY" and "--from=parsers" in args]
    copied = " ".join(args for op, args in steps if op == "COPY")
    run_steps = " ".join(args for op, args in steps if op == "RUN")
    assert "uv.lock" in copied and "uv sync --locked" in run_steps  # exactly the lock's pins
    assert "--extra" not in run_steps and "--all-extras" not in run_steps  # no dev tools
    user = [args.strip() for op, args in steps if op == "USER"][-1]
    uid = int(run_steps.split("--uid", 1)[1].split()[0])
    assert user != "root" and f"useradd --uid {uid} --create-home {user}" in run_steps
    for doc in rendered():
        if doc["kind"] in ("Deployment", "Job") and "chotdon" in doc["metadata"]["name"]:
            assert pod_spec(doc)["securityContext"]["runAsUser"] == uid, doc["metadata"]["name"]
