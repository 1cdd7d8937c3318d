"""A two-platform BuildKit builder for the release tier, made of local parts only.

What hosted CI gets from `docker/setup-buildx-action` (a BuildKit daemon that builds
linux/amd64 and linux/arm64 and pushes one index), built here without Docker Hub:

- ``buildkitd`` from scripts/release-tools.sh (the Go module proxy), run as a host
  process with the runc worker and host networking, and registered with
  ``docker buildx create --driver remote``. The docker-container driver would need the
  moby/buildkit image, and the engine's own BuildKit keeps one platform per image name.
  Foreign-platform RUN steps run under the QEMU emulation scripts/setup.sh registers.
- one registry on 127.0.0.1 that is both BuildKit's mirror for docker.io and gcr.io
  (plain http) and where builds push, so ``FROM golang:…`` and
  ``FROM gcr.io/distroless/…`` resolve to the stand-ins `Builder.publish` pushes there.

Docker's client configuration (the buildx plugin link and the builder's record) lives
in a folder of the run (``DOCKER_CONFIG`` in `Builder.env`), so nothing of the user's
changes. BuildKit's state (its build cache) stays under the Kubernetes cache between
runs; a second run at the same time gets a state folder of its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from generator.docker import engine_arch
from generator.images import ARCHES, FOREIGN_ARCH_KINDS, arch_image, ensure_images, recipe_for
from generator.images.refs import parse_ref

MIRRORED = ("docker.io", "gcr.io")
"""Registries BuildKit reads from the local registry instead."""
CACHE_ROOT = Path(
    os.environ.get("KEELSON_KUBE_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "keelson" / "kubernetes"
)
STATE = CACHE_ROOT / "buildkit"
READY_SECONDS = 60
RUNTIME_BASES = (
    "gcr.io/distroless/static-debian13:nonroot",
    "gcr.io/distroless/python3-debian13:nonroot",
    "gcr.io/distroless/nodejs24-debian13:nonroot",
)
"""The runtime bases of go, python and node (copier.yml's default versions) with database
none: what `python -m tests.release.builder` builds for every platform ahead of the tier."""


def mirror_path(image: str) -> str:
    """The repository path of image inside a mirror of its registry.

    ``golang:1.27-trixie`` is ``library/golang:1.27-trixie`` (Docker Hub's official
    images), ``gcr.io/distroless/static-debian13:nonroot`` is
    ``distroless/static-debian13:nonroot``.
    """
    ref = parse_ref(image)
    host, _, rest = ref.repo.partition("/")
    if "." in host or ":" in host:
        if host not in MIRRORED:
            msg = f"{image}: only {', '.join(MIRRORED)} are mirrored"
            raise ValueError(msg)
        return f"{rest}:{ref.tag}"
    return f"{ref.repo if rest else 'library/' + ref.repo}:{ref.tag}"


def buildkitd_config(state: Path, socket: Path, registry: str) -> str:
    """BuildKit's configuration: runc on the host network, the registry as mirror."""
    mirrors = "".join(f'[registry."{name}"]\n  mirrors = ["{registry}"]\n' for name in MIRRORED)
    return (
        f'root = "{state}"\n'
        f'[grpc]\n  address = ["unix://{socket}"]\n'
        # host networking, as the docker-container driver's network=host: RUN steps
        # reach the package registries the way the engine's builds do
        '[worker.oci]\n  enabled = true\n  snapshotter = "overlayfs"\n'
        '  networkMode = "host"\n  gc = true\n  gckeepstorage = "6GB"\n'
        "[worker.containerd]\n  enabled = false\n"
        f"{mirrors}"
        f'[registry."{registry}"]\n  http = true\n  insecure = true\n'
    )


def _run(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if done.returncode:
        msg = (
            f"{' '.join(str(a) for a in args[:4])} exited {done.returncode}: {done.stderr[-2000:]}"
        )
        raise RuntimeError(msg)
    return done.stdout


@dataclass(frozen=True)
class Builder:
    """A ready buildx builder and the registry it reads bases from and pushes to.

    Attributes:
        name: The buildx builder (``docker buildx build --builder NAME``).
        registry: ``127.0.0.1:PORT``: the mirror of docker.io and gcr.io, and a push target.
        env: Environment for ``docker buildx`` (``DOCKER_CONFIG``, ``BUILDX_BUILDER``).
        crane: The crane binary.

    """

    name: str
    registry: str
    env: dict[str, str]
    crane: Path

    def publish(self, *images: str) -> list[str]:
        """Push the stand-ins of images to the mirror, as one index per image.

        A distroless runtime base gets linux/amd64 and linux/arm64 (built if missing);
        a build-stage base (golang, node, python) the engine's platform only: build
        stages run on ``$BUILDPLATFORM``. Returns the mirror references pushed.
        """
        native = engine_arch()
        pushed = []
        for image in images:
            twins = recipe_for(image).kind in FOREIGN_ARCH_KINDS
            target = f"{self.registry}/{mirror_path(image)}"
            manifests = [
                self._push(image, arch, native, target) for arch in (ARCHES if twins else (native,))
            ]
            args = [a for m in manifests for a in ("-m", m)]
            _run(self.crane, "index", "append", *args, "-t", target)
            pushed.append(target)
        return pushed

    def _push(self, image: str, arch: str, native: str, target: str) -> str:
        """Push image's stand-in for arch under a per-platform tag; its digest reference."""
        ensure_images([image], arch=arch)
        local = image if arch == native else arch_image(image, arch)
        with tempfile.TemporaryDirectory(prefix="keelson-publish-") as tmp:
            archive = Path(tmp) / "image.tar"
            _run("docker", "save", "-o", archive, local)
            return _run(self.crane, "push", archive, f"{target}-linux-{arch}").strip()


@contextlib.contextmanager
def _state_folder(fallback: Path) -> Iterator[Path]:
    """BuildKit's state: the cached one, or fallback when another run holds it."""
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE.parent / "buildkit.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield fallback
            return
        yield STATE


@contextlib.contextmanager
def start_builder(bin_dir: Path, registry: str, folder: Path) -> Iterator[Builder]:
    """Run buildkitd and register it with buildx; stop both on exit.

    Args:
        bin_dir: The release tools' bin folder (buildkitd, buildctl, docker-buildx, crane).
        registry: The registry on 127.0.0.1 that mirrors docker.io and gcr.io.
        folder: A folder of this run for the socket, configuration and logs.

    """
    socket = folder / "buildkitd.sock"
    docker_config = folder / "docker"
    plugins = docker_config / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-buildx").symlink_to(bin_dir / "docker-buildx")
    name = f"keelson-{os.getpid()}"
    env = {"DOCKER_CONFIG": str(docker_config), "BUILDX_BUILDER": name}
    with _state_folder(folder / "state") as state, (folder / "buildkitd.log").open("w") as log:
        config = folder / "buildkitd.toml"
        config.write_text(buildkitd_config(state, socket, registry))
        proc = subprocess.Popen([bin_dir / "buildkitd", "--config", config], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + READY_SECONDS
            while subprocess.run(
                [bin_dir / "buildctl", "--addr", f"unix://{socket}", "debug", "workers"],
                capture_output=True,
                check=False,
            ).returncode:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = (folder / "buildkitd.log").read_text()[-2000:]
                    msg = f"buildkitd did not answer in {READY_SECONDS} s: {tail}"
                    raise RuntimeError(msg)
                time.sleep(0.2)
            docker = ["docker", "buildx"]
            _run(
                *docker, "create", "--name", name, "--driver", "remote", f"unix://{socket}", env=env
            )
            _run(*docker, "inspect", "--bootstrap", name, env=env)
            yield Builder(name, registry, env, bin_dir / "crane")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    """Build the stand-ins of `RUNTIME_BASES` for every platform (scripts/test.sh runs it
    in the background, so the release tier finds them built)."""
    for arch in ARCHES:
        for result in ensure_images(RUNTIME_BASES, arch=arch):
            print(f"{result.image} linux/{arch}: {result.source} in {result.seconds:.0f} s")


if __name__ == "__main__":
    main()
