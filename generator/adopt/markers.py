"""Which language a project is in: the marker files each language leaves."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generator.adopt.findings import SKIP_DIRS, DetectionError

LANGUAGE_LABELS = {"node": "Node.js", "python": "Python", "go": "Go"}
MARKERS = {
    "node": ("package.json",),
    "python": (
        "pyproject.toml",
        "requirements.txt",
        "setup.py",
        "manage.py",
        "uv.lock",
        "poetry.lock",
    ),
    "go": ("go.mod",),
}


def _markers(folder: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for language, names in MARKERS.items():
        present = [name for name in names if (folder / name).is_file()]
        if language == "python" and not present:
            present = sorted(p.name for p in folder.glob("requirements*.txt"))[:1]
        if present:
            found[language] = present
    return found


def _describe(found: Mapping[str, list[str]]) -> str:
    return " and ".join(
        f"a {LANGUAGE_LABELS[lang]} project ({', '.join(files)})" for lang, files in found.items()
    )


def detect_language(root: Path, data: Mapping[str, Any]) -> tuple[str, str]:
    """Say which language the project is in, and why.

    Raises:
        DetectionError: No project, a project only in a subfolder, or two languages.

    """
    found = _markers(root)
    given = data.get("language")
    if given is not None:
        given = str(given)
        if given not in MARKERS:
            return given, "--data"  # copier's validation names the choices
        if given not in found:
            raise DetectionError(
                f"--data language={given}: {root} has no {' or '.join(MARKERS[given])}"
            )
        return given, f"--data (found {', '.join(found[given])})"
    if len(found) == 1:
        ((language, files),) = found.items()
        return language, ", ".join(files)
    if len(found) > 1:
        options = " or ".join(f"--data language={lang}" for lang in found)
        raise DetectionError(f"{root} holds {_describe(found)}: pass {options}")
    nested: list[tuple[Path, dict[str, list[str]]]] = []
    for folder, dirs, _ in os.walk(root):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        if depth >= 2:
            dirs[:] = []
        if depth and (inner := _markers(Path(folder))):
            nested.append((Path(folder), inner))
    looked = ", ".join(name for names in MARKERS.values() for name in names)
    if len(nested) == 1:
        where, inner = nested[0]
        raise DetectionError(
            f"{root} holds no project files ({looked}), but {where} holds {_describe(inner)}: "
            f"run `keelson adopt {where}`"
        )
    if nested:
        shown = ", ".join(str(folder) for folder, _ in nested[:4])
        raise DetectionError(
            f"{root} holds no project files ({looked}); projects in its subfolders: {shown}: "
            "run `keelson adopt <subfolder>` for each"
        )
    raise DetectionError(
        f"{root} holds no Node.js, Python or Go project (looked for {looked}): "
        "run keelson adopt in the project's folder"
    )


# ---------------------------------------------------------------------------
# Node.js
# ---------------------------------------------------------------------------
