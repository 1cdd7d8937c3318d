"""Building stand-ins, and `ensure_images`: make every base image a project needs present.

The policy (`POLICIES`) says whether a missing image is pulled, built, or refused;
stand-ins are built once per machine (serialised by a lock across processes) and
rebuilt when their recipe changed.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from generator.docker import (
    build,
    discard_image,
    engine_arch,
    engine_problem,
    image_id,
    image_labels,
    run_docker,
    try_pull,
)
from generator.errors import StandInError
from generator.images.base import BASE_IMAGE, build_base, is_stale, recipe_digest
from generator.images.fetch import fetch_packages
from generator.images.labels import (
    RECIPE_LABEL,
    RUNTIME_LABEL,
    STANDIN_LABEL,
    VERSION_LABEL,
)
from generator.images.recipes import (
    ARCHES,
    FOREIGN_ARCH_KINDS,
    Recipe,
    arch_image,
    recipe_for,
    version_matches,
)
from generator.images.refs import parse_ref
from generator.locks import locked

__all__ = ["POLICIES", "PULL_TIMEOUT", "ImageResult", "ensure_images"]

POLICIES = ("auto", "build", "never")
"""What `ensure_images` may do: see its docstring."""

PULL_TIMEOUT = 20.0
"""Seconds a registry pull may take before keelson gives up on the registry."""

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


def _machine_lock() -> contextlib.AbstractContextManager[None]:
    """Serialise stand-in builds across processes (pytest workers, parallel CLIs)."""
    return locked(LOCK_FILE)


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


def _build_context(recipe: Recipe, context: Path, log: Log, arch: str) -> dict[str, str]:
    """Fill a build context for a recipe; return the build args it settled on."""
    source = recipe.context
    if source is None or not (source / "Dockerfile").is_file():
        raise StandInError(f"stand-in recipe {source}/Dockerfile is missing")
    for item in source.iterdir():
        if item.is_file():
            shutil.copy2(item, context / item.name)
    _copy_extra_cas(context)
    # a stage may bind-mount dist/ even when this recipe fetches nothing into it
    (context / "dist").mkdir(exist_ok=True)
    return {"BASE": BASE_IMAGE, **recipe.build_args, **fetch_packages(recipe, context, log, arch)}


def _probe_version(image: str, recipe: Recipe, arch: str) -> str:
    entry, *rest = recipe.probe
    run_options = ("--rm", "--network", "none", "--platform", f"linux/{arch}")
    out = run_docker(
        *("run", *run_options, "--entrypoint", entry, image, *rest),
        what=f"reading the runtime version of {image}",
        error=StandInError,
        timeout=120,
    ).stdout
    if m := re.search(recipe.probe_pattern, out):
        return m.group(1)
    raise StandInError(f"{image}: cannot read a version from {out.strip()[:200]!r}")


def _stamp(source: str, target: str, recipe: Recipe, version: str, arch: str) -> None:
    """Tag source as target with the stand-in labels (and the official version variable)."""
    lines = [f"FROM {source}"]
    if recipe.version_env:
        lines.append(f"ENV {recipe.version_env}={version}")
    labels = {
        STANDIN_LABEL: "1",
        RUNTIME_LABEL: recipe.runtime,
        VERSION_LABEL: version,
        RECIPE_LABEL: recipe_digest(recipe.folders),
    }
    build(
        "-",
        tag=target,
        options=["--quiet", "--platform", f"linux/{arch}"],
        labels=labels,
        dockerfile_text="\n".join(lines) + "\n",
        what=f"labelling {target}",
        error=StandInError,
        timeout=None,
    )


def _intermediate_tag(image: str) -> str:
    ref = parse_ref(image)
    repo = re.sub(r"[^a-z0-9]+", "-", ref.repo).strip("-")
    return f"keelson-standin/build-{repo}:{ref.tag}"


def _remove(image: str) -> None:
    run_docker("rmi", image, what=f"removing {image}", error=StandInError, timeout=None)


def _build_standin(image: str, recipe: Recipe, log: Log, arch: str, name: str) -> str:
    """Build, check and tag the stand-in for image as name; return the runtime version inside.

    For a foreign arch, name is `arch_image` (and so are the images it starts from) and
    the version probe runs under QEMU.
    """
    if recipe.kind == "debian":
        base_labels = image_labels(BASE_IMAGE) or {}
        version = base_labels.get(VERSION_LABEL, "")
        if not version_matches(recipe.claim, version):
            raise StandInError(f"{BASE_IMAGE} holds Debian {version!r}, not {recipe.claim}")
        run_docker("tag", BASE_IMAGE, image, error=StandInError, timeout=None)
        return version
    with tempfile.TemporaryDirectory(prefix=f"keelson-{recipe.kind}-") as tmp:
        context = Path(tmp)
        args = _build_context(recipe, context, log, arch)
        if name != image:
            args = {k: arch_image(v, arch) if v in recipe.requires else v for k, v in args.items()}
        staging = _intermediate_tag(name)
        log(f"{image}: docker build (stand-in {recipe.kind}, linux/{arch})")
        build(
            context,
            tag=staging,
            options=["--platform", f"linux/{arch}"],
            target=recipe.target,
            build_args=args,
            labels={STANDIN_LABEL: "1"},
            what=f"building the stand-in for {image}",
            error=StandInError,
            timeout=None,
        )
    if recipe.probe:
        version = _probe_version(staging, recipe, arch)
    else:
        version = (image_labels(BASE_IMAGE) or {}).get(VERSION_LABEL, "")
    if not version_matches(recipe.claim, version):
        _remove(staging)
        raise StandInError(
            f"{image}: the stand-in holds {recipe.runtime} {version}, not {recipe.claim}; "
            "refusing to tag it under a name it does not match"
        )
    _stamp(staging, name, recipe, version, arch)
    _remove(staging)
    return version


def _default_log(message: str) -> None:
    print(f"keelson images: {message}", file=sys.stderr, flush=True)


def ensure_images(
    images: Iterable[str],
    policy: str = "auto",
    log: Log = _default_log,
    *,
    pull_timeout: float = PULL_TIMEOUT,
    arch: str | None = None,
) -> list[ImageResult]:
    """Make sure every image exists in the local Docker engine.

    For an architecture other than the engine's (``arch="arm64"`` on an amd64 engine)
    the stand-ins are built for that platform under `arch_image` names; only the
    distroless runtime bases have such twins, and nothing is pulled for them.

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
        arch: The CPU architecture to build for, one of `ARCHES` (default: the engine's).

    Returns:
        One `ImageResult` per distinct image, in order.

    Raises:
        StandInError: The policy is unknown, the Docker engine does not answer, an
            image cannot be had (no registry and no honest stand-in), or a build failed.

    """
    if policy not in POLICIES:
        raise StandInError(f"unknown stand-in policy {policy!r}: use one of {', '.join(POLICIES)}")
    if arch is not None and arch not in ARCHES:
        raise StandInError(f"unknown architecture {arch!r}: use one of {', '.join(ARCHES)}")
    wanted = list(dict.fromkeys(i.strip() for i in images if i.strip()))
    if not wanted:
        return []
    if problem := engine_problem():
        raise StandInError(
            f"the Docker engine does not answer ({problem}): start dockerd "
            "and wait for `docker info`"
        )
    # refuse unbuildable images before spending minutes on the others
    native = engine_arch()
    session = _Session(arch=arch or native, native=native)
    recipes: dict[str, Recipe | StandInError] = {}
    for image in wanted:
        try:
            recipes[image] = session.recipe(image)
        except StandInError as exc:
            recipes[image] = exc

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
            discard_image(image_id, BASE_IMAGE)
    return results


@dataclass
class _Session:
    """State shared by the images of one `ensure_images` call."""

    arch: str
    native: str
    base_built: bool = False
    replaced: list[str] = field(default_factory=list)
    done: set[str] = field(default_factory=set)

    def name(self, image: str) -> str:
        """Name the local stand-in of image for this call's architecture."""
        return image if self.arch == self.native else arch_image(image, self.arch)

    def recipe(self, image: str) -> Recipe:
        """Find the recipe of image; refuse one with no twin for a foreign architecture."""
        found = recipe_for(image)
        if self.arch != self.native and found.kind not in FOREIGN_ARCH_KINDS:
            raise StandInError(
                f"{image}: no linux/{self.arch} stand-in; only the distroless runtime bases "
                f"are built for a foreign architecture (build stages run on linux/{self.native})"
            )
        return found


def _ensure_one(
    image: str,
    recipe: Recipe | StandInError,
    *,
    policy: str,
    log: Log,
    pull_timeout: float,
    session: _Session,
) -> ImageResult:
    """Apply the policy to one image."""
    session.done.add(image)
    start = time.monotonic()
    name = session.name(image)
    labels = image_labels(name)
    stale = (
        labels is not None
        and not isinstance(recipe, StandInError)
        and is_stale(labels, recipe.folders)
    )
    if labels is not None and (policy == "never" or (policy == "auto" and not stale)):
        if stale:
            log(f"{image}: stand-in built from an older recipe (policy never: kept)")
        return _result(image, "local", labels, start)
    pullable = name == image and policy != "build"
    if labels is None and pullable and try_pull(image, pull_timeout, log):
        return _result(image, "pulled", image_labels(image) or {}, start)
    if isinstance(recipe, StandInError):
        raise recipe
    if policy == "never":
        raise StandInError(
            f"{image} is not present and no registry answered; stand-ins are off "
            "(policy never): rerun with `--standins auto` to build one"
        )
    if stale:
        log(f"{image}: stand-in built from an older recipe; rebuilding")
    base = image_labels(BASE_IMAGE)
    if (policy == "build" and not session.base_built) or base is None or is_stale(base, ()):
        started = time.monotonic()
        old_base = image_id(BASE_IMAGE)
        release = build_base(log)
        session.base_built = True
        if old_base:
            session.replaced.append(old_base)
        log(f"{BASE_IMAGE}: Debian {release} built in {time.monotonic() - started:.0f} s")
    # the image the stand-in builds on (distroless python3 on static), first
    for needed in recipe.requires:
        if needed not in session.done:
            _ensure_one(
                needed,
                session.recipe(needed),
                policy=policy,
                log=log,
                pull_timeout=pull_timeout,
                session=session,
            )
    old = image_id(name) if labels is not None and labels.get(STANDIN_LABEL) == "1" else None
    version = _build_standin(image, recipe, log, session.arch, name)
    discard_image(old, name)
    elapsed = time.monotonic() - start
    log(f"{image}: stand-in with {recipe.runtime} {version} built in {elapsed:.0f} s")
    return _result(image, "built", image_labels(name) or {}, start)


def _result(image: str, source: Source, labels: dict[str, str], start: float) -> ImageResult:
    standin = labels.get(STANDIN_LABEL) == "1"
    return ImageResult(
        image=image,
        source=source,
        standin=standin,
        runtime_version=labels.get(VERSION_LABEL) if standin else None,
        seconds=round(time.monotonic() - start, 1),
    )
