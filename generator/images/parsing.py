"""The images a project needs: its Dockerfiles' FROM lines and its compose images."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import yaml

from generator.errors import StandInError

__all__ = ["compose_images", "dockerfile_bases", "required_images"]

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "vendor", "__pycache__", ".tox"}
_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def _expand(text: str, values: dict[str, str]) -> str:
    """Expand ``$X``, ``${X}``, ``${X:-default}`` and ``${X:+alt}`` like Docker does."""

    def sub(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("plain")
        value = values.get(name)
        op = m.group("op")
        if op in {"-", ":-"}:
            if value is None or (op == ":-" and value == ""):
                return _expand(m.group("word"), values)
            return value
        if op in {"+", ":+"}:
            if value is None or (op == ":+" and value == ""):
                return ""
            return _expand(m.group("word"), values)
        return value or ""

    return _VAR.sub(sub, text)


def _dockerfile_instructions(text: str) -> Iterator[tuple[str, str]]:
    """Yield ``(INSTRUCTION, arguments)`` with continuations joined and comments dropped."""
    escape = "\\"
    if m := re.search(r"^#\s*escape\s*=\s*([\\`])\s*$", text, re.MULTILINE | re.IGNORECASE):
        escape = m.group(1)
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith(escape):
            pending += line[: -len(escape)] + " "
            continue
        line = pending + line
        pending = ""
        if not line.strip():
            continue
        word, _, rest = line.strip().partition(" ")
        yield word.upper(), rest.strip()
    if pending.strip():
        word, _, rest = pending.strip().partition(" ")
        yield word.upper(), rest.strip()


def dockerfile_bases(text: str) -> list[str]:
    """List the external images a Dockerfile builds from.

    Global ``ARG NAME=default`` values are substituted into ``FROM``; references to
    earlier stages and ``scratch`` are skipped.

    Args:
        text: The Dockerfile's content.

    Returns:
        Image references in order of first use, without duplicates.

    """
    args: dict[str, str] = {}
    stages: set[str] = set()
    seen: list[str] = []
    in_stage = False
    for word, rest in _dockerfile_instructions(text):
        if word == "ARG" and not in_stage:
            for item in shlex.split(rest):
                name, sep, default = item.partition("=")
                if sep:
                    # a default may use the ARGs declared before it
                    args[name] = _expand(default, args)
        elif word == "FROM":
            in_stage = True
            parts = [p for p in rest.split() if not p.startswith("--")]
            if not parts:
                continue
            image = _expand(parts[0], args)
            if len(parts) >= 3 and parts[1].lower() == "as":
                stages.add(parts[2].lower())
            if image.lower() == "scratch" or image.lower() in stages or not image:
                continue
            if image not in seen:
                seen.append(image)
    return seen


def compose_images(data: object) -> list[str]:
    """List the images a compose document runs without building them.

    Services with a ``build`` section name their *output* with ``image:``, so those
    are skipped; ``${VAR:-default}`` takes its default.

    Args:
        data: The parsed compose YAML.

    Returns:
        Image references in order, without duplicates.

    """
    seen: list[str] = []
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        return seen
    for service in services.values():
        if not isinstance(service, dict) or "build" in service:
            continue
        image = service.get("image")
        if isinstance(image, str):
            resolved = _expand(image, dict(os.environ)).strip()
            if resolved and resolved not in seen:
                seen.append(resolved)
    return seen


def _project_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _is_dockerfile(name: str) -> bool:
    return (
        name in {"Dockerfile", "Containerfile"}
        or name.startswith("Dockerfile.")
        or name.endswith(".Dockerfile")
    )


def _is_compose(name: str) -> bool:
    return bool(re.fullmatch(r"(docker-)?compose(\.[\w-]+)?\.ya?ml", name))


def required_images(project_dir: Path) -> list[str]:
    """List the base images a generated project needs before it can build and run.

    Reads every Dockerfile's ``FROM`` lines (resolving global ``ARG`` defaults,
    skipping stage names and ``scratch``) and the ``image:`` of compose services
    that are not built locally.

    Args:
        project_dir: The generated project's root folder.

    Returns:
        Image references in a stable order, without duplicates.

    Raises:
        StandInError: A compose file is not valid YAML.

    """
    found: list[str] = []
    for path in _project_files(Path(project_dir)):
        if _is_dockerfile(path.name):
            images = dockerfile_bases(path.read_text(encoding="utf-8"))
        elif _is_compose(path.name):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise StandInError(f"{path}: not valid YAML: {exc}") from exc
            images = compose_images(data)
        else:
            continue
        found.extend(i for i in images if i not in found)
    return found
