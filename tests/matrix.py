"""The template's combination matrix and a renderer, shared by the tests and benchmarks/.

A plain module (no pytest, no fixtures), so scripts import it without the suite's conftest.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from generator.render import new_service
from generator.template import TemplateSpec

ROOT = Path(__file__).resolve().parent.parent
SPEC = TemplateSpec.load(ROOT)


def combo_id(answers: Mapping[str, object]) -> str:
    """The one name of a set of answers, for test ids, golden folders and benchmark rows.

    `language-database`, then `key=value` for each further answer in key order, e.g.
    `python-none-ingress_host=api.example.com`.
    """
    head = [str(answers[key]) for key in ("language", "database") if key in answers]
    rest = [
        f"{key}={answers[key]}" for key in sorted(answers) if key not in {"language", "database"}
    ]
    return "-".join(head + rest) or "defaults"


def combinations(template: Path) -> list[dict[str, str]]:
    """Every language and database pair a template offers, from its copier.yml and packs."""
    return list(TemplateSpec.load(template).matrix("language", "database"))


# the matrix comes from copier.yml itself, so it cannot drift from the template
MATRIX = combinations(ROOT)
MATRIX_IDS = [combo_id(c) for c in MATRIX]

TEMPLATE_FILES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["keelson"][
    "template-files"
]


def git(cwd: Path, *args: str) -> str:
    """Run git with the suite's identity; fail the test with git's output on error."""
    result = subprocess.run(
        ["git", "-c", "user.name=keelson tests", "-c", "user.email=tests@keelson.invalid", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def release(repo: Path, tag: str) -> None:
    """Commit everything in a template repository and tag it, as a template release does."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"release {tag}")
    git(repo, "tag", tag)


def copy_template(dest: Path) -> Path:
    """Copy keelson's template, as the working tree has it, into a new git repo on `main`.

    Nothing is committed: the caller edits and commits (and tags) as a release would.
    """
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.py[co]", "node_modules")
    for name in TEMPLATE_FILES:
        source, target = ROOT / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            # links keep the language packs' shared parts shared in the copy
            shutil.copytree(source, target, ignore=ignore, symlinks=True)
        else:
            shutil.copy2(source, target)
    git(dest, "init", "-q", "-b", "main")
    return dest


def clone_release(shared: Path, dest: Path, tag: str | None = "v1.0.0") -> Path:
    """A private clone at `dest` of the shared released template, its release named `tag`.

    The clone has no `origin` (keelson would record the shared repository as the source
    and look for later releases there) and only `tag` on its one commit, or no tag for
    None: a caller whose first release needs an edit makes it and then `release`s. The
    caller tags its own later releases as a template's maintainers would.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    git(dest.parent, "clone", "-q", str(shared), str(dest))
    git(dest, "remote", "remove", "origin")
    if tag != "v1.0.0":
        if tag is not None:
            git(dest, "tag", tag, "v1.0.0")
        git(dest, "tag", "-d", "v1.0.0")
    return dest


def has_commits(*commits: str) -> bool:
    """Whether this clone's history holds every commit (a shallow clone may not)."""
    return all(
        subprocess.run(
            ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True,
            check=False,
        ).returncode == 0
        for commit in commits
    )  # fmt: skip


def _exists_at(commit: str, name: str) -> bool:
    probe = ["git", "cat-file", "-e", f"{commit}:{name}"]
    return subprocess.run(probe, cwd=ROOT, capture_output=True, check=False).returncode == 0


def template_history(dest: Path, releases: Sequence[tuple[str, str | None]]) -> Path:
    """A template repository with one tagged release per `(tag, commit)`, oldest first.

    Each release holds keelson's template files exactly as they were at `commit`, or as
    the working tree has them for None (uncommitted edits included).
    """
    dest.mkdir(parents=True)
    git(dest, "init", "-q", "-b", "main")
    for tag, commit in releases:
        for name in TEMPLATE_FILES:
            target = dest / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
        if commit is None:
            now = copy_template(dest.parent / f".{dest.name}-{tag}")
            for name in TEMPLATE_FILES:
                (now / name).rename(dest / name)
            shutil.rmtree(now)
        else:
            # a file added since (generator/copier_config.py) is absent from older commits
            present = [n for n in TEMPLATE_FILES if _exists_at(commit, n)]
            archive = subprocess.run(
                ["git", "archive", "--format=tar", commit, "--", *present],
                cwd=ROOT, capture_output=True, check=True,
            ).stdout  # fmt: skip
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(dest, filter="data")
        release(dest, tag)
    return dest


def render(dest: Path, **answers: object) -> Path:
    """Render the working tree of the template (uncommitted changes included)."""
    return new_service(
        dest,
        data=answers,
        defaults=True,
        template=str(ROOT),
        vcs_ref="HEAD",
        quiet=True,
        trust=True,
        # the suite renders the working tree, uncommitted edits included
        allow_dirty=True,
        git=False,
    )
