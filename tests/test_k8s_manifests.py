"""The manifest defects a real cluster exposes, pinned in the fast tier (no cluster needed).

Each test here failed before its fix: replicas fought the HPA, the PDB blocked node drains,
rollouts dropped requests, the dev database lacked the common labels, the Ingress had no
class, the PVC silently relied on a default StorageClass, checkov annotations reached
the live objects and a pinned image digest made every version label invalid.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import Kustomized, Render, kustomize, tool
from tests.matrix import MATRIX, MATRIX_IDS

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


# the API server's rule for a label value (k8s.io/apimachinery validation.IsValidLabelValue)
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
DIGEST = "sha256:" + "0123456789abcdef" * 4


def _label_values(doc: dict[str, Any]) -> dict[str, str]:
    """Every label of an object and of its pod template, by where it is."""
    name = f"{doc['kind']}/{doc['metadata']['name']}"
    found = {f"{name} {k}": v for k, v in doc["metadata"].get("labels", {}).items()}
    template = (doc.get("spec") or {}).get("template") or {}
    for key, value in (template.get("metadata") or {}).get("labels", {}).items():
        found[f"{name} template {key}"] = value
    return found


@pytest.mark.parametrize("repository", ["registry.example.com/team/svc", "127.0.0.1:5000/svc"])
def test_pinned_digest_keeps_the_tag_as_the_version(
    rendered: Render, tmp_path: Path, repository: str
) -> None:
    # what `kustomize edit set image svc=<repo>:<tag>@sha256:<d>` writes: newTag and digest
    root = tmp_path / "svc"
    shutil.copytree(
        rendered(language="go", database="postgresql", image_repository=repository), root
    )
    base = root / "k8s" / "base" / "kustomization.yaml"
    text = base.read_text()
    tag = re.search(r'\n    newTag: "([^"]+)"\n', text)
    assert tag is not None
    base.write_text(text.replace(tag.group(0), f"{tag.group(0)}    digest: {DIGEST}\n"))
    version = kubernetes_validate.latest_version()
    for overlay in APPLIED:
        docs = kustomize(root, overlay)
        labels = {k: v for d in docs for k, v in _label_values(d).items()}
        invalid = {k: v for k, v in labels.items() if len(v) > 63 or not LABEL_VALUE.fullmatch(v)}
        assert invalid == {}, overlay
        versions = {v for k, v in labels.items() if k.endswith(" app.kubernetes.io/version")}
        assert versions == {tag.group(1)}, overlay
        app = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        assert app["image"] == f"{repository}:{tag.group(1)}@{DIGEST}"
        config = one(docs, "ConfigMap")
        assert config["data"]["APP_VERSION"] == tag.group(1)
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)


def test_digest_without_new_tag_stops_the_build_naming_the_index(
    rendered: Render, tmp_path: Path
) -> None:
    # the version comes from newTag: a digest alone leaves none to copy, and kustomize
    # must say so rather than label the objects with part of the digest
    root = tmp_path / "svc"
    shutil.copytree(rendered(language="go", database="none"), root)
    base = root / "k8s" / "base" / "kustomization.yaml"
    text = re.sub(r'\n    newTag: "[^"]+"\n', f"\n    digest: {DIGEST}\n", base.read_text())
    base.write_text(text)
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(root / "k8s/overlays/prod")],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0 and result.stdout == ""
    assert "options.index 1 is out of bounds for value registry.example.com/team/svc" in (
        result.stderr
    )
    comment = (root / "k8s/base/kustomization.yaml").read_text()
    assert "keep newTag and add the digest beside it" in comment


def _secret_volumes(docs: list[dict[str, Any]]) -> set[str]:
    """The Secrets the workloads mount, by name."""
    return {
        volume["secret"]["secretName"]
        for doc in docs
        if doc["kind"] in {"Deployment", "StatefulSet"}
        for volume in doc["spec"]["template"]["spec"].get("volumes", [])
        if "secret" in volume
    }


@pytest.mark.parametrize("database", ["postgresql", "mariadb", "redis"])
def test_dev_generates_the_database_secret_and_prod_expects_its_own(
    rendered: Render, kustomized: Kustomized, database: str
) -> None:
    root = rendered(language="go", database=database)
    project = yaml.safe_load((root / ".copier-answers.yml").read_text())["project_name"]
    # dev: the Secret comes from the dev overlay's own git-ignored file, the password
    # compose uses too, and both the app and the in-cluster database mount it
    dev = kustomized(root, "k8s/overlays/dev")
    (secret,) = [d for d in dev if d["kind"] == "Secret"]
    assert secret["metadata"]["name"].startswith(f"{project}-db-")  # name + content hash
    password = (root / "k8s/overlays/dev/secrets/db-password").read_bytes()
    assert base64.b64decode(secret["data"]["db-password"]) == password
    assert password == (root / ".secrets/db_password").read_bytes()
    assert _secret_volumes(dev) == {secret["metadata"]["name"]}
    # prod: nothing of dev's password reaches it; the Deployment mounts the Secret
    # created in its namespace out of band, by its plain name
    prod = kustomized(root, "k8s/overlays/prod")
    assert [d["metadata"]["name"] for d in prod if d["kind"] == "Secret"] == []
    assert _secret_volumes(prod) == {f"{project}-db"}
    assert not (root / "k8s/base/secrets").exists()
    assert "secretGenerator" not in (root / "k8s/base/kustomization.yaml").read_text()
    readme = (root / "README.md").read_text()
    assert (
        f"kubectl -n {yaml.safe_load((root / '.copier-answers.yml').read_text())['namespace']}"
        f" create secret generic {project}-db --from-file=db-password=" in readme
    )
