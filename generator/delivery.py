"""Delivering a template release to the fleet: `keelson fleet update`.

For each service `fleet status` finds behind, a branch `keelson/template-<version>`
in the service's own repository holds `keelson update` to the version it should be
on (the catalogue's pin, else the newest release), committed: conflicts are
committed with their markers and listed in the commit message, never resolved
here. The branch is pushed without force, so a branch someone else has added
commits to is built upon, and one rewritten under us is refused by git, not
overwritten. A rerun finds the branch at the version and changes nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.answers import ANSWERS_FILE, read_answers
from generator.catalogue import Catalogue, FleetService
from generator.errors import KeelsonError, UpdateConflictError, one_line
from generator.fleet import JOBS, TIMEOUT, ServiceRecord, fleet_status
from generator.git import git
from generator.repository import is_remote
from generator.update import update_service

BRANCH_PREFIX = "keelson/template-"
_IDENTITY = ("-c", "user.name=keelson", "-c", "user.email=keelson@localhost")


@dataclass(frozen=True)
class Delivery:
    """What `fleet update` did (or, with a dry run, would do) for one behind service.

    Attributes:
        service: The service's name.
        branch: The update branch.
        old: The template version the service records.
        new: The version the branch brings.
        action: `pushed`, `would push`, `up to date` (the branch already has it),
            or `failed`.
        conflicts: Files committed with conflict markers.
        detail: Why it failed.

    """

    service: str
    branch: str
    old: str | None
    new: str
    action: str
    conflicts: tuple[str, ...] = ()
    detail: str | None = None

    def line(self) -> str:
        """Return the line `keelson fleet update` prints for it."""
        head = f"{self.service}: {self.action} {self.branch} ({self.old} -> {self.new})"
        if self.detail:
            return f"{head}: {self.detail}"
        if self.conflicts:
            return f"{head} with conflicts in {', '.join(self.conflicts)}"
        return head


def target_of(record: ServiceRecord) -> str | None:
    """Return the version a behind service should move to: the last release it missed."""
    return record.missed[-1] if record.state == "behind" and record.missed else None


def commit_message(old: str | None, new: str, conflicts: Sequence[str]) -> str:
    """Return the update commit's message; conflicts are listed, never hidden."""
    lines = [f"keelson: template {old} -> {new}", ""]
    lines.append(f"`keelson update --to {new}`, applied by `keelson fleet update`.")
    if conflicts:
        lines += [
            "",
            "Conflicts, committed with their markers: resolve them (edit the markers away,",
            "or `git rm` a kept file the template dropped) before merging:",
            *(f"- {path}" for path in conflicts),
        ]
    return "\n".join(lines) + "\n"


def _clone(entry: FleetService, into: Path, timeout: float) -> str | None:
    """Clone the service's repository at its branch; return git's complaint, if any."""
    source = entry.url if is_remote(entry.url) else Path(entry.url).as_uri()
    branch = ["--branch", entry.branch] if entry.branch else []
    cloned = git("clone", "--quiet", *branch, "--", source, str(into), cwd=into.parent,
                 timeout=timeout)  # fmt: skip
    if cloned.returncode != 0:
        said = [line.strip() for line in cloned.stderr.splitlines() if line.strip()]
        return said[0] if said else f"git clone exit code {cloned.returncode}"
    return None


def _deliver(
    entry: FleetService, record: ServiceRecord, new: str, *, trust: bool, timeout: float
) -> Delivery:
    branch = f"{BRANCH_PREFIX}{new}"
    old = record.version

    def failed(detail: str) -> Delivery:
        return Delivery(entry.name, branch, old, new, "failed", detail=detail)

    with tempfile.TemporaryDirectory(prefix="keelson-deliver-") as tmp:
        clone = Path(tmp) / "service"
        if (problem := _clone(entry, clone, timeout)) is not None:
            return failed(problem)
        exists = git("rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}", cwd=clone)
        if exists.returncode == 0:
            # a rerun, or a branch a person has added to: build on it, never replace it
            # -B: the clone may already be on it (the remote's HEAD branch)
            git("checkout", "--quiet", "-B", branch, f"origin/{branch}", cwd=clone, check=True)
        else:
            git("checkout", "--quiet", "-b", branch, cwd=clone, check=True)
        project = clone / entry.subfolder if entry.subfolder else clone
        if read_answers(project, ANSWERS_FILE).get("_commit") == new:
            return Delivery(entry.name, branch, old, new, "up to date")
        conflicts: tuple[str, ...] = ()
        try:
            update_service(project, to=new, trust=trust, quiet=True)
        except UpdateConflictError as error:
            conflicts = error.result.conflicts
        except KeelsonError as error:
            return failed(str(error))
        git("add", "--all", "--", ".", cwd=project, check=True)
        message = commit_message(old, new, conflicts)
        # the identity git is configured with (a bot's, in CI); keelson's where there is none
        named = git("config", "user.email", cwd=clone).stdout.strip()
        identity = () if named else _IDENTITY
        done = git(*identity, "commit", "--quiet", "--no-verify", "-m", message, cwd=clone)
        if done.returncode != 0:
            return failed(one_line(done.stderr) or "git commit failed")
        pushed = git("push", "--quiet", "origin", f"{branch}:{branch}", cwd=clone, timeout=timeout)
        if pushed.returncode != 0:
            said = one_line(pushed.stderr)
            return failed(f"push refused, nothing overwritten: {said}")
        return Delivery(entry.name, branch, old, new, "pushed", conflicts=conflicts)


def fleet_update(
    catalogue: Catalogue,
    *,
    dry_run: bool = False,
    trust: bool = False,
    jobs: int = JOBS,
    timeout: float = TIMEOUT,
) -> list[Delivery]:
    """Open (or bring up to date) an update branch in every behind service.

    Args:
        catalogue: The catalogue listing the services; its pins are the targets.
        dry_run: Only say what would be pushed; nothing is cloned for writing.
        trust: Allow templates other than keelson's to run their tasks and migrations.
        jobs: How many services `fleet status` checks at once.
        timeout: Seconds each clone or push may take.

    Returns:
        One entry per behind service, in the catalogue's order.

    Raises:
        UsageError: The catalogue lists no services.

    """
    records = fleet_status(catalogue, jobs=jobs, timeout=timeout)
    by_name = {entry.name: entry for entry in catalogue.services}
    done: list[Delivery] = []
    # one at a time: copier's update is not made to run in several threads at once
    for record in records:
        new = target_of(record)
        if new is None:
            continue
        if dry_run:
            branch = f"{BRANCH_PREFIX}{new}"
            done.append(Delivery(record.service, branch, record.version, new, "would push"))
            continue
        try:
            done.append(
                _deliver(by_name[record.service], record, new, trust=trust, timeout=timeout)
            )
        except KeelsonError as error:  # one service's trouble is its line, not the run's end
            branch = f"{BRANCH_PREFIX}{new}"
            done.append(
                Delivery(record.service, branch, record.version, new, "failed", detail=str(error))
            )
    return done


def delivery_exit_code(done: Iterable[Delivery]) -> int:
    """0 when every branch was pushed (or already there), 1 when one failed."""
    return 1 if any(d.action == "failed" for d in done) else 0
