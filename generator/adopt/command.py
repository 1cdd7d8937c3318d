"""`keelson adopt`: detect, show and confirm the answers, then write the container files."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from generator import transaction
from generator.adopt.detection import detect, format_detection, normalise_data, runtime_words
from generator.adopt.findings import Detection
from generator.adopt.writing import Adopted, refuse_existing, refuse_pipeline_clash, write
from generator.answers import adopted_answers
from generator.errors import KeelsonError, UsageError
from generator.gateway import NO_TERMINAL
from generator.render import check_data_keys, checked_source, local_spec
from generator.source import is_own, own_template
from generator.template import TemplateSpec, spec_at
from generator.trust import confirm_trust


def _recorded(previous: Mapping[str, Any] | None, spec: TemplateSpec | None) -> dict[str, Any]:
    """Return the answers an earlier adoption recorded, so that adopting again keeps them."""
    known = spec.questions if spec is not None else {}
    return {k: v for k, v in (previous or {}).items() if not k.startswith("_") and k in known}


def _recorded_location(previous: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Where to render the template an adoption recorded: (template, ref) for `checked_source`."""
    src, commit = str(previous["_src_path"]), previous.get("_commit")
    if not is_own(src):
        return src, str(commit) if commit else None
    # keelson's own template: the bundled copy when it is that version, else its repository
    own = own_template()
    return None, None if own.commit == commit or not commit else str(commit)


def adopt_project(
    directory: str | Path = ".",
    *,
    data: Mapping[str, Any] | None = None,
    defaults: bool = False,
    force: bool = False,
    skip_existing: bool = False,
    template: str | None = None,
    vcs_ref: str | None = None,
    allow_dirty: bool = False,
    trust: bool | None = None,
    quiet: bool = True,
    interactive: bool | None = None,
    confirm: Callable[[str], bool] | None = None,
    edit: Callable[[str], str] | None = None,
    show: Callable[[str], None] | None = None,
) -> Adopted:
    """Containerize an existing project with keelson's adopted-project template.

    Args:
        directory: The project's folder.
        data: Answers that win over detection (`--data`).
        defaults: Take the detected answers without asking.
        force: Replace existing container files (their diff is shown first).
        skip_existing: Keep existing container files and write only the others.
        template: Template path or git URL; keelson's own by default.
        vcs_ref: Git ref of the template.
        allow_dirty: Render a template checkout with uncommitted changes.
        trust: Allow another template's tasks.
        quiet: Hide copier's output.
        interactive: Whether the detected answers may be confirmed in a terminal
            (default: when stdin is one).
        confirm: Asks a yes/no question (default: questionary in a terminal).
        edit: Asks for one changed answer as KEY=VALUE, or nothing (default: questionary).
        show: Prints a line for the user (default: stderr).

    Returns:
        What was written.

    Raises:
        DetectionError: The project is unknown or ambiguous (nothing written).
        DestinationError: Container files exist and neither --force nor
            --skip-existing was given (nothing written).
        UsageError: Bad answers or options (nothing written).

    """
    root = Path(directory)
    if force and skip_existing:
        raise UsageError("--force and --skip-existing exclude each other: pick one")
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not defaults and not interactive:
        raise UsageError(NO_TERMINAL.replace("--data KEY=VALUE", "--data KEY=VALUE to change one"))
    say = show or (lambda line: print(line, file=sys.stderr))
    transaction.recover(root)
    recorded = adopted_answers(root)
    # an adoption keelson can render again records its template
    previous = recorded if recorded and recorded.get("_src_path") else None
    stay = previous is not None and template is None and vcs_ref is None
    if previous is not None and template is None:
        # adopting again keeps the template the project records (`--template` names
        # another on purpose) and its version unless `--vcs-ref` moves it
        template, recorded_ref = _recorded_location(previous)
        vcs_ref = recorded_ref if vcs_ref is None else vcs_ref
    source, notes = checked_source(
        template, root / ".keelson-adopt", vcs_ref, allow_dirty=allow_dirty
    )
    keep_source = source
    if stay and previous is not None:
        keep_source = dataclasses.replace(
            source, record=str(previous["_src_path"]), commit=previous.get("_commit")
        )
    spec = local_spec(source.location, vcs_ref)
    trusted = bool(trust) or source.trusted
    answers = normalise_data(data or {}, runtime_words(spec, trusted=trusted))
    # a bare repository or a URL: its copier.yml at the ref, fetched to check --data
    asks = spec or (spec_at(source.location, vcs_ref) if answers else None)
    if asks is not None:
        check_data_keys(asks, answers)
    answers = {**_recorded(recorded, spec), **answers}
    if answers.get("adopted") is False:
        raise UsageError("adopted: keelson adopt always records adopted=true; drop --data adopted")
    detection = detect(root, answers, spec, trusted=trusted)
    present = refuse_existing(root, force, skip_existing)
    refuse_pipeline_clash(root, str(detection.answers.get("ci", "none")), previous)
    ask = confirm or _ask
    if interactive and not defaults:
        detection = _confirmed(
            detection, answers, spec, asks, trusted=trusted, ask=ask, edit=edit or _edit, say=say
        )
    unsafe = confirm_trust(source, trust, interactive=interactive)
    adopted = write(
        root, source=source, record=keep_source, answers=detection.answers, vcs_ref=vcs_ref,
        quiet=quiet, unsafe=unsafe, force=force, skip_existing=skip_existing,
        previous=previous, ask=None if defaults or not interactive else (confirm or _ask_no),
        say=say, allow_dirty=allow_dirty,
    )  # fmt: skip
    if {"docker-compose.yml", "docker-compose.yaml", "compose.yml"} & set(present):
        notes.append(
            "an older compose file is still there; `docker compose` reads compose.yaml "
            "first, so merge what you need from it and delete it"
        )
    return dataclasses.replace(adopted, notes=(*detection.notes, *notes, *adopted.notes))


def _confirmed(
    detection: Detection,
    given: dict[str, Any],
    spec: TemplateSpec | None,
    asks: TemplateSpec | None,
    *,
    trusted: bool,
    ask: Callable[[str], bool],
    edit: Callable[[str], str],
    say: Callable[[str], None],
) -> Detection:
    """Show the answers until the user takes them; any may be changed, as with --data."""
    while True:
        say(f"keelson found a {detection.label} project in {detection.root}:")
        for line in [*format_detection(detection), *(f"  note: {n}" for n in detection.notes)]:
            say(line)
        if ask("Write the container files with these answers?"):
            return detection
        reply = edit("Change an answer (KEY=VALUE; empty: write nothing):")
        key, _, value = reply.partition("=")
        if not key.strip():
            raise KeelsonError(
                "nothing was written; change an answer with --data KEY=VALUE and rerun"
            )
        changed = normalise_data({key.strip(): value}, runtime_words(spec, trusted=trusted))
        if asks is not None:
            check_data_keys(asks, changed)
        # detection runs again: what follows from the changed answer is proposed anew
        given = {**given, **changed}
        detection = detect(detection.root, given, spec, trusted=trusted)


def _ask(question: str, default: bool = True) -> bool:
    import questionary  # noqa: PLC0415 - the interactive path only

    return bool(questionary.confirm(question, default=default).unsafe_ask())


def _edit(question: str) -> str:
    import questionary  # noqa: PLC0415 - the interactive path only

    return str(questionary.text(question).unsafe_ask() or "")


def _ask_no(question: str) -> bool:
    """Ask a question whose safe answer, and so the default, is no."""
    return _ask(question, default=False)
