"""The release machinery end to end on a probe image: two platforms, one index, signed.

The probe is a tiny static Go program cross-compiled for each platform on the
distroless static stand-in, the runtime base of keelson's Go services. The arm64 base
is the same stand-in re-labelled linux/arm64 (honest: it holds no executable code,
which a test checks), pushed under a per-platform name, because the engine's image
store keeps one platform per name.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.release.conftest import STATIC_BASE, Tools, run, unavailable

PROBE = """package main

import (
	"fmt"
	"runtime"
)

func main() { fmt.Println(runtime.GOOS + "/" + runtime.GOARCH) }
"""
DOCKERFILE = 'ARG BASE\nFROM ${BASE}\nCOPY probe /probe\nENTRYPOINT ["/probe"]\n'
PLATFORMS = ("amd64", "arm64")
INSECURE = "--allow-insecure-registry"


@dataclass(frozen=True)
class Release:
    """What the module fixture built and pushed."""

    registry: str
    repo: str
    tag: str
    index_digest: str
    arm64_base: str
    images: dict[str, str]  # arch -> pushed per-platform reference


def arm64_base(tools: Tools, registry: str) -> str:
    """The static stand-in as linux/arm64, under its per-platform name in the registry."""
    inspect = ["docker", "image", "inspect", STATIC_BASE]
    if subprocess.run(inspect, check=False, capture_output=True).returncode:
        unavailable(f"no {STATIC_BASE} stand-in (keelson verify builds it)")
    amd64 = f"{registry}/keelson-standin/linux-amd64/distroless/static-debian13:nonroot"
    arm64 = f"{registry}/keelson-standin/linux-arm64/distroless/static-debian13:nonroot"
    run("docker", "tag", STATIC_BASE, amd64)
    try:
        run("docker", "push", "-q", amd64)
    finally:
        run("docker", "rmi", amd64)
    run(
        tools.crane,
        "mutate",
        "--set-platform",
        "linux/arm64",
        "-l",
        "io.keelson.standin.platform=linux/arm64",
        "-t",
        arm64,
        amd64,
    )
    return arm64


def probe_source(work: Path) -> Path:
    """Write the probe's source and Dockerfile into work; return work."""
    (work / "main.go").write_text(PROBE)
    (work / "go.mod").write_text("module example.com/probe\n\ngo 1.22\n")
    (work / "Dockerfile").write_text(DOCKERFILE)
    return work


def build_and_push(tools: Tools, work: Path, ref: str, arch: str, base: str) -> str:
    """Cross-compile the probe, build its image for linux/arch on base, push it as ref.

    Returns the pushed image's digest reference; the local image stays (callers remove it).
    """
    run(
        tools.go,
        *("build", "-trimpath", "-o", work / "probe", "."),
        cwd=work,
        env={"GOOS": "linux", "GOARCH": arch, "CGO_ENABLED": "0"},
    )
    if base != STATIC_BASE:
        run("docker", "pull", "-q", base)
    # the engine's own (classic) builder: one platform per build, the platform taken
    # from the base image's config
    run(
        *("docker", "build", "-q", "--platform", f"linux/{arch}"),
        *("--build-arg", f"BASE={base}", "-t", ref, work),
        env={"DOCKER_BUILDKIT": "0"},
    )
    run("docker", "push", "-q", ref)
    return f"{ref.rsplit(':', 1)[0]}@{run(tools.crane, 'digest', ref).strip()}"


@pytest.fixture(scope="module")
def release(
    tools: Tools, registry: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Release]:
    work = probe_source(tmp_path_factory.mktemp("probe"))
    repo = f"{registry}/team/probe"
    base = {"amd64": STATIC_BASE, "arm64": arm64_base(tools, registry)}
    local = [base["arm64"]]
    images: dict[str, str] = {}
    try:
        for arch in PLATFORMS:
            local.append(f"{repo}:1.0-{arch}")
            images[arch] = build_and_push(tools, work, local[-1], arch, base[arch])
        manifests = [arg for arch in PLATFORMS for arg in ("-m", images[arch])]
        run(tools.crane, "index", "append", *manifests, "-t", f"{repo}:1.0")
        digest = run(tools.crane, "digest", f"{repo}:1.0").strip()
        yield Release(registry, repo, "1.0", digest, base["arm64"], images)
    finally:
        for ref in local:
            subprocess.run(["docker", "rmi", ref], capture_output=True, check=False)


def test_the_arm64_base_holds_no_executable_code_and_says_arm64(
    tools: Tools, release: Release
) -> None:
    config = json.loads(run(tools.crane, "config", release.arm64_base))
    assert (config["os"], config["architecture"]) == ("linux", "arm64")
    assert config["config"]["User"] == "65532"
    exported = subprocess.run(
        [str(tools.crane), "export", release.arm64_base, "-"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        elves = [m.name for m in tar if m.isfile() and tar.extractfile(m).read(4) == b"\x7fELF"]  # type: ignore[union-attr]
        names = tar.getnames()
    assert "etc/ssl/certs/ca-certificates.crt" in names
    assert elves == []


def test_one_index_lists_both_platforms(tools: Tools, release: Release) -> None:
    index = json.loads(run(tools.crane, "manifest", f"{release.repo}:{release.tag}"))
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    platforms = sorted(
        (m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]
    )
    assert platforms == [("linux", "amd64"), ("linux", "arm64")]


@pytest.mark.parametrize("arch", PLATFORMS)
def test_each_platform_runs(release: Release, arch: str) -> None:
    # arm64 runs under QEMU user emulation (binfmt_misc); the program reports what it is
    out = run("docker", "run", "--rm", "--platform", f"linux/{arch}", f"{release.repo}:1.0-{arch}")
    assert out.strip() == f"linux/{arch}"


def test_signature_and_sbom_attestation_verify_and_an_unsigned_lookalike_fails(
    tools: Tools, release: Release, tmp_path: Path
) -> None:
    keys = {"COSIGN_PASSWORD": ""}
    run(tools.cosign, "generate-key-pair", cwd=tmp_path, env=keys)
    key, pub = tmp_path / "cosign.key", tmp_path / "cosign.pub"
    signed = f"{release.repo}@{release.index_digest}"
    # no transparency log here (no network): key pair, signing config off
    no_tlog = ("--use-signing-config=false", "--tlog-upload=false", INSECURE, "--yes")
    sbom = tmp_path / "sbom.spdx.json"
    run(
        tools.syft,
        "scan",
        "-q",
        f"registry:{signed}",
        "--platform",
        "linux/arm64",
        "-o",
        f"spdx-json={sbom}",
    )
    packages = {p["name"]: p.get("versionInfo") for p in json.loads(sbom.read_text())["packages"]}
    assert "example.com/probe" in packages
    assert packages["stdlib"].startswith("go1.")
    run(tools.cosign, "sign", "--key", key, *no_tlog, signed, env=keys)
    run(
        tools.cosign,
        "attest",
        "--key",
        key,
        *no_tlog,
        "--type",
        "spdxjson",
        "--predicate",
        sbom,
        signed,
        env=keys,
    )

    tag = f"{release.repo}:{release.tag}"
    verify = (tools.cosign, "verify", "--key", pub, "--insecure-ignore-tlog", INSECURE)
    attested = (
        tools.cosign,
        "verify-attestation",
        "--key",
        pub,
        "--insecure-ignore-tlog",
        INSECURE,
        "--type",
        "spdxjson",
    )
    assert json.loads(run(*verify, tag))[0]["critical"]["image"]["docker-manifest-digest"] == (
        release.index_digest
    )
    statement = json.loads(run(*attested, tag).splitlines()[0])
    assert statement["payloadType"] == "application/vnd.in-toto+json"

    # negative control: an image never signed, pushed under the same tag
    run(tools.crane, "copy", release.images["amd64"], tag)
    assert run(tools.crane, "digest", tag).strip() != release.index_digest
    for command in (verify, attested):
        done = subprocess.run(
            [*map(str, command), tag], check=False, capture_output=True, text=True
        )
        assert done.returncode != 0, done.stdout


def test_buildkit_through_buildx_builds_a_foreign_platform_from_the_build_platform(
    tools: Tools, release: Release, tmp_path: Path
) -> None:
    # optional tool: only BuildKit knows BUILDPLATFORM/TARGETARCH (cross-compiling stages)
    buildx = tools.crane.parent / "docker-buildx"
    if not buildx.exists():
        pytest.skip("buildx not built (KEELSON_RELEASE_BUILDX=1 scripts/release-tools.sh build)")
    plugins = tmp_path / "docker" / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-buildx").symlink_to(buildx)
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE\n"
        "FROM --platform=$BUILDPLATFORM keelson-standin/debian:trixie AS build\n"
        "ARG TARGETARCH\n"
        'RUN echo "$TARGETARCH built on $(uname -m)" > /built\n'
        "FROM ${BASE}\n"
        "COPY --from=build /built /built\n"
    )
    ref = f"{release.repo}:buildx-arm64"
    env = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    run(
        *("docker", "buildx", "build", "--platform", "linux/arm64", "--load", "-q"),
        *("--build-arg", f"BASE={release.arm64_base}", "-t", ref, tmp_path),
        env=env,
    )
    try:
        assert run("docker", "image", "inspect", ref, "--format", "{{.Architecture}}").strip() == (
            "arm64"
        )
        run("docker", "push", "-q", ref)
        layer = subprocess.run(
            [str(tools.crane), "export", ref, "-"], capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
            built = tar.extractfile("built")
            assert built is not None
            assert built.read().decode().strip() == "arm64 built on x86_64"
    finally:
        subprocess.run(["docker", "rmi", ref], capture_output=True, check=False)
