"""No path drops a team's edit: files the template drops, and `keelson adopt --force`.

Each test builds its own template history in a real git repository, as a template
team would release it, and drives the real copier through keelson's command line.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.adopt.helpers import copy_fixture
from tests.conftest import Keelson, ReleaseClone, Terminal
from tests.matrix import git, release

TEAM_SECURITY = "Write to security@acme.test; we answer within a day.\n"


def status(service: Path) -> list[str]:
    return git(service, "status", "--porcelain").splitlines()


def test_a_dropped_file_the_team_edited_is_kept_as_a_conflict(
    keelson: Keelson, tmp_path: Path, template_release: ReleaseClone
) -> None:
    repo = template_release(tmp_path / "keelson", None)
    pack = repo / "templates/go/project"
    (pack / "SECURITY.md.jinja").write_text("Report issues in {{ project_name }}.\n")
    (pack / "NOTES.md.jinja").write_text("Notes on {{ project_name }}.\n")
    release(repo, "v1.0.0")
    (pack / "SECURITY.md.jinja").unlink()
    (pack / "NOTES.md.jinja").unlink()
    release(repo, "v2.0.0")

    service = tmp_path / "svc"
    made = keelson(
        "new", service, "--template", repo, "--vcs-ref", "v1.0.0", "--defaults",
        "--data", "language=go", "--trust", "-q", cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    (service / "SECURITY.md").write_text(TEAM_SECURITY)
    git(service, "commit", "-q", "-am", "our disclosure policy")

    updated = keelson("update", service, "--trust", cwd=tmp_path)
    assert updated.returncode == 1, updated.stderr
    # the edited file stays, as git shows a modify/delete conflict; the untouched one goes
    assert (service / "SECURITY.md").read_text() == TEAM_SECURITY
    assert not (service / "NOTES.md").exists()
    assert "UD SECURITY.md" in status(service)
    assert " D NOTES.md" in status(service)
    reason = next(line for line in updated.stdout.splitlines() if "SECURITY.md" in line)
    assert reason.startswith("conflict: SECURITY.md: the template no longer generates it")
    assert "`git add SECURITY.md` keeps it, `git rm SECURITY.md` drops it" in reason
    assert "SECURITY.md" in updated.stderr

    # `keelson check` keeps flagging it until the team decides
    checked = keelson("check", service, cwd=tmp_path)
    assert checked.returncode == 1 and "SECURITY.md" in checked.stdout, checked.stdout
    git(service, "add", "SECURITY.md")
    git(service, "commit", "-q", "-am", "keelson update to v2.0.0; we keep our SECURITY.md")
    settled = keelson("check", service, cwd=tmp_path)
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert (service / "SECURITY.md").read_text() == TEAM_SECURITY


def test_adopt_force_keeps_a_committed_edit_and_the_recorded_template(
    keelson: Keelson, tmp_path: Path, template_release: ReleaseClone
) -> None:
    _, project = adopted_at_v1(keelson, tmp_path, template_release)
    dockerfile = project / "Dockerfile"
    assert dockerfile.read_text().count("ARG APP_VERSION=0.1.0") == 1
    dockerfile.write_text(dockerfile.read_text().replace("APP_VERSION=0.1.0", "APP_VERSION=9.9.9"))
    git(project, "commit", "-q", "-am", "our version")
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())

    # what CONTAINER.md recommends for changing an answer
    again = keelson(
        "adopt", project, "--defaults", "--force", "--data", "health_path=/livez", "--trust",
        cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    text = dockerfile.read_text()
    assert "ARG APP_VERSION=9.9.9" in text  # the team's edit
    assert "/livez" in text  # the changed answer
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["health_path"] == "/livez"
    assert (answers["_src_path"], answers["_commit"]) == (
        recorded["_src_path"],
        recorded["_commit"],
    )


def adopted_at_v1(
    keelson: Keelson, tmp_path: Path, template_release: ReleaseClone
) -> tuple[Path, Path]:
    """A template with releases v1.0.0 and v1.1.0, and a go project adopted at v1.0.0, committed."""
    repo = template_release(tmp_path / "team-template")
    changelog = repo / "CHANGELOG.md"
    changelog.write_text(changelog.read_text() + "\n")
    release(repo, "v1.1.0")
    project = copy_fixture("go-root", tmp_path)
    adopted = keelson(
        "adopt", project, "--defaults", "--template", repo, "--vcs-ref", "v1.0.0", "--trust",
        "-q", cwd=tmp_path,
    )  # fmt: skip
    assert adopted.returncode == 0, adopted.stderr
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "adopted")
    return repo, project


def test_adopt_force_marks_a_conflict_where_the_team_and_the_answer_change_one_line(
    keelson: Keelson, tmp_path: Path, template_release: ReleaseClone
) -> None:
    _, project = adopted_at_v1(keelson, tmp_path, template_release)
    dockerfile = project / "Dockerfile"
    # the project has no health endpoint: the probe only connects
    generated = 'CMD ["/app/healthcheck"]'
    assert dockerfile.read_text().count(generated) == 1
    ours = 'CMD ["/app/healthcheck", "/ready"]'
    dockerfile.write_text(dockerfile.read_text().replace(generated, ours))
    git(project, "commit", "-q", "-am", "our probe")

    again = keelson(
        "adopt", project, "--defaults", "--force", "--data", "health_path=/livez", "--trust",
        cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 1, again.stdout + again.stderr
    assert "conflict: Dockerfile" in again.stdout.splitlines()
    text = dockerfile.read_text()
    # both lines between markers, three-way against what keelson generated at v1.0.0
    assert ours in text and 'CMD ["/app/healthcheck", "/livez"]' in text
    assert text.count("<<<<<<< before updating") == 1 and generated not in text


def test_adopt_force_moves_the_recorded_version_only_when_asked(
    keelson: Keelson, tmp_path: Path, template_release: ReleaseClone
) -> None:
    repo, project = adopted_at_v1(keelson, tmp_path, template_release)
    dockerfile = project / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("APP_VERSION=0.1.0", "APP_VERSION=9.9.9"))
    git(project, "commit", "-q", "-am", "our version")
    moved = keelson(
        "adopt", project, "--defaults", "--force", "--vcs-ref", "v1.1.0", "--trust", "-q",
        cwd=tmp_path,
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v1.1.0"
    assert answers["_src_path"] == str(repo)
    assert "ARG APP_VERSION=9.9.9" in dockerfile.read_text()


def test_adopt_force_in_a_terminal_replaces_nothing_on_enter(
    keelson: Keelson, tmp_path: Path, template_release: ReleaseClone
) -> None:
    _, project = adopted_at_v1(keelson, tmp_path, template_release)
    terminal = Terminal(
        "adopt", str(project), "--force", "--data", "health_path=/livez", "--trust", cwd=tmp_path
    )
    try:
        terminal.expect("Write the container files with these answers?")
        terminal.send(b"y")
        terminal.expect("existing file(s) with these changes?")
        assert '+    CMD ["/app/healthcheck", "/livez"]' in terminal.screen  # the diff first
        terminal.send(b"\r")  # Enter takes the default, which must be the safe one
        code = terminal.wait()
    finally:
        terminal.close()
    assert code == 1, terminal.screen[-1500:]
    assert "nothing was written" in terminal.screen
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""
