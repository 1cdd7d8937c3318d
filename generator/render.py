"""Render a new service: keelson's wrapper around `copier.run_copy`.

It adds what a user of a scaffolding tool expects on top of copier: unknown answers
are rejected, copier's validation errors become one line naming the field and the
allowed values, and the destination is never half-written or silently overwritten.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import copier
from copier.errors import InteractiveSessionError, UnsafeTemplateError

from generator.errors import (
    DestinationError,
    InvalidAnswerError,
    KeelsonError,
    TemplateError,
    UsageError,
)
from generator.template import TemplateSpec, default_template

_VALIDATION = re.compile(r"Validation error for question '(?P<field>\w+)': (?P<msg>.*)", re.S)
_BAD_CHOICE = re.compile(
    r"Invalid choice for '(?P<field>\w+)': (?P<value>.*) is not in \[(?P<allowed>.*)\]", re.S
)
_DISABLED_CHOICE = re.compile(r"Invalid choice for '(?P<field>\w+)': (?P<msg>.*)", re.S)
_BAD_TYPE = re.compile(
    r'Invalid answer "(?P<value>.*)" of type .* to question "(?P<field>\w+)" '
    r'of type "(?P<type>\w+)"',
    re.S,
)
NO_TERMINAL = (
    "no terminal to ask the questions: pass --defaults and/or --data KEY=VALUE "
    "(or --data-file FILE)"
)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def translate_copier_error(error: BaseException) -> KeelsonError | None:
    """Turn copier's answer errors into keelson's one-line errors.

    Args:
        error: What copier raised.

    Returns:
        The keelson error to raise instead, or None when it is not an answer error.

    """
    if isinstance(error, InteractiveSessionError):
        return UsageError(NO_TERMINAL)
    if isinstance(error, UnsafeTemplateError):
        return UsageError(
            "the template runs tasks or migrations; rerun with --trust if you trust it"
        )
    text = str(error)
    if match := _BAD_CHOICE.search(text):
        allowed = ", ".join(v.strip().strip("'\"") for v in match["allowed"].split(","))
        return InvalidAnswerError(match["field"], f"{match['value']} is not one of: {allowed}")
    for pattern in (_VALIDATION, _DISABLED_CHOICE):
        if match := pattern.search(text):
            return InvalidAnswerError(match["field"], _one_line(match["msg"]))
    if match := _BAD_TYPE.search(text):
        return InvalidAnswerError(
            match["field"], f"{match['value']!r} is not of type {match['type']}"
        )
    return None


def check_data_keys(spec: TemplateSpec, data: Mapping[str, Any]) -> None:
    """Reject answers to questions the template does not ask.

    Raises:
        UsageError: A key is not one of the template's questions.

    """
    unknown = sorted(set(data) - set(spec.questions))
    if unknown:
        known = ", ".join(spec.questions)
        raise UsageError(f"unknown question {unknown[0]!r}; the template asks: {known}")


def check_destination(dest: Path) -> None:
    """Refuse a destination that exists and is not an empty folder.

    Raises:
        DestinationError: The folder holds files, or the path is not a folder.

    """
    if not dest.exists():
        return
    if not dest.is_dir():
        raise DestinationError(f"{dest} exists and is not a folder")
    if any(dest.iterdir()):
        raise DestinationError(
            f"{dest} is not empty; pick a new folder, or run `keelson update {dest}` "
            "to bring an existing service up to date"
        )


def local_spec(template: str, vcs_ref: str | None = None) -> TemplateSpec | None:
    """Return the spec of a template that is a local folder, else None.

    With a `vcs_ref` other than HEAD, the questions are read from `copier.yml` at
    that git ref (the version copier will render), not from the working tree.
    """
    path = Path(template)
    if not (path.is_dir() and (path / "copier.yml").is_file()):
        return None
    if vcs_ref and vcs_ref != "HEAD":
        shown = subprocess.run(
            ["git", "show", f"{vcs_ref}:copier.yml"],
            cwd=path,
            capture_output=True,
            text=True,
            check=False,
        )
        if shown.returncode == 0:
            with tempfile.TemporaryDirectory(prefix="keelson-spec-") as tmp:
                (Path(tmp) / "copier.yml").write_text(shown.stdout, encoding="utf-8")
                return dataclasses.replace(TemplateSpec.load(tmp), root=path)
    return TemplateSpec.load(path)


def new_service(
    dest: str | Path,
    *,
    data: Mapping[str, Any] | None = None,
    defaults: bool = False,
    template: str | None = None,
    vcs_ref: str | None = None,
    quiet: bool = False,
    interactive: bool | None = None,
    trust: bool | None = None,
) -> Path:
    """Generate a new service into `dest`.

    Args:
        dest: Folder to create; it must not exist or be empty.
        data: Answers, by question name.
        defaults: Use the default for every question not in `data`.
        template: Template path or git URL; the keelson template by default.
        vcs_ref: Git ref of the template; its newest tag by default.
        quiet: Do not print copier's progress.
        interactive: Whether questions may be asked; by default, when stdin is a
            terminal.
        trust: Allow the template's tasks and migrations; by default only for the
            keelson template itself.

    Returns:
        The path of the generated service.

    Raises:
        UsageError: An answer is invalid, or no terminal is there to ask.
        DestinationError: `dest` holds files already.
        TemplateError: The template could not be rendered.

    """
    answers = dict(data or {})
    src = template or default_template()
    unsafe = trust if trust is not None else template is None
    destination = Path(dest)
    if spec := local_spec(src, vcs_ref):
        check_data_keys(spec, answers)
    check_destination(destination)
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not defaults and not interactive:
        raise UsageError(NO_TERMINAL)
    # copier renders into a private folder named like the destination (the name
    # feeds the default project_name), which is moved into place only once the
    # whole service is written: a failure never leaves half a service behind.
    created = _create_parents(destination)
    try:
        _render_staged(
            src,
            destination,
            answers,
            defaults=defaults,
            vcs_ref=vcs_ref,
            quiet=quiet,
            unsafe=unsafe,
        )
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    return destination


def _create_parents(destination: Path) -> Path | None:
    """Create the destination's missing parents; return the top one created."""
    top: Path | None = None
    for parent in reversed(destination.absolute().parents):
        if not parent.exists():
            top = top or parent
    destination.parent.mkdir(parents=True, exist_ok=True)
    return top


def _render_staged(
    src: str,
    destination: Path,
    answers: dict[str, Any],
    *,
    defaults: bool,
    vcs_ref: str | None,
    quiet: bool,
    unsafe: bool,
) -> None:
    # absolute: the parent of "." (the default destination) is "." itself
    parent = destination.absolute().parent
    with tempfile.TemporaryDirectory(prefix=".keelson-", dir=parent) as tmp:
        staged = Path(tmp) / destination.resolve().name
        try:
            copier.run_copy(
                src,
                staged,
                data=answers,
                defaults=defaults,
                vcs_ref=vcs_ref,
                quiet=quiet,
                overwrite=False,
                cleanup_on_error=True,
                unsafe=unsafe,
            )
        except Exception as error:  # copier raises plain ValueErrors for bad answers
            if translated := translate_copier_error(error):
                raise translated from error
            raise TemplateError(_one_line(f"rendering failed: {error}")) from error
        if destination.exists():
            # checked empty above; filled in place rather than replaced, so that a
            # shell sitting in it (`keelson new` into ".") sees the new files
            for child in staged.iterdir():
                shutil.move(str(child), str(destination / child.name))
        else:
            shutil.move(str(staged), str(destination))
