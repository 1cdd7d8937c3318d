"""Services generated before the template became language packs update across the move.

The move (one folder per language under `templates/`) must not change what a
service is made of: every combination rendered at the last commit before it is
updated to the working tree, and the only changes allowed are the ones the
CHANGELOG announces, the ignore files trimmed to the service's own language.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from generator.render import create_service
from generator.update import update_service
from tests.conftest import MATRIX, MATRIX_IDS, ROOT, TEMPLATE_FILES, git, render

# main's last commit with the one-folder template
BEFORE_MOVE = "1cfb18433a62c6cc69b38fe5003e6242a82f087c"
# what the move changes in a service: the ignore files (trimmed) and the version
INTENDED = {".gitignore", ".dockerignore", ".copier-answers.yml"}


def _commit_available() -> bool:
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{BEFORE_MOVE}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    return found.returncode == 0


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository: v1 is the commit before the move, v2 the working tree."""
    if not _commit_available():
        pytest.skip(f"this clone's history lacks {BEFORE_MOVE[:7]} (a shallow clone?)")
    repo = tmp_path_factory.mktemp("move") / "keelson"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    # v1: the template files exactly as that commit had them
    archive = subprocess.run(
        ["git", "archive", "--format=tar", BEFORE_MOVE, *TEMPLATE_FILES],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(repo, filter="data")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "before the move")
    git(repo, "tag", "v1")
    # v2: the working tree, packs and their links to the shared parts
    for name in TEMPLATE_FILES:
        source, target = ROOT / name, repo / name
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            ignore = shutil.ignore_patterns("__pycache__", "*.py[co]")
            shutil.copytree(source, target, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(source, target)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "language packs")
    git(repo, "tag", "v2")
    return repo


def _answers(service: Path) -> dict[str, object]:
    data = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.slow
@pytest.mark.parametrize("combo", MATRIX, ids=MATRIX_IDS)
def test_service_from_before_the_move_updates_with_only_the_intended_change(
    template: Path, combo: dict[str, str], tmp_path: Path
) -> None:
    service = tmp_path / "svc"
    create_service(
        service, data=combo, defaults=True, template=str(template), vcs_ref="v1", trust=True
    )
    before = _answers(service)
    assert before["_commit"] == "v1"

    update_service(service, to="v2", trust=True, quiet=True)

    changed = {
        line[3:]
        for line in git(service, "status", "--porcelain", "--untracked-files=all").splitlines()
    }
    assert changed == INTENDED, f"unexpected changes: {sorted(changed - INTENDED)}"
    after = _answers(service)
    assert after["_commit"] == "v2"
    assert {k: v for k, v in after.items() if k != "_commit"} == {
        k: v for k, v in before.items() if k != "_commit"
    }
    # the ignore files are now exactly what a new service of this language gets
    fresh = render(tmp_path / "fresh", **combo)
    for name in (".gitignore", ".dockerignore"):
        assert (service / name).read_text() == (fresh / name).read_text(), name
        # and they only lost other languages' lines (Go's gains its test binaries)
        old = set(git(service, "show", f"HEAD:{name}").splitlines())
        gained = set((service / name).read_text().splitlines()) - old
        assert gained <= {"*.test", "*.out"}, (name, gained)
