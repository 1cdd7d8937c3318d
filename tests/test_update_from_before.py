"""A service generated before this template's last big changes updates to the template as it is.

The template as it was at BEFORE (the last commit before the generated services' HTTP
guards were removed: Go's `limits.go`, Python's `app/server.py`, Node's
`src/http-limits.js`) is released as v1.0.0 in a scratch repository, and the working
tree as v2.0.0. A service made at v1.0.0 updates with the real copier: files the team
never touched follow the template (the guard files go), and a guard file the team
edited is kept and reported, as every dropped, edited file is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Keelson
from tests.helpers import before_and_now, new_from
from tests.matrix import git

BEFORE = "dd0c0a20275bb195713cf30d2a731e63eec4c521"
GUARDS = {"go": "limits.go", "python": "app/server.py", "node": "src/http-limits.js"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template at BEFORE as v1.0.0 and the working tree as v2.0.0."""
    return before_and_now(tmp_path_factory, BEFORE)


@pytest.mark.parametrize("language", ["go", "python", "node"])
def test_a_service_from_before_updates_and_keeps_an_edited_guard(
    keelson: Keelson, template: Path, tmp_path: Path, language: str
) -> None:
    service = tmp_path / "svc"
    new_from(
        keelson, template, "v1.0.0", service, f"language={language}", "database=postgresql",
        cwd=tmp_path,
    )  # fmt: skip
    guard = service / GUARDS[language]
    assert guard.is_file()
    edited = language == "go"  # one team touched its guard; the others did not
    if edited:
        guard.write_text(guard.read_text() + "// tuned for our load balancer\n")
        git(service, "commit", "-q", "-am", "our guard tweak")

    updated = keelson("update", service, "--trust", cwd=tmp_path)
    status = git(service, "status", "--porcelain").splitlines()
    if edited:
        assert updated.returncode == 1, updated.stdout + updated.stderr
        assert f"UD {GUARDS[language]}" in status
        assert guard.read_text().endswith("// tuned for our load balancer\n")
        assert [line for line in updated.stdout.splitlines() if line.startswith("conflict:")] == [
            f"conflict: {GUARDS[language]}: the template no longer generates it and you "
            f"changed it, so it was kept; `git add {GUARDS[language]}` keeps it, "
            f"`git rm {GUARDS[language]}` drops it"
        ]
    else:
        assert updated.returncode == 0, updated.stdout + updated.stderr
        assert not guard.exists()
        assert f" D {GUARDS[language]}" in status
    assert not [line for line in status if line.startswith("UU")], status
