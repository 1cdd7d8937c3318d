"""`keelson adopt` and the `ci` question: keelson's pipeline only where the project has none.

A project's own pipeline (`.gitlab-ci.yml`, a workflow under `.github/workflows/`) is
detected and answered `ci=none`; an answer that would overwrite one of its files is
refused in one line with nothing written; a pipeline an earlier adoption wrote is
keelson's own and follows --force / --skip-existing like every container file. The
adopted projects' pipelines pass the same lint gates as generated services'.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from generator.adopt import detect
from tests.adopt.helpers import CORPUS, adopt, copy_fixture, snapshot
from tests.conftest import tool
from tests.matrix import SPEC
from tests.test_lint_pipelines import WORKFLOWS, actionlint, run, shellcheck

OWN_GITLAB = "stages: [test]\ntest:\n  script: [make test]\n"
OWN_WORKFLOW = "name: ours\non: push\njobs: {}\n"


def test_a_project_without_a_pipeline_gets_keelsons(tmp_path: Path) -> None:
    project = copy_fixture("go-root", tmp_path)
    detection = detect(project, {}, SPEC)
    assert detection.answers["ci"] == "github"
    assert detection.evidence["ci"] == "no pipeline found"


def test_a_project_with_its_own_pipeline_is_answered_none_and_kept(tmp_path: Path) -> None:
    for own, text in (
        (".gitlab-ci.yml", OWN_GITLAB),
        (".github/workflows/test.yaml", OWN_WORKFLOW),
    ):
        project = copy_fixture("go-root", tmp_path / own.replace("/", "_"))
        (project / own).parent.mkdir(parents=True, exist_ok=True)
        (project / own).write_text(text)
        detection = detect(project, {}, SPEC)
        assert detection.answers["ci"] == "none", own
        assert "the project's own pipeline" in detection.evidence["ci"]
        result = adopt(project)
        assert result.code == 0, result.err
        assert (project / own).read_text() == text
        assert not (project / "ci").exists()
        assert yaml.safe_load((project / ".copier-answers.yml").read_text())["ci"] == "none"


def test_an_answer_that_would_overwrite_the_projects_pipeline_is_refused(tmp_path: Path) -> None:
    project = copy_fixture("flask-gunicorn", tmp_path / "gitlab")
    (project / ".gitlab-ci.yml").write_text(OWN_GITLAB)
    before = snapshot(project)
    refused = adopt(project, "--data", "ci=gitlab")
    assert refused.code == 2
    assert refused.err == (
        f"keelson: ci: {project} already has .gitlab-ci.yml, which keelson adopt never "
        "overwrites; pass --data ci=none to keep the project's pipeline, or move it away "
        "to get keelson's\n"
    )
    assert snapshot(project) == before  # nothing written

    project = copy_fixture("node-main", tmp_path / "github")
    (project / ".github/workflows").mkdir(parents=True)
    (project / ".github/workflows/ci.yml").write_text(OWN_WORKFLOW)
    before = snapshot(project)
    refused = adopt(project, "--data", "ci=github", "--force")
    assert refused.code == 2 and "already has .github/workflows/ci.yml" in refused.err
    assert snapshot(project) == before
    # GitLab's files do not clash with it
    other = adopt(project, "--data", "ci=gitlab")
    assert other.code == 0, other.err
    assert (project / ".github/workflows/ci.yml").read_text() == OWN_WORKFLOW
    assert (project / ".gitlab-ci.yml").is_file() and (project / "ci/release.sh").is_file()


def test_adopting_again_keeps_the_pipeline_keelson_wrote(tmp_path: Path) -> None:
    project = copy_fixture("go-cmd-server", tmp_path)
    first = adopt(project)
    assert first.code == 0, first.err
    workflow = project / ".github/workflows/release.yml"
    edited = workflow.read_text() + "# reviewed by the platform team\n"
    workflow.write_text(edited)
    again = adopt(project, "--force", "--data", "port=9090")
    assert again.code == 0, again.err
    assert workflow.read_text() == edited  # the team's edit survives the merge
    assert "9090" in (project / "ci/release.sh").read_text()


def test_adopted_pipelines_pass_the_lint_gates(tmp_path: Path) -> None:
    github, gitlab = [], []
    for fixture in CORPUS:
        for ci, found in (("github", github), ("gitlab", gitlab)):
            project = copy_fixture(fixture, tmp_path / ci / fixture)
            result = adopt(project, "--data", f"ci={ci}")
            assert result.code == 0, result.err
            found.append(project)
    workflows = [project / name for project in github for name in WORKFLOWS]
    linted = run(actionlint(), "-no-color", "-shellcheck", shellcheck(), *workflows)
    assert linted.returncode == 0 and linted.stdout == "", linted.stdout + linted.stderr
    folders = [project / ".github/workflows" for project in github]
    audited = run(tool("zizmor"), "--offline", "--no-progress", "--format", "plain", *folders)
    assert audited.returncode == 0 and "No findings to report" in audited.stdout, audited.stdout
    for schema, paths in (
        ("vendor.github-workflows", workflows),
        ("vendor.gitlab-ci", [project / ".gitlab-ci.yml" for project in gitlab]),
    ):
        checked = run(tool("check-jsonschema"), "--builtin-schema", schema, *paths)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    scripts = [project / "ci/release.sh" for project in github + gitlab]
    checked = run(shellcheck(), "--severity=style", *scripts)
    assert checked.returncode == 0 and checked.stdout == "", checked.stdout
