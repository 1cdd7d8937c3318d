"""The pieces of `verify --kubernetes --deploy` that need no cluster (fast tier)."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from generator.answers import read_answers
from generator.cli import main
from generator.errors import UsageError
from generator.kube_deploy import (
    containers_images,
    overlay_for,
    pull_if_not_present,
    secret_doc,
    split_image,
    stand_in_secrets,
)
from generator.kubernetes import Kubectl, build_overlay, kubectl_command
from tests.conftest import Render


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("postgres:17", ("postgres", "17")),
        ("127.0.0.1:5000/team/orders:dev", ("127.0.0.1:5000/team/orders", "dev")),
        ("127.0.0.1:5000/team/orders", ("127.0.0.1:5000/team/orders", "latest")),
        ("redis", ("redis", "latest")),
    ],
)
def test_split_image_keeps_a_registry_port_in_the_name(ref: str, expected: tuple[str, str]) -> None:
    assert split_image(ref) == expected


def test_overlay_for_sets_namespace_images_and_config(rendered: Render, tmp_path: Path) -> None:
    project = rendered(language="go", database="postgresql")
    kubectl = Kubectl(kubectl_command())
    before = containers_images(build_overlay(kubectl, project / "k8s" / "overlays" / "prod"))
    (app_image,) = before.values()
    folder = overlay_for(
        project,
        "k8s/overlays/prod",
        "somewhere",
        {split_image(app_image)[0]: "127.0.0.1:5000/keelson/go-postgresql:rollout"},
        tmp_path,
        config={"DB_HOST": "10.244.0.1", "DB_PORT": "15432"},
    )
    docs = build_overlay(kubectl, folder)
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {
        "somewhere"
    }
    assert list(containers_images(docs).values()) == [
        "127.0.0.1:5000/keelson/go-postgresql:rollout"
    ]
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert config["data"]["DB_HOST"] == "10.244.0.1"
    assert config["data"]["DB_PORT"] == "15432"
    # the version the service reports still comes from its own newTag, not the pushed tag
    assert config["data"]["APP_VERSION"] == "0.1.0"
    # the service's own tree is untouched
    assert not (project / "k8s" / "overlays" / "keelson-deploy").exists()


def _pull_policies(docs: list[dict[str, object]]) -> dict[str, set[str]]:
    policies: dict[str, set[str]] = {}
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            pod = doc["spec"]["template"]["spec"]  # type: ignore[index]
            policies[doc["kind"]] = {c["imagePullPolicy"] for c in pod["containers"]}
    return policies


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_loaded_images_are_not_pulled_again(rendered: Render, tmp_path: Path, overlay: str) -> None:
    # images loaded into a kind/k3d/minikube node exist under names no registry serves;
    # the manifests' `Always` would send the kubelet to that registry first
    project = rendered(language="python", database="postgresql")
    kubectl = Kubectl(kubectl_command())
    built = build_overlay(kubectl, project / "k8s" / "overlays" / overlay)
    expected_kinds = {"dev": {"Deployment", "StatefulSet"}, "prod": {"Deployment"}}[overlay]
    assert set(_pull_policies(built)) == expected_kinds
    assert all(p == {"Always"} for p in _pull_policies(built).values())
    images = {split_image(ref)[0]: ref for ref in containers_images(built).values()}
    plain = overlay_for(project, f"k8s/overlays/{overlay}", "here", images, tmp_path / "plain")
    assert all(p == {"Always"} for p in _pull_policies(build_overlay(kubectl, plain)).values())
    folder = overlay_for(
        project, f"k8s/overlays/{overlay}", "here", images, tmp_path / "loaded",
        patches=pull_if_not_present(built),
    )  # fmt: skip
    deployed = build_overlay(kubectl, folder)
    assert _pull_policies(deployed) == {kind: {"IfNotPresent"} for kind in expected_kinds}
    assert containers_images(deployed) == containers_images(built)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kubernetes", "--keep"], "--keep: only with --kubernetes --deploy"),
        (["--kubernetes", "--registry", "r.example.com"], "--registry: only with"),
        (["--overlay", "prod"], "--overlay: only with --kubernetes --deploy"),
        (["--deploy"], "--deploy: only with --kubernetes"),
    ],
)
def test_deploy_flags_need_deploy(
    rendered: Render, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    project = rendered(language="go", database="none")
    assert main(["verify", str(project), *args]) == 2
    assert message in capsys.readouterr().err


def test_prod_gets_a_stand_in_database_secret_from_the_dev_password(
    rendered: Render, tmp_path: Path
) -> None:
    # prod mounts <project>-db and generates none: a throwaway namespace needs one made
    project = tmp_path / "svc"
    shutil.copytree(rendered(language="go", database="postgresql"), project)
    kubectl = Kubectl(kubectl_command())
    dev_password = project / "k8s/overlays/dev/secrets/db-password"
    prod = build_overlay(kubectl, project / "k8s" / "overlays" / "prod")
    name = f"{read_answers(project)['project_name']}-db"
    made = stand_in_secrets(project, prod)
    assert made == {name: {"db-password": dev_password}}
    doc = secret_doc(name, "somewhere", made[name])
    assert doc["metadata"] == {
        "name": name,
        "namespace": "somewhere",
        "labels": {"app.kubernetes.io/managed-by": "keelson-verify"},
    }
    # the bytes of the file, newline included, as the dev overlay's generator makes it
    assert base64.b64decode(doc["data"]["db-password"]) == dev_password.read_bytes()
    # dev makes its own; a service without a database mounts none
    assert stand_in_secrets(project, build_overlay(kubectl, project / "k8s/overlays/dev")) == {}
    none = rendered(language="go", database="none")
    assert stand_in_secrets(none, build_overlay(kubectl, none / "k8s/overlays/prod")) == {}
    # compose's copy when the dev overlay's is missing; neither: one line naming the file
    dev_password.unlink()
    assert stand_in_secrets(project, prod) == {
        name: {"db-password": project / ".secrets/db_password"}
    }
    (project / ".secrets/db_password").unlink()
    with pytest.raises(UsageError, match=r"write one to k8s/overlays/dev/secrets/db-password"):
        stand_in_secrets(project, prod)
