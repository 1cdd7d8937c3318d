"""A template's releases: its version tags in order, and its changelog between two.

Versions are read as copier reads them: a PEP 440 release tag, or `git describe`
output for a commit after one. `keelson check`, `keelson update` and the team
catalogue's pins all count releases here.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from packaging.version import InvalidVersion, Version

from generator.errors import KeelsonError, one_line
from generator.git import git, show_at
from generator.repository import DESCRIBED, git_url

CHANGELOG = "CHANGELOG.md"
_HEADING = re.compile(r"^##\s+\[?(?P<version>[^\]\s]+)\]?")


def parse_version(ref: str | None) -> Version | None:
    """Read a version from a release tag or a `git describe` string, as copier does.

    Returns:
        The version; None for a ref that is not one (a branch, a commit).

    """
    if not ref:
        return None
    if match := DESCRIBED.match(ref):
        ref = f"{match['tag']}.post{match['count']}+g{match['hash']}"
    try:
        return Version(ref)
    except InvalidVersion:
        return None


def release_version(tag: str) -> Version:
    """Read the version of a tag `release_tags` listed."""
    version = parse_version(tag)
    if version is None:  # pragma: no cover - release_tags only returns versions
        raise ValueError(tag)
    return version


def release_tags(src: str) -> list[str]:
    """List a template's release tags (PEP 440 versions, no pre-releases), oldest first.

    Args:
        src: The template's git URL or local path.

    Raises:
        KeelsonError: git cannot list the template's tags.

    """
    repo = git_url(src)
    if Path(repo).expanduser().is_dir():
        repo = str(Path(repo).expanduser().resolve())
    listed = git("ls-remote", "--tags", "--refs", "--", repo, cwd=Path.cwd(), check=False)
    if listed.returncode != 0:
        detail = one_line(listed.stderr)
        raise KeelsonError(f"cannot list the versions of the template {src}: {detail}")
    tags: dict[str, Version] = {}
    for line in listed.stdout.splitlines():
        tag = line.partition("\t")[2].removeprefix("refs/tags/")
        version = parse_version(tag)
        if version is not None and not version.is_prerelease:
            tags[tag] = version
    return sorted(tags, key=tags.__getitem__)


def is_current(src: str, version: str | None) -> bool:
    """Whether `version` is the template's newest release tag, or later."""
    have = parse_version(version)
    tags = release_tags(src)
    return have is not None and bool(tags) and have >= release_version(tags[-1])


def read_changelog(src: str, ref: str) -> str | None:
    """Return the template's CHANGELOG.md at `ref`, or None when it has none.

    Args:
        src: The template's git URL or local path.
        ref: The tag to read it at.

    """
    repo = git_url(src)
    local = Path(repo).expanduser()
    if local.is_dir():
        return show_at(local, ref, CHANGELOG)
    with tempfile.TemporaryDirectory(prefix="keelson-changelog-") as tmp:
        cloned = git(
            "clone", "--quiet", "--depth=1", f"--branch={ref}", "--", repo, tmp,
            cwd=Path(tmp), check=False,
        )  # fmt: skip
        file = Path(tmp) / CHANGELOG
        if cloned.returncode != 0 or not file.is_file():
            return None
        return file.read_text(encoding="utf-8")


def changelog_between(text: str, after: Version | None, upto: Version) -> list[str]:
    """Pick the changelog sections of the releases in `(after, upto]`.

    Args:
        text: A Keep a Changelog document (`## [0.2.0] - 2025-01-31` headings).
        after: The version already in use (excluded); None for "from the start".
        upto: The newest version wanted (included).

    Returns:
        The lines of those sections, in the document's order, without trailing blanks.

    """
    picked: list[str] = []
    keep = False
    for line in text.splitlines():
        if line.startswith("## "):
            match = _HEADING.match(line)
            version = parse_version(match["version"]) if match else None
            keep = version is not None and version <= upto and (after is None or version > after)
        elif line.startswith("# ") or re.match(r"^\[[^\]]+\]: ", line):
            keep = False  # the title, or the link references at the end
        if keep:
            picked.append(line)
    while picked and not picked[-1].strip():
        picked.pop()
    return picked
