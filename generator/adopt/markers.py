"""Which language a project is in: the marker files each language leaves."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generator.adopt.findings import SKIP_DIRS, DetectionError
from generator.packs import Adoption


def _markers(folder: Path, adoptions: Mapping[str, Adoption]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for language, adoption in adoptions.items():
        present = [name for name in adoption.markers if (folder / name).is_file()]
        if not present:
            present = sorted(p.name for g in adoption.marker_globs for p in folder.glob(g))[:1]
        if present:
            found[language] = present
    return found


def _describe(found: Mapping[str, list[str]], adoptions: Mapping[str, Adoption]) -> str:
    return " and ".join(
        f"a {adoptions[lang].pack.label} project ({', '.join(files)})"
        for lang, files in found.items()
    )


def _either(words: list[str]) -> str:
    """Join words as `a`, `a or b`, `a, b or c`."""
    return " or ".join(filter(None, (", ".join(words[:-1]), words[-1])))


def detect_language(
    root: Path, data: Mapping[str, Any], adoptions: Mapping[str, Adoption]
) -> tuple[str, str]:
    """Say which language the project is in, and why, from the packs' marker files.

    Raises:
        DetectionError: No project, a project only in a subfolder, or two languages.

    """
    found = _markers(root, adoptions)
    given = data.get("language")
    if given is not None:
        given = str(given)
        if given not in adoptions:
            return given, "--data"  # copier's validation names the choices
        if given not in found:
            raise DetectionError(
                f"--data language={given}: {root} has no {' or '.join(adoptions[given].markers)}"
            )
        return given, f"--data (found {', '.join(found[given])})"
    if len(found) == 1:
        ((language, files),) = found.items()
        return language, ", ".join(files)
    if len(found) > 1:
        options = " or ".join(f"--data language={lang}" for lang in found)
        raise DetectionError(f"{root} holds {_describe(found, adoptions)}: pass {options}")
    nested: list[tuple[Path, dict[str, list[str]]]] = []
    skip = SKIP_DIRS.union(*(a.skip_dirs for a in adoptions.values()))
    for folder, dirs, _ in os.walk(root):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if d not in skip and not d.startswith("."))
        if depth >= 2:
            dirs[:] = []
        if depth and (inner := _markers(Path(folder), adoptions)):
            nested.append((Path(folder), inner))
    looked = ", ".join(name for a in adoptions.values() for name in a.markers)
    if len(nested) == 1:
        where, inner = nested[0]
        raise DetectionError(
            f"{root} holds no project files ({looked}), but {where} holds "
            f"{_describe(inner, adoptions)}: run `keelson adopt {where}`"
        )
    if nested:
        shown = ", ".join(str(folder) for folder, _ in nested[:4])
        raise DetectionError(
            f"{root} holds no project files ({looked}); projects in its subfolders: {shown}: "
            "run `keelson adopt <subfolder>` for each"
        )
    raise DetectionError(
        f"{root} holds no {_either([a.pack.label for a in adoptions.values()])} project "
        f"(looked for {looked}): "
        "run keelson adopt in the project's folder"
    )


# ---------------------------------------------------------------------------
# Node.js
# ---------------------------------------------------------------------------
