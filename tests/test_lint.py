"""Generated files pass hadolint, kustomize + strict schema validation, checkov and compose."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import MATRIX, MATRIX_IDS, Render, tool

OVERLAYS = ["k8s/base", "k8s/overlays/dev", "k8s/overlays/prod"]
CHECKOV_VIEWS = ["k8s/checkov/dev", "k8s/checkov/prod"]
combos = pytest.mark.parametrize("combo", MATRIX, ids=MATRIX_IDS)


def run(*cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)


def kustomize(root: Path, overlay: str) -> list[dict[str, Any]]:
    result = run(tool("kubectl"), "kustomize", str(root / overlay))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@combos
def test_hadolint_has_zero_findings(rendered: Render, combo: dict[str, str]) -> None:
    root = rendered(**combo)
    result = run(
        tool("hadolint"), "--no-color", "--failure-threshold", "style", str(root / "Dockerfile")
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


@combos
def test_kustomize_builds_and_strict_schema_accepts(
    rendered: Render, combo: dict[str, str]
) -> None:
    root = rendered(**combo)
    version = kubernetes_validate.latest_version()
    for overlay in OVERLAYS:
        for doc in kustomize(root, overlay):
            kubernetes_validate.validate(doc, version, strict=True)


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"]["metadata"]["labels"]
        for d in docs
        if d["kind"] in {"Deployment", "StatefulSet"}
    }


def _selected(selector: dict[str, str], workloads: dict[str, dict[str, str]]) -> list[str]:
    return [name for name, labels in workloads.items() if _matches(selector, labels)]


@combos
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_selector_matches_the_pods_it_is_for(
    rendered: Render, combo: dict[str, str], overlay: str
) -> None:
    root = rendered(**combo)
    project = yaml.safe_load((root / ".copier-answers.yml").read_text())["project_name"]
    docs = kustomize(root, overlay)
    workloads = _workloads(docs)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    app = f"Deployment/{project}"
    assert app in workloads
    for kind in ("Deployment", "StatefulSet"):
        for doc in by_kind.get(kind, []):
            name = f"{kind}/{doc['metadata']['name']}"
            assert _selected(doc["spec"]["selector"]["matchLabels"], workloads) == [name]
            for spread in doc["spec"]["template"]["spec"].get("topologySpreadConstraints", []):
                assert _selected(spread["labelSelector"]["matchLabels"], workloads) == [name]
    for service in by_kind["Service"]:
        # each Service reaches exactly one workload, on a port that workload names
        (target,) = _selected(service["spec"]["selector"], workloads)
        workload = next(d for d in docs if f"{d['kind']}/{d['metadata']['name']}" == target)
        port_names = {
            p["name"]
            for c in workload["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    for pdb in by_kind["PodDisruptionBudget"]:
        assert _selected(pdb["spec"]["selector"]["matchLabels"], workloads) == [app]
    for hpa in by_kind["HorizontalPodAutoscaler"]:
        ref = hpa["spec"]["scaleTargetRef"]
        assert f"{ref['kind']}/{ref['name']}" == app
    for policy in by_kind["NetworkPolicy"]:
        assert _selected(policy["spec"]["podSelector"]["matchLabels"], workloads)
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                assert _selected(peer["podSelector"]["matchLabels"], workloads) == [app]
    has_db_pods = any(name.startswith("StatefulSet/") for name in workloads)
    assert has_db_pods == (overlay == "k8s/overlays/dev" and combo["database"] != "none")


@combos
def test_deployment_meets_restricted_pod_security(rendered: Render, combo: dict[str, str]) -> None:
    docs = kustomize(rendered(**combo), "k8s/overlays/prod")
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    ctx = container["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["capabilities"]["drop"] == ["ALL"]
    assert isinstance(ctx["runAsUser"], int) and ctx["runAsUser"] > 0
    assert {"startupProbe", "livenessProbe", "readinessProbe"} <= container.keys()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["image"].endswith(":0.1.0")


def checkov_failures(root: Path, scratch: Path) -> tuple[list[str], int]:
    """Run checkov on the Dockerfile and both overlays' lint views; return failures and passes."""
    (scratch / "Dockerfile").write_text((root / "Dockerfile").read_text())
    # the lint views: the applied overlays plus the accepted findings of k8s/checkov/skips
    for overlay in CHECKOV_VIEWS:
        name = overlay.replace("/", "-") + ".yaml"
        (scratch / name).write_text(yaml.safe_dump_all(kustomize(root, overlay)))
    result = run(
        tool("checkov"),
        "--directory",
        str(scratch),
        "--framework",
        "dockerfile",
        "kubernetes",
        "--skip-download",
        "--output",
        "json",
        "--quiet",
        "--compact",
    )
    reports = json.loads(result.stdout or "[]")
    reports = [
        r for r in (reports if isinstance(reports, list) else [reports]) if isinstance(r, dict)
    ]
    failed = [
        f"{check['check_id']} {check['resource']} {check['file_path']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    return failed, sum(r.get("summary", {}).get("passed", 0) for r in reports)


@combos
def test_checkov_dockerfile_and_kubernetes_pass(
    rendered: Render, combo: dict[str, str], tmp_path: Path
) -> None:
    failed, passed = checkov_failures(rendered(**combo), tmp_path)
    assert failed == [], "\n".join(failed)
    assert passed > 50


def test_ingress_variant_is_valid_routed_and_clean(rendered: Render, tmp_path: Path) -> None:
    root = rendered(language="python", database="redis", ingress_host="api.example.com")
    version = kubernetes_validate.latest_version()
    for overlay in OVERLAYS:
        docs = kustomize(root, overlay)
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)
        (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
        backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        (service,) = [
            d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == backend["name"]
        ]
        assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    failed, _ = checkov_failures(root, tmp_path)
    assert failed == [], "\n".join(failed)


@combos
def test_compose_config_is_accepted(rendered: Render, combo: dict[str, str]) -> None:
    root = rendered(**combo)
    result = run(tool("docker-compose"), "config", "--quiet", cwd=root)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(run(tool("docker-compose"), "config", cwd=root).stdout)
    app = config["services"]["app"]
    assert app["init"] is True
    assert "develop" in app
    if combo["database"] != "none":
        assert app["depends_on"]["db"]["condition"] == "service_healthy"
        assert "healthcheck" in config["services"]["db"]
        assert config["volumes"]
        assert config["secrets"]["db_password"]
