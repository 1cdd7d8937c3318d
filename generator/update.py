"""Keep a generated service up to date: keelson's wrapper around `copier.run_update`.

On top of copier it adds what a team needs to update services safely and often:
the preconditions (a git repository, a clean worktree) are checked up front with a
message naming the fix; every file the update left with conflict markers is listed
and reported as a failure, so neither a person nor a CI job can miss one; a dry run
that provably writes nothing; and `check_service`, which tells how far a service is
behind its template and what changed since (like `cruft check`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import yaml
from copier.errors import UnsafeTemplateError, UserMessageError
from packaging.version import InvalidVersion, Version

from generator import transaction, workspace
from generator.answers import ANSWERS_FILE, find_service, read_answers
from generator.errors import InvalidAnswerError, KeelsonError, UpdateConflictError, UsageError
from generator.git import git, git_env, show_at
from generator.render import check_data_keys, hide_chatter, translate_copier_error
from generator.source import (
    TemplateSource,
    ask_trust,
    check_ref,
    confirm_trust,
    has_commit,
    is_bare,
    is_own,
    is_placeholder,
    is_remote,
)
from generator.template import spec_at

CHANGELOG = "CHANGELOG.md"
# a conflict block copier (git merge-file) leaves behind starts and ends with these
_MARKERS = r"^(<<<<<<<|>>>>>>>)( |$)"
_HEADING = re.compile(r"^##\s+\[?(?P<version>[^\]\s]+)\]?")
_DESCRIBE = re.compile(r"^(?P<tag>.+)-(?P<count>\d+)-g(?P<hash>[0-9a-f]+)$")
_SHORTHANDS = (
    (re.compile(r"^gh:/?(.*\.git)$"), r"https://github.com/\1"),
    (re.compile(r"^gh:/?(.*)$"), r"https://github.com/\1.git"),
    (re.compile(r"^gl:/?(.*\.git)$"), r"https://gitlab.com/\1"),
    (re.compile(r"^gl:/?(.*)$"), r"https://gitlab.com/\1.git"),
)


@dataclass(frozen=True)
class UpdateResult:
    """What an update changed (or, with `pretend`, would change).

    Attributes:
        path: The service's folder.
        old_version: The template version the service was on (`_commit`).
        new_version: The template version it is on now (or would be).
        pretend: Whether this was a dry run.
        changed: `M compose.yaml`-style lines (A added, M modified, D deleted,
            U unmerged), paths relative to the service.
        conflicts: Files holding conflict markers, relative to the service.
        diff: The unified diff of the update (dry runs only).
        dropped: Files the template no longer generates that the team changed:
            kept, and among the conflicts (git shows them as deleted by them).

    """

    path: Path
    old_version: str | None
    new_version: str | None
    pretend: bool
    changed: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    diff: str = ""
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """How a service's template version compares with the template's newest release.

    Attributes:
        path: The service's folder.
        template: The template it was made from (`_src_path`).
        current: The template version it is on (`_commit`).
        latest: The template's newest release tag, or (for a template without
            release tags) the commit its default branch is on.
        missed: Releases newer than the service's version, oldest first.
        changelog: The template's CHANGELOG.md sections of the missed releases,
            as the changelog orders them (newest first); for a template without
            tags, the changelog lines added since the service's commit.
        behind: For a template without tags: how many commits the service is
            behind its default branch.
        unknown: Why the service's position cannot be told, if it cannot.
        conflicts: Files that still hold conflict markers from an update.
        pin: The ref the team catalogue pins the template to, when it does: the
            releases up to it are `missed`; newer ones are `beyond`.
        beyond: Releases newer than the pin (and the service), oldest first.
        preset: The catalogue preset the service records (`keelson_preset`).

    """

    path: Path
    template: str
    current: str | None
    latest: str | None
    missed: tuple[str, ...] = ()
    changelog: tuple[str, ...] = ()
    behind: int = 0
    unknown: str | None = None
    conflicts: tuple[str, ...] = ()
    pin: str | None = None
    beyond: tuple[str, ...] = ()
    preset: str | None = None

    @property
    def up_to_date(self) -> bool:
        """Whether the service is on the newest version of its template."""
        return not self.missed and not self.behind and self.unknown is None

    @property
    def exit_code(self) -> int:
        """0 up to date and clean, 1 behind or conflicted, 2 cannot tell."""
        if self.unknown is not None:
            return 2
        return 0 if self.up_to_date and not self.conflicts else 1


def _git_repo(url: str) -> str:
    """Turn copier's `gh:`/`gl:` shorthands into URLs git understands."""
    for pattern, replacement in _SHORTHANDS:
        if pattern.match(url):
            return pattern.sub(replacement, url)
    return url.removeprefix("git+")


def _check_repository(project: Path) -> Path:
    """Return the git top level of `project`; refuse a missing or dirty repository."""
    inside = git("rev-parse", "--show-toplevel", cwd=project, check=False)
    if inside.returncode != 0:
        raise UsageError(
            f"{project} is not in a git repository, and updates need git to merge the "
            "template's changes with yours: run `git init && git add -A && git commit -m "
            "'Generated by keelson'` there first"
        )
    if git("rev-parse", "--verify", "--quiet", "HEAD", cwd=project, check=False).returncode:
        raise UsageError(f"{project} has no commit yet: commit the service first")
    status = git("status", "--porcelain", "--", ".", cwd=project, check=True).stdout
    if status.strip():
        count = len(status.splitlines())
        raise UsageError(
            f"{project} has {count} uncommitted change(s); commit or stash them first "
            "(`git stash`), then rerun `keelson update`"
        )
    return Path(inside.stdout.strip())


def find_conflicts(path: str | Path) -> list[str]:
    """List the files in a service that hold conflict markers or `.rej` rejects.

    Args:
        path: The service's folder (inside a git repository).

    Returns:
        Paths relative to `path`, sorted.

    """
    project = Path(path)
    found: set[str] = set()
    grep = git(
        "grep", "-l", "-I", "--untracked", "-E", _MARKERS, "--", ".", cwd=project, check=False
    )
    if grep.returncode not in {0, 1}:
        raise KeelsonError(f"git grep failed in {project}: {' '.join(grep.stderr.split())}")
    found.update(grep.stdout.splitlines())
    unmerged = git("diff", "--name-only", "--relative", "--diff-filter=U", cwd=project, check=True)
    found.update(unmerged.stdout.splitlines())
    rejects = git("ls-files", "--others", "--", "*.rej", cwd=project, check=True)
    found.update(rejects.stdout.splitlines())
    return sorted(line for line in found if line)


def _run_copier_update(
    project: Path,
    *,
    to: str | None,
    unsafe: bool,
    quiet: bool,
    answers_file: str,
    template: str = "",
    data: Mapping[str, Any] | None = None,
    shown: Path | None = None,
) -> None:
    """Run copier's update on `project` (a scratch clone); `shown` is the service as named."""
    try:
        with hide_chatter(quiet):
            copier.run_update(
                project,
                answers_file=answers_file,
                vcs_ref=to,
                data=dict(data or {}),
                # the recorded answers answer every question and new questions take
                # their defaults: an update never stops to ask. skip_answered stays
                # False so that the answers a `before` migration rewrote are reloaded.
                defaults=True,
                overwrite=True,
                conflict="inline",
                unsafe=unsafe,
                quiet=quiet,
            )
    except KeyboardInterrupt:
        raise KeyboardInterrupt from None
    except UnsafeTemplateError as error:
        # a remote template's tasks are known only once copier has fetched it; it
        # stops before changing anything, so asking now and retrying is safe
        if unsafe or not sys.stdin.isatty():
            raise UsageError(
                f"the template {template or 'of this service'} runs tasks or migrations; "
                f"rerun `keelson update --trust {shown or project}` if you trust it"
            ) from error
        ask_trust(template)
        _run_copier_update(
            project, to=to, unsafe=True, quiet=quiet, answers_file=answers_file,
            template=template, data=data, shown=shown,
        )  # fmt: skip
    except subprocess.CalledProcessError as error:  # copier's TaskError too
        if "migrations.py" not in str(error.cmd):  # a task, after the update's changes
            raise KeelsonError(" ".join(f"update failed: {error}".split())) from error
        # a migration step that refuses prints its own reason on stderr before this;
        # copier runs `before` migrations ahead of any change to the service
        raise KeelsonError(
            "update stopped by a migration step of the template (its reason is above); "
            "the service is unchanged"
        ) from error
    except UserMessageError as error:
        text = " ".join(str(error).split())
        if "downgrad" in text.lower():
            raise UsageError(f"--to {to} is older than the service's version: {text}") from error
        if translated := translate_copier_error(error):
            raise translated from error
        raise KeelsonError(f"update failed: {text}") from error
    except Exception as error:  # copier raises plain ValueErrors for bad answers
        translated = translate_copier_error(error)
        if isinstance(translated, InvalidAnswerError) and translated.field in (data or {}):
            raise UsageError(f"--data {translated.field}: {translated.message}") from error
        if isinstance(translated, InvalidAnswerError):
            raise UsageError(
                f"{translated}; the new template version rejects the service's recorded "
                f"answer: edit {answers_file}, commit, and rerun `keelson update`"
            ) from error
        if translated is not None:
            raise translated from error
        raise KeelsonError(" ".join(f"update failed: {error}".split())) from error


def update_service(
    path: str | Path = ".",
    *,
    to: str | None = None,
    pretend: bool = False,
    trust: bool | None = None,
    quiet: bool = False,
    answers_file: str = ANSWERS_FILE,
    data: Mapping[str, Any] | None = None,
    template: str | None = None,
) -> UpdateResult:
    """Bring a generated service up to a newer version of its template.

    The version the service is on is the one its answers file records (`_commit`);
    the template is the one it records (`_src_path`). The template's changes since
    that version are merged with the service's own edits; where both changed the
    same lines, the file keeps both between conflict markers. A file the template
    no longer generates is removed only when the team never changed it; a changed
    one is kept and reported as a conflict.

    The update runs on a scratch clone of the service's repository; its result is
    brought into the service in one step (`generator.transaction`), so an
    interruption leaves the service either as it was or fully updated.

    Args:
        path: The service's folder; it must be in a git repository with no
            uncommitted changes.
        to: Template git ref to update to; its newest release tag by default.
        pretend: Only work out what would change; nothing in `path` is written.
        trust: Allow the template's tasks and migrations; by default only for the
            keelson template itself.
        quiet: Do not print copier's progress.
        answers_file: Name of the service's answers file.
        data: Answers to change (question name to value); the template re-renders
            with them and the files follow, merged with the service's edits like any
            other change. With no newer version, the service's own version re-renders.
        template: Re-point the service to this template (a fork, a mirror, a moved
            repository: a git URL or a repository on this machine): the update runs
            from it and the answers file records it (`_src_path`). It must have the
            service's version (`_commit`), which the update renders to tell the
            template's changes from the service's own.

    Returns:
        What changed; for a dry run, also the diff.

    Raises:
        UsageError: The folder is not a generated service, not in git, or dirty.
        UpdateConflictError: The update left (or would leave) conflicts.
        KeelsonError: The update failed.

    """
    transaction.recover(Path(path))
    project = find_service(path, answers_file)
    answers = read_answers(project, answers_file)
    src = str(answers["_src_path"])
    old_version = str(answers.get("_commit") or "") or None
    top = _check_repository(project)
    repoint = _new_source(template, src)
    src = repoint or src
    if problem := _version_problem(src, old_version, answers_file):
        raise UsageError(problem if repoint is None else _cannot_repoint(src, old_version))
    if to is not None:
        check_ref(src, to, "--to")
    elif _is_current(src, old_version):
        if not data and not repoint:
            # nothing to pull; copier would re-render three copies to find that out
            # (and call a service made from a commit after the newest tag a downgrade)
            return UpdateResult(
                path=project, old_version=old_version, new_version=old_version, pretend=pretend
            )
        to = old_version  # changed answers, same version
    to = _bare_ref(src, to)
    if data and (spec := spec_at(src, to)):
        try:
            check_data_keys(spec, data)
        except InvalidAnswerError as error:  # the answer given now, not the recorded one
            raise UsageError(f"--data {error.field}: {error.message}") from error
    interactive = sys.stdin.isatty()
    unsafe = confirm_trust(
        TemplateSource(location=src, trusted=is_own(src)), trust, interactive=interactive
    )
    with transaction.scratch() as scratch:
        work = workspace.clone(project, top, scratch)
        if repoint:
            # copier renders both versions from the answers' `_src_path`: the clone's
            # last commit names the new template (the service never sees that commit)
            _record_template(work.project / answers_file, repoint)
            git("-c", "user.name=keelson", "-c", "user.email=keelson@localhost", "commit",
                "--quiet", "--all", "-m", "keelson: re-point the template", cwd=work.root,
                check=True)  # fmt: skip
        _run_copier_update(
            work.project, to=to, unsafe=unsafe, quiet=quiet, answers_file=answers_file,
            template=src, data=data, shown=project,
        )  # fmt: skip
        dropped = _keep_edited_drops(work, answers, unsafe=unsafe, scratch=scratch)
        found = [] if pretend else workspace.changes(work)
        result = _outcome(work, old_version, answers_file, found, pretend=pretend, dropped=dropped)
        if not pretend:
            index = workspace.index_swap(work, found, scratch)
            transaction.commit(top, found, what="keelson update", index=index)
    if result.conflicts:
        raise UpdateConflictError(result)
    return result


def _outcome(
    work: workspace.Clone,
    old_version: str | None,
    answers_file: str,
    found: list[transaction.Change],
    *,
    pretend: bool,
    dropped: list[str],
) -> UpdateResult:
    """Describe what the update in the clone changed, as the service will see it."""
    copy = work.project
    conflicts = find_conflicts(copy)
    new_version = read_answers(copy, answers_file).get("_commit")
    changed: list[str] = []
    diff = ""
    if pretend:
        # a throwaway index: the clone's own keeps copier's conflict stages
        env = {"GIT_INDEX_FILE": str(work.root.parent / "pretend-index")}
        shutil.copy2(_git_dir(work.root) / "index", env["GIT_INDEX_FILE"])
        git_env("add", "--all", "--", ".", cwd=copy, env=env)
        # against the service's own commit (a re-pointed clone has one more)
        listed = git_env(
            "diff", "--cached", "--name-status", "--relative", work.head, cwd=copy, env=env
        )
        diff = git_env("diff", "--cached", "--relative", work.head, cwd=copy, env=env)
        changed = [
            f"{code[:1]} {' -> '.join(paths)}"
            for code, *paths in (line.split("\t") for line in listed.splitlines())
        ]
    else:
        conflicted = workspace.unmerged(work)
        for change in found:
            code = "U" if change.path in conflicted else "M"
            if change.source is None:
                code = "D"
            elif not os.path.lexists(work.top / change.path):
                code = "A"
            changed.append(f"{code} {os.path.relpath(work.top / change.path, work.service)}")
    return UpdateResult(
        path=work.service,
        old_version=old_version,
        new_version=str(new_version) if new_version else None,
        pretend=pretend,
        changed=tuple(changed),
        conflicts=tuple(conflicts),
        diff=diff,
        dropped=tuple(dropped),
    )


def _git_dir(where: Path) -> Path:
    return Path(git("rev-parse", "--absolute-git-dir", cwd=where, check=True).stdout.strip())


def _keep_edited_drops(
    work: workspace.Clone, answers: Mapping[str, Any], *, unsafe: bool, scratch: Path
) -> list[str]:
    """Put back the files the template dropped that the team had changed, as conflicts.

    copier removes every file the new template version no longer generates. One the
    team never changed goes; one it changed is kept, and recorded in the index as
    git records a modify/delete conflict (the version keelson generated as the base,
    the team's as ours, nothing as theirs), so that `git status` shows it "deleted by
    them", `keelson check` flags it, and `git add` (keep) or `git rm` (drop) settles it.

    Returns:
        The kept files, relative to the service.

    """
    listed = git("ls-files", "-z", "--deleted", "--", ".", cwd=work.project, check=True)
    gone = [name for name in listed.stdout.split("\0") if name]
    if not gone:
        return []
    generated = render_recorded(answers, unsafe=unsafe, into=scratch / "generated-before")
    kept = []
    for name in gone:  # relative to the service
        path = work.project / name
        staged = git("ls-files", "-z", "--stage", "--", name, cwd=work.project, check=True)
        mode, blob = staged.stdout.split("\0")[0].split()[:2]
        ours = subprocess.run(
            ["git", "cat-file", "blob", blob], cwd=work.root, capture_output=True, check=True
        ).stdout
        before = generated / name if generated is not None else None
        if before is not None and before.is_file() and before.read_bytes() == ours:
            continue
        if mode == "120000":
            path.symlink_to(ours.decode())
        else:
            path.write_bytes(ours)
            path.chmod(0o755 if mode == "100755" else 0o644)
        lines = [f"0 {'0' * 40}\t{name}"]
        if before is not None and before.is_file():
            base = git("hash-object", "-w", "--", str(before), cwd=work.project, check=True)
            lines.append(f"{mode} {base.stdout.strip()} 1\t{name}")
        lines.append(f"{mode} {blob} 2\t{name}")
        subprocess.run(
            ["git", "update-index", "--index-info"], cwd=work.project,
            input="\n".join(lines) + "\n", text=True, capture_output=True, check=True,
        )  # fmt: skip
        kept.append(name)
    return kept


def render_recorded(answers: Mapping[str, Any], *, unsafe: bool, into: Path) -> Path | None:
    """Render a service's recorded answers at its recorded version: what keelson generated.

    Args:
        answers: The answers file's content (`_src_path`, `_commit` and the answers).
        unsafe: Whether the template's code may run (its tasks never do here).
        into: The folder to render into.

    Returns:
        `into`, or None when that version cannot be rendered (gone, unreachable).

    """
    try:
        with hide_chatter(True):
            copier.run_copy(
                str(answers["_src_path"]),
                into,
                data={k: v for k, v in answers.items() if not str(k).startswith("_")},
                vcs_ref=str(answers.get("_commit") or "") or None,
                defaults=True,
                quiet=True,
                overwrite=True,
                skip_tasks=True,
                unsafe=unsafe,
            )
    except KeyboardInterrupt:
        raise
    except Exception:  # an old version that no longer renders: every drop is a conflict
        return None
    return into


def _new_source(template: str | None, recorded: str) -> str | None:
    """Return the template `--template` re-points a service to, or None to keep its own.

    Raises:
        UsageError: It is a placeholder, or a path that does not exist.

    """
    if not template:
        return None
    if is_placeholder(template):
        raise UsageError(f"--template {template} is a placeholder, not a repository")
    if not is_remote(template):
        path = Path(template).expanduser()
        if not path.is_dir():
            raise UsageError(f"--template {template} does not exist: pass a git URL or a folder")
        template = str(path.resolve())
    return None if template == recorded else template


def _bare_ref(src: str, to: str | None) -> str | None:
    """Name a bare repository's default branch by its commit when copier would use HEAD.

    copier treats a template path as a checkout when it renders its HEAD (a
    template without release tags, or `--to HEAD`) and runs `git status` in it,
    which a bare repository refuses; a commit it clones like any other ref.
    """
    path = Path(src).expanduser()
    if is_remote(src) or not is_bare(path) or (to is not None and to != "HEAD"):
        return to
    if to is None and release_tags(src):
        return None  # copier picks the newest tag, as for any template
    head = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=path)
    return head.stdout.strip() or to if head.returncode == 0 else to


def _cannot_repoint(src: str, version: str | None) -> str:
    return (
        f"--template {src} does not have the service's version {version}, which the update "
        "renders to tell the template's changes from yours: push it there "
        f"(`git push {src} {version}`), or name a repository that has it"
    )


def _record_template(file: Path, src: str) -> None:
    """Rewrite the `_src_path` line of an answers file, leaving the rest as it is."""
    line = yaml.safe_dump({"_src_path": src}, default_flow_style=False, width=1000).strip()
    lines = file.read_text(encoding="utf-8").splitlines()
    lines = [line if text.startswith("_src_path:") else text for text in lines]
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _is_current(src: str, version: str | None) -> bool:
    """Whether `version` is the template's newest release tag, or later."""
    have = _parse_version(version)
    tags = release_tags(src)
    return have is not None and bool(tags) and have >= _release(tags[-1])


def _parse_version(ref: str | None) -> Version | None:
    """Read a version from a tag or a `git describe` string, as copier does."""
    if not ref:
        return None
    if match := _DESCRIBE.match(ref):
        ref = f"{match['tag']}.post{match['count']}+g{match['hash']}"
    try:
        return Version(ref)
    except InvalidVersion:
        return None


def parse_version(ref: str | None) -> Version | None:
    """Read a version from a release tag or a `git describe` string, as copier does.

    Returns:
        The version; None for a ref that is not one (a branch, a commit).

    """
    return _parse_version(ref)


def release_tags(src: str) -> list[str]:
    """List a template's release tags (PEP 440 versions, no pre-releases), oldest first.

    Args:
        src: The template's git URL or local path.

    Raises:
        KeelsonError: git cannot list the template's tags.

    """
    repo = _git_repo(src)
    if Path(repo).expanduser().is_dir():
        repo = str(Path(repo).expanduser().resolve())
    listed = git("ls-remote", "--tags", "--refs", "--", repo, cwd=Path.cwd(), check=False)
    if listed.returncode != 0:
        detail = " ".join(listed.stderr.split())
        raise KeelsonError(f"cannot list the versions of the template {src}: {detail}")
    tags: dict[str, Version] = {}
    for line in listed.stdout.splitlines():
        tag = line.partition("\t")[2].removeprefix("refs/tags/")
        version = _parse_version(tag)
        if version is not None and not version.is_prerelease:
            tags[tag] = version
    return sorted(tags, key=tags.__getitem__)


def read_changelog(src: str, ref: str) -> str | None:
    """Return the template's CHANGELOG.md at `ref`, or None when it has none.

    Args:
        src: The template's git URL or local path.
        ref: The tag to read it at.

    """
    repo = _git_repo(src)
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
            version = _parse_version(match["version"]) if match else None
            keep = version is not None and version <= upto and (after is None or version > after)
        elif line.startswith("# ") or re.match(r"^\[[^\]]+\]: ", line):
            keep = False  # the title, or the link references at the end
        if keep:
            picked.append(line)
    while picked and not picked[-1].strip():
        picked.pop()
    return picked


def check_service(path: str | Path = ".", *, answers_file: str = ANSWERS_FILE) -> CheckResult:
    """Tell whether a service is on the newest version of its template.

    With release tags, versions are compared; a template without them (a clone
    of a repository whose tags did not travel, say) is compared by commits on
    its default branch. Files still holding conflict markers are reported too.

    Args:
        path: The service's folder.
        answers_file: Name of its answers file.

    Returns:
        The service's version, the newest one, what it missed and the changelog
        lines in between; `exit_code` says 0, 1 or 2.

    Raises:
        UsageError: The folder is not a generated service.

    """
    project = find_service(path, answers_file)
    answers = read_answers(project, answers_file)
    src = str(answers["_src_path"])
    current = str(answers.get("_commit") or "") or None
    conflicts: tuple[str, ...] = ()
    if git("rev-parse", "--git-dir", cwd=project, check=False).returncode == 0:
        conflicts = tuple(find_conflicts(project))
    base = CheckResult(
        path=project, template=src, current=current, latest=None, conflicts=conflicts
    )
    if is_placeholder(src):
        return dataclasses.replace(base, unknown=_version_problem(src, current, answers_file))
    try:
        tags = release_tags(src)
    except KeelsonError as error:
        return dataclasses.replace(base, unknown=_unreachable(src, answers_file, error))
    if tags and (problem := _version_problem(src, current, answers_file)):
        return dataclasses.replace(base, latest=tags[-1], unknown=problem)
    if not tags:
        return _compare_commits(base)
    latest = tags[-1]
    have = _parse_version(current)
    # a bare commit (a template without tags back then) has missed every release
    missed = tuple(t for t in tags if have is None or _release(t) > have)
    changelog: list[str] = []
    if missed:
        text = read_changelog(src, latest)
        if text:
            changelog = changelog_between(text, have, _release(latest))
    return dataclasses.replace(base, latest=latest, missed=missed, changelog=tuple(changelog))


def _version_problem(src: str, commit: str | None, answers_file: str) -> str | None:
    """Say why a service's recorded template and version cannot be compared, if so."""
    fix = (
        "point the service at a repository that has it with `keelson update --template URL`, "
        f"or set `_commit` in {answers_file} to a version the template has, commit, and rerun"
    )
    if is_placeholder(src):
        return (
            f"the service records the template as {src}, a placeholder no machine can reach: "
            "name the real one with `keelson update --template URL`"
        )
    if commit and has_commit(src, commit, deep=True) is False:
        return f"the template {src} does not have the service's version {commit}: {fix}"
    return None


def _unreachable(src: str, answers_file: str, error: Exception) -> str:
    local = not is_remote(src)
    if local and not Path(src).expanduser().exists():
        return (
            f"the template {src} the service records is a path that is not on this machine: "
            f"set `_src_path` in {answers_file} to the template's git URL, commit, and rerun"
        )
    return f"cannot reach the template {src}: {error}"


def _compare_commits(base: CheckResult) -> CheckResult:
    """Compare a service's commit with the default branch of a template without tags."""
    if base.current is None:
        return dataclasses.replace(
            base, unknown="the service records no template commit (_commit) to compare"
        )
    with tempfile.TemporaryDirectory(prefix="keelson-check-") as tmp:
        repo = _git_repo(base.template)
        local = Path(repo).expanduser()
        if local.is_dir():
            where = local.resolve()
        else:
            where = Path(tmp) / "template.git"
            cloned = git("clone", "--quiet", "--bare", "--", repo, str(where), cwd=Path(tmp),
                          check=False)  # fmt: skip
            if cloned.returncode != 0:
                detail = " ".join(cloned.stderr.split())
                return dataclasses.replace(
                    base, unknown=f"cannot reach the template {base.template}: {detail}"
                )
        head = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=where, check=False)
        ours = git("rev-parse", "--verify", "--quiet", f"{base.current}^{{commit}}",
                    cwd=where, check=False)  # fmt: skip
        if head.returncode or ours.returncode:
            return dataclasses.replace(
                base,
                unknown=f"the template {base.template} has no release tags, and its history "
                f"does not hold the service's commit {base.current}: cannot tell how far behind "
                "it is",
            )
        tip, mine = head.stdout.strip(), ours.stdout.strip()
        ancestor = git("merge-base", "--is-ancestor", mine, tip, cwd=where, check=False)
        if ancestor.returncode != 0:
            return dataclasses.replace(
                base,
                latest=tip[:12],
                unknown=f"the service's template commit {base.current} is not on the "
                "template's default branch: cannot tell how far behind it is",
            )
        count = int(
            git("rev-list", "--count", f"{mine}..{tip}", cwd=where, check=True).stdout.strip()
        )
        added: list[str] = []
        if count:
            diff = git(
                "diff", "--unified=0", mine, tip, "--", CHANGELOG, cwd=where, check=True
            ).stdout
            added = [
                line[1:]
                for line in diff.splitlines()
                if line.startswith("+") and not line.startswith("+++")
            ]
        return dataclasses.replace(base, latest=tip[:12], behind=count, changelog=tuple(added))


def _release(tag: str) -> Version:
    version = _parse_version(tag)
    if version is None:  # pragma: no cover - release_tags only returns versions
        raise ValueError(tag)
    return version


def format_check(result: CheckResult) -> Iterable[str]:
    """Render a check result as the lines `keelson check` prints."""
    where = result.path
    trust = "" if is_own(result.template) else "--trust "
    if result.unknown is not None:
        yield f"{where}: {result.unknown}"
    elif result.behind:
        plural = "s" if result.behind != 1 else ""
        yield (
            f"{where} is on template commit {result.current}, {result.behind} commit{plural} "
            f"behind {result.latest} (the template has no release tags)"
        )
    elif result.missed:
        count = len(result.missed)
        target = (
            f"the catalogue pins {result.pin}" if result.pin else f"the newest is {result.latest}"
        )
        yield (
            f"{where} is on template version {result.current or 'unknown'}; {target} "
            f"({count} release{'s' if count != 1 else ''} behind: {', '.join(result.missed)})"
        )
    else:
        # the version the service records, as `keelson update` names it too
        pinned = f" (the catalogue's pin is {result.pin})" if result.pin else ""
        yield (
            f"{where} is up to date with template version {result.current or result.latest}{pinned}"
        )
    if result.beyond:
        yield (
            f"newer than the catalogue's pin: {', '.join(result.beyond)}; `keelson update "
            f"--to {result.beyond[-1]}` moves past it once the team has tried it"
        )
    if result.changelog:
        yield ""
        yield from result.changelog
        yield ""
    if result.missed or result.behind:
        yield (
            f"run `keelson update {trust}{shlex.quote(str(where))}` to update, then review "
            "and commit"
        )
    if result.conflicts:
        yield (
            f"{where} still has unresolved conflicts from an update in: "
            f"{', '.join(result.conflicts)}; resolve them (edit the conflict markers away; "
            "`git add` or `git rm` a kept file the template dropped) and commit"
        )


def summary(result: UpdateResult) -> Sequence[str]:
    """Render an update result as the lines `keelson update` prints."""
    lines: list[str] = []
    verb = "would update" if result.pretend else "updated"
    if result.old_version == result.new_version and not result.changed:
        return [f"{result.path} is up to date with template version {result.new_version}"]
    lines.append(f"{verb} {result.path} from {result.old_version} to {result.new_version}")
    lines.extend(f"  {line}" for line in result.changed)
    return lines
