"""A service generated before the delivery pipeline existed gets it through `keelson update`.

The template at BEFORE (the last commit before the `ci` question) is released as
v1.0.0 in a scratch repository and the working tree as v2.0.0. A service made at
v1.0.0, with a team edit committed, updates with no conflict: the new question takes
its default (`github`), the workflows and `ci/release.sh` are added, the edit stays.
Then `keelson update --data ci=gitlab` swaps the GitHub workflows for `.gitlab-ci.yml`,
and `--data ci=none` removes the pipeline, as any answer change moves files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import Keelson
from tests.helpers import before_and_now, new_from
from tests.matrix import git

BEFORE = "98e72af78f081d629f4edf547cfd9c6ff670c396"
GITHUB = {".github/workflows/ci.yml", ".github/workflows/release.yml", "ci/release.sh"}
GITLAB = {".gitlab-ci.yml", "ci/release.sh"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template at BEFORE as v1.0.0 and the working tree as v2.0.0."""
    return before_and_now(tmp_path_factory, BEFORE)


def tracked(service: Path) -> set[str]:
    return set(git(service, "ls-files").splitlines())


@pytest.mark.parametrize("language", ["go", "python", "node"])
def test_a_service_from_before_gets_the_pipeline_and_can_switch_it(
    keelson: Keelson, template: Path, tmp_path: Path, language: str
) -> None:
    service = tmp_path / "svc"
    new_from(keelson, template, "v1.0.0", service, f"language={language}", cwd=tmp_path)
    assert not GITHUB & tracked(service)
    readme = service / "README.md"
    readme.write_text(readme.read_text() + "\nOn call: #team-orders\n")
    git(service, "commit", "-q", "-am", "our on-call channel")

    updated = keelson("update", service, "--trust", cwd=tmp_path)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "conflict" not in updated.stdout + updated.stderr
    assert not [
        line for line in git(service, "status", "--porcelain").splitlines() if line[:2] == "UU"
    ]
    git(service, "add", "-A")
    git(service, "commit", "-q", "-m", "keelson update to v2.0.0")
    assert tracked(service) >= GITHUB
    assert readme.read_text().endswith("\nOn call: #team-orders\n")
    assert yaml.safe_load((service / ".copier-answers.yml").read_text())["ci"] == "github"
    assert (service / "ci/release.sh").stat().st_mode & 0o111
    assert ".release/" in (service / ".gitignore").read_text()

    switched = keelson("update", service, "--data", "ci=gitlab", "--trust", cwd=tmp_path)
    assert switched.returncode == 0, switched.stdout + switched.stderr
    git(service, "add", "-A")
    git(service, "commit", "-q", "-m", "GitLab")
    files = tracked(service)
    assert (
        files >= GITLAB
        and not {".github/workflows/ci.yml", ".github/workflows/release.yml"} & files
    )
    assert "ci/release.sh" in (service / ".gitlab-ci.yml").read_text()

    dropped = keelson("update", service, "--data", "ci=none", "--trust", cwd=tmp_path)
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    assert not (service / ".gitlab-ci.yml").exists() and not (service / "ci").exists()
    assert readme.read_text().endswith("\nOn call: #team-orders\n")
