"""An adopted project updates like any keelson service, keeping the team's edits.

keelson's template is copied into a git repository released as v0.1.0; each corpus
project is adopted from that release and committed; the team edits compose.yaml;
then v0.2.0 changes the adopted-project Dockerfile. `keelson check` sees it,
`keelson update` brings it, and the team's edit and every detected answer stay.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator.repository import FALLBACK_URL
from tests.adopt.helpers import CORPUS, CORPUS_IDS, copy_fixture, keelson
from tests.matrix import clone_release, git

LABEL = 'LABEL org.opencontainers.image.vendor="acme platform team"'
NEWS = "- Adopted projects' images name their vendor."
TEAM_EDIT = '      FEATURE_FLAGS: "beta"\n'


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, released_template: Path) -> Path:
    """keelson's template as a repository with two releases, v0.1.0 and v0.2.0."""
    where = tmp_path_factory.mktemp("template") / "keelson"
    repo = clone_release(released_template, where, "v0.1.0")
    dockerfile = repo / "templates/adopt/project/Dockerfile.jinja"
    dockerfile.write_text(dockerfile.read_text() + LABEL + "\n")
    changelog = repo / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace(
            "## [Unreleased]\n",
            f"## [Unreleased]\n\n## [0.2.0] - 2026-12-01\n### Added\n{NEWS}\n",
            1,
        )
    )
    git(repo, "commit", "-q", "-am", "v0.2.0")
    git(repo, "tag", "v0.2.0")
    return repo


@pytest.mark.parametrize("fixture", CORPUS_IDS)
def test_a_newer_template_reaches_an_adopted_project(
    fixture: str, template: Path, tmp_path: Path
) -> None:
    project = copy_fixture(fixture, tmp_path)
    made = keelson(
        "adopt",
        project,
        "--defaults",
        "--trust",
        "--template",
        template,
        "--vcs-ref",
        "v0.1.0",
        "-q",
    )
    assert made.code == 0, made.err
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "containerized with keelson adopt")
    assert ".secrets/db_password" not in git(project, "ls-files")
    before = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert before["_commit"] == "v0.1.0"

    compose = project / "compose.yaml"
    text = compose.read_text()
    anchor = '      LOG_LEVEL: "${LOG_LEVEL:-info}"\n'
    assert anchor in text
    compose.write_text(text.replace(anchor, anchor + TEAM_EDIT))
    git(project, "commit", "-q", "-am", "our feature flags")

    behind = keelson("check", project)
    assert behind.code == 1, behind.out + behind.err
    assert "v0.2.0" in behind.out and NEWS in behind.out

    updated = keelson("update", "--trust", project)
    assert updated.code == 0, updated.out + updated.err
    assert LABEL in (project / "Dockerfile").read_text()
    assert TEAM_EDIT in compose.read_text()
    after = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert after["_commit"] == "v0.2.0"
    # every detected answer survives the update (they are recorded, never asked)
    assert {k: after[k] for k in CORPUS[fixture][1]} == CORPUS[fixture][1]
    assert {k: v for k, v in after.items() if k != "_commit"} == {
        k: v for k, v in before.items() if k != "_commit"
    }
    # only container files changed; the project's code is untouched
    changed = git(project, "status", "--porcelain").split("\n")
    assert [line[3:] for line in changed if line] == [".copier-answers.yml", "Dockerfile"]
    git(project, "commit", "-q", "-am", "keelson update")
    assert keelson("check", project).code == 0


def test_adopt_says_when_the_recorded_template_is_a_placeholder(
    template: Path, tmp_path: Path
) -> None:
    # a clone of the template whose origin is keelson's unconfigured placeholder URL
    clone = tmp_path / "keelson"
    git(tmp_path, "clone", "-q", str(template), str(clone))
    git(clone, "remote", "set-url", "origin", FALLBACK_URL)
    project = copy_fixture(CORPUS_IDS[0], tmp_path)
    made = keelson(
        "adopt", project, "--defaults", "--trust", "--template", clone, "--vcs-ref", "v0.1.0"
    )
    assert made.code == 0, made.err
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_src_path"] == (
        FALLBACK_URL
    )
    [note] = [line for line in made.err.splitlines() if "placeholder" in line]
    assert note.startswith("keelson: note: ") and "--template URL" in note
    assert "[project.urls] Template" in note
