"""Run a service's overlay on a real cluster: `keelson verify --kubernetes --deploy`.

The image is built, pushed to a registry the user names (or loaded into a kind, k3d or
minikube cluster when the context is one), the overlay deployed into a throwaway namespace
that enforces the `restricted` Pod Security level, the rollout awaited, the endpoints probed
through a `kubectl port-forward` to the Service, and the namespace deleted unless `keep`.

The same functions drive keelson's own pods tier (tests/kubernetes/test_pods.py), so what a
user runs against their cluster is what keelson's CI proves for every combination.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator.answers import read_answers
from generator.docker import run_docker
from generator.errors import KubernetesError, UsageError
from generator.images import docker_command, engine_problem, ensure_images, required_images
from generator.kubernetes import (
    LEVEL,
    Kubectl,
    build_overlay,
    delete_namespace,
    first_error,
    kubectl_command,
    namespace_doc,
    pod_states,
    port_forward,
    warnings_of,
)
from generator.verify import Check, Report, Stack, _timed, probe_endpoints

Doc = dict[str, Any]


# --- images -------------------------------------------------------------------------------


def split_image(ref: str) -> tuple[str, str]:
    """Split `name[:tag]` into name and tag (a registry's port is not a tag)."""
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, "latest"
    return name, tag


def _docker(*args: str, timeout: float = 900) -> str:
    return run_docker(*args, timeout=timeout, error=KubernetesError).stdout


def push(local: str, registry: str, repository: str | None = None) -> str:
    """Tag a local image into `registry` and push it; return the pushed reference.

    The repository keeps the image's last path element (`team/orders:1.0` becomes
    `<registry>/orders:1.0`) unless `repository` names one.
    """
    name, tag = split_image(local)
    remote = f"{registry.rstrip('/')}/{repository or name.rsplit('/', 1)[-1]}:{tag}"
    _docker("tag", local, remote)
    _docker("push", remote)
    return remote


def cluster_loader(context: str) -> list[str] | None:
    """Return the command that loads a local image into a kind, k3d or minikube cluster.

    None when the context is none of them (or the tool is not installed).

    Recognised by the context names those tools write: `kind-<name>`, `k3d-<name>`,
    `minikube`.
    """
    if context.startswith("kind-") and shutil.which("kind"):
        return ["kind", "load", "docker-image", "--name", context.removeprefix("kind-")]
    if context.startswith("k3d-") and shutil.which("k3d"):
        return ["k3d", "image", "import", "--cluster", context.removeprefix("k3d-")]
    if context == "minikube" and shutil.which("minikube"):
        return ["minikube", "image", "load"]
    return None


# --- the overlay, pointed at the pushed images ---------------------------------------------------


def overlay_for(
    project: Path,
    overlay: str,
    namespace: str,
    images: Mapping[str, str],
    work: Path,
    *,
    patches: Sequence[Doc] = (),
    config: Mapping[str, str] | None = None,
) -> Path:
    """Write a kustomization over `overlay` that sets the namespace and the images.

    `images` maps an image name as the overlay builds it (without tag) to the full
    reference to run instead. The service's `k8s/` folder is copied to `work`, so its own
    tree stays untouched; `patches` are kustomize patches (dicts) added as they are, and
    `config` literals are merged into the app's ConfigMap (`<project>-config`).
    """
    shutil.copytree(project / "k8s", work / "k8s", dirs_exist_ok=True)
    folder = work / "k8s" / "overlays" / "keelson-deploy"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, ref in images.items():
        new_name, new_tag = split_image(ref)
        entries.append({"name": name, "newName": new_name, "newTag": new_tag})
    kustomization: Doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": [f"../{Path(overlay).name}"],
        "images": entries,
    }
    if patches:
        kustomization["patches"] = list(patches)
    if config:
        project_name = read_answers(project)["project_name"]
        kustomization["configMapGenerator"] = [
            {
                "name": f"{project_name}-config",
                "behavior": "merge",
                "literals": [f"{key}={value}" for key, value in config.items()],
            }
        ]
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")
    return folder


def pull_if_not_present(docs: Sequence[Doc]) -> list[Doc]:
    """Return kustomize patches that make every workload container `IfNotPresent`.

    They cover every container of every Deployment and StatefulSet in `docs`. For images
    loaded into a kind, k3d or minikube node rather than pushed: the manifests say
    `Always`, with which the kubelet asks the image's registry first and fails on a name
    that was only ever loaded.
    """
    patches: list[Doc] = []
    for doc in docs:
        if doc.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        ops = [
            {"op": "add", "path": f"/spec/template/spec/{field}/{i}/imagePullPolicy",
             "value": "IfNotPresent"}
            for field in ("initContainers", "containers")
            for i, _container in enumerate(spec.get(field) or [])
        ]  # fmt: skip
        if ops:
            target = {"kind": doc["kind"], "name": doc["metadata"]["name"]}
            patches.append({"target": target, "patch": json.dumps(ops)})
    return patches


def containers_images(docs: Sequence[Doc]) -> dict[str, str]:
    """Kind/name/container -> image, for every workload container."""
    found = {}
    for doc in docs:
        template = (doc.get("spec") or {}).get("template")
        if not template:
            continue
        for container in template["spec"].get("containers", []):
            found[f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"] = container[
                "image"
            ]
    return found


# --- the Secrets an overlay leaves to the cluster ---------------------------------------------

# where a service keeps the dev database's password: the dev overlay's file, else compose's
DEV_PASSWORD_FILES = ("k8s/overlays/dev/secrets/db-password", ".secrets/db_password")
SecretFiles = Mapping[str, Mapping[str, Path]]


def unmade_secrets(docs: Sequence[Doc]) -> list[str]:
    """Names of the Secrets the workloads mount that the built objects do not hold."""
    made = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    mounted = {
        volume["secret"]["secretName"]
        for doc in docs
        if doc["kind"] in {"Deployment", "StatefulSet"}
        for volume in doc["spec"]["template"]["spec"].get("volumes", [])
        if "secret" in volume
    }
    return sorted(mounted - made)


def stand_in_secrets(project: Path, docs: Sequence[Doc]) -> dict[str, dict[str, Path]]:
    """Return the Secrets a throwaway namespace needs that the overlay expects to exist.

    The prod overlay generates no database Secret: it mounts `<project>-db` (key
    `db-password`), which the cluster's namespace holds, created out of band. A throwaway
    namespace has none, so it gets one from the service's dev password, the file the dev
    overlay and compose read (the database the deployment reaches must accept it). Other
    Secrets the overlay leaves to the cluster are not made up: the rollout shows them.

    Returns:
        Secret name -> key -> the file its value comes from.

    Raises:
        UsageError: The database Secret is needed and the service has no password file.

    """
    wanted = f"{read_answers(project)['project_name']}-db"
    if wanted not in unmade_secrets(docs):
        return {}
    for rel in DEV_PASSWORD_FILES:
        if (project / rel).is_file():
            return {wanted: {"db-password": project / rel}}
    raise UsageError(
        f"the overlay mounts the Secret {wanted} and {project} has no password to make it "
        f"from: write one to {DEV_PASSWORD_FILES[0]} (the README says how)"
    )


def secret_doc(name: str, namespace: str, files: Mapping[str, Path]) -> Doc:
    """Return a Secret with each file's bytes under its key, as `--from-file=key=path`."""
    data = {key: base64.b64encode(path.read_bytes()).decode("ascii") for key, path in files.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "keelson-verify"},
        },
        "type": "Opaque",
        "data": data,
    }


# --- applying and waiting ---------------------------------------------------------------------


@dataclass
class Deployment:
    """An overlay applied to a namespace: what it holds and where its app answers."""

    namespace: str
    docs: list[Doc]
    warnings: list[str]

    def named(self, kind: str) -> list[str]:
        """Names of the objects of one kind."""
        return [d["metadata"]["name"] for d in self.docs if d["kind"] == kind]

    @property
    def app(self) -> str:
        """The app Deployment's name."""
        (name,) = self.named("Deployment")
        return name

    @property
    def databases(self) -> list[str]:
        """The StatefulSets (the dev overlay's database)."""
        return self.named("StatefulSet")

    @property
    def service(self) -> Doc:
        """The app's Service (the one named like the Deployment)."""
        return next(
            d for d in self.docs if d["kind"] == "Service" and d["metadata"]["name"] == self.app
        )


def apply(
    kubectl: Kubectl, namespace: str, docs: Sequence[Doc], secrets: SecretFiles | None = None
) -> Deployment:
    """Create the namespace and `secrets`, then apply the objects server-side.

    `secrets` are Secrets the objects mount but do not hold (`stand_in_secrets`); their
    values go to kubectl on stdin, never on a command line.

    Raises:
        KubernetesError: The API server rejected something.

    """
    created = kubectl.run("apply", "-f", "-", stdin=json.dumps(namespace_doc(namespace)))
    if created.returncode != 0:
        raise KubernetesError(f"namespace {namespace}: {first_error(created.stderr)}")
    for name, files in (secrets or {}).items():
        made = kubectl.run("apply", "-f", "-", stdin=json.dumps(secret_doc(name, namespace, files)))
        if made.returncode != 0:
            raise KubernetesError(f"secret {name} in {namespace}: {first_error(made.stderr)}")
    result = kubectl.run(
        "apply", "--server-side", "--field-manager=keelson-verify", "-f", "-",
        stdin=yaml.safe_dump_all(docs),
    )  # fmt: skip
    if result.returncode != 0:
        raise KubernetesError(f"apply to {namespace}: {first_error(result.stderr)}")
    return Deployment(namespace, list(docs), warnings_of(result.stderr))


def rollout(kubectl: Kubectl, deployment: Deployment, timeout: float = 300) -> float:
    """Wait until every StatefulSet is ready and the Deployment Available; return seconds.

    Raises:
        KubernetesError: A rollout did not finish in time (the message has the pods' state).

    """
    start = time.monotonic()
    targets = [f"statefulset/{n}" for n in deployment.databases] + [f"deployment/{deployment.app}"]
    for target in targets:
        left = max(5.0, timeout - (time.monotonic() - start))
        result = kubectl.run(
            "rollout", "status", "-n", deployment.namespace, target, f"--timeout={int(left)}s",
            timeout=left + 30,
        )  # fmt: skip
        if result.returncode != 0:
            raise KubernetesError(
                f"{target} not ready in {timeout:.0f}s: {first_error(result.stderr)}; "
                + pod_states(kubectl, deployment.namespace)
            )
    return time.monotonic() - start


# --- keelson verify --kubernetes --deploy ----------------------------------------------------


def deploy_service(
    project_dir: str | Path,
    *,
    context: str | None = None,
    overlay: str = "dev",
    registry: str | None = None,
    keep: bool = False,
    namespace: str | None = None,
    standins: str = "auto",
    kubectl: str | None = None,
    timeout: float = 300,
    log: Callable[[str], None] = lambda _msg: None,
) -> Report:
    """Build, push, deploy, wait, probe and (unless `keep`) delete a service's overlay.

    Args:
        project_dir: The generated service.
        context: kubeconfig context (default: the current one).
        overlay: `dev` or `prod` (a folder under k8s/overlays).
        registry: Where to push the images (`host[:port][/path]`); the cluster pulls them
            from there. Without it the context must be a kind, k3d or minikube cluster.
        keep: Leave the namespace in place.
        namespace: The namespace (default: `keelson-verify-<random>`).
        standins: Base-image policy, as for `keelson verify`.
        kubectl: kubectl binary (default: `kubectl_command()`).
        timeout: Seconds the rollout may take.
        log: Progress messages.

    Returns:
        The report, in the table of `keelson verify`.

    Raises:
        UsageError: Not a service, no such overlay, no engine, or nowhere to put the image.
        KubernetesError: kubectl is missing or the cluster does not answer.

    """
    root = Path(project_dir).resolve()
    answers = read_answers(root)
    if not (root / "k8s" / "overlays" / overlay / "kustomization.yaml").is_file():
        raise UsageError(f"--overlay: {root}/k8s/overlays/{overlay} has no kustomization.yaml")
    if reason := engine_problem():
        raise UsageError(f"cannot deploy: no Docker engine answers: {reason}")
    client = Kubectl(kubectl or kubectl_command(), context)
    current = context or client.run("config", "current-context").stdout.strip()
    loader = None if registry else cluster_loader(current)
    if not registry and not loader:
        raise UsageError(
            "--registry: name a registry the cluster pulls from (host[:port][/path]); "
            f"context {current or '(none)'} is no kind, k3d or minikube cluster to load images into"
        )
    version = client.run("version", "-o", "json", timeout=30)
    if version.returncode != 0 or "serverVersion" not in version.stdout:
        raise KubernetesError(f"cannot reach the cluster: {first_error(version.stderr)}")
    namespace = namespace or f"keelson-verify-{uuid.uuid4().hex[:8]}"
    report = Report()
    stack = Stack(root)
    database = answers.get("database", "none")

    def build() -> tuple[bool, str]:
        ensure_images(required_images(root), policy=standins, log=log)
        log("building the image")
        stack.build()
        report.image = stack.image()
        return True, report.image

    if not _timed(report, "build", build):
        return report
    work = Path(tempfile.mkdtemp(prefix="keelson-deploy-"))
    try:
        _deploy_and_probe(
            client, root, overlay, namespace, report,
            ship=lambda built: _ship(built, report.image, registry, loader, log),
            work=work, timeout=timeout, has_db=database != "none", loaded=loader is not None,
        )  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if keep:
            log(f"kept namespace {namespace}")
        else:
            log(f"deleting namespace {namespace}")
            delete_namespace(client, namespace)
    return report


def _ship(
    built: list[Doc],
    app_image: str,
    registry: str | None,
    loader: list[str] | None,
    log: Callable[[str], None],
) -> dict[str, str]:
    """Push (or load) the app image as built and every other workload image as pulled."""
    images: dict[str, str] = {}
    for ref in sorted(set(containers_images(built).values())):
        name, _ = split_image(ref)
        source = app_image if name == split_image(app_image)[0] else ref
        if source != app_image and not _docker_has(source):
            _docker("pull", source)
        if registry:
            log(f"pushing {source} to {registry}")
            images[name] = push(source, registry)
        else:
            assert loader is not None
            subprocess.run([*loader, source], check=True, capture_output=True, timeout=900)
            images[name] = source
    return images


def _deploy_and_probe(
    client: Kubectl,
    root: Path,
    overlay: str,
    namespace: str,
    report: Report,
    *,
    ship: Callable[[list[Doc]], dict[str, str]],
    work: Path,
    timeout: float,
    has_db: bool,
    loaded: bool,
) -> None:
    """Ship the images, apply, wait for the rollout and probe, adding rows to the report."""
    images: dict[str, str] = {}
    built = build_overlay(client, root / "k8s" / "overlays" / overlay)

    def shipped() -> tuple[bool, str]:
        images.update(ship(built))
        return True, ", ".join(sorted(images.values()))

    if not _timed(report, "push images", shipped):
        return
    patches = pull_if_not_present(built) if loaded else []
    folder = overlay_for(root, f"k8s/overlays/{overlay}", namespace, images, work, patches=patches)
    deployed: list[Deployment] = []

    def deploy() -> tuple[bool, str]:
        docs = build_overlay(client, folder)
        secrets = stand_in_secrets(root, docs)
        deployed.append(apply(client, namespace, docs, secrets))
        warned = deployed[0].warnings
        detail = f"namespace {namespace} (enforce={LEVEL})"
        for name, files in secrets.items():
            sources = ", ".join(str(path.relative_to(root)) for path in files.values())
            detail += f"; Secret {name} from {sources}"
        return not warned, detail + (f"; warnings: {'; '.join(warned)}" if warned else "")

    if not _timed(report, "apply", deploy):
        return
    target = deployed[0]

    def wait() -> tuple[bool, str]:
        seconds = rollout(client, target, timeout)
        return True, f"{len(target.databases)} database(s) Ready, app Available in {seconds:.0f}s"

    if not _timed(report, "rollout", wait):
        return
    port = int(target.service["spec"]["ports"][0]["port"])
    with port_forward(client, namespace, f"service/{target.app}", port) as url:
        paths = ["/", "/healthz", "/readyz"]
        probe_endpoints(report, url, paths, has_db=has_db, where=" (via Service)")
    _timed(report, "runs as non-root", lambda: _pod_users(client, target))


def _docker_has(ref: str) -> bool:
    result = subprocess.run(
        [docker_command(), "image", "inspect", ref], capture_output=True, check=False, timeout=60
    )
    return result.returncode == 0


def _pod_users(client: Kubectl, deployment: Deployment) -> tuple[bool, str]:
    """Check the app pods' user and root filesystem as the API server reports them."""
    pods = client.json("get", "pods", "-n", deployment.namespace, "-l", _selector(deployment))
    details = []
    ok = bool(pods["items"])
    for pod in pods["items"]:
        spec = pod["spec"]
        for container in spec["containers"]:
            context = {
                **(spec.get("securityContext") or {}),
                **(container.get("securityContext") or {}),
            }
            user = context.get("runAsUser")
            read_only = context.get("readOnlyRootFilesystem", False)
            ok = ok and isinstance(user, int) and user != 0 and read_only is True
            details.append(f"{container['name']}: uid {user}, read-only root {read_only}")
    return ok, "; ".join(details)


def _selector(deployment: Deployment) -> str:
    doc = next(d for d in deployment.docs if d["kind"] == "Deployment")
    labels: Mapping[str, str] = doc["spec"]["selector"]["matchLabels"]
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


__all__ = [
    "Check",
    "Deployment",
    "apply",
    "cluster_loader",
    "deploy_service",
    "overlay_for",
    "pull_if_not_present",
    "push",
    "rollout",
    "secret_doc",
    "split_image",
    "stand_in_secrets",
    "unmade_secrets",
]
