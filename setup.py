"""Build hooks: the package version and the template bundled into the wheel.

The version has one home, the newest release heading of CHANGELOG.md
(`## [0.2.0] - 2026-12-01`); scripts/release.sh tags the same heading.

A wheel carries a copy of the template (copier.yml, templates/, includes/, the
migration script and the changelog) under generator/template/, plus SOURCE.json
with the commit it was built from and the checkout's `origin` remote, so an
installed keelson renders offline and services record a commit that exists in the
repository they name.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
# what a template checkout consists of: one list, in pyproject.toml
BUNDLED = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["keelson"][
        "template-files"
    ]
)
HEADING = re.compile(r"^## \[(?P<version>\d+\.\d+\.\d+[^\]]*)\]", re.MULTILINE)


def changelog_version() -> str:
    """Return the newest released version in CHANGELOG.md."""
    found = HEADING.search((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    if found is None:
        raise SystemExit("CHANGELOG.md has no release heading such as `## [0.1.0] - DATE`")
    return found["version"]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def source_info() -> dict[str, object]:
    """Describe the commit the template is bundled from, as copier records it."""
    if _git("rev-parse", "--show-toplevel") is None:
        # an sdist carries what its checkout said; anything else is unknown
        carried = ROOT / "SOURCE.json"
        if carried.is_file():
            return dict(json.loads(carried.read_text(encoding="utf-8")))
        return {"commit": None, "dirty": True}
    status = _git("status", "--porcelain", "--", *BUNDLED)
    return {
        # the same form copier writes to `_commit` (a tag, tag-N-gHASH or a hash)
        "commit": _git("describe", "--tags", "--always"),
        "dirty": bool(status),
        # where the checkout came from: `pip install git+URL` clones with origin = URL,
        # so a wheel built from a fork records that fork (generator/source.py)
        "origin": origin_url(),
    }


def origin_url() -> str | None:
    """Return the checkout's `origin` remote as every machine names it, or None."""
    url = _git("remote", "get-url", "origin")
    if not url:
        return None
    if re.match(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", url, re.IGNORECASE):
        return url
    # a path: relative to the checkout; other machines cannot reach it either way
    return str((ROOT / url).resolve())


class BuildWithTemplate(build_py):
    """Copy the template into the wheel's generator/template/."""

    def run(self) -> None:
        """Build as setuptools does, then bundle the template (not for editable installs)."""
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install renders the checkout itself
        target = Path(self.build_lib) / "generator" / "template"
        shutil.rmtree(target, ignore_errors=True)
        for name in BUNDLED:
            source = ROOT / name
            if not source.exists():
                continue  # building from an sdist that already carries the bundle
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(
                    source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]")
                )
            else:
                shutil.copy2(source, destination)
        (target / "SOURCE.json").write_text(json.dumps(source_info()) + "\n", encoding="utf-8")


class SdistWithSource(sdist):
    """Carry the commit an sdist was made from, for the wheel built from it."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        """Make the tree as setuptools does, then write SOURCE.json into it."""
        super().make_release_tree(base_dir, files)
        info = json.dumps(source_info()) + "\n"
        (Path(base_dir) / "SOURCE.json").write_text(info, encoding="utf-8")


setup(
    version=changelog_version(),
    cmdclass={"build_py": BuildWithTemplate, "sdist": SdistWithSource},
)
