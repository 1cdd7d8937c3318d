"""Shared fixtures: the template matrix, rendered services and the tools that lint them."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.render import new_service
from generator.template import TemplateSpec

# copier commits inside its scratch clones; a fresh CI machine has no git identity
for _var, _value in {
    "GIT_AUTHOR_NAME": "keelson tests",
    "GIT_AUTHOR_EMAIL": "tests@keelson.invalid",
    "GIT_COMMITTER_NAME": "keelson tests",
    "GIT_COMMITTER_EMAIL": "tests@keelson.invalid",
}.items():
    os.environ.setdefault(_var, _value)

ROOT = Path(__file__).resolve().parent.parent
SPEC = TemplateSpec.load(ROOT)
# the matrix comes from copier.yml itself, so it cannot drift from the template
MATRIX = list(SPEC.matrix("language", "database"))
MATRIX_IDS = [f"{c['language']}-{c['database']}" for c in MATRIX]

Render = Callable[..., Path]


def render(dest: Path, **answers: object) -> Path:
    """Render the working tree of the template (uncommitted changes included)."""
    return new_service(
        dest,
        data=answers,
        defaults=True,
        template=str(ROOT),
        vcs_ref="HEAD",
        quiet=True,
        trust=True,
    )


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """Render a combination once per session and hand out the same folder."""
    cache: dict[tuple[tuple[str, object], ...], Path] = {}

    def get(**answers: object) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in cache:
            name = "-".join(str(v) for _, v in key) or "defaults"
            dest = tmp_path_factory.mktemp("render") / f"svc-{name}"[:40].rstrip("-.")
            cache[key] = render(dest, **answers)
        return cache[key]

    return get


def tool(name: str) -> str:
    """Find a command: beside this Python, in the project's tool venvs, or on PATH."""
    candidates = [Path(sys.executable).parent / name]
    candidates += sorted((ROOT / ".tools").glob(f"*/bin/{name}"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/setup.sh")
    return found
