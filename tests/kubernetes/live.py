"""Apply built overlays to the control plane and judge what its controllers did with them.

`findings()` returns every way the live objects differ from what the manifests intend, as
readable lines, so the tier asserts an empty list and its self-tests assert a given line.
"Intended" follows the template's naming: Service, NetworkPolicy and PodDisruptionBudget
`X` are for workload `X`, and a NetworkPolicy's peer podSelector is for the app Deployment.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from generator.kubernetes import namespace_doc, selects, warnings_of
from tests.kubernetes.conftest import ControlPlane

Doc = dict[str, Any]


@dataclass
class Applied:
    """One overlay applied to its own namespace."""

    namespace: str
    docs: list[Doc]
    dry_run_stderr: str = ""
    apply_stderr: str = ""
    rejected: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return warnings_of(self.dry_run_stderr) + warnings_of(self.apply_stderr)


def in_namespace(docs: list[Doc], namespace: str) -> list[Doc]:
    """Copy the objects into another namespace (each overlay gets its own)."""
    moved = copy.deepcopy(docs)
    for doc in moved:
        doc["metadata"]["namespace"] = namespace
    return moved


def deploy(plane: ControlPlane, namespace: str, docs: list[Doc]) -> Applied:
    """Create the namespace, then `apply --dry-run=server` and `apply --server-side`."""
    plane.apply([namespace_doc(namespace)])
    applied = Applied(namespace, in_namespace(docs, namespace))
    stream = yaml.safe_dump_all(applied.docs)
    dry = plane.run("apply", "--dry-run=server", "-f", "-", stdin=stream)
    applied.dry_run_stderr = dry.stderr
    real = plane.run(
        "apply", "--server-side", "--field-manager=keelson-tests", "-f", "-", stdin=stream
    )
    applied.apply_stderr = real.stderr
    for result in (dry, real):
        if result.returncode != 0:
            applied.rejected += [
                line for line in result.stderr.splitlines() if not line.startswith("Warning:")
            ]
    return applied


def live(plane: ControlPlane, namespace: str) -> dict[str, list[Doc]]:
    """Every object the checks read, by kind, in one request."""
    kinds = "pods,replicasets,endpointslices,events,poddisruptionbudgets,horizontalpodautoscalers"
    listed = plane.json("get", kinds, "-n", namespace)
    by_kind: dict[str, list[Doc]] = {}
    for item in listed["items"]:
        by_kind.setdefault(item["kind"], []).append(item)
    return by_kind


def mark_ready(plane: ControlPlane, pods: list[Doc]) -> None:
    """Do the kubelet's part for pods the scheduler bound: Running, Ready, an IP."""
    for pod in pods:
        if not pod["spec"].get("nodeName") or pod["status"].get("podIP"):
            continue
        ip = plane.next_pod_ip()
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        conditions = [
            {"type": kind, "status": "True", "lastTransitionTime": now}
            for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ]
        status = {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": "10.0.0.1",
            "startTime": now,
            "conditions": conditions,
        }
        plane.run(
            "patch", "pod", pod["metadata"]["name"], "-n", pod["metadata"]["namespace"],
            "--subresource=status", "--type=merge", "-p", json.dumps({"status": status}),
            check=True,
        )  # fmt: skip


def _owner(doc: Doc) -> str | None:
    refs = doc["metadata"].get("ownerReferences") or []
    return f"{refs[0]['kind']}/{refs[0]['name']}" if refs else None


def pods_of(state: dict[str, list[Doc]]) -> dict[str, set[str]]:
    """Workload (Kind/name) -> names of the pods its controllers created."""
    replicasets = {
        f"ReplicaSet/{rs['metadata']['name']}": _owner(rs) for rs in state.get("ReplicaSet", [])
    }
    owned: dict[str, set[str]] = {}
    for pod in state.get("Pod", []):
        owner = _owner(pod)
        owner = replicasets.get(owner or "", owner)
        if owner:
            owned.setdefault(owner, set()).add(pod["metadata"]["name"])
    return owned


def intended_replicas(docs: list[Doc]) -> dict[str, int]:
    """Workload -> how many pods it should have: the HPA's minimum where one targets it."""
    wanted = {
        f"{d['kind']}/{d['metadata']['name']}": d["spec"].get("replicas", 1)
        for d in docs
        if d["kind"] in {"Deployment", "StatefulSet"}
    }
    for hpa in (d for d in docs if d["kind"] == "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        target = f"{ref['kind']}/{ref['name']}"
        if target in wanted:
            wanted[target] = hpa["spec"].get("minReplicas", 1)
    return wanted


def _workload_named(name: str, wanted: dict[str, int]) -> str:
    (match,) = [w for w in wanted if w.split("/", 1)[1] == name]
    return match


def findings(plane: ControlPlane, applied: Applied) -> list[str]:  # noqa: PLR0912
    """Compare the live namespace with what the manifests intend; [] when all is well."""
    problems = [f"rejected: {line}" for line in applied.rejected]
    problems += [f"warning: {w}" for w in applied.warnings]
    state = live(plane, applied.namespace)
    mark_ready(plane, state.get("Pod", []))
    wanted = intended_replicas(applied.docs)
    owned = pods_of(state)
    labels = {p["metadata"]["name"]: p["metadata"].get("labels", {}) for p in state.get("Pod", [])}
    ready = {
        p["metadata"]["name"]
        for p in state.get("Pod", [])
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", [])
        )
    }
    for event in state.get("Event", []):
        # (a FailedScheduling while a claim binds is transient; unbound pods are caught below)
        if event["reason"] == "FailedCreate":
            obj = event["involvedObject"]
            problems.append(
                f"event {event['reason']} {obj['kind']}/{obj['name']}: {event['message']}"
            )
    for workload, count in wanted.items():
        have = owned.get(workload, set())
        if len(have) != count:
            problems.append(f"{workload}: {len(have)} pods created, {count} intended")
        if have - ready:
            problems.append(f"{workload}: pods not bound and Ready yet: {sorted(have - ready)}")
    slices = state.get("EndpointSlice", [])
    for doc in applied.docs:
        kind, name, spec = doc["kind"], doc["metadata"]["name"], doc.get("spec", {})
        if kind == "Service":
            target = _workload_named(name, wanted)
            problems += _service_findings(doc, target, owned, slices, applied.docs)
        elif kind == "NetworkPolicy":
            target = _workload_named(name, wanted)
            chosen = {p for p, lab in labels.items() if selects(spec["podSelector"], lab)}
            if chosen != owned.get(target, set()):
                problems.append(
                    f"NetworkPolicy/{name} podSelector selects {sorted(chosen)}, "
                    f"intended the pods of {target}"
                )
            app = next(w for w in wanted if w.startswith("Deployment/"))
            for rule in spec.get("ingress", []):
                for peer in rule.get("from", []):
                    peers = {p for p, lab in labels.items() if selects(peer["podSelector"], lab)}
                    if peers != owned.get(app, set()):
                        problems.append(
                            f"NetworkPolicy/{name} peer selects {sorted(peers)}, "
                            f"intended the pods of {app}"
                        )
    for pdb in state.get("PodDisruptionBudget", []):
        target = _workload_named(pdb["metadata"]["name"], wanted)
        expected = pdb.get("status", {}).get("expectedPods")
        if expected != wanted[target]:
            problems.append(
                f"PodDisruptionBudget/{pdb['metadata']['name']}: expectedPods "
                f"{expected}, intended {wanted[target]}"
            )
    for hpa in state.get("HorizontalPodAutoscaler", []):
        able = [
            c for c in hpa.get("status", {}).get("conditions", []) if c["type"] == "AbleToScale"
        ]
        if not able or able[0]["status"] != "True":
            detail = f"{able[0]['reason']}: {able[0]['message']}" if able else "no status yet"
            problems.append(
                f"HorizontalPodAutoscaler/{hpa['metadata']['name']}: "
                f"AbleToScale is not True ({detail})"
            )
    return problems


def _service_findings(
    service: Doc, target: str, owned: dict[str, set[str]], slices: list[Doc], docs: list[Doc]
) -> list[str]:
    """EndpointSlices list exactly the target's pods, on the resolved container ports."""
    name = service["metadata"]["name"]
    mine = [s for s in slices if s["metadata"]["labels"].get("kubernetes.io/service-name") == name]
    endpoints = {
        e["targetRef"]["name"] for s in mine for e in (s.get("endpoints") or []) if "targetRef" in e
    }
    problems = []
    if endpoints != owned.get(target, set()):
        problems.append(
            f"Service/{name} endpoints {sorted(endpoints)}, intended the pods of {target}"
        )
    workload = next(d for d in docs if f"{d['kind']}/{d['metadata']['name']}" == target)
    container_ports = {
        p["name"]: p["containerPort"]
        for c in workload["spec"]["template"]["spec"]["containers"]
        for p in c.get("ports", [])
        if "name" in p
    }
    resolved = {(p.get("name"), p.get("port")) for s in mine for p in (s.get("ports") or [])}
    for port in service["spec"]["ports"]:
        wanted = container_ports.get(port["targetPort"], port["targetPort"])
        if endpoints and (port.get("name"), wanted) not in resolved:
            problems.append(
                f"Service/{name} port {port.get('name')}: targetPort "
                f"{port['targetPort']!r} does not resolve to a container port"
            )
    return problems


def converge(
    plane: ControlPlane,
    applied: Applied,
    done: Callable[[list[str]], bool] = lambda found: not found,
    timeout: float = 90,
) -> list[str]:
    """Poll `findings` until `done` says so or the time is up; return the last findings."""
    deadline = time.monotonic() + timeout
    while True:
        found = findings(plane, applied)
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(1)
