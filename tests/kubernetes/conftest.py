"""The `kubernetes` tier's cluster: a real control plane from scripts/kube-control-plane.sh.

The session starts etcd, kube-apiserver (RBAC, default admission plugins incl. PodSecurity),
kube-controller-manager and kube-scheduler on 127.0.0.1 and stops exactly those processes
at the end. There is no kubelet (the next tier brings one): a Node object is registered
through the API so the scheduler binds pods, and the tests set pod status (Ready, an IP)
through the API so EndpointSlices and the disruption controller count the pods.

Without CI, a machine that cannot build or start the control plane skips the tier with the
script's reason; with CI=true that is an error.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.docker import run_docker
from generator.kubernetes import Kubectl
from tests.matrix import ROOT

SCRIPT = ROOT / "scripts" / "kube-control-plane.sh"
NODE = "keelson-node-0"
# one volume per claim the dev databases make; they are API objects only (no kubelet)
VOLUMES = 16


@dataclass
class Kubeconfig:
    """A cluster this run reaches: its kubeconfig and the kubectl of the same version.

    kubectl itself is generator.kubernetes.Kubectl, the client `keelson verify` uses.
    """

    kubeconfig: Path
    kubectl: str

    @property
    def client(self) -> Kubectl:
        """The generator's kubectl client bound to this cluster."""
        return Kubectl(self.kubectl, kubeconfig=str(self.kubeconfig))

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def run(
        self, *args: str, stdin: str | None = None, check: bool = False, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = self.client.run(*args, stdin=stdin, timeout=timeout)
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result

    def json(self, *args: str) -> Any:
        return self.client.json(*args)


@dataclass
class ControlPlane(Kubeconfig):
    """A running control plane and the kubectl of the same version."""

    pod_ips: int = 0

    def apply(self, docs: list[dict[str, Any]]) -> None:
        self.run("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(docs), check=True)

    def next_pod_ip(self) -> str:
        self.pod_ips += 1
        return f"10.244.{self.pod_ips // 250}.{self.pod_ips % 250 + 2}"


def _exports(stdout: str) -> dict[str, str]:
    exports = {}
    for line in stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            exports[key] = value
    return exports


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _register_node(plane: ControlPlane) -> None:
    """A Node object for the scheduler: Ready, roomy, untainted (no kubelet behind it)."""
    plane.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": NODE,
                    "labels": {
                        "kubernetes.io/hostname": NODE,
                        "kubernetes.io/os": "linux",
                        "topology.kubernetes.io/zone": "keelson-zone-a",
                    },
                },
            }
        ]
    )
    resources = {"cpu": "64", "memory": "256Gi", "pods": "500", "ephemeral-storage": "100Gi"}
    status = {
        "capacity": resources,
        "allocatable": resources,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KeelsonTestNode",
                "message": "registered by the kubernetes test tier; no kubelet",
                "lastHeartbeatTime": _now(),
                "lastTransitionTime": _now(),
            }
        ],
    }
    plane.run(
        "patch", "node", NODE, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}), check=True,
    )  # fmt: skip
    # the TaintNodesByCondition admission plugin taints every new node not-ready; the
    # node-lifecycle controller (off here, it would need a kubelet's heartbeats) would
    # lift it once the node reports Ready, so the test does that too
    plane.run("taint", "node", NODE, "node.kubernetes.io/not-ready:NoSchedule-", check=True)


def _provide_volumes(env: dict[str, str]) -> None:
    """The default StorageClass and local volumes the node script offers, on the test node."""
    subprocess.run(
        [str(SCRIPT), "storage", NODE, str(VOLUMES)],
        capture_output=True, text=True, check=True, env=env, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """Start the control plane once for the session; stop it in teardown."""
    state = tmp_path_factory.mktemp("kube") / "state"
    env = {**os.environ, "KEELSON_KUBE_STATE": str(state)}
    up = subprocess.run(
        [str(SCRIPT), "up"], capture_output=True, text=True, check=False, env=env, timeout=3600
    )
    try:
        if up.returncode != 0:
            tail = " | ".join(up.stderr.strip().splitlines()[-3:])
            reason = f"the Kubernetes control plane did not start ({SCRIPT.name} up): {tail}"
            if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
                pytest.fail(reason)
            pytest.skip(reason)
        exports = _exports(up.stdout)
        plane = ControlPlane(
            kubeconfig=Path(exports["KUBECONFIG"]),
            kubectl=str(Path(exports["PATH"].split(":")[0]) / "kubectl"),
        )
        _register_node(plane)
        _provide_volumes(env)
        yield plane
    finally:
        subprocess.run(
            [str(SCRIPT), "down"], capture_output=True, check=False, env=env, timeout=120
        )


# --- the pods tier: a cluster with a real node ------------------------------------------------

NODE_SCRIPT = ROOT / "scripts" / "kube-node.sh"


@dataclass
class Cluster(Kubeconfig):
    """A running single-node cluster (scripts/kube-node.sh) and its local registry."""

    state: Path
    registry: str

    @property
    def containerd(self) -> str:
        """The node's containerd socket (for `ctr`)."""
        return str(self.state / "node" / "containerd.sock")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(reason)
    pytest.skip(reason)


def _untag(registry: str) -> None:
    """Remove the engine's tags of images pushed to this run's registry (its port is new
    every run, so they would pile up); the images keep their other names."""
    listed = run_docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", check=False)
    ours = [ref for ref in listed.stdout.split() if ref.startswith(f"{registry}/")]
    if ours:
        run_docker("image", "rm", *ours, check=False)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Start the control plane and a node once for the session; stop both in teardown."""
    if os.geteuid() != 0:
        _unavailable("the node (kubelet, containerd, bridge, iptables) needs root")
    state = tmp_path_factory.mktemp("node") / "state"
    env = {**os.environ, "KEELSON_KUBE_STATE": str(state)}
    try:
        up = subprocess.run(
            [str(NODE_SCRIPT), "up"],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=3600,
        )
        if up.returncode != 0:
            tail = " | ".join(up.stderr.strip().splitlines()[-4:])
            _unavailable(f"the single-node cluster did not start ({NODE_SCRIPT.name} up): {tail}")
        print(up.stderr.strip().splitlines()[-1])
        exports = _exports(up.stdout)
        registry = exports["KEELSON_KUBE_REGISTRY"]
        yield Cluster(
            state=state,
            kubeconfig=Path(exports["KUBECONFIG"]),
            kubectl=str(Path(exports["PATH"].split(":")[0]) / "kubectl"),
            registry=registry,
        )
        _untag(registry)
    finally:
        subprocess.run(
            [str(NODE_SCRIPT), "down"], capture_output=True, check=False, env=env, timeout=300
        )
