"""Whom to trust: one rule for every path that renders a template (new, presets, updates).

keelson's own template is trusted; any other template that runs tasks or migrations
needs `--trust`, or a yes in a terminal to a question that shows what it runs.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
import yaml

from generator.copier_config import folder_reader, load_config
from generator.errors import NotTrustedError, UsageError
from generator.repository import is_remote
from generator.source import TemplateSource


def runs_code(location: str) -> list[str]:
    """List what a local template runs on the user's machine (tasks, migrations).

    Returns:
        One line per task or migration command; empty for a remote template (its
        settings are unknown until copier fetches it) or one that runs nothing.

    """
    if is_remote(location):
        return []
    for name in ("copier.yml", "copier.yaml"):
        file = Path(location).expanduser() / name
        if file.is_file():
            break
    else:
        return []
    try:
        data = load_config(file.read_text(encoding="utf-8"), folder_reader(file.parent))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return ["(copier.yml could not be read)"]
    if not isinstance(data, Mapping):
        return []
    found: list[str] = []
    for key in ("_tasks", "_migrations"):
        for entry in data.get(key) or []:
            command = entry.get("command") if isinstance(entry, Mapping) else entry
            if isinstance(command, list):
                command = " ".join(_word(_shown(str(part), location)) for part in command)
            else:
                command = _shown(str(command), location)
            first = str(command).strip().splitlines()[0] if str(command).strip() else ""
            found.append(f"{key[1:-1]}: {first}")
    if data.get("_jinja_extensions"):
        found.append("jinja extensions: " + ", ".join(map(str, data["_jinja_extensions"])))
    return found


class _Placeholder(jinja2.Undefined):
    """An answer not known before the questions: shown as `<name>`."""

    def __str__(self) -> str:
        return f"<{self._undefined_name}>"


def _word(part: str) -> str:
    """Quote a command's argument only where a reader needs it to see the boundaries."""
    if part and not re.search(r"\s", part):
        return part
    return f"'{part}'" if "'" not in part else json.dumps(part)


def _shown(part: str, location: str) -> str:
    """Render a task's Jinja as what will run, as copier renders it.

    copier's `_copier_python` is the Python running copier (this one) and
    `_copier_conf.src_path` the template's folder; an answer, unknown before the
    questions, shows as `<name>`. A part that is not valid Jinja is shown as written.
    """
    if "{" not in part:
        return part
    env = jinja2.sandbox.SandboxedEnvironment(undefined=_Placeholder)
    context = {
        "_copier_python": sys.executable,
        "_copier_conf": {
            "src_path": str(Path(location).expanduser().resolve()),
            "answers_file": ".copier-answers.yml",
            "dst_path": ".",
        },
    }
    try:
        return env.from_string(part).render(context)
    except jinja2.TemplateError:
        return part


def confirm_trust(
    source: TemplateSource, trust: bool | None, *, interactive: bool, **prompt: Any
) -> bool:
    """Apply the one trust rule; return whether copier may run the template's code.

    Keelson's own template is trusted. Another template that runs tasks or
    migrations needs `trust=True`, or a yes to a question naming it and what it
    runs when a terminal is there to ask.

    Args:
        source: The template.
        trust: `--trust` (True), or None when not given.
        interactive: Whether a question may be asked.
        **prompt: Passed to `questionary.confirm` (e.g. `input`/`output` in tests).

    Raises:
        UsageError: Trust is needed and there is no terminal to ask.
        NotTrustedError: The user answered no.

    """
    if trust or source.trusted:
        return True
    runs = runs_code(source.location)
    if not runs:
        return False  # nothing to trust; copier itself stops a remote one that needs it
    listed = "; ".join(runs)
    if not interactive:
        raise UsageError(
            f"the template {source.shown} runs code on this machine ({listed}); "
            "rerun with --trust if you trust it"
        )
    ask_trust(source.shown, runs, **prompt)
    return True


def ask_trust(shown: str, runs: list[str] | None = None, **prompt: Any) -> None:
    """Ask, in a terminal, whether to run a template's tasks and migrations.

    Raises:
        NotTrustedError: The user answered no.

    """
    import questionary  # noqa: PLC0415 - only the interactive path needs it

    print(f"The template {shown} runs code on this machine:")
    for line in runs or ["its tasks or migrations (commands in its copier.yml)"]:
        print(f"  {line}")
    if not questionary.confirm("Trust it and run these?", default=False, **prompt).unsafe_ask():
        raise NotTrustedError(f"the template {shown} was not trusted; nothing was written")
