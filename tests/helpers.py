"""Small helpers several test files share.

Unlike tests/matrix.py (plain, imported by benchmarks/ too), these may use pytest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.matrix import has_commits, template_history

if TYPE_CHECKING:
    from tests.conftest import Keelson, Ran


def succeeds(keelson: Keelson, *args: str | Path, **options: object) -> Ran:
    """Run `keelson ARGS` and fail the test with its stderr unless it exits 0."""
    ran = keelson(*args, **options)
    assert ran.returncode == 0, ran.stderr
    return ran


def new_from(
    keelson: Keelson, template: Path, ref: str, service: Path, *data: str, **options: object
) -> Ran:
    """`keelson new SERVICE` from `template` at `ref`: defaults, each of `data` as `--data`.

    Fails the test unless it succeeds; `options` go to `keelson` (`cwd`, `env`).
    """
    answers = [arg for answer in data for arg in ("--data", answer)]
    return succeeds(
        keelson, "new", service, "--template", template, "--vcs-ref", ref, "--defaults",
        *answers, "--trust", "-q", **options,
    )  # fmt: skip


def before_and_now(tmp_path_factory: pytest.TempPathFactory, before: str) -> Path:
    """The template at commit `before` released as v1.0.0, the working tree as v2.0.0.

    Skips where this clone lacks `before` (a shallow clone).
    """
    if not has_commits(before):
        pytest.skip(f"this clone lacks the commit {before} (a shallow clone?)")
    return template_history(
        tmp_path_factory.mktemp("template") / "keelson", [("v1.0.0", before), ("v2.0.0", None)]
    )
