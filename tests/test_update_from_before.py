"""A service generated before this template's last big changes updates to the template as it is.

The template as it was at BEFORE (the last commit before the generated services' HTTP
guards were removed: Go's `limits.go`, Python's `app/server.py`, Node's
`src/http-limits.js`) is released as v1.0.0 in a scratch repository, and the working
tree as v2.0.0. A service made at v1.0.0 updates with the real copier: files the team
never touched follow the template (the guard files go), and a guard file the team
edited is kept and reported, as every dropped, edited file is.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import Keelson
from tests.matrix import ROOT, TEMPLATE_FILES, copy_template, git, release

BEFORE = "dd0c0a20275bb195713cf30d2a731e63eec4c521"
GUARDS = {"go": "limits.go", "python": "app/server.py", "node": "src/http-limits.js"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template at BEFORE as v1.0.0 and the working tree as v2.0.0."""
    known = subprocess.run(["git", "cat-file", "-e", f"{BEFORE}^{{commit}}"], cwd=ROOT, check=False)
    if known.returncode != 0:
        pytest.skip(f"this clone lacks the commit {BEFORE} (a shallow clone?)")
    repo = tmp_path_factory.mktemp("template") / "keelson"
    repo.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", BEFORE, "--", *TEMPLATE_FILES],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    git(repo, "init", "-q", "-b", "main")
    release(repo, "v1.0.0")
    for name in TEMPLATE_FILES:
        target = repo / name
        if target.is_dir():
            subprocess.run(["rm", "-rf", str(target)], check=True)
        else:
            target.unlink()
    copy_template(repo.parent / "now")
    for name in TEMPLATE_FILES:
        subprocess.run(["cp", "-a", str(repo.parent / "now" / name), str(repo / name)], check=True)
    release(repo, "v2.0.0")
    return repo


@pytest.mark.parametrize("language", ["go", "python", "node"])
def test_a_service_from_before_updates_and_keeps_an_edited_guard(
    keelson: Keelson, template: Path, tmp_path: Path, language: str
) -> None:
    service = tmp_path / "svc"
    made = keelson(
        "new", service, "--template", template, "--vcs-ref", "v1.0.0", "--defaults",
        "--data", f"language={language}", "--data", "database=postgresql", "--trust", "-q",
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
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
