"""The two-platform builder: buildx on a local BuildKit, bases from the local mirror.

A two-stage build as generated services make it: the build stage runs on the build
platform (the golang stand-in, amd64) and cross-compiles; the runtime stage is the
distroless static stand-in of each target platform, both reached as
``gcr.io/distroless/…`` and ``golang:…`` through the registry mirror.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from generator.images import arch_image, ensure_images
from tests.release.builder import RUNTIME_BASES, Builder
from tests.release.conftest import STATIC_BASE, Tools, run

GOLANG = "golang:1.27-trixie"
PROBE = """package main

import (
	"fmt"
	"runtime"
)

func main() { fmt.Println(runtime.GOOS + "/" + runtime.GOARCH) }
"""
DOCKERFILE = f"""FROM --platform=$BUILDPLATFORM {GOLANG} AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod main.go ./
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -o /out/probe .

FROM {STATIC_BASE}
COPY --from=build /out/probe /probe
ENTRYPOINT ["/probe"]
"""


@dataclass(frozen=True)
class Built:
    """The index the module fixture built and pushed."""

    ref: str
    index: dict[str, object]


@pytest.fixture(scope="module")
def built(builder: Builder, tools: Tools, tmp_path_factory: pytest.TempPathFactory) -> Built:
    builder.publish(GOLANG, STATIC_BASE)
    work = tmp_path_factory.mktemp("probe")
    (work / "main.go").write_text(PROBE)
    (work / "go.mod").write_text("module example.com/probe\n\ngo 1.22\n")
    (work / "Dockerfile").write_text(DOCKERFILE)
    ref = f"{builder.registry}/keelson-test/probe:two-platforms"
    run(
        *("docker", "buildx", "build", "--platform", "linux/amd64,linux/arm64"),
        *("--provenance", "mode=min", "--push", "--tag", ref, work),
        env=builder.env,
    )
    return Built(ref, json.loads(run(tools.crane, "manifest", ref)))


def platforms(index: dict[str, object]) -> set[str]:
    manifests = index.get("manifests")
    assert isinstance(manifests, list), index
    return {f"{m['platform']['os']}/{m['platform']['architecture']}" for m in manifests}


def test_the_builder_offers_both_platforms(builder: Builder) -> None:
    out = run("docker", "buildx", "inspect", builder.name, env=builder.env)
    listed = next(line for line in out.splitlines() if line.startswith("Platforms:"))
    assert "linux/amd64" in listed
    assert "linux/arm64" in listed


def test_the_mirror_holds_both_platforms_of_the_runtime_base(
    builder: Builder, tools: Tools
) -> None:
    index = json.loads(run(tools.crane, "manifest", builder.publish(STATIC_BASE)[0]))
    assert platforms(index) == {"linux/amd64", "linux/arm64"}


def test_one_index_lists_both_platforms(built: Built) -> None:
    # provenance attestations are listed as unknown/unknown beside the images
    assert platforms(built.index) - {"unknown/unknown"} == {"linux/amd64", "linux/arm64"}


@pytest.fixture
def pulled(built: Built, request: pytest.FixtureRequest) -> Iterator[str]:
    arch: str = request.param
    run("docker", "pull", "-q", "--platform", f"linux/{arch}", built.ref)
    yield built.ref
    run("docker", "rmi", built.ref)


@pytest.mark.parametrize("pulled", ["amd64", "arm64"], indirect=True)
def test_each_platform_runs_its_own_binary(pulled: str, request: pytest.FixtureRequest) -> None:
    arch = request.node.callspec.params["pulled"]
    image = json.loads(run("docker", "image", "inspect", pulled))[0]
    assert image["Architecture"] == arch
    out = run("docker", "run", "--rm", "--network", "none", "--platform", f"linux/{arch}", pulled)
    assert out.strip() == f"linux/{arch}"


@pytest.mark.parametrize(
    ("base", "command", "expected"),
    [
        (RUNTIME_BASES[1], ["-c", "import platform; print(platform.machine())"], "aarch64"),
        (RUNTIME_BASES[2], ["-p", "process.arch"], "arm64"),
    ],
    ids=["python3", "nodejs"],
)
def test_the_arm64_runtime_bases_run_their_runtime_under_emulation(
    base: str, command: list[str], expected: str
) -> None:
    ensure_images([base], arch="arm64")
    twin = arch_image(base, "arm64")
    image = json.loads(run("docker", "image", "inspect", twin))[0]
    assert image["Architecture"] == "arm64"
    run_options = ("--rm", "--network", "none", "--platform", "linux/arm64")
    assert run("docker", "run", *run_options, twin, *command).strip() == expected
