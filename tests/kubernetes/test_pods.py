"""Generated services as running pods on a single-node cluster built from source.

The cluster is scripts/kube-node.sh (control plane + kubelet, kube-proxy in iptables mode,
its own containerd, Debian's runc and CNI plugins, CoreDNS, a pause image from pause.c, local
PersistentVolumes, a registry on 127.0.0.1, kube-router enforcing NetworkPolicy). For every
language x database combination the image the boot tier built (rebuilt from BuildKit's cache,
so normally a cache hit) and the dev database's image are pushed to that registry, and
`overlays/dev`, with the kustomize images set to the registry, is applied into its own
namespace enforcing Pod Security `restricted`. All 12 are applied first and awaited together.
Test traffic goes to 127.0.0.1 only (the policy tests also reach pods on the node's own
bridge): the app's Service is made a NodePort (its only change; same selector and ports), and
kube-proxy serves NodePorts on loopback, so every request crosses the Service's iptables rules
to a pod.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.answers import read_answers
from generator.images import ensure_images, required_images
from generator.kube_deploy import (
    Deployment,
    apply,
    containers_images,
    overlay_for,
    push,
    rollout,
    split_image,
    stand_in_secrets,
)
from generator.kubernetes import (
    KubernetesError,
    build_overlay,
    delete_namespace,
    pod_states,
    port_forward,
)
from generator.verify import Stack, request, round_trip, wait_for
from tests.kubernetes.conftest import Cluster
from tests.matrix import MATRIX, MATRIX_IDS, render

# how long all 12 dev overlays may take from apply to every Deployment Available and
# database Ready, together on this 2-core machine (measured: see the README)
ROLLOUT_BOUND = 420
APP_UID = 10001
NODE_PORT_PATCH = {
    "target": {"kind": "Service", "labelSelector": "app.kubernetes.io/component=app"},
    "patch": '[{"op": "replace", "path": "/spec/type", "value": "NodePort"}]',
}
Doc = dict[str, Any]


@dataclass
class Running:
    """One combination's dev overlay in its namespace, and what the tier saw of it."""

    combo: dict[str, str]
    project: Path
    images: dict[str, str]
    deployment: Deployment
    node_port: int = 0
    rollout_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    round_trip: tuple[bool, str] = (True, "no database")
    user: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.node_port}"


def _ship(cluster: Cluster, project: Path, tag: str | None = None) -> dict[str, str]:
    """Build (a cache hit after the boot tier) and push the app and database images."""
    ensure_images(required_images(project), policy="auto", log=print)
    stack = Stack(project)
    stack.build()
    app = stack.image()
    docs = build_overlay(cluster.client, project / "k8s" / "overlays" / "dev")
    images = {}
    for ref in sorted(set(containers_images(docs).values())):
        name, _ = split_image(ref)
        if name == split_image(app)[0]:
            source = app
            if tag:
                retagged = f"{name}:{tag}"
                subprocess.run(["docker", "tag", app, retagged], check=True)
                source = retagged
            images[name] = push(source, cluster.registry, f"keelson/{project.name}")
        else:
            images[name] = push(ref, cluster.registry, f"library/{name.rsplit('/', 1)[-1]}")
    return images


def _namespace(combo: dict[str, str]) -> str:
    return f"pods-{combo['language']}-{combo['database']}"


def _dev_docs(
    cluster: Cluster, project: Path, namespace: str, images: dict[str, str], work: Path
) -> list[Doc]:
    folder = overlay_for(
        project, "k8s/overlays/dev", namespace, images, work, patches=[NODE_PORT_PATCH]
    )
    return build_overlay(cluster.client, folder)


def _app_pods(cluster: Cluster, run: Running) -> list[Doc]:
    pods = cluster.json(
        "get", "pods", "-n", run.deployment.namespace,
        "-l", "app.kubernetes.io/component=app",
    )["items"]  # fmt: skip
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def _task_pid(cluster: Cluster, container_id: str) -> int:
    """The host PID of a container's main process, from the node's containerd."""
    out = subprocess.run(
        ["ctr", "--address", cluster.containerd, "-n", "k8s.io", "tasks", "ls"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    for line in out.splitlines()[1:]:
        task, pid, *_ = line.split()
        if task == container_id:
            return int(pid)
    raise AssertionError(f"no task {container_id} in the node's containerd")


def _user_evidence(cluster: Cluster, run: Running) -> dict[str, Any]:
    """The app container's user and root filesystem: from the API and from its /proc."""
    (pod,) = _app_pods(cluster, run)
    (container,) = pod["spec"]["containers"]
    context = {**pod["spec"].get("securityContext", {}), **container["securityContext"]}
    (status,) = pod["status"]["containerStatuses"]
    proc = Path(f"/proc/{_task_pid(cluster, status['containerID'].removeprefix('containerd://'))}")
    lines = (proc / "status").read_text().splitlines()
    mounts = {
        fields[4]: fields[5].split(",")
        for fields in (line.split() for line in (proc / "mountinfo").read_text().splitlines())
    }
    return {
        "api_user": context.get("runAsUser"),
        "api_read_only": context.get("readOnlyRootFilesystem"),
        "uids": next(line for line in lines if line.startswith("Uid:")).split()[1:],
        "gids": next(line for line in lines if line.startswith("Gid:")).split()[1:],
        "root": mounts["/"],
        "tmp": mounts.get("/tmp", []),
    }


def _observe(cluster: Cluster, run: Running, applied: float) -> None:
    """Wait for the rollout, then probe through the Service and read the user evidence."""
    client = cluster.client
    left = ROLLOUT_BOUND - (time.monotonic() - applied)
    try:
        rollout(client, run.deployment, timeout=max(left, 10))
    except KubernetesError as error:
        run.problems.append(str(error))
        return
    run.rollout_seconds = time.monotonic() - applied
    service = client.json("get", "service", run.deployment.app, "-n", run.deployment.namespace)
    run.node_port = int(service["spec"]["ports"][0]["nodePort"])
    # kube-proxy programs the NodePort a moment after the Service exists
    wait_for(lambda: request(run.url, "GET", "/").status == 200, timeout=30)
    run.answers = {path: request(run.url, "GET", path).status for path in ("/", "/readyz")}
    if run.combo["database"] != "none":
        run.round_trip = round_trip(run.url)
    run.user = _user_evidence(cluster, run)


# Kept running for the disruption tests; the other combinations go first and are removed
# once observed: twelve services with their databases ask for more CPU (2.1 cores) than
# the 2-core node has.
KEEP = {
    "python-none", "node-none", "go-none", "go-postgresql",
    "python-postgresql", "node-mariadb", "go-redis",
}  # fmt: skip


@pytest.fixture(scope="session")
def running(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Running]:
    """Every combination's dev overlay, in two waves that are each applied, then awaited."""
    client = cluster.client
    root = tmp_path_factory.mktemp("pods")
    out: dict[str, Running] = {}
    first = [cid for cid in MATRIX_IDS if cid not in KEEP]
    for wave in (first, [cid for cid in MATRIX_IDS if cid in KEEP]):
        started = time.monotonic()
        for cid in wave:
            combo = MATRIX[MATRIX_IDS.index(cid)]
            project = render(root / cid, **combo)
            images = _ship(cluster, project)
            docs = _dev_docs(cluster, project, _namespace(combo), images, root / f"work-{cid}")
            out[cid] = Running(combo, project, images, apply(client, _namespace(combo), docs))
        applied = time.monotonic()
        print(f"built, pushed and applied {len(wave)} dev overlays in {applied - started:.0f} s")
        for cid in wave:
            _observe(cluster, out[cid], applied)
            print(f"{cid}: ready {out[cid].rollout_seconds:.0f} s after the wave was applied")
        if wave is first:
            gone = [f"namespace/{out[cid].deployment.namespace}" for cid in wave]
            for name in gone:
                delete_namespace(client, name.removeprefix("namespace/"))
            cluster.run("wait", "--for=delete", *gone, "--timeout=240s", timeout=300)
    return out


@pytest.mark.parametrize("cid", MATRIX_IDS)
def test_dev_overlay_runs_and_answers_through_the_service(
    running: dict[str, Running], cid: str
) -> None:
    run = running[cid]
    assert run.problems == []
    assert run.deployment.warnings == []
    assert run.rollout_seconds < ROLLOUT_BOUND
    assert run.answers == {"/": 200, "/readyz": 200}
    assert run.round_trip[0], run.round_trip[1]


@pytest.mark.parametrize("cid", MATRIX_IDS)
def test_app_runs_as_uid_10001_with_a_read_only_root(running: dict[str, Running], cid: str) -> None:
    """From the API (the pod as admitted) and from the process itself (its /proc)."""
    user = running[cid].user
    assert running[cid].problems == []
    assert user["api_user"] == APP_UID
    assert user["api_read_only"] is True
    assert user["uids"] == [str(APP_UID)] * 4
    assert user["gids"] == [str(APP_UID)] * 4
    assert "ro" in user["root"], user["root"]
    assert "rw" in user["tmp"], "the writable emptyDir for /tmp"


# --- NetworkPolicy, enforced on the node by kube-router -------------------------------------

# A TCP connection attempt, bounded; prints open, refused (an RST or kube-router's REJECT) or
# timeout. The images have no shell: Python's and Node's runtimes run it.
PROBE_PY = """\
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
    print("open")
except ConnectionRefusedError:
    print("refused")
except TimeoutError:
    print("timeout")
"""
PROBE_NODE = """\
const [host, port] = process.argv.slice(1);
const s = require("net").connect({host, port: Number(port), timeout: 5000});
s.on("connect", () => { console.log("open"); s.destroy(); });
s.on("timeout", () => { console.log("timeout"); s.destroy(); });
s.on("error", (e) => console.log(e.code === "ECONNREFUSED" ? "refused" : e.code));
"""
PROBES = {
    "python": ["python3", "-c", PROBE_PY],
    "node": ["/nodejs/bin/node", "-e", PROBE_NODE],
}
OUTSIDER_PORT = 8080
# the outsider also listens, so that pods with an egress policy have a target it refuses
LISTEN = f"""\
import socket
server = socket.create_server(("", {OUTSIDER_PORT}))
while True:
    server.accept()[0].close()
"""
BLOCKED = {"refused", "timeout"}
# how long kube-router may take to follow a policy change (it takes well under a second)
POLICY_SYNC_BOUND = 30


@dataclass
class Outsider:
    """A pod in a combination's namespace that no policy's `from` selects."""

    namespace: str
    name: str
    ip: str


def _python_image(running: dict[str, Running]) -> str:
    """The Python app image in the node's registry: it has python3 and runs as 10001."""
    run = running["python-none"]
    return next(ref for ref in run.images.values() if "/keelson/" in ref)


@contextmanager
def _outsider(cluster: Cluster, run: Running, image: str) -> Iterator[Outsider]:
    """Start the outsider (same name labels as the app, another component), then remove it."""
    namespace, project = run.deployment.namespace, run.project.name
    pod: Doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "outsider",
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": project,
                "app.kubernetes.io/instance": project,
                "app.kubernetes.io/component": "outsider",
            },
        },
        "spec": {
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 0,
            "securityContext": {
                "runAsNonRoot": True, "runAsUser": APP_UID, "runAsGroup": APP_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [{
                "name": "outsider",
                "image": image,
                "command": ["python3", "-c", LISTEN],
                # Ready once it listens (a pod without a probe is Ready when it starts)
                "readinessProbe": {"tcpSocket": {"port": OUTSIDER_PORT}, "periodSeconds": 1},
                "securityContext": {
                    "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "resources": {
                    "requests": {"cpu": "10m", "memory": "16Mi"},
                    "limits": {"cpu": "100m", "memory": "64Mi"},
                },
            }],
        },
    }  # fmt: skip
    cluster.run("apply", "-f", "-", stdin=yaml.safe_dump(pod), check=True)
    try:
        cluster.run(
            "wait", "-n", namespace, "--for=condition=Ready", "pod/outsider", "--timeout=90s",
            check=True, timeout=120,
        )  # fmt: skip
        ip = cluster.json("get", "pod", "outsider", "-n", namespace)["status"]["podIP"]
        yield Outsider(namespace, "outsider", ip)
    finally:
        # gone before the next test makes its own
        cluster.run("delete", "pod", "outsider", "-n", namespace, "--timeout=60s", timeout=90)


def _connect(
    cluster: Cluster, namespace: str, pod: str, host: str, port: int, *, runtime: str = "python"
) -> str:
    """Try a TCP connection from inside `pod` (its image's `runtime` runs the probe)."""
    result = cluster.run(
        "exec", "-n", namespace, pod, "--", *PROBES[runtime], host, str(port), timeout=60
    )
    return result.stdout.strip() or f"exec failed: {result.stderr.strip()[-300:]}"


def _policy(run: Running, name: str) -> Doc:
    (doc,) = [
        d
        for d in run.deployment.docs
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == name
    ]
    return doc


@contextmanager
def _without(cluster: Cluster, run: Running, policy: Doc) -> Iterator[None]:
    """Delete one of the overlay's NetworkPolicies; apply it again on the way out."""
    namespace = run.deployment.namespace
    cluster.run("delete", "networkpolicy", policy["metadata"]["name"], "-n", namespace, check=True)
    try:
        yield
    finally:
        cluster.run("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(policy), check=True)


@pytest.mark.parametrize("cid", ["python-postgresql", "node-mariadb", "go-redis"])
def test_database_admits_only_the_app_and_the_block_is_its_policy(
    cluster: Cluster, running: dict[str, Running], cid: str
) -> None:
    """The dev database's NetworkPolicy, enforced: the app connects, a pod it does not name
    cannot; without the policy the same pod connects, and with it back it cannot again."""
    run = running[cid]
    assert run.problems == []
    namespace, language = run.deployment.namespace, run.combo["language"]
    (database,) = run.deployment.databases
    db_port = DB_PORTS[run.combo["database"]]
    (app,) = _app_pods(cluster, run)
    with _outsider(cluster, run, _python_image(running)) as outsider:

        def outsider_to_db() -> str:
            return _connect(cluster, namespace, outsider.name, database, db_port)

        # the outsider's own network works: the app's policy admits anyone on the app port
        app_ip, app_port = app["status"]["podIP"], _port_of(app)
        assert _connect(cluster, namespace, outsider.name, app_ip, app_port) == "open"
        started = time.monotonic()
        blocked = outsider_to_db()
        print(f"{cid}: outsider -> {database}:{db_port}: {blocked} in "
              f"{time.monotonic() - started:.1f} s")  # fmt: skip
        assert blocked in BLOCKED
        # the app can: from inside where its image has a runtime, else its own round trip
        if language in PROBES:
            app_name = app["metadata"]["name"]
            assert (
                _connect(cluster, namespace, app_name, database, db_port, runtime=language)
                == "open"
            )
        ok, detail = round_trip(run.url)
        assert ok, detail
        # the block is the policy's: gone, the outsider connects; back, it is refused again
        policy = _policy(run, database)
        with _without(cluster, run, policy):
            opened = wait_for(lambda: outsider_to_db() == "open", timeout=POLICY_SYNC_BOUND)
        closed = wait_for(lambda: outsider_to_db() in BLOCKED, timeout=POLICY_SYNC_BOUND)
        assert opened is not None, "the outsider stayed blocked without the database's policy"
        assert closed is not None, "the outsider still connects with the policy restored"
        print(
            f"{cid}: policy removed: open after {opened:.1f} s; back: blocked after {closed:.1f} s"
        )
        ok, detail = round_trip(run.url)
        assert ok, detail


def test_app_egress_is_limited_to_dns_and_the_database(
    cluster: Cluster, running: dict[str, Running]
) -> None:
    """The app's own policy: a listening pod that the host reaches is refused to the app, until
    the app's policy is removed."""
    run = running["python-postgresql"]
    assert run.problems == []
    namespace = run.deployment.namespace
    (app,) = _app_pods(cluster, run)
    app_name = app["metadata"]["name"]
    with _outsider(cluster, run, _python_image(running)) as outsider:

        def app_to_outsider() -> str:
            return _connect(cluster, namespace, app_name, outsider.ip, OUTSIDER_PORT)

        # the listener answers (from the node: no policy stands between)
        with socket.create_connection((outsider.ip, OUTSIDER_PORT), timeout=5):
            pass
        assert app_to_outsider() in BLOCKED
        with _without(cluster, run, _policy(run, run.deployment.app)):
            opened = wait_for(lambda: app_to_outsider() == "open", timeout=POLICY_SYNC_BOUND)
        closed = wait_for(lambda: app_to_outsider() in BLOCKED, timeout=POLICY_SYNC_BOUND)
        assert opened is not None, "the app stayed blocked without its policy"
        assert closed is not None, "the app still connects with its policy restored"
        print(f"app policy removed: open after {opened:.1f} s; back: blocked after {closed:.1f} s")
        # with its policy back the app still resolves and reaches its database
        ok, detail = round_trip(run.url)
        assert ok, detail


# --- disruptions -----------------------------------------------------------------------------


class Load:
    """A bounded client: `workers` threads send GETs over fresh connections until stopped.

    Never more than `max_seconds`; every answer other than 200 is kept as a failure.
    """

    def __init__(self, url: str, path: str = "/", workers: int = 2, max_seconds: float = 240):
        self.url, self.path, self.max_seconds = url, path, max_seconds
        self.sent = 0
        self.failed: list[tuple[float, int, str]] = []
        self.started = 0.0
        self.seconds = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]

    def _work(self) -> None:
        while not self._stop.is_set() and time.monotonic() - self.started < self.max_seconds:
            answer = request(self.url, "GET", self.path, timeout=5)
            with self._lock:
                self.sent += 1
                if answer.status != 200:
                    self.failed.append(
                        (time.monotonic() - self.started, answer.status, str(answer.body)[:200])
                    )

    def __enter__(self) -> Load:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.seconds = time.monotonic() - self.started


def _settled(cluster: Cluster, run: Running, old: set[str]) -> bool:
    """No pod of `old` is left and one new app pod is Ready."""
    pods = cluster.json(
        "get", "pods", "-n", run.deployment.namespace, "-l", "app.kubernetes.io/component=app"
    )["items"]
    names = {p["metadata"]["name"] for p in pods}
    ready = [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", [])
        )
    ]
    return not names & old and bool(ready)


@pytest.mark.parametrize("cid", ["python-none", "node-none", "go-none"])
def test_rolling_update_to_a_new_tag_drops_no_request(
    cluster: Cluster,
    running: dict[str, Running],
    cid: str,
    tmp_path: Path,
) -> None:
    """maxUnavailable 0 + readiness + the preStop sleep: the Service never fails a request."""
    run = running[cid]
    assert run.problems == []
    old = {p["metadata"]["name"] for p in _app_pods(cluster, run)}
    images = _ship(cluster, run.project, tag="rollout")
    docs = _dev_docs(cluster, run.project, run.deployment.namespace, images, tmp_path)
    client = cluster.client
    with Load(run.url) as load:
        time.sleep(1)
        apply(client, run.deployment.namespace, docs)
        rollout(client, run.deployment, timeout=180)
        settled = wait_for(lambda: _settled(cluster, run, old), timeout=120, interval=0.5)
        time.sleep(2)
    print(
        f"{cid}: rolling update, {load.sent} requests in {load.seconds:.1f} s, "
        f"{len(load.failed)} failed"
    )
    assert settled is not None, pod_states(client, run.deployment.namespace)
    (pod,) = _app_pods(cluster, run)
    assert pod["spec"]["containers"][0]["image"].endswith(":rollout")
    assert load.sent >= 50
    assert load.failed == []


def test_deleted_app_pod_is_replaced_and_the_service_answers(
    cluster: Cluster, running: dict[str, Running]
) -> None:
    run = running["go-postgresql"]
    assert run.problems == []
    old = {p["metadata"]["name"] for p in _app_pods(cluster, run)}
    with Load(run.url, "/healthz", max_seconds=150) as load:
        time.sleep(1)
        cluster.run(
            "delete", "pod", *old, "-n", run.deployment.namespace, "--wait=false", check=True
        )
        replaced = wait_for(lambda: _settled(cluster, run, old), timeout=120, interval=0.5)
        time.sleep(1)
    # one replica in dev: between the old pod's drain and the new one's readiness the Service
    # may briefly have no endpoint; the count is reported, the recovery asserted
    print(
        f"app pod deleted: replaced in {replaced or -1:.1f} s; {load.sent} requests, "
        f"{len(load.failed)} failed while it was replaced"
    )
    assert replaced is not None, pod_states(cluster.client, run.deployment.namespace)
    assert request(run.url, "GET", "/").status == 200
    ok, detail = round_trip(run.url)
    assert ok, detail


def _port_of(pod: Doc) -> int:
    return int(pod["spec"]["containers"][0]["ports"][0]["containerPort"])


@pytest.mark.parametrize("cid", ["python-postgresql", "node-mariadb", "go-redis"])
def test_deleted_database_pod_turns_readyz_503_then_recovers_with_its_data(
    cluster: Cluster, running: dict[str, Running], cid: str
) -> None:
    run = running[cid]
    assert run.problems == []
    client = cluster.client
    namespace = run.deployment.namespace
    created = request(run.url, "POST", "/items", {"name": f"kept-{cid}"})
    assert created.status == 201, created.body
    item = created.body
    (app,) = _app_pods(cluster, run)
    (database,) = run.deployment.databases

    # straight to the app pod: an unready pod leaves the Service, and /readyz is what we watch
    with port_forward(client, namespace, f"pod/{app['metadata']['name']}", _port_of(app)) as url:
        assert request(url, "GET", "/readyz").status == 200
        cluster.run("delete", "pod", f"{database}-0", "-n", namespace, "--wait=false", check=True)
        down = wait_for(
            lambda: request(url, "GET", "/readyz").status == 503, timeout=90, interval=0.2
        )
        assert down is not None, "readyz never answered 503 while the database was away"
        back = wait_for(
            lambda: request(url, "GET", "/readyz").status == 200, timeout=240, interval=0.5
        )
        assert back is not None, pod_states(client, namespace)
    print(
        f"{cid}: database pod deleted; /readyz 503 after {down:.1f} s, 200 again {back:.1f} s later"
    )
    (after,) = _app_pods(cluster, run)
    assert after["metadata"]["name"] == app["metadata"]["name"]
    assert after["status"]["containerStatuses"][0]["restartCount"] == 0
    # the Service routes to the pod again once its readiness probe has seen the database
    served = wait_for(lambda: request(run.url, "GET", "/readyz").status == 200, timeout=120)
    assert served is not None, pod_states(client, namespace)
    read = request(run.url, "GET", f"/items/{item['id']}")
    assert read.status == 200, read.body
    assert read.body == item


# --- production overlays against a database outside the cluster --------------------------------

GATEWAY = (
    "10.244.0.1"  # the node bridge's address (scripts/kube-node.sh): pods reach the host there
)
DB_PORTS = {"postgresql": 5432, "mariadb": 3306, "redis": 6379}


@pytest.fixture
def external_database(
    running: dict[str, Running], request: pytest.FixtureRequest
) -> Iterator[tuple[Running, int]]:
    """The service's own compose database, outside the cluster, published on the bridge's address.

    It runs under Docker (not the node's containerd) with the service's dev password
    (k8s/overlays/dev/secrets/db-password), the one the prod namespace's stand-in Secret
    gets; pods reach it through the manifests' configuration, DB_HOST/DB_PORT pointing at
    the node bridge's address where Docker publishes it.
    """
    from generator.verify import free_port

    run = running[request.param]
    port = free_port()
    override = run.project / "compose.keelson-external.yaml"
    secret = run.project / "k8s" / "overlays" / "dev" / "secrets" / "db-password"
    override.write_text(
        "services:\n"
        f"  db:\n    ports: ['{GATEWAY}:{port}:{DB_PORTS[run.combo['database']]}']\n"
        f"secrets:\n  db_password:\n    file: {secret}\n",
        encoding="utf-8",
    )
    stack = Stack(run.project, files=["compose.yaml", override.name])
    try:
        stack.up("db")
        yield run, port
    finally:
        stack.down()
        override.unlink()


@pytest.mark.parametrize(
    "external_database",
    ["python-postgresql", "node-mariadb", "go-redis"],
    indirect=True,
)
def test_prod_overlay_runs_against_an_external_database(
    cluster: Cluster, external_database: tuple[Running, int], tmp_path: Path
) -> None:
    run, port = external_database
    client = cluster.client
    namespace = f"prod-{run.combo['language']}-{run.combo['database']}"
    folder = overlay_for(
        run.project,
        "k8s/overlays/prod",
        namespace,
        run.images,
        tmp_path,
        patches=[NODE_PORT_PATCH],
        config={"DB_HOST": GATEWAY, "DB_PORT": str(port)},
    )
    docs = build_overlay(client, folder)
    assert not [d for d in docs if d["kind"] == "StatefulSet"], "prod has no in-cluster database"
    # prod generates no Secret: the namespace must hold <project>-db before the apply,
    # made here as `keelson verify --deploy --overlay prod` makes it
    assert not [d for d in docs if d["kind"] == "Secret"], "prod carries no password"
    secrets = stand_in_secrets(run.project, docs)
    assert list(secrets) == [f"{read_answers(run.project)['project_name']}-db"]
    deployment = apply(client, namespace, docs, secrets)
    assert deployment.warnings == []
    try:
        seconds = rollout(client, deployment, timeout=240)
        service = client.json("get", "service", deployment.app, "-n", namespace)
        url = f"http://127.0.0.1:{service['spec']['ports'][0]['nodePort']}"
        pods = [
            p
            for p in client.json("get", "pods", "-n", namespace)["items"]
            if not p["metadata"].get("deletionTimestamp")
        ]
        print(f"prod {run.combo}: {len(pods)} replicas Available in {seconds:.0f} s")
        assert len(pods) == 3  # the prod HPA's minReplicas
        assert request(url, "GET", "/readyz").status == 200
        ok, detail = round_trip(url)
        assert ok, detail
    finally:
        delete_namespace(client, namespace, wait=True)


# --- keelson verify --kubernetes --deploy against this cluster ---------------------------------


def _keelson(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", "verify", *args],
        capture_output=True, text=True, check=False, timeout=900,
        env={**cluster.env(), "KEELSON_KUBECTL": cluster.kubectl},
    )  # fmt: skip


def test_verify_deploy_runs_the_dev_overlay_and_deletes_its_namespace(
    cluster: Cluster, running: dict[str, Running]
) -> None:
    """The user's command, with --context and --registry, on a service the tier rendered."""
    project = running["node-postgresql"].project
    result = _keelson(
        cluster, str(project), "--kubernetes", "--deploy", "--context", "keelson",
        "--registry", f"{cluster.registry}/verify",
    )  # fmt: skip
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    table = result.stdout
    for row in ("GET / (via Service)", "GET /readyz", "database round trip", "runs as non-root"):
        assert any(line.startswith(row) and "  pass  " in line for line in table.splitlines()), row
    assert table.rstrip().endswith("verify: passed")
    namespaces = cluster.json("get", "namespaces")["items"]
    leftover = [
        n["metadata"]["name"]
        for n in namespaces
        if n["metadata"]["name"].startswith("keelson-verify-")
        and not n["metadata"].get("deletionTimestamp")
    ]
    assert leftover == []


def test_verify_deploy_keep_leaves_the_prod_overlay_running(
    cluster: Cluster, running: dict[str, Running]
) -> None:
    """--overlay prod --keep on a service without a database: three replicas stay running."""
    project = running["go-none"].project
    result = _keelson(
        cluster, str(project), "--kubernetes", "--deploy", "--overlay", "prod", "--keep",
        "--registry", cluster.registry,
    )  # fmt: skip
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = [
        n["metadata"]["name"]
        for n in cluster.json("get", "namespaces")["items"]
        if n["metadata"]["name"].startswith("keelson-verify-")
        and not n["metadata"].get("deletionTimestamp")
    ]
    assert len(kept) == 1
    pods = cluster.json("get", "pods", "-n", kept[0])["items"]
    assert len(pods) == 3
    cluster.run("delete", "namespace", kept[0], "--wait=false", check=True)
