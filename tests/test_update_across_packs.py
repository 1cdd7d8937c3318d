"""A service made before the template's languages became packs updates without a conflict.

BEFORE is the last commit before the pack refactor (each pack holding its questions,
facts, detection and scripts). The template at BEFORE is released as v1.0.0 and the
working tree as v2.0.0; every combination made at v1.0.0 and updated with the real
copier ends, with no conflict, byte for byte where a new service made at v2.0.0 is
(but for the passwords made for each service, which it keeps).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator.render import create_service
from generator.update import update_service
from tests.helpers import before_and_now
from tests.matrix import MATRIX, MATRIX_IDS, git

BEFORE = "4a9a78f"  # parent of 62ff37a, "Packs hold their questions"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template at BEFORE as v1.0.0 and the working tree as v2.0.0."""
    return before_and_now(tmp_path_factory, BEFORE)


def _files(root: Path) -> dict[str, bytes]:
    """Every file of a service but git's own, by path; the answers without `_commit`."""
    files = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }
    answers = yaml.safe_load(files.pop(".copier-answers.yml"))
    answers.pop("_commit")
    files[".copier-answers.yml"] = repr(sorted(answers.items())).encode()
    return files


@pytest.mark.parametrize("combo", MATRIX, ids=MATRIX_IDS)
def test_a_service_from_before_the_packs_updates_to_what_new_makes_now(
    template: Path, combo: dict[str, str], tmp_path: Path
) -> None:
    service = tmp_path / "svc"
    create_service(
        service, data=combo, defaults=True, template=str(template), vcs_ref="v1.0.0", trust=True
    )

    made = _files(service)

    update_service(service, to="v2.0.0", trust=True, quiet=True)

    status = git(service, "status", "--porcelain").splitlines()
    assert [line for line in status if line[:2] in {"UU", "AA", "DU", "UD", "AU", "UA"}] == []
    assert not list(service.rglob("*.rej"))
    fresh = tmp_path / "fresh" / "svc"  # the same folder name: the project's name
    create_service(
        fresh, data=combo, defaults=True, template=str(template), vcs_ref="v2.0.0", trust=True
    )
    updated, new = _files(service), _files(fresh)
    assert sorted(updated) == sorted(new)
    # only the passwords made for each service differ, and the update kept the service's own
    differ = [name for name in new if updated[name] != new[name]]
    assert all("secret" in name and updated[name] == made[name] for name in differ), differ
