"""Keeping a team catalogue sound: `keelson catalogue validate`, `show` and `list` filters.

`validate_catalogue` is what the catalogue repository's CI runs: every template
reachable with its ref present, every preset's answers valid against its template's
questions at that ref. The answers go through what `keelson new` uses (the unknown
question and integer checks, then copier's own validators, in a dry run that writes
nothing), so a preset the catalogue accepts is one `keelson new` renders.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from generator import gateway
from generator.catalogue import Catalogue, CatalogueTemplate, Preset, template_questions
from generator.errors import CatalogueError, InvalidAnswerError, KeelsonError, one_line
from generator.render import check_data_keys
from generator.repository import list_refs
from generator.source import is_own
from generator.table import columns
from generator.template import TemplateSpec, spec_at

_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


def _template_problem(catalogue: Catalogue, template: CatalogueTemplate) -> str | None:
    """Say why the template cannot be rendered at its ref, if it cannot."""
    where = f"{catalogue.where(template.line)}: template {template.name!r}"
    if template.is_local:
        try:
            template_questions(catalogue, template, template.ref)
        except CatalogueError as error:
            return str(error)
        return None
    refs = list_refs(template.url)
    if isinstance(refs, str):
        return f"{where}: cannot reach {template.url}: {refs}"
    names = {f"refs/tags/{template.ref}", f"refs/heads/{template.ref}", template.ref}
    if names & set(refs) or (
        _COMMIT.match(template.ref) and any(s.startswith(template.ref) for s in refs.values())
    ):
        return None
    return f"{where}: ref {template.ref!r} is not a tag or branch of {template.url}"


def _preset_problems(catalogue: Catalogue, preset: Preset, *, trust: bool) -> list[str]:
    template = preset.template
    head = f"preset {preset.name!r}"

    def at(key: str | None) -> str:
        line = preset.answer_lines.get(key, preset.line) if key else preset.line
        return catalogue.where(line)

    spec = spec_at(template.url, template.ref)
    if spec is None:
        return [f"{at(None)}: {head}: cannot read template {template.name!r} at {template.ref}"]
    problems = [
        f"{at(key)}: {head}: {key!r} is not a question of template {template.name!r} at "
        f"{template.ref}; it asks: {', '.join(spec.questions)}"
        for key in preset.answers
        if key not in spec.questions
    ]
    if problems:
        return problems
    try:
        check_data_keys(spec, preset.answers)
    except InvalidAnswerError as error:
        return [f"{at(error.field)}: {head}: invalid {error.field}: {error.message}"]
    unsafe = trust or is_own(template.url)
    with tempfile.TemporaryDirectory(prefix="keelson-validate-") as tmp:
        try:
            gateway.copy(
                template.url, Path(tmp) / preset.name, preset.answers,
                vcs_ref=template.ref, unsafe=unsafe, pretend=True, skip_tasks=True,
            )  # fmt: skip
        except InvalidAnswerError as error:
            what = "invalid" if error.field in preset.answers else "the template's default for"
            return [f"{at(error.field)}: {head}: {what} {error.field}: {error.message}"]
        except KeelsonError as error:
            detail = one_line(str(error))
            return [f"{at(None)}: {head}: cannot render template {template.name!r}: {detail}"]
    return []


def validate_catalogue(catalogue: Catalogue, *, trust: bool = False) -> list[str]:
    """Find everything in a catalogue that would stop `keelson new --preset`.

    Args:
        catalogue: The catalogue (already valid as a document).
        trust: Let templates other than keelson's use Jinja extensions while their
            answers are checked (their tasks never run here).

    Returns:
        One line per finding, each starting with `file:line:`; empty when sound.

    """
    findings: list[str] = []
    broken: set[str] = set()
    for template in catalogue.templates.values():
        if problem := _template_problem(catalogue, template):
            findings.append(problem)
            broken.add(template.name)
    for preset in catalogue.presets:
        if preset.template.name not in broken:
            findings.extend(_preset_problems(catalogue, preset, trust=trust))
    return findings


def format_table(catalogue: Catalogue, presets: Iterable[Preset] | None = None) -> list[str]:
    """Render the presets as the table `keelson catalogue list` prints.

    OWNER and TAGS columns appear when a preset of the catalogue has them.
    """
    chosen = list(catalogue.presets if presets is None else presets)
    extra = any(p.owner or p.tags for p in catalogue.presets)
    header = ("NAME", "TEMPLATE", "VERSION", *(("OWNER", "TAGS") if extra else ()), "DESCRIPTION")
    rows: list[tuple[str, ...]] = [header]
    for p in chosen:
        more = (p.owner or "-", ",".join(p.tags) or "-") if extra else ()
        rows.append((p.name, p.template.name, p.template.ref, *more, p.description))
    return columns(rows)


def select_presets(
    catalogue: Catalogue, *, tags: Iterable[str] = (), owner: str | None = None
) -> list[Preset]:
    """Return the presets carrying every one of `tags` and owned by `owner` (when given)."""
    wanted = set(tags)
    return [
        p
        for p in catalogue.presets
        if wanted <= set(p.tags) and (owner is None or p.owner == owner)
    ]


def _truthy(text: str) -> bool:
    return text.strip().lower() not in {"", "false", "no", "off", "0", "none"}


def questions_left(spec: TemplateSpec, answers: Mapping[str, Any], folder: str) -> list[str]:
    """Return the questions a preset leaves to ask, in the template's order.

    A question whose `when` is false with the preset's answers (and the defaults
    of the rest) is not asked, as copier skips it; a condition that cannot be
    evaluated here counts as asked.
    """
    env = SandboxedEnvironment(
        undefined=jinja2.ChainableUndefined,
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
    )
    context: dict[str, Any] = {"_folder_name": folder}
    left: list[str] = []
    for name, question in spec.questions.items():
        asked = True
        if isinstance(question.when, bool):
            asked = question.when
        elif isinstance(question.when, str):
            try:
                asked = _truthy(env.from_string(question.when).render(context))
            except Exception:  # copier's context has more: copier asks it then
                asked = True
        value = question.default
        if isinstance(value, str) and "{" in value:
            # copier's context has more: keep the raw default for what follows
            with contextlib.suppress(Exception):
                value = env.from_string(value).render(context)
        context[name] = answers.get(name, value)
        if asked and name not in answers:
            left.append(name)
    return left


def describe_preset(catalogue: Catalogue, name: str) -> list[str]:
    """Render what `keelson catalogue show PRESET` prints.

    Raises:
        CatalogueError: No such preset.
        KeelsonError: The template cannot be read at its ref.

    """
    preset = catalogue.preset(name)
    template = preset.template
    spec = spec_at(template.url, template.ref)
    if spec is None:
        raise KeelsonError(
            f"cannot read template {template.name!r} ({template.url}) at {template.ref}: "
            "run `keelson catalogue validate` to see why"
        )
    lines = [
        f"preset: {preset.name} ({catalogue.where(preset.line)})",
        f"description: {preset.description}",
        f"template: {template.name} at {template.ref} ({template.url})",
        f"owner: {preset.owner or '-'}",
        f"tags: {', '.join(preset.tags) or '-'}",
        "answers:" if preset.answers else "answers: none",
    ]
    lines += [f"  {key}: {value}" for key, value in preset.answers.items()]
    left = questions_left(spec, preset.answers, preset.name)
    lines.append(
        "questions left (asked; their defaults with --defaults):"
        if left
        else "questions left: none"
    )
    for key in left:
        question = spec.questions[key]
        default = question.default
        shown = "" if default in (None, "") or "{" in str(default) else f" (default: {default})"
        lines.append(f"  {key}: {question.help or question.type}{shown}")
    return lines
