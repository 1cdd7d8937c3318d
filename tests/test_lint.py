"""Generated files pass hadolint, kustomize + strict schema validation, checkov and compose."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import Kustomized, Manifests, Render, locked, shared_tmp, tool
from tests.conftest import kustomize as kustomize  # noqa: PLC0414 - tests/kubernetes imports it here
from tests.matrix import MATRIX, MATRIX_IDS, combo_id

OVERLAYS = ["k8s/base", "k8s/overlays/dev", "k8s/overlays/prod"]
CHECKOV_VIEWS = ["k8s/checkov/dev", "k8s/checkov/prod"]
combos = pytest.mark.parametrize("combo", MATRIX, ids=MATRIX_IDS)


def run(*cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)


@combos
def test_hadolint_has_zero_findings(rendered: Render, combo: dict[str, str]) -> None:
    root = rendered(**combo)
    result = run(
        tool("hadolint"), "--no-color", "--failure-threshold", "style", str(root / "Dockerfile")
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def strictly_valid(kustomized: Kustomized, root: Path) -> list[Manifests]:
    """Each overlay's documents for the service at `root`; the strict schema accepts them all."""
    version = kubernetes_validate.latest_version()
    built = [kustomized(root, overlay) for overlay in OVERLAYS]
    for doc in (doc for docs in built for doc in docs):
        kubernetes_validate.validate(doc, version, strict=True)
    return built


@combos
def test_kustomize_builds_and_strict_schema_accepts(
    rendered: Render, kustomized: Kustomized, combo: dict[str, str]
) -> None:
    strictly_valid(kustomized, rendered(**combo))


def test_strict_schema_rejects_a_mistyped_field(rendered: Render, kustomized: Kustomized) -> None:
    # the check above must be able to fail: a typo Kubernetes would reject is caught
    (deployment,) = [
        d
        for d in kustomized(rendered(**MATRIX[0]), "k8s/overlays/prod")
        if d["kind"] == "Deployment"
    ]
    version = kubernetes_validate.latest_version()
    kubernetes_validate.validate(deployment, version, strict=True)
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError, match="imagePullPolicyy"):
        kubernetes_validate.validate(deployment, version, strict=True)


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
    rendered: Render, kustomized: Kustomized, combo: dict[str, str], overlay: str
) -> None:
    root = rendered(**combo)
    project = yaml.safe_load((root / ".copier-answers.yml").read_text())["project_name"]
    docs = kustomized(root, overlay)
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
def test_deployment_meets_restricted_pod_security(
    rendered: Render, kustomized: Kustomized, combo: dict[str, str]
) -> None:
    docs = kustomized(rendered(**combo), "k8s/overlays/prod")
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


# the ingress variant adds an Ingress to every overlay; the rest is the matrix
INGRESS = {"language": "python", "database": "redis", "ingress_host": "api.example.com"}
CHECKOV_CASES = [*MATRIX, INGRESS]


@dataclass
class CheckovResult:
    """What checkov said about one combination's Dockerfile and lint views."""

    failed: list[str] = field(default_factory=list)
    passed: int = 0


def _scan(rendered: Render, kustomized: Kustomized, scratch: Path) -> str:
    """Checkov's JSON report on a folder per combination: its Dockerfile and lint views."""
    for answers in CHECKOV_CASES:
        root, folder = rendered(**answers), scratch / combo_id(answers)
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text((root / "Dockerfile").read_text())
        # the lint views: the applied overlays plus the accepted findings of k8s/checkov/skips
        for overlay in CHECKOV_VIEWS:
            name = overlay.replace("/", "-") + ".yaml"
            (folder / name).write_text(yaml.safe_dump_all(kustomized(root, overlay)))
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
        "--compact",
    )
    assert result.returncode in {0, 1}, result.stderr[-3000:]
    return result.stdout


def _case_of(check: dict[str, Any]) -> str:
    """The combination a checkov result is about: its folder in the scanned tree."""
    return str(check["file_path"]).strip("/").split("/")[0]


@pytest.fixture(scope="session")
def checkov(
    rendered: Render, kustomized: Kustomized, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, CheckovResult]:
    """Checkov's verdict on every combination, from ONE run over a folder per combination.

    Checkov takes seconds to start; scanning the combinations side by side gives each
    one the same checks as a run of its own (its findings are told apart by folder).
    """
    shared = shared_tmp(tmp_path_factory) / "checkov"
    shared.mkdir(exist_ok=True)
    report = shared / "report.json"
    with locked(shared / ".lock"):  # the first pytest-xdist worker to ask scans for all
        if not report.exists():
            report.write_text(_scan(rendered, kustomized, shared / "scan"))
    reports = json.loads(report.read_text())
    verdicts = {combo_id(answers): CheckovResult() for answers in CHECKOV_CASES}
    for framework in reports if isinstance(reports, list) else [reports]:
        results = framework.get("results", {})
        for check in results.get("failed_checks", []):
            verdicts[_case_of(check)].failed.append(
                f"{check['check_id']} {check['resource']} {check['file_path']}"
            )
        for check in results.get("passed_checks", []):
            verdicts[_case_of(check)].passed += 1
    return verdicts


@combos
def test_checkov_dockerfile_and_kubernetes_pass(
    checkov: dict[str, CheckovResult], combo: dict[str, str]
) -> None:
    verdict = checkov[combo_id(combo)]
    assert verdict.failed == [], "\n".join(verdict.failed)
    assert verdict.passed > 50


def test_ingress_variant_is_valid_routed_and_clean(
    rendered: Render, kustomized: Kustomized, checkov: dict[str, CheckovResult]
) -> None:
    for docs in strictly_valid(kustomized, rendered(**INGRESS)):
        (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
        backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        (service,) = [
            d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == backend["name"]
        ]
        assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    verdict = checkov[combo_id(INGRESS)]
    assert verdict.failed == [], "\n".join(verdict.failed)
    assert verdict.passed > 50


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
