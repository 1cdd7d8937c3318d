"""The manifest defects a real cluster exposes, pinned in the fast tier (no cluster needed).

Each test here failed before its fix: replicas fought the HPA, the PDB blocked node drains,
rollouts dropped requests, the dev database lacked the common labels, the Ingress had no
class, the PVC silently relied on a default StorageClass and checkov annotations reached
the live objects.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import MATRIX, MATRIX_IDS, Kustomized, Render

APPLIED = ["k8s/overlays/dev", "k8s/overlays/prod"]
# the replica range each overlay promises, owned by the HorizontalPodAutoscaler
REPLICAS = {"k8s/overlays/dev": (1, 2), "k8s/overlays/prod": (3, 10)}
# docs/app-contract.md: every app finishes in-flight requests within 5 s of SIGTERM
DRAIN_SECONDS = 5
combos = pytest.mark.parametrize("combo", MATRIX, ids=MATRIX_IDS)


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    return doc


@combos
@pytest.mark.parametrize("overlay", APPLIED)
def test_hpa_alone_owns_the_replica_count(
    rendered: Render, kustomized: Kustomized, combo: dict[str, str], overlay: str
) -> None:
    docs = kustomized(rendered(**combo), overlay)
    deployment = one(docs, "Deployment")
    hpa = one(docs, "HorizontalPodAutoscaler")
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["kind"], ref["name"]) == ("Deployment", deployment["metadata"]["name"])
    # an HPA-targeted Deployment with replicas is reset by every apply
    assert "replicas" not in deployment["spec"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == REPLICAS[overlay]


@combos
def test_pdb_lets_a_drain_evict_unready_pods(
    rendered: Render, kustomized: Kustomized, combo: dict[str, str]
) -> None:
    for overlay in APPLIED:
        pdb = one(kustomized(rendered(**combo), overlay), "PodDisruptionBudget")
        assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


@combos
def test_rollout_waits_for_endpoint_removal_without_a_shell(
    rendered: Render, kustomized: Kustomized, combo: dict[str, str]
) -> None:
    for overlay in APPLIED:
        pod = one(kustomized(rendered(**combo), overlay), "Deployment")["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        pre_stop = container["lifecycle"]["preStop"]
        # the native action: distroless images have no `sh -c sleep`
        assert set(pre_stop) == {"sleep"}
        delay = pre_stop["sleep"]["seconds"]
        assert delay >= 3
        assert pod["terminationGracePeriodSeconds"] > delay + DRAIN_SECONDS


@combos
def test_every_applied_object_carries_the_common_labels(
    rendered: Render, kustomized: Kustomized, combo: dict[str, str]
) -> None:
    root = rendered(**combo)
    project = yaml.safe_load((root / ".copier-answers.yml").read_text())["project_name"]
    for overlay in APPLIED:
        for doc in kustomized(root, overlay):
            labels = doc["metadata"].get("labels", {})
            name = f"{overlay}: {doc['kind']}/{doc['metadata']['name']}"
            assert labels.get("app.kubernetes.io/part-of") == project, name
            assert labels.get("app.kubernetes.io/managed-by") == "kustomize", name


def test_ingress_names_its_class_and_the_readme_its_tls_secret(
    rendered: Render, kustomized: Kustomized
) -> None:
    default = rendered(language="go", database="none", ingress_host="api.example.com")
    ingress = one(kustomized(default, "k8s/overlays/prod"), "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    project = ingress["metadata"]["name"]
    assert ingress["spec"]["tls"][0]["secretName"] == f"{project}-tls"
    readme = (default / "README.md").read_text()
    assert f"`{project}-tls`" in readme and "kubernetes.io/tls" in readme
    assert "IngressClass\n`nginx`" in readme
    chosen = rendered(
        language="go", database="none", ingress_host="api.example.com", ingress_class="traefik"
    )
    ingress = one(kustomized(chosen, "k8s/overlays/dev"), "Ingress")
    assert ingress["spec"]["ingressClassName"] == "traefik"


def _claim(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (claim,) = one(docs, "StatefulSet")["spec"]["volumeClaimTemplates"]
    return dict(claim["spec"])


def test_dev_database_volume_names_a_storage_class_when_asked(
    rendered: Render, kustomized: Kustomized
) -> None:
    default = rendered(language="python", database="postgresql")
    assert "storageClassName" not in _claim(kustomized(default, "k8s/overlays/dev"))
    readme = (default / "README.md").read_text()
    assert "needs a default StorageClass" in readme
    chosen = rendered(language="python", database="postgresql", storage_class="local-path")
    assert _claim(kustomized(chosen, "k8s/overlays/dev"))["storageClassName"] == "local-path"
    assert "StorageClass `local-path`" in (chosen / "README.md").read_text()


def _without_checkov(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for doc in docs:
        annotations = doc["metadata"].get("annotations", {})
        for key in [k for k in annotations if k.startswith("checkov.io/")]:
            del annotations[key]
        if "annotations" in doc["metadata"] and not annotations:
            del doc["metadata"]["annotations"]
    return docs


@combos
def test_checkov_reasons_stay_in_the_repo_not_on_live_objects(
    rendered: Render, kustomized: Kustomized, combo: dict[str, str]
) -> None:
    root = rendered(**combo)
    for overlay in APPLIED:
        applied = kustomized(root, overlay)
        carried = [
            f"{d['kind']}/{d['metadata']['name']}"
            for d in applied
            if any(k.startswith("checkov.io/") for k in d["metadata"].get("annotations", {}))
        ]
        assert carried == [], f"{overlay} applies checkov annotations on {carried}"
        # checkov scans exactly the applied objects, plus the annotated reasons
        view = kustomized(root, overlay.replace("overlays", "checkov"))
        assert any(
            k.startswith("checkov.io/skip")
            for d in view
            for k in d["metadata"].get("annotations", {})
        )
        assert yaml.safe_dump_all(_without_checkov(view)) == yaml.safe_dump_all(applied)
    # checkov itself passes on these views with zero findings: test_lint.py runs it
