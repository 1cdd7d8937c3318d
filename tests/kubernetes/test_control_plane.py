"""Every language x database combination, both overlays, on a real Kubernetes control plane.

Each overlay goes to its own namespace enforcing (and warning and auditing) the restricted
Pod Security level, through `kubectl apply --dry-run=server` and then
`kubectl apply --server-side`. The tier then asserts: no warnings, no rejected objects, no
FailedCreate event (Pod Security admission admitted every pod the controllers made), the
intended number of pods, EndpointSlices listing exactly the intended pods on resolved named
targetPorts, NetworkPolicy podSelectors selecting the intended pods, the PDB's
`status.expectedPods` equal to the intended replicas and the HPA `AbleToScale=True`.

There is no kubelet here: the session registers a Node object (tests/kubernetes/conftest.py)
so the scheduler binds the pods, and `live.mark_ready` sets each bound pod's status to
Running and Ready with an IP through the API, which is what EndpointSlices and the
disruption controller count. Containers never run; the next tier brings a kubelet.

All overlays are applied first (one namespace each), then checked, so the controllers work
on every namespace at once and the waits overlap.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Render
from tests.kubernetes.conftest import ControlPlane
from tests.kubernetes.live import Applied, converge, deploy
from tests.matrix import MATRIX, MATRIX_IDS
from tests.test_lint import kustomize

OVERLAYS = {"dev": "k8s/overlays/dev", "prod": "k8s/overlays/prod"}
CASES = [(combo, overlay) for combo in MATRIX for overlay in OVERLAYS]
CASE_IDS = [f"{cid}-{overlay}" for cid in MATRIX_IDS for overlay in OVERLAYS]

Doc = dict[str, Any]


def _namespace(combo: dict[str, str], overlay: str) -> str:
    return f"k-{combo['language']}-{combo['database']}-{overlay}"


@pytest.fixture(scope="session")
def deployed(control_plane: ControlPlane, rendered: Render) -> dict[str, Applied]:
    """Apply every combination's overlays once, each into its own namespace."""
    return {
        cid: deploy(
            control_plane,
            _namespace(combo, overlay),
            kustomize(rendered(**combo), OVERLAYS[overlay]),
        )
        for (combo, overlay), cid in zip(CASES, CASE_IDS, strict=True)
    }


@pytest.mark.parametrize("case", CASE_IDS)
def test_overlay_is_admitted_and_selects_its_pods(
    control_plane: ControlPlane, deployed: dict[str, Applied], case: str
) -> None:
    applied = deployed[case]
    assert applied.rejected == []
    assert applied.warnings == []
    assert converge(control_plane, applied) == []


# --- the tier can fail -------------------------------------------------------------------


def _broken(rendered: Render, change: str) -> list[Doc]:
    docs = copy.deepcopy(
        kustomize(rendered(language="python", database="postgresql"), OVERLAYS["prod"])
    )
    by_kind = {d["kind"]: d for d in docs}
    if change == "privilege-escalation":
        container = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
        container["securityContext"]["allowPrivilegeEscalation"] = True
    elif change == "service-selector":
        by_kind["Service"]["spec"]["selector"]["app.kubernetes.io/component"] = "ap"
    elif change == "target-port":
        by_kind["Service"]["spec"]["ports"][0]["targetPort"] = "htp"
    elif change == "hpa-target":
        by_kind["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] += "-typo"
    elif change == "networkpolicy-selector":
        by_kind["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"][
            "app.kubernetes.io/component"
        ] = "ap"
    return docs


def test_privilege_escalation_is_rejected_by_admission(
    control_plane: ControlPlane, rendered: Render
) -> None:
    applied = deploy(control_plane, "k-selftest-privesc", _broken(rendered, "privilege-escalation"))
    # the Deployment itself is admitted with a warning; its pods are refused
    assert any("allowPrivilegeEscalation != false" in w for w in applied.warnings)
    found = converge(
        control_plane, applied, done=lambda f: any("event FailedCreate" in line for line in f)
    )
    refused = [line for line in found if "event FailedCreate" in line]
    assert refused, found
    assert 'violates PodSecurity "restricted:latest"' in refused[0]
    assert any("0 pods created, 3 intended" in line for line in found), found


FLAGGED = {
    "service-selector": "Service/svc-postgresql-python endpoints []",
    "target-port": "targetPort 'htp' does not resolve",
    "hpa-target": "AbleToScale is not True (FailedGetScale",
    "networkpolicy-selector": "NetworkPolicy/svc-postgresql-python podSelector selects []",
}


@pytest.mark.parametrize("change", list(FLAGGED))
def test_mistyped_reference_is_flagged(
    control_plane: ControlPlane, rendered: Render, change: str
) -> None:
    applied = deploy(control_plane, f"k-selftest-{change}", _broken(rendered, change))
    expected = FLAGGED[change]
    found = converge(
        control_plane, applied, done=lambda f: any(expected in line for line in f), timeout=60
    )
    assert any(expected in line for line in found), found


# --- keelson verify --kubernetes against the same control plane ---------------------------


def _with_namespace(control_plane: ControlPlane, name: str) -> None:
    control_plane.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
                },
            }
        ]
    )


def _keelson_verify(control_plane: ControlPlane, service: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", "verify", str(service), "--kubernetes",
         "--context", "keelson", "--quiet"],
        capture_output=True, text=True, check=False, env=control_plane.env(), timeout=300,
    )  # fmt: skip


def test_verify_kubernetes_passes_a_clean_service(
    control_plane: ControlPlane, rendered: Render
) -> None:
    service = rendered(language="go", database="redis")
    for namespace in ("svc-redis-go", "svc-redis-go-dev"):  # prod's, and dev's own
        _with_namespace(control_plane, namespace)
    result = _keelson_verify(control_plane, service)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "k8s/overlays/dev: namespace svc-redis-go-dev (enforce=restricted)" in result.stdout
    assert "k8s/overlays/prod: namespace svc-redis-go (enforce=restricted)" in result.stdout
    assert result.stdout.rstrip().endswith("verify --kubernetes: passed")


def test_verify_kubernetes_reports_a_broken_service(
    control_plane: ControlPlane, rendered: Render, tmp_path: Path
) -> None:
    service = tmp_path / "broken"
    shutil.copytree(rendered(language="go", database="redis"), service)
    for namespace in ("svc-redis-go", "svc-redis-go-dev"):
        _with_namespace(control_plane, namespace)
    deployment = service / "k8s/base/deployment.yaml"
    text = deployment.read_text()
    assert text.count("allowPrivilegeEscalation: false") == 1
    deployment.write_text(
        text.replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true")
    )
    svc = service / "k8s/base/service.yaml"
    svc.write_text(svc.read_text().replace("targetPort: http", "targetPort: htp"))
    result = _keelson_verify(control_plane, service)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = result.stdout.splitlines()
    for overlay in OVERLAYS.values():
        for finding in (
            ("Deployment/svc-redis-go", "pod-security", "allowPrivilegeEscalation != false"),
            ("Service/svc-redis-go", "targetPort", "'htp'"),
        ):
            assert any(
                row.startswith(overlay) and all(part in row for part in finding) for row in rows
            ), result.stdout
    assert "FAILED" in rows[-1]


def test_verify_kubernetes_reports_a_missing_namespace(
    control_plane: ControlPlane, rendered: Render
) -> None:
    service = rendered(language="node", database="none")
    result = _keelson_verify(control_plane, service)
    assert result.returncode == 1
    assert "Namespace/svc-none-node" in result.stdout and "does not exist" in result.stdout


def test_verify_kubernetes_names_an_unknown_context(
    control_plane: ControlPlane, rendered: Render
) -> None:
    service = rendered(language="node", database="none")
    result = subprocess.run(
        [sys.executable, "-m", "generator", "verify", str(service), "--kubernetes",
         "--context", "no-such-context"],
        capture_output=True, text=True, check=False, env=control_plane.env(), timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("keelson: cannot reach the cluster of context no-such-context")
