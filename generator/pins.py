"""The team catalogue's pins, honoured by `keelson check` and `keelson update`.

A catalogue pins each template to a ref (docs/catalogue.md). A service made from a
preset records the preset's name (the `keelson_preset` answer); a service whose
recorded template is one the catalogue names is pinned too. For such a service
"current" means at the pin: `check` counts the releases up to the pin as missed
and mentions newer ones without failing, and `update` goes to the pin, never past
it unless `--to` says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.answers import ANSWERS_FILE, find_service, read_answers
from generator.catalogue import Catalogue, CatalogueTemplate, find_catalogue, load_catalogue
from generator.check import CheckResult, check_service
from generator.outcomes import UpdateResult
from generator.releases import (
    changelog_between,
    parse_version,
    read_changelog,
    release_tags,
    release_version,
)
from generator.update import update_service

PRESET_ANSWER = "keelson_preset"
"""The answer that records the preset a service was made from (copier.yml)."""


@dataclass(frozen=True)
class Pin:
    """The ref the catalogue pins a service's template to.

    Attributes:
        template: The catalogue's name for the template.
        ref: The pinned ref.
        preset: The preset the service records, when the catalogue has it.
        where: `catalogue:line` of the template, for messages.

    """

    template: str
    ref: str
    preset: str | None
    where: str


def same_template(recorded: str, url: str) -> bool:
    """Whether a service's `_src_path` names the catalogue template at `url`."""

    def norm(text: str) -> str:
        text = text.removeprefix("git+").removeprefix("file://").rstrip("/")
        path = Path(text).expanduser()
        if path.is_absolute() and path.exists():
            text = str(path.resolve())
        return text.removesuffix(".git").rstrip("/")

    return norm(recorded) == norm(url)


def pin_in(catalogue: Catalogue, answers: Mapping[str, Any]) -> Pin | None:
    """Return the catalogue's pin for a service's recorded answers, if it has one.

    The recorded preset decides; a service without one (or with a preset the
    catalogue no longer has) is pinned by the template it records, when the
    catalogue names that template.
    """
    preset_name = str(answers.get(PRESET_ANSWER) or "")
    src = str(answers.get("_src_path") or "")
    template: CatalogueTemplate | None = None
    preset: str | None = None
    for candidate in catalogue.presets:
        if preset_name and candidate.name == preset_name:
            template, preset = candidate.template, candidate.name
            break
    if template is None:
        template = next(
            (t for t in catalogue.templates.values() if same_template(src, t.url)), None
        )
    if template is None:
        return None
    return Pin(template.name, template.ref, preset, catalogue.where(template.line))


def find_pin(answers: Mapping[str, Any], catalogue: str | None = None) -> Pin | None:
    """Return the configured catalogue's pin for a service, or None without a catalogue.

    Args:
        answers: The service's recorded answers.
        catalogue: The `--catalogue` flag; `find_catalogue` picks one otherwise.

    Raises:
        CatalogueError: The configured catalogue cannot be read or is not valid.

    """
    location = find_catalogue(catalogue)
    if location is None:
        return None
    return pin_in(load_catalogue(location), answers)


def apply_pin(result: CheckResult, pin: Pin | None, preset: str | None = None) -> CheckResult:
    """Re-read a check result against a pin: releases past it are mentioned, not missed."""
    result = dataclasses.replace(result, preset=preset)
    if pin is None:
        return result
    pinned = dataclasses.replace(result, pin=pin.ref)
    if result.unknown is not None or result.behind or not result.latest:
        return pinned
    limit = parse_version(pin.ref)
    if limit is None:  # a branch or commit: current means exactly there
        missed: tuple[str, ...] = () if result.current == pin.ref else (pin.ref,)
        return dataclasses.replace(pinned, missed=missed, changelog=())
    missed = tuple(t for t in result.missed if release_version(t) <= limit)
    beyond = tuple(t for t in result.missed if release_version(t) > limit)
    changelog: tuple[str, ...] = ()
    if missed:
        text = read_changelog(result.template, pin.ref)
        if text:
            have = parse_version(result.current)
            changelog = tuple(changelog_between(text, have, limit))
    return dataclasses.replace(pinned, missed=missed, beyond=beyond, changelog=changelog)


def check_pinned(
    path: str | Path = ".", *, catalogue: str | None = None, answers_file: str = ANSWERS_FILE
) -> CheckResult:
    """`check_service`, honouring the configured catalogue's pin for the service.

    Args:
        path: The service's folder (or a folder inside it).
        catalogue: The `--catalogue` flag.
        answers_file: Name of the service's answers file.

    Raises:
        UsageError: The folder is not a generated service.
        CatalogueError: The configured catalogue cannot be read or is not valid.

    """
    result = check_service(path, answers_file=answers_file)
    answers = read_answers(result.path, answers_file)
    preset = str(answers.get(PRESET_ANSWER) or "") or None
    return apply_pin(result, find_pin(answers, catalogue), preset)


def update_pinned(
    path: str | Path = ".",
    *,
    catalogue: str | None = None,
    to: str | None = None,
    **options: Any,
) -> tuple[UpdateResult, list[str]]:
    """`update_service`, going to the catalogue's pin rather than the newest release.

    `to` (the `--to` flag) moves past the pin deliberately; without it a service
    at or past its pin is up to date (its answers still change with `data`).

    Args:
        path: The service's folder.
        catalogue: The `--catalogue` flag.
        to: The template ref to update to, overriding the pin.
        **options: The other arguments of `update_service`.

    Returns:
        The update's result, and notes for the user (newer releases beyond the pin).

    Raises:
        CatalogueError: The configured catalogue cannot be read or is not valid.
        UsageError, UpdateConflictError, KeelsonError: as `update_service`.

    """
    answers_file = str(options.get("answers_file", ANSWERS_FILE))
    project = find_service(path, answers_file)
    answers = read_answers(project, answers_file)
    pin = find_pin(answers, catalogue)
    notes: list[str] = []
    if to is None and pin is not None and not options.get("template"):
        current = str(answers.get("_commit") or "") or None
        have, limit = parse_version(current), parse_version(pin.ref)
        at_or_past = current == pin.ref or (
            have is not None and limit is not None and have >= limit
        )
        newer = [
            t for t in release_tags(str(answers["_src_path"]))
            if limit is not None and release_version(t) > limit
            and (have is None or release_version(t) > have)
        ]  # fmt: skip
        if newer:
            notes.append(
                f"{', '.join(newer)} {'is' if len(newer) == 1 else 'are'} out beyond the "
                f"catalogue's pin {pin.ref} ({pin.where}); `keelson update --to {newer[-1]}` "
                "moves past it"
            )
        if at_or_past and not options.get("data"):
            kept = UpdateResult(
                path=project,
                old_version=current,
                new_version=current,
                pretend=bool(options.get("pretend")),
            )
            return kept, notes
        to = current if at_or_past else pin.ref
    return update_service(path, to=to, **options), notes
