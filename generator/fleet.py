"""The team's services at a glance: `keelson fleet status` over the catalogue's `services`.

Each service is read from a shallow clone (a bounded number at a time, each with a
time limit) and checked as `keelson check` checks one service, honouring the
catalogue's pins. A service that cannot be cloned or read is a row saying why,
never the end of the run.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.answers import ANSWERS_FILE, find_service, read_answers
from generator.catalogue import Catalogue, FleetService, find_catalogue, load_catalogue
from generator.check import CheckResult, check_service
from generator.errors import KeelsonError, UsageError
from generator.git import deadline, deadline_passed, git
from generator.pins import PRESET_ANSWER, apply_pin, pin_in
from generator.repository import is_remote
from generator.table import columns
from generator.template import TemplateSpec, spec_at

JOBS = 4
TIMEOUT = 60.0
# the order of the states, worst last; every state but "current" fails `fleet status`
STATES = ("current", "behind", "conflicts", "unknown", "not-copier", "unreachable")


@dataclass(frozen=True)
class ServiceRecord:
    """One service's state, as `fleet status --json` and `check --json` print it.

    Attributes:
        service: The service's name (for `check`, its folder).
        state: One of `STATES`: current, behind (releases up to the pin, or the
            newest, missed), conflicts (files still hold conflict markers), unknown
            (its position cannot be told), not-copier (no answers file),
            unreachable (its repository could not be cloned).
        template: The template it records (`_src_path`).
        template_name: The catalogue's name for that template, when it has one.
        preset: The preset it records (`keelson_preset`).
        version: The template version it records (`_commit`).
        pin: The catalogue's pin for its template.
        latest: The template's newest release.
        behind: Releases missed (up to the pin), or commits for a template without tags.
        missed: Those releases, oldest first.
        beyond: Releases newer than the pin, oldest first.
        conflicts: Files holding conflict markers.
        retired: Recorded answers the version it should move to no longer asks
            (copier drops them on update without a word).
        detail: Why the state is unknown, not-copier or unreachable.
        url: The service's repository (fleet only).
        branch: The branch read (fleet only).
        subfolder: The service's folder in its repository (fleet only).
        owner: Who answers for it (fleet only).

    """

    service: str
    state: str
    template: str | None = None
    template_name: str | None = None
    preset: str | None = None
    version: str | None = None
    pin: str | None = None
    latest: str | None = None
    behind: int = 0
    missed: tuple[str, ...] = ()
    beyond: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()
    detail: str | None = None
    url: str | None = None
    branch: str | None = None
    subfolder: str | None = None
    owner: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data (lists for tuples)."""
        return {
            "service": self.service,
            "state": self.state,
            "template": self.template,
            "template_name": self.template_name,
            "preset": self.preset,
            "version": self.version,
            "pin": self.pin,
            "latest": self.latest,
            "behind": self.behind,
            "missed": list(self.missed),
            "beyond": list(self.beyond),
            "conflicts": list(self.conflicts),
            "retired": list(self.retired),
            "detail": self.detail,
            "url": self.url,
            "branch": self.branch,
            "subfolder": self.subfolder,
            "owner": self.owner,
        }


def record_of(result: CheckResult, service: str, template_name: str | None = None) -> ServiceRecord:
    """Turn a (pinned) check result into a record."""
    if result.unknown is not None:
        state = "unknown"
    elif result.conflicts:
        state = "conflicts"
    elif not result.up_to_date:
        state = "behind"
    else:
        state = "current"
    return ServiceRecord(
        service=service,
        state=state,
        template=result.template,
        template_name=template_name,
        preset=result.preset,
        version=result.current,
        pin=result.pin,
        latest=result.latest,
        behind=len(result.missed) or result.behind,
        missed=result.missed,
        beyond=result.beyond,
        conflicts=result.conflicts,
        detail=result.unknown,
    )


def check_record(
    project: Path, catalogue: Catalogue | None, service: str, answers_file: str = ANSWERS_FILE
) -> ServiceRecord:
    """Check one service folder against its template and the catalogue's pin.

    Raises:
        UsageError: The folder is not a generated service.

    """
    result = check_service(project, answers_file=answers_file)
    answers = read_answers(result.path, answers_file)
    preset = str(answers.get(PRESET_ANSWER) or "") or None
    pin = pin_in(catalogue, answers) if catalogue is not None else None
    pinned = apply_pin(result, pin, preset)
    found = record_of(pinned, service, pin.template if pin else None)
    if pinned.missed and (spec := _spec(pinned.template, pinned.missed[-1])) is not None:
        asked = set(spec.questions)
        retired = tuple(k for k in answers if not k.startswith("_") and k not in asked)
        found = dataclasses.replace(found, retired=retired)
    return found


@functools.lru_cache(maxsize=32)
def _spec(template: str, ref: str) -> TemplateSpec | None:
    # forty services on two templates: read each release's questions once per run
    return spec_at(template, ref)


def check_json(path: str | Path = ".", *, catalogue: str | None = None) -> ServiceRecord:
    """Return the record `keelson check --json` prints: one service, as `fleet status` sees it.

    Args:
        path: The service's folder (or a folder inside it).
        catalogue: The `--catalogue` flag; `find_catalogue` picks one otherwise.

    Raises:
        UsageError: The folder is not a generated service.
        CatalogueError: The configured catalogue cannot be read or is not valid.

    """
    _spec.cache_clear()
    project = find_service(path)
    location = find_catalogue(catalogue)
    loaded = load_catalogue(location) if location is not None else None
    return check_record(project, loaded, str(project))


def _located(record: ServiceRecord, entry: FleetService) -> ServiceRecord:
    return dataclasses.replace(
        record, url=entry.url, branch=entry.branch, subfolder=entry.subfolder or None,
        owner=entry.owner or None,
    )  # fmt: skip


def _status_of(
    entry: FleetService, catalogue: Catalogue, timeout: float, answers_file: str
) -> ServiceRecord:
    # the timeout covers the whole check (the clone, the template's tags and questions):
    # every git command inside runs against the one deadline
    with deadline(timeout):
        found = _read(entry, catalogue, timeout, answers_file)
        if found.state != "unreachable" and deadline_passed():
            detail = (
                f"not checked within {timeout:g} seconds (--timeout covers the clone and the check)"
            )
            found = _located(ServiceRecord(entry.name, "unknown", detail=detail), entry)
    return found


def _read(
    entry: FleetService, catalogue: Catalogue, timeout: float, answers_file: str
) -> ServiceRecord:
    with tempfile.TemporaryDirectory(prefix="keelson-fleet-") as tmp:
        clone = Path(tmp) / "service"
        source = entry.url if is_remote(entry.url) else Path(entry.url).as_uri()
        branch = ["--branch", entry.branch] if entry.branch else []
        cloned = git(
            "clone", "--quiet", "--depth=1", "--single-branch", *branch, "--", source, str(clone),
            cwd=Path(tmp), timeout=timeout,
        )  # fmt: skip
        if cloned.returncode != 0:
            # git's first line says it (its next ones are generic advice)
            said = [line.strip() for line in cloned.stderr.splitlines() if line.strip()]
            detail = said[0] if said else f"git clone exit code {cloned.returncode}"
            return _located(ServiceRecord(entry.name, "unreachable", detail=detail), entry)
        project = clone / entry.subfolder if entry.subfolder else clone
        if not (project / answers_file).is_file():
            inside = f" in {entry.subfolder}" if entry.subfolder else ""
            found = ServiceRecord(entry.name, "not-copier", detail=f"no {answers_file}{inside}")
            return _located(found, entry)
        try:
            found = check_record(project, catalogue, entry.name, answers_file)
        except KeelsonError as error:
            return _located(ServiceRecord(entry.name, "unknown", detail=str(error)), entry)
        return _located(found, entry)


def fleet_status(
    catalogue: Catalogue,
    *,
    jobs: int = JOBS,
    timeout: float = TIMEOUT,
    answers_file: str = ANSWERS_FILE,
) -> list[ServiceRecord]:
    """Check every service the catalogue lists, a few at a time.

    Args:
        catalogue: The catalogue; its `services` are checked, its pins honoured.
        jobs: How many services are cloned and checked at once.
        timeout: Seconds each service's clone and check may take together.
        answers_file: Name of the services' answers file.

    Returns:
        One record per service, in the catalogue's order.

    Raises:
        UsageError: The catalogue lists no services.

    """
    if not catalogue.services:
        raise UsageError(
            f"{catalogue.source} lists no services: add a `services:` list (docs/catalogue.md)"
        )
    _spec.cache_clear()  # a template's tags may have moved since the last run in this process
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(
            pool.map(lambda e: _status_of(e, catalogue, timeout, answers_file), catalogue.services)
        )


def fleet_exit_code(records: Iterable[ServiceRecord]) -> int:
    """0 when every service is current, else 1 (behind or broken)."""
    return 0 if all(r.state == "current" for r in records) else 1


def _note(record: ServiceRecord) -> str:
    if record.detail:
        return record.detail
    notes = []
    if record.missed:
        notes.append(f"missed {', '.join(record.missed)}")
    if record.conflicts:
        notes.append(f"conflict markers in {', '.join(record.conflicts)}")
    if record.retired:
        notes.append(f"{record.missed[-1]} no longer asks {', '.join(record.retired)}")
    if record.beyond:
        notes.append(f"{', '.join(record.beyond)} beyond the pin")
    return "; ".join(notes)


def format_fleet(records: Iterable[ServiceRecord]) -> list[str]:
    """Render the records as the table `keelson fleet status` prints."""
    header = ("SERVICE", "STATE", "TEMPLATE", "PRESET", "VERSION", "PIN", "BEHIND", "NOTES")
    rows: list[tuple[str, ...]] = [header]
    for r in records:
        known = r.state not in {"unreachable", "not-copier"}
        rows.append(
            (
                r.service,
                r.state,
                r.template_name or r.template or "-",
                r.preset or "-",
                r.version or "-",
                r.pin or "-",
                str(r.behind) if known else "-",
                _note(r),
            )
        )
    return columns(rows, right={6})
