"""The one way keelson drives copier: `copy` and `update`, with copier's errors made keelson's.

Every command that renders (new, presets, adopt, update, catalogue validate) goes
through here, so each gets the same behaviour: copier's chatter hidden when quiet, an
interrupt without copier's internal state, a template that runs code refused without
`--trust` (or asked about once, in a terminal), and copier's answer errors turned into
one line naming the field and the allowed values.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import copier
from copier.errors import InteractiveSessionError, UnsafeTemplateError, UserMessageError

from generator.errors import InvalidAnswerError, KeelsonError, TemplateError, UsageError, one_line
from generator.trust import ask_trust

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
# copier.yml stops copier on an answer it cannot even cast (`port=abc`) with an
# undefined name that reads as the rule: `'port_must_be_an_integer_from_1024_to_65535'
# is undefined` (see the port question)
_RULE_NAME = re.compile(r"'(?P<field>[a-z][a-z0-9_]*?)_(?P<msg>must_be_\w+)' is undefined")
NO_TERMINAL = (
    "no terminal to ask the questions: pass --defaults and/or --data KEY=VALUE "
    "(or --data-file FILE)"
)


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
    for pattern in (_VALIDATION, _DISABLED_CHOICE, _RULE_NAME):
        if match := pattern.search(text):
            message = one_line(match["msg"])
            if pattern is _RULE_NAME:
                message = message.replace("_", " ")
            return InvalidAnswerError(match["field"], message)
    if match := _BAD_TYPE.search(text):
        return InvalidAnswerError(
            match["field"], f"{match['value']!r} is not of type {match['type']}"
        )
    return None


def hide_chatter(quiet: bool) -> contextlib.AbstractContextManager[object]:
    """Hide what copier prints to stderr whatever its `quiet` says, when quiet.

    Copier prints some notices (e.g. "No git tags found in template") straight to
    stderr; keelson prints its own summary instead, and `-v` shows them all.
    """
    return contextlib.redirect_stderr(io.StringIO()) if quiet else contextlib.nullcontext()


def _guarded(
    run: Callable[[bool], None],
    *,
    unsafe: bool,
    interactive: bool,
    template: str,
    refusal: str,
    failure: Callable[[Exception], KeelsonError],
) -> None:
    """Run copier (`run(unsafe)`), asking about trust once; raise only keelson's errors."""
    try:
        run(unsafe)
    except KeyboardInterrupt:
        # copier's interrupt carries its whole internal state; the user needs none
        raise KeyboardInterrupt from None
    except UnsafeTemplateError as error:
        # a remote template's tasks are known only once copier has fetched it; copier
        # stops before any question or change, so asking now and retrying is safe
        if unsafe or not interactive:
            raise UsageError(refusal) from error
        ask_trust(template)
        _guarded(
            run, unsafe=True, interactive=interactive, template=template,
            refusal=refusal, failure=failure,
        )  # fmt: skip
    except Exception as error:  # copier raises plain ValueErrors for bad answers
        raise failure(error) from error


def _copy_failure(error: Exception) -> KeelsonError:
    return translate_copier_error(error) or TemplateError(one_line(f"rendering failed: {error}"))


def copy(
    location: str,
    destination: Path,
    answers: Mapping[str, Any],
    *,
    vcs_ref: str | None,
    unsafe: bool,
    quiet: bool = True,
    defaults: bool = True,
    interactive: bool = False,
    **options: Any,
) -> None:
    """Render a template into a new folder with copier's `run_copy`.

    Args:
        location: The template (a folder or a git URL).
        destination: The folder to render into.
        answers: Answers given (`--data`, a preset's).
        vcs_ref: The template version; None for copier's choice (the newest tag).
        unsafe: Whether the template's tasks and migrations may run.
        quiet: Hide copier's output.
        defaults: Take every default instead of asking.
        interactive: Whether a terminal may be asked to trust the template.
        **options: Further `run_copy` options (`pretend`, `skip_tasks`, `overwrite`).

    Raises:
        UsageError: The template runs code and is not trusted, or no terminal to ask.
        InvalidAnswerError: An answer was refused (one line: field and allowed values).
        TemplateError: The template did not render.

    """

    def run(trusted: bool) -> None:
        with hide_chatter(quiet):
            copier.run_copy(
                location,
                destination,
                data=dict(answers),
                defaults=defaults,
                vcs_ref=vcs_ref,
                quiet=quiet,
                unsafe=trusted,
                **({"overwrite": False, "cleanup_on_error": True} | options),
            )

    _guarded(
        run,
        unsafe=unsafe,
        interactive=interactive,
        template=location,
        refusal=(
            f"the template {location} runs tasks or migrations; rerun with --trust if you trust it"
        ),
        failure=_copy_failure,
    )


def update(
    project: Path,
    *,
    to: str | None,
    unsafe: bool,
    quiet: bool,
    answers_file: str,
    interactive: bool,
    template: str = "",
    data: Mapping[str, Any] | None = None,
    shown: Path | None = None,
) -> None:
    """Run copier's `run_update` on `project` (a scratch clone; `shown`: the service as named).

    The recorded answers answer every question and new questions take their defaults:
    an update never stops to ask. Conflicts are left inline, as markers.

    Raises:
        UsageError: Not trusted, `--to` older than the service, or an answer refused.
        KeelsonError: A migration step refused (the service is unchanged), or copier failed.

    """

    def run(trusted: bool) -> None:
        with hide_chatter(quiet):
            copier.run_update(
                project,
                answers_file=answers_file,
                vcs_ref=to,
                data=dict(data or {}),
                # skip_answered stays False so that the answers a `before` migration
                # rewrote are reloaded
                defaults=True,
                overwrite=True,
                conflict="inline",
                unsafe=trusted,
                quiet=quiet,
            )

    _guarded(
        run,
        unsafe=unsafe,
        interactive=interactive,
        template=template,
        refusal=(
            f"the template {template or 'of this service'} runs tasks or migrations; "
            f"rerun `keelson update --trust {shown or project}` if you trust it"
        ),
        failure=lambda error: _update_failure(error, to, data or {}, answers_file),
    )


def _update_failure(
    error: Exception, to: str | None, data: Mapping[str, Any], answers_file: str
) -> KeelsonError:
    if isinstance(error, subprocess.CalledProcessError) and "migrations.py" in str(error.cmd):
        # a migration step that refuses prints its own reason on stderr before this;
        # copier runs `before` migrations ahead of any change to the service
        return KeelsonError(
            "update stopped by a migration step of the template (its reason is above); "
            "the service is unchanged"
        )
    # a task (copier's TaskError is a CalledProcessError) fails after the update's changes
    translated = translate_copier_error(error)
    if isinstance(error, UserMessageError):
        text = one_line(str(error))
        if "downgrad" in text.lower():
            return UsageError(f"--to {to} is older than the service's version: {text}")
        return translated or KeelsonError(f"update failed: {text}")
    if isinstance(translated, InvalidAnswerError):
        if translated.field in data:
            return UsageError(f"--data {translated.field}: {translated.message}")
        return UsageError(
            f"{translated}; the new template version rejects the service's recorded "
            f"answer: edit {answers_file}, commit, and rerun `keelson update`"
        )
    return translated or KeelsonError(one_line(f"update failed: {error}"))
