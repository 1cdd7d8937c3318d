"""Writing the container files: render away from the project, merge or skip, commit in one step."""

from __future__ import annotations

import difflib
import filecmp
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import gateway, transaction
from generator.answers import ANSWERS_FILE
from generator.errors import DestinationError, KeelsonError, UsageError
from generator.merging import merge_file
from generator.render import record_source
from generator.source import TemplateSource
from generator.update import render_recorded

# what `keelson adopt` writes; anything else in the project is never touched
WRITES = ("Dockerfile", ".dockerignore", "compose.yaml", "k8s", "CONTAINER.md", ANSWERS_FILE)
# the delivery pipeline each `ci` answer adds; a project's own pipeline is never overwritten
PIPELINES = {
    "github": (".github/workflows/ci.yml", ".github/workflows/release.yml", "ci/release.sh"),
    "gitlab": (".gitlab-ci.yml", "ci/release.sh"),
    "none": (),
}
SECRET_DIRS = (".secrets/", "k8s/overlays/dev/secrets/")
OTHER_COMPOSE = ("compose.yml", "docker-compose.yml", "docker-compose.yaml")


def refuse_pipeline_clash(root: Path, ci: str, previous: Mapping[str, Any] | None) -> None:
    """Refuse a `ci` answer whose files the project already has, unless keelson wrote them."""
    if previous is not None and previous.get("ci") == ci:
        return  # an earlier adoption wrote them: --force merges, --skip-existing keeps them
    taken = [name for name in PIPELINES.get(ci, ()) if (root / name).exists()]
    if taken:
        raise UsageError(
            f"ci: {root} already has {', '.join(taken)}, which keelson adopt never "
            f"overwrites; pass --data ci=none to keep the project's pipeline, or move "
            f"{'it' if len(taken) == 1 else 'them'} away to get keelson's"
        )


@dataclass(frozen=True)
class Adopted:
    """What `keelson adopt` wrote.

    Attributes:
        path: The project's folder.
        answers: The answers file's content.
        written: Files written (relative paths), sorted.
        skipped: Existing files kept with --skip-existing.
        diffs: Unified diffs of the files --force replaced.
        notes: Things the user should know.
        conflicts: Files --force merged with conflict markers (both versions kept).

    """

    path: Path
    answers: Mapping[str, Any]
    written: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    diffs: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()


def existing_files(root: Path) -> list[str]:
    """List the container files a project already holds (that adopt would write or shadow)."""
    return [name for name in (*WRITES, *OTHER_COMPOSE) if (root / name).exists()]


def _walk(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def _diff(old: Path, new: Path, name: str) -> str:
    try:
        before = old.read_text(encoding="utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        before = ["(binary or unreadable)\n"]
    after = new.read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, f"a/{name}", f"b/{name}"))


def refuse_existing(root: Path, force: bool, skip_existing: bool) -> list[str]:
    """Stop before anything is written when container files exist and no flag says what to do."""
    present = existing_files(root)
    if present and not (force or skip_existing):
        raise DestinationError(
            f"{root} already holds {', '.join(present)}: nothing was written; rerun with "
            "--force to replace them (their diff is shown first) or --skip-existing to keep "
            "them and write only the missing files"
        )
    return present


def write(
    root: Path,
    *,
    source: TemplateSource,
    record: TemplateSource,
    answers: Mapping[str, Any],
    vcs_ref: str | None,
    quiet: bool,
    unsafe: bool,
    force: bool,
    skip_existing: bool,
    previous: Mapping[str, Any] | None,
    ask: Callable[[str], bool] | None,
    say: Callable[[str], None],
    allow_dirty: bool,
) -> Adopted:
    """Render the container files away from the project, merge or skip, and write in one step."""
    with transaction.scratch() as scratch:
        staged = scratch / "new" / root.resolve().name
        gateway.copy(
            source.location,
            staged,
            {**answers, "adopted": True},
            vcs_ref=vcs_ref,
            quiet=quiet,
            unsafe=unsafe,
        )
        # template authors (--allow-dirty) render their own checkout: no probe of its origin
        source_notes: list[str] = []
        recorded = record_source(staged, record, None if allow_dirty else source_notes)
        rendered = _walk(staged)
        # a password made earlier stays (a database volume may hold it already),
        # and is never shown in a diff
        secrets = {n for n in rendered if n.startswith(SECRET_DIRS) and (root / n).exists()}
        rendered = [name for name in rendered if name not in secrets]
        taken = {name for name in rendered if (root / name).exists()}
        conflicts: list[str] = []
        notes: list[str] = []
        if force and taken:
            conflicts, notes = _merge_taken(
                root, staged, sorted(taken), previous, source=source.location, vcs_ref=vcs_ref,
                unsafe=unsafe,
            )  # fmt: skip
        diffs = [
            diff
            for name in sorted(taken)
            if force and (root / name).is_file()
            if (diff := _diff(root / name, staged / name, name))
        ]
        if diffs and ask is not None:
            for diff in diffs:
                say(diff.rstrip("\n"))
            if not ask(f"Replace {len(diffs)} existing file(s) with these changes?"):
                raise KeelsonError("nothing was written")
        skipped = sorted(taken) if skip_existing else []
        written = [name for name in rendered if name not in skipped]
        changes = [
            transaction.Change(path=name, source=staged / name)
            for name in written
            if not (name in taken and filecmp.cmp(root / name, staged / name, shallow=False))
        ]
        transaction.commit(root, changes, what="keelson adopt")
    return Adopted(
        path=root,
        answers=recorded,
        written=tuple(written),
        skipped=tuple(skipped),
        diffs=tuple(diffs),
        conflicts=tuple(conflicts),
        notes=(*source_notes, *notes),
    )


def _merge_taken(
    root: Path,
    staged: Path,
    taken: list[str],
    previous: Mapping[str, Any] | None,
    *,
    source: str,
    vcs_ref: str | None,
    unsafe: bool,
) -> tuple[list[str], list[str]]:
    """Merge the project's existing container files into the staged render (`--force`).

    Returns:
        The files left with conflict markers, and notes for the user.

    """
    base = None
    notes = []
    if previous is not None:
        # inside the command's scratch folder (staged is scratch/new/<name>)
        before = staged.parent.parent / "before"
        base = render_recorded(previous, unsafe=unsafe, into=before / "recorded")
        if base is None:
            # the recorded version cannot be had (a commit of a dirty checkout, a template
            # that moved): the recorded answers at the version used now are the next best
            # base; the team's edits still all survive, at worst as conflicts
            here = {**previous, "_src_path": source, "_commit": vcs_ref}
            base = render_recorded(here, unsafe=unsafe, into=before / "here")
            notes.append(
                f"what keelson generated before (template {previous['_src_path']} at "
                f"{previous.get('_commit')}) cannot be rendered here; your files were merged "
                "against this version's render of your recorded answers"
            )
        if base is None:
            raise KeelsonError(
                f"cannot render what keelson generated before (template {previous['_src_path']} "
                f"at {previous.get('_commit')}), so --force cannot merge your edits: pass "
                "--template and --vcs-ref naming a template that has that version"
            )
    conflicts = []
    for name in taken:
        if not (root / name).is_file() or name == ANSWERS_FILE:
            continue
        merged, conflicted = merge_file(
            root / name, base / name if base is not None else None, staged / name
        )
        (staged / name).write_bytes(merged)
        if conflicted:
            conflicts.append(name)
    return conflicts, notes
