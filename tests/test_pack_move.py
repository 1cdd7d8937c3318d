"""Services generated before the template became language packs update across the move.

The move (one folder per language under `templates/`) must not change what a
service is made of: every combination rendered at the last commit before it is
updated to the working tree, and the only changes allowed are the ones the
CHANGELOG announces, the ignore files trimmed to the service's own language.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator.render import create_service
from generator.update import update_service
from tests.matrix import MATRIX, MATRIX_IDS, git, has_commits, template_history

# main's last commit with the one-folder template, and the move's last commit
BEFORE_MOVE = "1cfb18433a62c6cc69b38fe5003e6242a82f087c"
AFTER_MOVE = "b3803038e0ac91d2f53ff42249e39a6a65b6c0c9"
# what the move changes in a service: the ignore files (trimmed) and the version
INTENDED = {".gitignore", ".dockerignore", ".copier-answers.yml"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository: v1 is the commit before the move, v2 the move's last."""
    if not has_commits(BEFORE_MOVE, AFTER_MOVE):
        pytest.skip(f"this clone's history lacks {BEFORE_MOVE[:7]} or {AFTER_MOVE[:7]}")
    return template_history(
        tmp_path_factory.mktemp("move") / "keelson", [("v1", BEFORE_MOVE), ("v2", AFTER_MOVE)]
    )


def _answers(service: Path) -> dict[str, object]:
    data = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


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
    fresh = tmp_path / "fresh"
    create_service(
        fresh, data=combo, defaults=True, template=str(template), vcs_ref="v2", trust=True
    )
    for name in (".gitignore", ".dockerignore"):
        assert (service / name).read_text() == (fresh / name).read_text(), name
        # and they only lost other languages' lines (Go's gains its test binaries)
        old = set(git(service, "show", f"HEAD:{name}").splitlines())
        gained = set((service / name).read_text().splitlines()) - old
        assert gained <= {"*.test", "*.out"}, (name, gained)
