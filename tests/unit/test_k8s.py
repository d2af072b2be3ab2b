"""Every Kubernetes manifest in deploy/k8s has what a city deployment needs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

SUITE = ("identity", "certs", "policy", "tasks", "gateway")


def documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted((ROOT / "deploy/k8s").glob("*.yaml")):
        found += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return found


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] == kind}


def test_every_manifest_is_namespaced_and_parses() -> None:
    for document in documents():
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == "one-code-city", document["metadata"]


@pytest.mark.parametrize("name", SUITE)
def test_suite_deployments_are_replicated_probed_limited_and_locked_down(name: str) -> None:
    deployment = by_kind("Deployment")[name]
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] >= 2
    assert spec["securityContext"]["runAsNonRoot"] is True
    for container in spec["containers"]:
        assert "readinessProbe" in container
        assert "livenessProbe" in container
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        secrets = {e["name"]: e for e in container.get("env", []) if "valueFrom" in e}
        assert secrets["SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "one-code-city-secrets"
        own = secrets["BUS_SIGNING_KEY"]["valueFrom"]["secretKeyRef"]
        assert own == {"name": "one-code-city-secrets", "key": f"BUS_SIGNING_KEY_{name.upper()}"}
        literal = {e["name"] for e in container.get("env", []) if "value" in e}
        assert not literal & {
            "SECRET_KEY",
            "RABBITMQ_PASSWORD",
            "FIRST_ADMIN_PASSWORD",
            "BUS_SIGNING_KEY",
        }


def test_nameko_workers_are_probed_through_their_health_rpc() -> None:
    for name in ("identity", "certs", "policy", "tasks"):
        container = by_kind("Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
        probe = ["python", "-m", "services.common.probe", name]
        assert container["readinessProbe"]["exec"]["command"] == probe
        assert container["livenessProbe"]["exec"]["command"] == probe


def test_every_nameko_pod_serves_its_metrics_where_prometheus_looks() -> None:
    for name in ("identity", "certs", "policy", "tasks"):
        template = by_kind("Deployment")[name]["spec"]["template"]
        container = template["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        scraped = int(annotations["prometheus.io/port"])
        assert int(env["METRICS_PORT"]) == ports["metrics"] == scraped


def test_the_gateway_is_reachable_and_the_backing_services_are_clustered() -> None:
    assert by_kind("Service")["gateway"]["spec"]["selector"] == {"app": "gateway"}
    ingress = by_kind("Ingress")["gateway"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "gateway"
    stateful = by_kind("StatefulSet")
    assert stateful["rabbitmq"]["spec"]["replicas"] >= 3
    assert stateful["mongodb"]["spec"]["replicas"] >= 3
    assert (
        "--replSet" in stateful["mongodb"]["spec"]["template"]["spec"]["containers"][0]["command"]
    )
