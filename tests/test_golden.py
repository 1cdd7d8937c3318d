"""A fresh render of each golden case equals the files committed under tests/golden/.

On a mismatch the failure is the unified diff from the golden files to the render and the
command that refreshes them (tests/goldens.py says how they are made).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.goldens import (
    CASES,
    GOLDEN,
    PASSWORD_MARKER,
    REFRESH,
    differences,
    render_case,
    stored,
)
from tests.matrix import combo_id


@pytest.mark.parametrize("answers", CASES, ids=[combo_id(a) for a in CASES])
def test_fresh_render_matches_the_golden_files(answers: dict[str, str], tmp_path: Path) -> None:
    case = combo_id(answers)
    folder = GOLDEN / case
    assert folder.is_dir(), f"no golden render for {case}: run {REFRESH}"
    diff = differences(stored(folder), render_case(answers, tmp_path), case)
    if diff:
        pytest.fail(
            f"the render of {case} differs from tests/golden/{case}:\n{diff}\n"
            f"If the template change is intended, run {REFRESH} and commit tests/golden.",
            pytrace=False,
        )


def test_golden_folders_are_exactly_the_cases() -> None:
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(combo_id(a) for a in CASES)


def test_the_random_password_is_a_fixed_marker_in_both_places() -> None:
    case = combo_id(next(a for a in CASES if a["database"] == "postgresql"))
    files = stored(GOLDEN / case)
    for name in (".secrets/db_password", "k8s/overlays/dev/secrets/db-password"):
        assert files[name][0].decode().strip() == PASSWORD_MARKER
    assert ".gitignore" not in files and ".gitignore.golden" in files


def test_a_change_shows_as_a_unified_diff() -> None:
    golden = {"Dockerfile": (b"FROM a\nUSER 1\n", False), "gone.txt": (b"x\n", False)}
    fresh = {"Dockerfile": (b"FROM b\nUSER 1\n", False), "new.sh": (b"y", True)}
    diff = differences(golden, fresh, "go-none")
    assert "--- tests/golden/go-none/Dockerfile\n+++ fresh render/Dockerfile\n" in diff
    assert "-FROM a\n+FROM b\n USER 1\n" in diff
    assert "no longer rendered: tests/golden/go-none/gone.txt\n" in diff
    assert "only in a fresh render: tests/golden/go-none/new.sh\n" in diff
    assert "+y\n\\ No newline at end of file\n" in diff
    assert differences(golden, golden, "go-none") == ""
    chmod = differences(golden, {**golden, "gone.txt": (b"x\n", True)}, "go-none")
    assert chmod == "executable bit of tests/golden/go-none/gone.txt: golden False, fresh True\n"
