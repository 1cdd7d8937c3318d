"""The cluster-free parts of `keelson verify --kubernetes`: selectors, probe pods, the table.

The dry runs themselves are tested against a real control plane in tests/kubernetes/.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from generator.errors import UsageError
from generator.kubernetes import (
    Finding,
    KubeReport,
    probe_pod,
    selector_findings,
    selects,
    verify_kubernetes,
    warnings_of,
)
from tests.conftest import Kustomized, Render


def test_selects_follows_label_selector_semantics() -> None:
    labels = {"app": "web", "tier": "front"}
    assert selects({}, labels)  # empty selects everything (NetworkPolicy)
    assert not selects(None, labels)
    assert selects({"matchLabels": {"app": "web"}}, labels)
    assert not selects({"matchLabels": {"app": "db"}}, labels)
    expr = {"key": "tier", "operator": "In", "values": ["front", "edge"]}
    assert selects({"matchExpressions": [expr]}, labels)
    assert not selects({"matchExpressions": [{**expr, "operator": "NotIn"}]}, labels)
    assert selects({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, labels)
    assert not selects({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, labels)


@pytest.mark.parametrize("overlay", ["k8s/overlays/dev", "k8s/overlays/prod"])
def test_generated_overlays_have_no_selector_findings(
    rendered: Render, kustomized: Kustomized, overlay: str
) -> None:
    docs = kustomized(rendered(language="node", database="mariadb"), overlay)
    assert selector_findings(docs, overlay) == []


def test_each_mistyped_reference_is_a_finding(rendered: Render, kustomized: Kustomized) -> None:
    docs = copy.deepcopy(
        kustomized(rendered(language="node", database="mariadb"), "k8s/overlays/dev")
    )
    kinds = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    app, db = "svc-mariadb-node", "svc-mariadb-node-db"
    kinds["Service", app]["spec"]["ports"][0]["targetPort"] = "htp"
    kinds["Service", db]["spec"]["selector"]["app.kubernetes.io/component"] = "dbase"
    kinds["HorizontalPodAutoscaler", app]["spec"]["scaleTargetRef"]["name"] = "svc"
    kinds["PodDisruptionBudget", app]["spec"]["selector"]["matchLabels"]["x"] = "y"
    policy = kinds["NetworkPolicy", db]["spec"]
    policy["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] = "n"
    found = {(f.obj, f.check) for f in selector_findings(docs, "dev")}
    assert found == {
        (f"Service/{app}", "targetPort"),
        (f"Service/{db}", "selector"),
        (f"HorizontalPodAutoscaler/{app}", "scaleTargetRef"),
        (f"PodDisruptionBudget/{app}", "selector"),
        (f"NetworkPolicy/{db}", "peer podSelector"),
    }


def test_probe_pod_is_what_the_statefulset_controller_would_create(
    rendered: Render, kustomized: Kustomized
) -> None:
    docs = kustomized(rendered(language="node", database="mariadb"), "k8s/overlays/dev")
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
    pod = probe_pod(sts, "ns1")
    assert pod["metadata"]["namespace"] == "ns1"
    assert pod["metadata"]["labels"] == sts["spec"]["template"]["metadata"]["labels"]
    mounts = {m["name"] for c in pod["spec"]["containers"] for m in c["volumeMounts"]}
    assert mounts <= {v["name"] for v in pod["spec"]["volumes"]}
    assert pod["spec"]["securityContext"] == sts["spec"]["template"]["spec"]["securityContext"]


def test_warning_lines_and_table() -> None:
    stderr = "Warning: would violate PodSecurity x\nservice/a created\nWarning: second\n"
    assert warnings_of(stderr) == ["would violate PodSecurity x", "second"]
    report = KubeReport(
        [Finding("k8s/overlays/dev", "Service/a", "selector", "selects no pod template")],
        {"k8s/overlays/dev": ("ns", "restricted", 9)},
    )
    lines = report.table().splitlines()
    assert lines[0] == "k8s/overlays/dev: namespace ns (enforce=restricted), 9 objects"
    assert lines[2].split() == ["k8s/overlays/dev", "Service/a", "selector", "selects", "no",
                                "pod", "template"]  # fmt: skip
    assert lines[-1] == "verify --kubernetes: FAILED (1 findings)"
    assert KubeReport().table() == "verify --kubernetes: passed"


def test_a_folder_without_overlays_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"has no kustomization\.yaml"):
        verify_kubernetes(str(tmp_path), kubectl="/bin/false")
