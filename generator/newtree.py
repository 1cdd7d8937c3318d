"""Bring a freshly rendered service into its destination, with its first commit, in one step.

`keelson new` renders into a staging folder beside the destination and prepares
the first commit there too (a new repository inside the staged service, or, for a
destination that already is a repository, a commit object and an index that no
ref points at yet). Then one step moves it all in: a single rename when the
destination does not exist yet, else the journalled commit step of
`generator.transaction` (the rendered files, the index and the branch together).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generator import transaction
from generator.errors import KeelsonError, one_line
from generator.git import git, git_env
from generator.repository import git_toplevel


def _message(recorded: Mapping[str, Any]) -> str:
    return f"Generate the service with keelson ({recorded.get('_commit') or 'its template'})"


def bring_in(
    staged: Path,
    destination: Path,
    recorded: Mapping[str, Any],
    *,
    kept: list[str],
    commit: bool,
) -> str:
    """Move the staged service into `destination`, committed when asked; say what git did.

    Args:
        staged: The rendered service (inside a staging folder beside `destination`).
        destination: Missing, or holding only the starter files `kept` (`.git`,
            README...), which stay as they are.
        recorded: The answers file's content (for the commit message).
        kept: The starter files in `destination`.
        commit: Make the first commit (`keelson new --no-git` does not).

    Returns:
        What happened with git, as `Created.git` says it.

    """
    outcome = "git: skipped (--no-git)"
    ref: transaction.RefMove | None = None
    index: transaction.IndexSwap | None = None
    if commit and shutil.which("git") is None:
        outcome = "git: not installed; `keelson update` needs the service in a git repository"
    elif commit:
        where = destination.absolute()
        enclosing = git_toplevel(where.parent) if not (where / ".git").exists() else where
        if enclosing is not None and enclosing != where.resolve():
            outcome = (
                f"git: inside the repository {enclosing}; commit the service there "
                "(`keelson update` needs it committed)"
            )
        elif (where / ".git").exists():
            outcome, ref, index = _commit_into(where, staged, recorded, kept)
        else:
            outcome = _commit_staged(staged, destination, recorded, kept)
    if not destination.exists():
        with transaction.held():
            os.rename(staged, destination)
            transaction.note_written("keelson new")
        return outcome
    changes = [
        transaction.Change(path=child.name, source=child) for child in sorted(staged.iterdir())
    ]
    transaction.commit(
        destination,
        changes,
        what="keelson new",
        home=destination / transaction.LOOSE_JOURNAL,
        index=index,
        ref=ref,
    )
    return outcome


def _commit_staged(
    staged: Path, destination: Path, recorded: Mapping[str, Any], kept: list[str]
) -> str:
    """Make the staged service a repository with a first commit (starter files included)."""
    if git("init", "--quiet", cwd=staged).returncode != 0:
        return "git: `git init` failed; run it, `git add -A` and commit yourself"
    starters = [name for name in kept if name != ".git"]
    for name in starters:  # committed with the service, as they are
        _copy(destination / name, staged / name)
    git("add", "--all", cwd=staged)
    made = git("commit", "--quiet", "-m", _message(recorded), cwd=staged)
    for name in starters:  # the destination keeps its own copies
        _delete(staged / name)
    if made.returncode != 0:
        return _failed(made.stderr or made.stdout, made.returncode)
    return "git: committed"


def _commit_into(
    where: Path, staged: Path, recorded: Mapping[str, Any], kept: list[str]
) -> tuple[str, transaction.RefMove | None, transaction.IndexSwap | None]:
    """Prepare a commit of the staged service in the destination's own repository.

    Nothing in the repository changes yet: the commit object is written (unreferenced)
    and the index is prepared aside; the commit step moves the branch and the index.
    """
    git_dir = Path(git("rev-parse", "--absolute-git-dir", cwd=where, check=True).stdout.strip())
    branch = git("symbolic-ref", "--quiet", "HEAD", cwd=where)
    head = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=where)
    parent = head.stdout.strip() if head.returncode == 0 else None
    index_file = staged.parent / "index"
    env = {"GIT_INDEX_FILE": str(index_file)}
    try:
        if (git_dir / "index").exists():
            shutil.copy2(git_dir / "index", index_file)
        rendered = [child.name for child in staged.iterdir()]
        starters = [name for name in kept if name != ".git"]
        add = ("--git-dir", str(git_dir), "add", "--all", "--")
        git_env(*add[:2], "--work-tree", str(staged), *add[2:], *rendered, cwd=where, env=env)
        if starters:
            git_env(*add[:2], "--work-tree", str(where), *add[2:], *starters, cwd=where, env=env)
        tree = git_env("write-tree", cwd=where, env=env).strip()
        parents = ("-p", parent) if parent else ()
        made = git_env("commit-tree", tree, *parents, "-m", _message(recorded), cwd=where, env={})
    except KeelsonError as error:
        return _failed(str(error), 1), None, None
    name = branch.stdout.strip() if branch.returncode == 0 else "HEAD"
    ref = transaction.RefMove(git_dir=git_dir, name=name, old=parent, new=made.strip())
    return "git: committed", ref, transaction.IndexSwap(target=git_dir / "index", new=index_file)


def _failed(reason: str, code: int) -> str:
    said = one_line(reason) or f"exit code {code}"
    return (
        f"git: initialised, but the first commit failed ({said}); "
        "run `git add -A && git commit` there"
    )


def _copy(source: Path, target: Path) -> None:
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def _delete(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
