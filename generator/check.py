"""Tell how far a service is behind its template, and what it has left unresolved.

`check_service` compares the version a service records with its template's releases
(or, for a template without tags, the commits on its default branch), gathers the
changelog in between and the files still holding conflict markers from an update;
`format_check` says it as `keelson check` prints it (like `cruft check`).
"""

from __future__ import annotations

import dataclasses
import shlex
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from generator.answers import ANSWERS_FILE, find_service, read_answers
from generator.errors import KeelsonError, one_line
from generator.git import git
from generator.releases import (
    CHANGELOG,
    changelog_between,
    parse_version,
    read_changelog,
    release_tags,
    release_version,
)
from generator.repository import git_url, has_commit, is_placeholder, is_remote
from generator.source import is_own

# a conflict block copier (git merge-file) leaves behind starts and ends with these
_MARKERS = r"^(<<<<<<<|>>>>>>>)( |$)"


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
        return dataclasses.replace(base, unknown=version_problem(src, current, answers_file))
    try:
        tags = release_tags(src)
    except KeelsonError as error:
        return dataclasses.replace(base, unknown=_unreachable(src, answers_file, error))
    if tags and (problem := version_problem(src, current, answers_file)):
        return dataclasses.replace(base, latest=tags[-1], unknown=problem)
    if not tags:
        return _compare_commits(base)
    latest = tags[-1]
    have = parse_version(current)
    # a bare commit (a template without tags back then) has missed every release
    missed = tuple(t for t in tags if have is None or release_version(t) > have)
    changelog: list[str] = []
    if missed:
        text = read_changelog(src, latest)
        if text:
            changelog = changelog_between(text, have, release_version(latest))
    return dataclasses.replace(base, latest=latest, missed=missed, changelog=tuple(changelog))


def version_problem(src: str, commit: str | None, answers_file: str) -> str | None:
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
        repo = git_url(base.template)
        local = Path(repo).expanduser()
        if local.is_dir():
            where = local.resolve()
        else:
            where = Path(tmp) / "template.git"
            cloned = git("clone", "--quiet", "--bare", "--", repo, str(where), cwd=Path(tmp),
                          check=False)  # fmt: skip
            if cloned.returncode != 0:
                detail = one_line(cloned.stderr)
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
