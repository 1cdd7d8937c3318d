"""Release tier: the tools and machinery of a signed, multi-platform release, proven here.

Needs the tools of scripts/release-tools.sh (cosign, syft, crane), a Docker engine, QEMU
emulation of linux/arm64 (scripts/setup.sh registers it), Go (to cross-compile the probe
program), Debian's docker-registry and the distroless static stand-in. Where the machine
cannot provide one of them the tier skips with the reason; under CI=true it fails instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.docker import engine_problem
from tests.kubernetes.conftest import cluster  # noqa: F401  # the kubernetes tier's node, shared
from tests.matrix import ROOT
from tests.release.builder import Builder, start_builder

TOOLS_SCRIPT = ROOT / "scripts" / "release-tools.sh"
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
STATIC_BASE = "gcr.io/distroless/static-debian13:nonroot"


def unavailable(reason: str) -> None:
    """Skip with the reason, or fail under CI, where a missing piece is a defect."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(reason)
    pytest.skip(reason)


def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a command; its stdout, or a failure showing its stderr."""
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, f"{args[:3]} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


@dataclass(frozen=True)
class Tools:
    """Paths of the release tools and the Go toolchain."""

    cosign: Path
    syft: Path
    crane: Path
    go: str

    @property
    def kustomize(self) -> Path:
        """kustomize, built beside the others (ci/release.sh pin runs `kustomize edit`)."""
        return self.crane.parent / "kustomize"


@pytest.fixture(scope="session")
def tools() -> Tools:
    done = subprocess.run([TOOLS_SCRIPT, "path"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        unavailable(f"release tools not built ({TOOLS_SCRIPT.name} build): {done.stderr.strip()}")
    if problem := engine_problem():
        unavailable(f"no Docker engine: {problem}")
    if not BINFMT.exists():
        unavailable("no linux/arm64 emulation: binfmt_misc has no qemu-aarch64 (scripts/setup.sh)")
    go = shutil.which("go") or next(
        (g for g in ("/usr/local/go/bin/go",) if Path(g).exists()), None
    )
    if go is None:
        unavailable("no Go toolchain to cross-compile the probe program")
    assert go is not None
    bin_dir = Path(done.stdout.strip())
    return Tools(bin_dir / "cosign", bin_dir / "syft", bin_dir / "crane", go)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_registry(folder: Path) -> Iterator[str]:
    """Debian's docker-registry on a free port of 127.0.0.1, storage in folder; its address."""
    server = shutil.which("docker-registry")
    if server is None:
        unavailable("no docker-registry (apt-get install docker-registry)")
    assert server is not None
    address = f"127.0.0.1:{_free_port()}"
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: warn, accesslog: {disabled: true}}\n"
        f"storage:\n  filesystem: {{rootdirectory: {folder / 'data'}}}\n"
        f"http:\n  addr: {address}\n"
    )
    log = (folder / "registry.log").open("w")
    proc = subprocess.Popen([server, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{address}/v2/", timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None, (folder / "registry.log").read_text()
                assert time.monotonic() < deadline, "docker-registry did not answer in 20 s"
                time.sleep(0.2)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry of this session's own."""
    with serve_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture(scope="session")
def builder(
    tools: Tools, registry: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Builder]:
    """A buildx builder for linux/amd64 and linux/arm64 whose bases come from registry.

    `Builder.publish` pushes stand-ins there (``builder.publish(STATIC_BASE)``); run
    ``docker buildx build`` (or a service's ci/release.sh) with `Builder.env`.
    """
    bin_dir = tools.crane.parent
    if not (bin_dir / "buildkitd").exists():
        unavailable(f"no buildkitd: {TOOLS_SCRIPT.name} build (KEELSON_RELEASE_BUILDX=1)")
    if os.geteuid() != 0 or shutil.which("runc") is None:
        unavailable("buildkitd's runc worker needs root and runc (Debian's runc package)")
    with start_builder(bin_dir, registry, tmp_path_factory.mktemp("builder")) as ready:
        yield ready
