"""Each language's generated service released by its own ci/release.sh, end to end.

For every language pack with database none, the service is rendered and released the
way both generated pipelines release it: `ci/release.sh build` (two platforms, one
index, pushed by digest), `sbom`, `sign`, `attest`, `verify`, `pin` and `deploy`, with a
cosign key pair made here instead of keyless signing (no transparency log here). The
script is configured only through the variables it documents, so what CI runs is what
this tier proves. Then: the arm64 image boots under QEMU, the SBOM lists the locked
dependencies, an unsigned look-alike under the same tag is rejected, and the pinned prod
overlay runs the signed digest on the test cluster (tests/kubernetes' cluster fixture).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from generator import packs
from generator.images import required_images
from generator.kubernetes import build_overlay, delete_namespace, namespace_doc
from tests.kubernetes.conftest import Cluster
from tests.matrix import MATRIX, ROOT, render
from tests.release.builder import Builder
from tests.release.conftest import Tools, run

LANGUAGES = sorted({c["language"] for c in MATRIX if c["database"] == "none"})
TAG = "v1.0.0"
PLATFORMS = ("linux/amd64", "linux/arm64")
# no transparency log and a plain-HTTP registry on 127.0.0.1: the flags ci/release.sh
# documents for that case; the hosted pipelines sign keyless with Rekor
SIGN_FLAGS = "--use-signing-config=false --tlog-upload=false --allow-insecure-registry"
VERIFY_FLAGS = "--insecure-ignore-tlog --allow-insecure-registry"


@dataclass(frozen=True)
class Shipped:
    """One service after `ci/release.sh build`: where it is and how to call its script."""

    language: str
    project: Path
    image: str
    digest: str
    env: dict[str, str]

    def release(self, *args: str, **extra: str) -> str:
        """Run ci/release.sh with this release's environment (plus extra); its stdout."""
        return run(self.project / "ci" / "release.sh", *args, env={**self.env, **extra})

    def attempt(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """Run ci/release.sh and return the outcome, failed or not."""
        return subprocess.run(
            [str(self.project / "ci" / "release.sh"), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            env={**os.environ, **self.env, **extra},
        )


@pytest.fixture(scope="module", params=LANGUAGES)
def shipped(
    request: pytest.FixtureRequest,
    tools: Tools,
    builder: Builder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Shipped]:
    language: str = request.param
    root = tmp_path_factory.mktemp(f"release-{language}")
    name = f"release-{language}"
    project = render(
        root / name, project_name=name, language=language, database="none", ci="github"
    )
    # the stand-ins of its bases, in the mirror the builder reads docker.io and gcr.io from
    builder.publish(*required_images(project))
    run(tools.cosign, "generate-key-pair", cwd=root, env={"COSIGN_PASSWORD": ""})
    image = f"{builder.registry}/team/{language}-service"
    env = {
        **builder.env,
        "IMAGE": image,
        "TAG": TAG,
        "PLATFORMS": ",".join(PLATFORMS),
        "OUT": str(root / "out"),
        "COSIGN": str(tools.cosign),
        "SYFT": str(tools.syft),
        "KUSTOMIZE": str(tools.kustomize),
        "COSIGN_KEY": str(root / "cosign.key"),
        "COSIGN_PASSWORD": "",
        "COSIGN_SIGN_FLAGS": SIGN_FLAGS,
        "COSIGN_VERIFY_FLAGS": VERIFY_FLAGS,
    }
    printed = run(project / "ci" / "release.sh", "build", env=env).strip()
    digest = (root / "out" / "digest").read_text().strip()
    assert printed == f"{image}@{digest}"
    yield Shipped(language, project, image, digest, env)


def test_build_pushes_one_index_of_both_platforms_under_the_tag(
    tools: Tools, shipped: Shipped
) -> None:
    tagged = f"{shipped.image}:{TAG.removeprefix('v')}"
    assert run(tools.crane, "digest", tagged).strip() == shipped.digest
    index = json.loads(run(tools.crane, "manifest", tagged))
    platforms = sorted(
        f"{m['platform']['os']}/{m['platform']['architecture']}"
        for m in index["manifests"]
        if m["platform"]["os"] != "unknown"  # BuildKit's attestation manifests
    )
    assert platforms == list(PLATFORMS)


def test_the_arm64_image_boots_under_emulation_and_answers_healthz_as_10001(
    shipped: Shipped,
) -> None:
    ref = f"{shipped.image}@{shipped.digest}"
    run("docker", "pull", "-q", "--platform", "linux/arm64", ref)
    try:
        inspected = run("docker", "image", "inspect", ref, "--format", "{{.Os}}/{{.Architecture}}")
        assert inspected.strip() == "linux/arm64"
        # smoke: GET /healthz answers and the process runs as UID 10001 (the script checks)
        done = shipped.attempt("smoke", SMOKE_IMAGE=ref)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "as UID 10001" in done.stderr
    finally:
        subprocess.run(["docker", "rmi", ref], capture_output=True, check=False)


def _normal(name: str) -> str:
    """A package name as PEP 503 compares it (npm and Go names pass unchanged)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(project: Path) -> dict[str, str]:
    """The service's locked runtime dependencies, name to version, read from its lockfile."""
    if (requirements := project / "requirements.txt").is_file():
        pins = re.findall(r"^([A-Za-z0-9._-]+)==([^ \\\n]+)", requirements.read_text(), re.M)
        return {_normal(n): v for n, v in pins}
    if (npm := project / "package-lock.json").is_file():
        packages = json.loads(npm.read_text())["packages"]
        return {
            path.rsplit("node_modules/", 1)[-1]: meta["version"]
            for path, meta in packages.items()
            if path and not meta.get("dev")
        }
    if (sums := project / "go.sum").is_file():
        lines = sums.read_text().split("\n")
        return {
            line.split()[0]: line.split()[1]
            for line in lines
            if line.strip() and not line.split()[1].endswith("/go.mod")
        }
    raise AssertionError(f"no lockfile reader for {sorted(p.name for p in project.iterdir())}")


def test_the_sbom_lists_the_locked_dependencies_with_their_versions(shipped: Shipped) -> None:
    shipped.release("sbom")
    sbom = json.loads((Path(shipped.env["OUT"]) / "sbom.spdx.json").read_text())
    assert sbom["spdxVersion"].startswith("SPDX-")
    listed = {(_normal(p["name"]), p.get("versionInfo")) for p in sbom["packages"]}
    expected = locked(shipped.project)
    missing = {(n, v) for n, v in expected.items() if (_normal(n), v) not in listed}
    assert not missing, f"locked but not in the SBOM: {sorted(missing)}"
    if not expected:
        # a service with no module dependencies (one static binary): its toolchain's
        # standard library, at the release its Dockerfile builds with
        arg = packs.load(ROOT, shipped.language).version_arg
        release = re.search(
            rf"^ARG {arg}=(\S+)", (shipped.project / "Dockerfile").read_text(), re.M
        )
        assert release is not None
        versions = {n: v for n, v in listed}
        assert release.group(1) in versions["stdlib"]
    else:
        assert len(expected) >= 5, expected


def test_signature_and_attestations_verify_and_an_unsigned_lookalike_fails(
    tools: Tools, shipped: Shipped
) -> None:
    shipped.release("sbom")
    shipped.release("sign")
    shipped.release("attest")
    done = shipped.attempt("verify")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "signature and attestations (spdxjson, slsaprovenance) verified" in done.stderr

    # negative control: an image never signed, pushed under the release's tag
    tagged = f"{shipped.image}:{TAG.removeprefix('v')}"
    run(tools.crane, "mutate", "--label", "lookalike=1", "--platform", "linux/amd64", tagged)
    lookalike = run(tools.crane, "digest", tagged).strip()
    assert lookalike != shipped.digest
    rejected = shipped.attempt("verify", DIGEST=lookalike)
    assert rejected.returncode != 0, rejected.stderr
    assert (
        "no signatures found" in rejected.stderr.lower() or "no matching" in rejected.stderr.lower()
    ), rejected.stderr[-1000:]
    # the signed digest still verifies: signatures follow digests, not tags
    assert shipped.attempt("verify").returncode == 0


def test_the_pinned_prod_overlay_runs_the_signed_digest_on_the_cluster(
    tools: Tools, shipped: Shipped, cluster: Cluster
) -> None:
    # the node pulls from its own registry: the index moves there unchanged (same digest)
    image = f"{cluster.registry}/team/{shipped.language}-service"
    run(
        tools.crane, "copy", f"{shipped.image}@{shipped.digest}", f"{image}:{TAG.removeprefix('v')}"
    )
    assert run(tools.crane, "digest", f"{image}@{shipped.digest}").strip() == shipped.digest
    shipped.release("pin", IMAGE=image)
    prod = yaml.safe_load((shipped.project / "k8s/overlays/prod/kustomization.yaml").read_text())
    (deployment,) = [
        d
        for d in build_overlay(cluster.client, shipped.project / "k8s/overlays/prod")
        if d["kind"] == "Deployment"
    ]
    pinned = f"{image}:{TAG.removeprefix('v')}@{shipped.digest}"
    assert [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]] == [pinned]
    namespace = prod["namespace"]
    cluster.run("apply", "-f", "-", stdin=yaml.safe_dump(namespace_doc(namespace)), check=True)
    try:
        shipped.release(
            "deploy", IMAGE=image, KUBECTL=cluster.kubectl, KUBECONFIG=str(cluster.kubeconfig)
        )
        pods = cluster.json("get", "pods", "-n", namespace, "-o", "json")["items"]
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        assert running, pods
        for pod in running:
            (status,) = pod["status"]["containerStatuses"]
            assert status["ready"], status
            assert status["imageID"].endswith(f"@{shipped.digest}"), status["imageID"]
    finally:
        delete_namespace(cluster.client, namespace, wait=True)
