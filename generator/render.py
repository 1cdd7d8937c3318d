"""Render a new service: keelson's wrapper around `copier.run_copy`.

It adds what a user of a scaffolding tool expects on top of copier: unknown answers
are rejected, copier's validation errors become one line naming the field and the
allowed values, and the destination is never half-written or silently overwritten.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

import yaml

from generator import gateway, transaction
from generator.answers import ANSWERS_FILE
from generator.errors import (
    DestinationError,
    InvalidAnswerError,
    UsageError,
)
from generator.gateway import NO_TERMINAL
from generator.newtree import bring_in
from generator.repository import check_ref, is_placeholder
from generator.source import (
    BUNDLE,
    TemplateSource,
    bundle_url,
    published,
    resolve,
)
from generator.template import TemplateSpec, spec_at
from generator.trust import confirm_trust


def check_data_keys(spec: TemplateSpec, data: Mapping[str, Any]) -> None:
    """Reject answers to questions the template does not ask.

    Raises:
        UsageError: A key is not one of the template's questions.

    """
    unknown = sorted(set(data) - set(spec.questions))
    if unknown:
        known = ", ".join(spec.questions)
        raise UsageError(f"unknown question {unknown[0]!r}; the template asks: {known}")
    for name, value in data.items():
        question = spec.questions[name]
        if question.type == "int" and not _is_integer(value):
            raise InvalidAnswerError(
                name, f"{json.dumps(value)} is not an integer ({question.help})"
            )


def _is_integer(value: object) -> bool:
    """Whether an answer reads as an integer, as `--data port=9000` does.

    copier casts a `--data-file` number with int(), which would take 9000.5 as 9000
    without a word; a YAML true is no port either.
    """
    if isinstance(value, str):
        try:
            int(value.strip())
        except ValueError:
            return False
        return True
    return isinstance(value, int) and not isinstance(value, bool)


def check_applied(
    spec: TemplateSpec, given: Mapping[str, Any], recorded: Mapping[str, Any]
) -> None:
    """Refuse an answer the template did not use: its question's `when` was false.

    copier drops such an answer without a word (`ingress_class` without an
    `ingress_host`, `storage_class` without a database); the user meant something by it.

    Raises:
        UsageError: A given answer is not among the recorded ones.

    """
    for name in given:
        if name in recorded or name not in spec.questions:
            continue
        when = spec.questions[name].when
        if str(when).strip().lower() == "false":
            why = "the template works it out itself and never asks it"
        else:
            why = f"the template asks it only when {describe_condition(str(when))}"
        raise UsageError(f"--data {name}: not used with these answers ({why}); nothing written")


_CLAUSE = re.compile(r"^(?P<name>\w+)\s*(?P<op>==|!=)\s*(?P<q>['\"])(?P<value>.*)(?P=q)$")
_FLAG = re.compile(r"^(?P<name>\w+)(\s*\|\s*default\((false|False)\))?$")


def describe_condition(when: str) -> str:
    """Say a question's `when` as words: `{{ ingress_host != '' }}` is "ingress_host is set".

    Conditions joined with `and` of the shapes copier.yml uses (`x == 'v'`,
    `x != 'v'`, `x != ''`, `flag | default(false)`) read as a sentence; anything
    else is shown as the bare expression, without its braces.
    """
    expression = when.strip().removeprefix("{{").removesuffix("}}").strip(" -")
    words = []
    for part in re.split(r"\s+and\s+", expression):
        clause = part.strip()
        if match := _CLAUSE.match(clause):
            name, value, equal = match["name"], match["value"], match["op"] == "=="
            if value == "":
                words.append(f"{name} is {'empty' if equal else 'set'}")
            else:
                words.append(f"{name} is {'' if equal else 'not '}{value}")
        elif match := _FLAG.match(clause):
            words.append(f"{match['name']} is true")
        else:
            words.append(clause)
    return " and ".join(words)


# files a new repository often starts with: a destination holding only these is
# still new (`keelson new` adds the service beside them and keeps them as they are)
STARTER_FILES = re.compile(
    r"^(\.git|\.gitattributes|(README|LICEN[CS]E|COPYING|NOTICE|AUTHORS|CODEOWNERS|"
    r"CONTRIBUTING|CODE_OF_CONDUCT|SECURITY)([._-].*)?)$",
    re.IGNORECASE,
)


def check_destination(dest: Path) -> list[str]:
    """Refuse a destination that cannot take a new service.

    It may be missing, empty, or hold only starter files (`.git`, README,
    LICENSE and the like), which are kept.

    Returns:
        The starter files it holds, sorted.

    Raises:
        DestinationError: The folder holds other files, the path or one of its
            parents is a file, or a folder on the way cannot be written.

    """
    for ancestor in [dest, *dest.absolute().parents]:
        if ancestor.exists() and not ancestor.is_dir():
            raise DestinationError(f"{ancestor} is a file, not a folder: pick another destination")
        if ancestor.exists():
            if ancestor != dest and not os.access(ancestor, os.W_OK | os.X_OK):
                raise DestinationError(f"cannot create {dest}: {ancestor} is not writable")
            break
    if not dest.exists():
        return []
    present = sorted(child.name for child in dest.iterdir())
    others = [name for name in present if not STARTER_FILES.match(name)]
    if others:
        answers = dest / ANSWERS_FILE
        hint = (
            f"run `keelson update {dest}` to bring the service up to date"
            if answers.is_file()
            else "pick a new folder (a new service may only join .git, README or LICENSE files)"
        )
        raise DestinationError(f"{dest} is not empty (it holds {others[0]}); {hint}")
    return present


def local_spec(template: str, vcs_ref: str | None = None) -> TemplateSpec | None:
    """Return the spec of a template that is a local folder, else None.

    With a `vcs_ref` other than HEAD, the questions are read from `copier.yml` at
    that git ref (the version copier will render), not from the working tree.
    """
    path = Path(template)
    if not (path.is_dir() and (path / "copier.yml").is_file()):
        return None
    return spec_at(template, vcs_ref)


@dataclass(frozen=True)
class Created:
    """What `keelson new` made, for its summary.

    Attributes:
        path: The service's folder, as given.
        answers: The answers file's content (answers and `_src_path`/`_commit`).
        kept: Starter files that were in the destination and were kept as they were.
        git: What happened with git: "committed", or why nothing was committed.
        notes: Further things the user should know (one line each).

    """

    path: Path
    answers: Mapping[str, Any]
    kept: tuple[str, ...] = ()
    git: str = ""
    notes: tuple[str, ...] = ()


class RenderOptions(TypedDict, total=False):
    """How to render a service: the keyword options every way of making one shares.

    `create_service`, `new_service` and `catalogue.new_from_preset` take these; the
    defaults are the ones `create_service` applies.

    Attributes:
        data: Answers, by question name (default: none).
        defaults: Use the default for every question not in `data` (default: no).
        vcs_ref: Git ref of the template; its newest tag by default.
        quiet: Hide copier's progress and messages (default: yes).
        interactive: Whether questions may be asked; by default, when stdin is a
            terminal.
        trust: Allow the template's tasks and migrations; keelson's own template
            is trusted, another one is asked about in a terminal (the one rule of
            `generator.source`).
        git: `git init` the service (unless it is inside a repository already)
            and make a first commit, so that `keelson update` works from day one
            (default: yes).

    """

    data: Mapping[str, Any] | None
    defaults: bool
    vcs_ref: str | None
    quiet: bool
    interactive: bool | None
    trust: bool | None
    git: bool


class ServiceOptions(RenderOptions, total=False):
    """`RenderOptions` plus the choice of template, for a service made without a preset.

    Attributes:
        template: Template path or git URL; keelson's own by default (see
            `generator.source` for `$KEELSON_TEMPLATE` and the config file).
        allow_dirty: Render a template checkout with uncommitted changes (for
            template authors; such a service cannot be updated, and what it
            records is not checked against the checkout's origin).

    """

    template: str | None
    allow_dirty: bool


def new_service(dest: str | Path, **options: Unpack[ServiceOptions]) -> Path:
    """Generate a new service into `dest`; return its path.

    Takes the keyword options of `create_service`, which also says what was made.
    """
    return create_service(dest, **options).path


def create_service(dest: str | Path, **options: Unpack[ServiceOptions]) -> Created:
    """Generate a new service into `dest`, and say what was made.

    Args:
        dest: Folder to create; it must not exist, or hold only starter files such
            as `.git`, README or LICENSE (kept as they are).
        **options: How to render (`ServiceOptions`: answers, template, ref, trust...).

    Returns:
        The service's path, answers, kept starter files and what git did.

    Raises:
        UsageError: An answer is invalid, or no terminal is there to ask.
        DestinationError: `dest` cannot take a new service.
        TemplateError: The template could not be rendered.

    """
    answers = dict(options.get("data") or {})
    defaults = options.get("defaults", False)
    vcs_ref = options.get("vcs_ref")
    quiet = options.get("quiet", True)
    interactive = options.get("interactive")
    trust = options.get("trust")
    template = options.get("template")
    allow_dirty = options.get("allow_dirty", False)
    destination = Path(dest)
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not defaults and not interactive and not answers:
        raise UsageError(NO_TERMINAL)
    source, notes = checked_source(template, destination, vcs_ref, allow_dirty=allow_dirty)
    spec = local_spec(source.location, vcs_ref)
    if spec is None and answers:
        # a bare repository or a URL: its copier.yml at the ref, fetched to read it
        spec = spec_at(source.location, vcs_ref)
    if spec is not None:
        check_data_keys(spec, answers)
        if defaults or not interactive:
            _check_folder_name(spec, destination, answers)
    transaction.recover(destination)  # what an interrupted `keelson new` left there
    kept = check_destination(destination)
    unsafe = confirm_trust(source, trust, interactive=interactive)
    if interactive:
        wrap_validation_errors()
    # copier renders into a private folder named like the destination (the name
    # feeds the default project_name), beside it; the first commit is prepared there
    # too, and everything moves in by one step (generator.newtree): whatever
    # interrupts `keelson new`, the destination is either untouched or complete.
    created = _create_parents(destination)
    try:
        copy = functools.partial(
            gateway.copy,
            source.location,
            answers=answers,
            defaults=defaults,
            vcs_ref=vcs_ref,
            quiet=quiet,
            unsafe=unsafe,
            interactive=interactive,
        )
        recorded, outcome = _render_staged(
            copy,
            source,
            destination,
            answers,
            kept=kept,
            spec=spec,
            commit=options.get("git", True),
            # template authors (--allow-dirty) render their own checkout: no probe of
            # its origin (a test suite's renders never reach the network)
            notes=None if allow_dirty else notes,
        )
    except BaseException as error:
        if created is not None and not transaction.written():
            shutil.rmtree(created, ignore_errors=True)
        if isinstance(error, OSError):
            where = f" ({error.filename})" if error.filename else ""
            raise DestinationError(
                f"cannot write {destination}: {error.strerror or error}{where}"
            ) from error
        raise
    return Created(
        path=destination,
        answers=recorded,
        kept=tuple(name for name in kept if name != ".git"),
        git=outcome,
        notes=tuple(notes),
    )


def _check_folder_name(spec: TemplateSpec, destination: Path, answers: Mapping[str, Any]) -> None:
    """Refuse a folder name that is not plain ASCII where project_name defaults to it.

    copier.yml offers such a name as it is, and its validator refuses it; nobody is
    asked here, so the message says how to give the name instead.
    """
    name = destination.resolve().name
    if "project_name" in answers or "project_name" not in spec.questions or name.isascii():
        return
    raise InvalidAnswerError(
        "project_name",
        f"it defaults to the folder name {name!r}, which is not plain ASCII: pass "
        "--data project_name=NAME (lowercase letters a-z, digits and '-', starting with "
        "a letter)",
    )


def checked_source(
    template: str | None, destination: Path, vcs_ref: str | None, *, allow_dirty: bool
) -> tuple[TemplateSource, list[str]]:
    """Resolve the template; refuse what would make services that can never update."""
    source = resolve(template)
    if vcs_ref and source.location == str(BUNDLE):
        # the bundled copy is one version; another one comes from the canonical repo
        source = dataclasses.replace(source, location=bundle_url(), record=None, commit=None)
    if is_placeholder(source.location):
        # copier would try to clone it; keelson never contacts a placeholder host
        asked = f"--vcs-ref {vcs_ref} needs the template's repository, and " if vcs_ref else ""
        raise UsageError(
            f"{asked}the template {source.location} is a placeholder, not a repository: "
            "pass --template URL (or set `template:` in the keelson config)"
        )
    notes: list[str] = []
    if source.dirty:
        if not allow_dirty:
            raise UsageError(source.dirty)
        notes.append(
            "rendered uncommitted template changes: this service records a throwaway "
            "commit and cannot be updated"
        )
    if vcs_ref:
        check_ref(source.location, vcs_ref, "--vcs-ref")
    if source.checkout is not None and _inside(destination, source.checkout):
        raise DestinationError(
            f"{destination} is inside the template checkout {source.checkout}; generate the "
            f"service outside it (e.g. ../{destination.resolve().name})"
        )
    return source, notes


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve() == folder or folder in path.resolve().parents


def _create_parents(destination: Path) -> Path | None:
    """Create the destination's missing parents; return the top one created."""
    top: Path | None = None
    for parent in reversed(destination.absolute().parents):
        if not parent.exists():
            top = top or parent
    destination.parent.mkdir(parents=True, exist_ok=True)
    return top


def _render_staged(
    copy: Callable[[Path], None],
    source: TemplateSource,
    destination: Path,
    answers: dict[str, Any],
    *,
    kept: list[str],
    spec: TemplateSpec | None = None,
    commit: bool = True,
    notes: list[str] | None = None,
) -> tuple[dict[str, Any], str]:
    # absolute: the parent of "." (the default destination) is "." itself
    parent = destination.absolute().parent
    with transaction.scratch(), transaction.staging(parent) as stage:
        staged = stage / destination.resolve().name
        copy(staged)  # copier renders the template into the private folder
        recorded = record_source(staged, source, notes)
        if spec is not None:
            check_applied(spec, answers, recorded)
        for name in kept:
            # the user's starter files win over the template's (a README, say)
            shutil.rmtree(staged / name, ignore_errors=True)
            (staged / name).unlink(missing_ok=True)
        outcome = bring_in(staged, destination, recorded, kept=kept, commit=commit)
    return recorded, outcome


def wrap_validation_errors() -> None:
    """Show a prompt's whole validation message, wrapped, instead of one cut line.

    questionary shows a validator's message in prompt_toolkit's validation
    toolbar, a window one line high that cuts the text at the terminal's width;
    keelson's messages name the allowed values at their end, so they must show in
    full. The toolbar keeps its look and condition; only its window grows.
    """
    from prompt_toolkit.layout import Window  # noqa: PLC0415 - interactive path only
    from prompt_toolkit.layout.dimension import Dimension  # noqa: PLC0415
    from prompt_toolkit.widgets import toolbars  # noqa: PLC0415

    original = toolbars.ValidationToolbar.__init__
    if getattr(original, "keelson_wraps", False):
        return

    def init(self: toolbars.ValidationToolbar, show_position: bool = False) -> None:
        original(self, show_position)
        self.container.content = Window(self.control, height=Dimension(min=1), wrap_lines=True)

    init.keelson_wraps = True  # type: ignore[attr-defined]
    toolbars.ValidationToolbar.__init__ = init  # type: ignore[method-assign]


def record_source(
    project: Path, source: TemplateSource, notes: list[str] | None = None
) -> dict[str, Any]:
    """Make the answers file name a template source every clone can reach.

    Args:
        project: The freshly rendered service.
        source: Where it was rendered from.
        notes: When given, what is recorded is checked (`source.published`): a
            version only the local checkout has is renamed by what its origin has,
            and a line is added here when the recorded source will not work.

    Returns:
        The answers file's content after the change.

    """
    file = project / ANSWERS_FILE
    if not file.is_file():
        return {}
    replace = {"_src_path": source.record, "_commit": source.commit}
    if notes is not None and not source.dirty:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        src = str(source.record or loaded.get("_src_path") or "")
        commit = source.commit or (str(loaded["_commit"]) if loaded.get("_commit") else None)
        if src:
            origin_of = source.checkout if source.record else None
            commit, note = published(src, commit, origin_of)
            replace["_commit"] = commit
            notes.extend([note] if note else [])
    lines = file.read_text(encoding="utf-8").splitlines()
    for key, value in replace.items():
        if value is None:
            continue
        line = yaml.safe_dump({key: value}, default_flow_style=False, width=1000).strip()
        index = next((i for i, text in enumerate(lines) if text.startswith(f"{key}:")), None)
        if index is not None:
            lines[index] = line
        else:
            first = next((i for i, text in enumerate(lines) if not text.startswith("#")), 0)
            lines.insert(first, line)
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
    return dict(loaded) if isinstance(loaded, dict) else {}
