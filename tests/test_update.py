"""`keelson update` and `keelson check` against a real template history in git.

The keelson template is copied into a temporary git repository and moved through
three releases, as a template team would:

- v0.1.0: the template as it is (plus a LABEL line the tests can aim at);
- v0.2.0: a Dockerfile change, a new manifest, a changed default, a renamed
  question (`image_repository` -> `container_image`, with a `_migrations` entry) and
  a retired Node.js release line (22, with 26 as the new default), which
  copier.yml's own migration handles;
- v0.3.0: one more file.

A service rendered at v0.1.0 is committed, edited the way a team edits it, and
updated with the real copier, with no network.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from generator.check import check_service, find_conflicts
from generator.errors import UsageError
from generator.releases import changelog_between
from generator.render import new_service
from generator.update import update_service
from tests.conftest import Keelson, ReleaseClone
from tests.matrix import ROOT, clone_release, git, release

LABEL_V1 = 'LABEL org.opencontainers.image.vendor="acme"'
LABEL_V2 = 'LABEL org.opencontainers.image.vendor="acme" org.opencontainers.image.licenses="MIT"'
CUSTOM_IMAGE = "registry.acme.test/shop/svc"
CHANGELOG_V1 = """\
# Changelog

All notable changes to this template are documented here.

## [Unreleased]

## [0.1.0] - 2026-01-05
### Added
- First release: Node.js, Python and Go services.
"""
CHANGELOG_V2 = """\
## [0.2.0] - 2026-02-10
### Changed
- The image declares its licence (OCI label).
- `image_repository` is now `container_image`; `keelson update` migrates it.
- Node.js 22 is retired (services move to 24); 26 is the new default.
### Added
- A LimitRange for the namespace.
"""
CHANGELOG_V3 = """\
## [0.3.0] - 2026-03-15
### Added
- SECURITY.md with the disclosure policy.
"""
RENAME_MIGRATION = """\
  - version: v0.2.0
    command:
      - "{{ _copier_python }}"
      - "{{ _copier_conf.src_path }}/generator/migrations.py"
      - --answers-file
      - "{{ _copier_conf.answers_file }}"
      - rename
      - image_repository
      - container_image
    when: "{{ _stage == 'before' }}"
"""
LIMITRANGE = """\
apiVersion: v1
kind: LimitRange
metadata:
  name: {{ project_name }}
spec:
  limits:
    - type: Container
      defaultRequest:
        cpu: 50m
"""


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace text that must be there: fails loudly if the template moved on."""
    text = path.read_text()
    assert text.count(old) == count, f"{path}: expected {count} x {old!r}"
    path.write_text(text.replace(old, new))


@dataclass(frozen=True)
class History:
    template: Path
    v1_service: Path


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, released_template: Path) -> History:
    """The template at v0.1.0, v0.2.0 and v0.3.0, and a service rendered at v0.1.0."""
    repo = clone_release(released_template, tmp_path_factory.mktemp("template") / "keelson", None)
    dockerfile = repo / "templates/node/project/Dockerfile.jinja"

    dockerfile.write_text(dockerfile.read_text() + LABEL_V1 + "\n")
    (repo / "CHANGELOG.md").write_text(CHANGELOG_V1)
    release(repo, "v0.1.0")

    edit(dockerfile, LABEL_V1, LABEL_V2)
    (repo / "templates/common/k8s/base/limitrange.yaml.jinja").write_text(LIMITRANGE)
    copier_yml = repo / "copier.yml"
    edit(
        copier_yml,
        'choices: ["17", "16"]\n  default: "17"',
        'choices: ["17", "16"]\n  default: "16"',
    )
    # Node.js 22 retires and 26 arrives as the default: copier alone would move a
    # 22 service to the default (26); the migration moves it to the nearest line (24)
    edit(
        repo / "templates/node/questions.yml",  # the node pack's own questions
        'choices: ["24", "22"]\n  default: "24"',
        'choices: ["26", "24"]\n  default: "26"',
    )
    for path in [copier_yml, *repo.glob("templates/**/*.jinja"), *repo.glob("includes/**/*")]:
        if path.is_file() and "image_repository" in path.read_text():
            path.write_text(path.read_text().replace("image_repository", "container_image"))
    edit(copier_yml, "_migrations:\n", "_migrations:\n" + RENAME_MIGRATION)
    edit(repo / "CHANGELOG.md", "## [Unreleased]\n\n", "## [Unreleased]\n\n" + CHANGELOG_V2 + "\n")
    release(repo, "v0.2.0")

    security = repo / "templates/node/project/SECURITY.md.jinja"
    security.write_text("Report issues in {{ project_name }}.\n")
    edit(repo / "CHANGELOG.md", "## [Unreleased]\n\n", "## [Unreleased]\n\n" + CHANGELOG_V3 + "\n")
    release(repo, "v0.3.0")

    service = new_service(
        tmp_path_factory.mktemp("v1") / "svc",
        data={
            "language": "node",
            "database": "postgresql",
            "node_version": "22",
            "image_repository": CUSTOM_IMAGE,
        },
        defaults=True,
        template=str(repo),
        vcs_ref="v0.1.0",
        quiet=True,
        trust=True,
        git=False,  # each test commits its own copy
    )
    return History(template=repo, v1_service=service)


@pytest.fixture
def service(history: History, tmp_path: Path) -> Iterator[Path]:
    """A fresh, committed copy of the service rendered at v0.1.0."""
    dest = tmp_path / "svc"
    shutil.copytree(history.v1_service, dest, symlinks=True)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "Generated by keelson")
    yield dest


def answers(service: Path) -> dict[str, object]:
    data = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


def commit(service: Path, message: str) -> None:
    git(service, "add", "-A")
    git(service, "commit", "-q", "-m", message)


def committed_service(repo: Path, dest: Path, **answers: str) -> Path:
    """A service rendered from `repo` at v0.1.0, a git repository with a first commit."""
    service = new_service(
        dest, data=answers, defaults=True, template=str(repo), vcs_ref="v0.1.0",
        quiet=True, trust=True, git=False,
    )  # fmt: skip
    git(service, "init", "-q", "-b", "main")
    commit(service, "Generated by keelson")
    return service


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_update_keeps_edits_migrates_answers_and_check_follows(
    keelson: Keelson, service: Path
) -> None:
    assert answers(service)["_commit"] == "v0.1.0"
    assert LABEL_V1 in (service / "Dockerfile").read_text()
    # the team's own edits: app code, an env var in compose, a patch in an overlay
    with (service / "src" / "app.js").open("a") as app:
        app.write("// acme: route table reviewed by the shop team\n")
    edit(
        service / "compose.yaml",
        'LOG_LEVEL: "${LOG_LEVEL:-info}"\n',
        'LOG_LEVEL: "${LOG_LEVEL:-info}"\n      FEATURE_FLAGS: "beta"\n',
    )
    overlay = service / "k8s" / "overlays" / "dev" / "kustomization.yaml"
    edit(
        overlay,
        "      - LOG_LEVEL=debug\n",
        "      - LOG_LEVEL=debug\n      - FEATURE_FLAGS=beta\n",
    )
    commit(service, "our edits")

    before = keelson("check", str(service))
    assert before.returncode == 1, before.stderr
    assert "v0.1.0" in before.stdout and "v0.3.0" in before.stdout
    assert "2 releases behind: v0.2.0, v0.3.0" in before.stdout
    for line in ("## [0.3.0] - 2026-03-15", "## [0.2.0] - 2026-02-10", "- A LimitRange"):
        assert line in before.stdout
    assert "First release" not in before.stdout  # v0.1.0's own notes are not news

    updated = keelson("update", str(service), "--to", "v0.2.0", "--trust", "-q")
    assert updated.returncode == 0, updated.stderr
    after = answers(service)
    assert after["_commit"] == "v0.2.0"
    # the template's changes arrived
    dockerfile = (service / "Dockerfile").read_text()
    assert LABEL_V2 in dockerfile and LABEL_V1 + "\n" not in dockerfile
    assert "kind: LimitRange" in (service / "k8s" / "base" / "limitrange.yaml").read_text()
    assert not (service / "SECURITY.md").exists()  # v0.3.0 was not asked for
    # the migrations rewrote the answers: the renamed question kept its value and
    # the retired Node.js line moved to the one still offered
    assert after["container_image"] == CUSTOM_IMAGE and "image_repository" not in after
    assert "image: registry.acme.test/shop/svc:dev" in (service / "compose.yaml").read_text()
    assert after["node_version"] == "24"
    assert "ARG NODE_VERSION=24" in dockerfile
    # a changed default does not override what the service answered
    assert after["postgresql_version"] == "17"
    assert "image: postgres:17" in (service / "compose.yaml").read_text()
    # the team's edits survived
    assert (service / "src" / "app.js").read_text().endswith("reviewed by the shop team\n")
    assert 'FEATURE_FLAGS: "beta"' in (service / "compose.yaml").read_text()
    assert "- FEATURE_FLAGS=beta" in overlay.read_text()
    assert find_conflicts(service) == []
    commit(service, "update to v0.2.0")

    middle = check_service(service)
    assert (middle.current, middle.latest, middle.missed) == ("v0.2.0", "v0.3.0", ("v0.3.0",))
    assert "- SECURITY.md with the disclosure policy." in middle.changelog
    assert not any("0.2.0" in line for line in middle.changelog)

    latest = keelson("update", str(service), "--trust")
    assert latest.returncode == 0, latest.stderr
    assert "from v0.2.0 to v0.3.0" in latest.stderr
    assert (service / "SECURITY.md").read_text() == "Report issues in svc.\n"
    commit(service, "update to v0.3.0")
    current = keelson("check", str(service))
    assert current.returncode == 0, current.stdout
    assert "up to date with template version v0.3.0" in current.stdout
    again = update_service(service, trust=True)
    assert (again.old_version, again.new_version, again.changed) == ("v0.3.0", "v0.3.0", ())


def test_same_line_edit_is_reported_as_conflict(keelson: Keelson, service: Path) -> None:
    edit(service / "Dockerfile", LABEL_V1, 'LABEL org.opencontainers.image.vendor="acme-shop"')
    commit(service, "our vendor")
    files_before = snapshot(service)

    # the dry run predicts the conflict and writes nothing
    dry = keelson("update", str(service), "--to", "v0.2.0", "--trust", "--pretend")
    assert dry.returncode == 1, dry.stderr
    assert "conflict: Dockerfile" in dry.stdout.splitlines()
    assert "would leave conflicts in 1 file(s): Dockerfile" in dry.stderr
    assert snapshot(service) == files_before

    result = keelson("update", str(service), "--to", "v0.2.0", "--trust")
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["conflict: Dockerfile"]
    # copier's progress comes first; keelson's verdict is one line, last
    verdict = result.stderr.strip().splitlines()[-1]
    assert verdict.startswith("keelson: the update to v0.2.0 left ")
    assert "conflicts in 1 file(s): Dockerfile" in verdict
    assert "<<<<<<<" in verdict and "git add" in verdict
    dockerfile = (service / "Dockerfile").read_text()
    # both sides are kept for a person to choose from
    assert (
        '<<<<<<< before updating\nLABEL org.opencontainers.image.vendor="acme-shop"' in dockerfile
    )
    assert LABEL_V2 + "\n>>>>>>> after updating" in dockerfile
    # the rest of the update was applied
    assert (service / "k8s" / "base" / "limitrange.yaml").is_file()
    assert find_conflicts(service) == ["Dockerfile"]
    # a second run refuses to update over the unresolved merge
    again = keelson("update", str(service), "--trust")
    assert again.returncode == 2
    assert "commit or stash" in again.stderr


def test_pretend_writes_nothing_then_update_two_releases_at_once(
    keelson: Keelson, service: Path
) -> None:
    files_before = snapshot(service)
    head = git(service, "rev-parse", "HEAD")

    dry = keelson("update", str(service), "--trust", "--pretend")
    assert dry.returncode == 0, dry.stderr
    assert snapshot(service) == files_before
    assert git(service, "rev-parse", "HEAD") == head
    assert git(service, "status", "--porcelain") == ""
    assert "would update" in dry.stderr and "from v0.1.0 to v0.3.0" in dry.stderr
    assert "+_commit: v0.3.0" in dry.stdout
    assert "+container_image: registry.acme.test/shop/svc" in dry.stdout
    assert "+" + LABEL_V2 in dry.stdout
    assert "keelson:   A SECURITY.md" in dry.stderr.splitlines()

    result = update_service(service, trust=True, quiet=True)
    assert (result.old_version, result.new_version) == ("v0.1.0", "v0.3.0")
    assert result.conflicts == ()
    assert {"A SECURITY.md", "M Dockerfile", "M .copier-answers.yml"} <= set(result.changed)
    after = answers(service)
    # v0.2.0's migrations ran on the way from v0.1.0 to v0.3.0
    assert after["container_image"] == CUSTOM_IMAGE and "image_repository" not in after
    assert after["node_version"] == "24"
    assert (service / "SECURITY.md").is_file()
    assert (service / "k8s" / "base" / "limitrange.yaml").is_file()
    assert LABEL_V2 in (service / "Dockerfile").read_text()
    assert check_service(service).up_to_date


def test_update_refuses_what_it_cannot_do_safely(
    keelson: Keelson, service: Path, tmp_path: Path
) -> None:
    # uncommitted work
    (service / "compose.yaml").write_text("# half-done\n")
    dirty = keelson("update", str(service), "--trust")
    assert dirty.returncode == 2
    assert dirty.stderr.count("\n") == 1 and "commit or stash them first" in dirty.stderr
    assert (service / "compose.yaml").read_text() == "# half-done\n"
    git(service, "checkout", "--", ".")

    # a template version that does not exist
    with pytest.raises(UsageError, match=r"^--to v9\.9\.9: no such tag, branch or commit"):
        update_service(service, to="v9.9.9", trust=True)

    # a third-party template's migrations need consent
    with pytest.raises(UsageError, match="rerun with --trust"):
        update_service(service, quiet=True)
    assert answers(service)["_commit"] == "v0.1.0"
    assert git(service, "status", "--porcelain") == ""

    # not a git repository
    loose = tmp_path / "loose"
    shutil.copytree(service, loose, ignore=shutil.ignore_patterns(".git"))
    with pytest.raises(UsageError, match=r"not in a git repository.*git init"):
        update_service(loose, trust=True)

    # not a generated service
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in ("update", "check"):
        missing = keelson(command, str(empty))
        assert missing.returncode == 2, command
        assert "has no .copier-answers.yml" in missing.stderr
    with pytest.raises(UsageError, match=r"has no \.copier-answers\.yml"):
        update_service(empty)


def test_a_retired_postgresql_line_stops_the_update_before_any_change(
    keelson: Keelson, tmp_path: Path, template_release: ReleaseClone
) -> None:
    # moving a PostgreSQL service to the next major line would start the new server on
    # the old data folder, which it refuses: the update stops and says what to do
    repo = template_release(tmp_path / "keelson", "v0.1.0")
    edit(
        repo / "copier.yml",
        'choices: ["17", "16"]\n  default: "17"',
        'choices: ["18", "17"]\n  default: "18"',
    )
    release(repo, "v0.2.0")
    service = committed_service(
        repo, tmp_path / "svc", language="go", database="postgresql", postgresql_version="16"
    )
    before = snapshot(service)

    stopped = keelson("update", str(service), "--trust")
    assert stopped.returncode == 1
    assert "postgresql_version 16 is no longer offered; not moved to 17" in stopped.stderr
    assert "pg_upgrade" in stopped.stderr
    assert "Traceback" not in stopped.stderr and "Command '[" not in stopped.stderr
    assert stopped.stderr.splitlines()[-1] == (
        "keelson: update stopped by a migration step of the template (its reason is above); "
        "the service is unchanged"
    )
    assert snapshot(service) == before
    assert git(service, "status", "--porcelain") == ""

    # once the data has moved, the user says so and the update moves the answer and images
    # (a process of its own: copier hands migrations the environment keelson started with)
    moved = subprocess.run(
        [sys.executable, "-m", "generator", "update", str(service), "--trust", "-q"],
        env={**os.environ, "KEELSON_DATA_MOVED": "postgresql_version"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert moved.returncode == 0, moved.stderr
    assert answers(service)["_commit"] == "v0.2.0"
    assert answers(service)["postgresql_version"] == "17"
    assert "image: postgres:17" in (service / "compose.yaml").read_text()


def test_update_data_changes_an_answer_and_the_files_follow(
    keelson: Keelson, tmp_path: Path, template_release: ReleaseClone
) -> None:
    repo = template_release(tmp_path / "keelson", "v0.1.0")
    service = committed_service(repo, tmp_path / "svc", language="go", database="postgresql")
    statefulset = service / "k8s" / "overlays" / "dev" / "database" / "statefulset.yaml"
    assert "storageClassName" not in statefulset.read_text()
    with (service / "compose.yaml").open("a") as compose:
        compose.write("# reviewed by the team\n")
    commit(service, "edited")
    before = snapshot(service)

    # an answer the template refuses, or a question it does not ask: one line naming
    # it, nothing changed
    bad = keelson("update", str(service), "--trust", "--data", "database=oracle")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "database" in bad.stderr
    typo = keelson("update", str(service), "--trust", "--data", "storage_clas=fast-ssd")
    assert typo.returncode == 2
    assert typo.stderr.count("\n") == 1 and "unknown question 'storage_clas'" in typo.stderr
    assert snapshot(service) == before

    # a dry run shows the change and writes nothing
    dry = keelson(
        "update", str(service), "--trust", "--pretend", "--data", "storage_class=fast-ssd"
    )
    assert dry.returncode == 0, dry.stderr
    assert any(
        line.startswith("+") and line.strip("+ ") == "storageClassName: fast-ssd"
        for line in dry.stdout.splitlines()
    )
    assert snapshot(service) == before

    # the service is on the newest version already: its own version re-renders
    changed = keelson("update", str(service), "--trust", "-q", "--data", "storage_class=fast-ssd")
    assert changed.returncode == 0, changed.stderr
    assert answers(service)["storage_class"] == "fast-ssd"
    assert answers(service)["_commit"] == "v0.1.0"
    assert "storageClassName: fast-ssd" in statefulset.read_text()
    assert (service / "compose.yaml").read_text().endswith("# reviewed by the team\n")
    assert find_conflicts(service) == []
    commit(service, "storage class")

    # on the newest tag, --to a later commit of the template still updates to it
    (repo / "templates/go/project/SECURITY.md.jinja").write_text("Report to the team.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "unreleased: a security policy")
    later = keelson("update", str(service), "--trust", "-q", "--to", "main")
    assert later.returncode == 0, later.stderr
    assert (service / "SECURITY.md").read_text() == "Report to the team.\n"
    assert answers(service)["storage_class"] == "fast-ssd"


def test_changelog_between_picks_the_missed_releases() -> None:
    from packaging.version import Version

    newest_first = CHANGELOG_V3 + "\n" + CHANGELOG_V2 + "\n"
    text = CHANGELOG_V1.replace("## [Unreleased]\n\n", "## [Unreleased]\n\n" + newest_first)
    text += "\n[0.3.0]: https://example.invalid/compare/v0.2.0...v0.3.0\n"
    lines = changelog_between(text, Version("0.1.0"), Version("0.3.0"))
    assert lines[0] == "## [0.3.0] - 2026-03-15"
    assert "## [0.2.0] - 2026-02-10" in lines
    assert lines[-1] == "- A LimitRange for the namespace."
    assert not any("Unreleased" in line or "First release" in line for line in lines)
    assert not any(line.startswith("[0.3.0]:") for line in lines)
    assert changelog_between(text, Version("0.3.0"), Version("0.3.0")) == []


def test_migration_steps_are_idempotent_and_keep_the_header(tmp_path: Path) -> None:
    from generator import migrations

    file = tmp_path / ".copier-answers.yml"
    file.write_text(
        "# Changes here will be overwritten by copier\n"
        "_commit: v0.1.0\nold_name: kept\ndatabase: mysql\nredis_version: '6'\n"
        "node_version: '30'\n"
    )
    template = tmp_path / "template"
    template.mkdir()
    (template / "copier.yml").write_text(
        "redis_version: {type: str, choices: ['8', '7'], default: '8'}\n"
        "node_version: {type: str, choices: ['24', '22'], default: '24'}\n"
    )
    steps = [
        ["rename", "old_name", "new_name"],
        ["remap", "database", "mysql=mariadb"],
        ["retired-versions", "--template", str(template)],
    ]
    for _ in range(2):  # a second run changes nothing
        for step in steps:
            assert migrations.main(["--answers-file", str(file), *step]) == 0
        text = file.read_text()
        assert text.startswith("# Changes here will be overwritten by copier\n_commit: v0.1.0\n")
        assert yaml.safe_load(text) == {
            "_commit": "v0.1.0",
            "new_name": "kept",
            "database": "mariadb",
            "redis_version": "7",  # the nearest newer line, not the default 8
            "node_version": "24",  # nothing newer is offered: the default
        }
    # a renamed answer never overwrites one the project already has
    answers_both = {"old_name": "a", "new_name": "b"}
    assert not migrations.rename_answer(answers_both, "old_name", "new_name")
    assert answers_both == {"old_name": "a", "new_name": "b"}


def test_python_services_on_3_12_move_to_the_distroless_3_13(tmp_path: Path) -> None:
    # the runtime image (distroless python3-debian13) carries CPython 3.13 only,
    # so copier.yml offers 3.13 alone; keelson's own migration moves older answers
    from generator import migrations

    file = tmp_path / ".copier-answers.yml"
    file.write_text("_commit: v0.1.0\nlanguage: python\npython_version: '3.12'\n")
    assert (
        migrations.main(["--answers-file", str(file), "retired-versions", "--template", str(ROOT)])
        == 0
    )
    assert yaml.safe_load(file.read_text())["python_version"] == "3.13"


def test_update_moves_the_dev_password_out_of_the_base(keelson: Keelson, service: Path) -> None:
    # a service made before the dev overlay owned its Secret kept the password in
    # k8s/base/secrets/ (git-ignored); the update moves it, value and mode kept
    dev = service / "k8s/overlays/dev/secrets"
    password = (dev / "db-password").read_text()
    legacy = service / "k8s/base/secrets"
    dev.rename(legacy)
    assert git(service, "status", "--porcelain") == ""  # ignored, as it was

    result = keelson("update", str(service), "--to", "v0.2.0", "--trust")
    assert result.returncode == 0, result.stderr
    assert (
        "keelson migration: moved k8s/base/secrets/db-password -> "
        "k8s/overlays/dev/secrets/db-password" in result.stderr
    )
    assert "holds another value" not in result.stderr
    assert (dev / "db-password").read_text() == password
    assert stat.S_IMODE((dev / "db-password").stat().st_mode) == 0o600
    assert stat.S_IMODE(dev.stat().st_mode) == 0o700
    assert not legacy.exists()
    assert password.strip() not in git(service, "ls-files", "-s")
    assert "secrets" not in git(service, "status", "--porcelain", "--ignored=no")


def test_move_secret_keeps_the_value_and_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from generator import migrations

    monkeypatch.chdir(tmp_path)
    old = Path("k8s/base/secrets/db-password")
    new = Path("k8s/overlays/dev/secrets/db-password")
    step = ["move-secret", str(old), str(new), "--same-as", ".secrets/db_password"]
    old.parent.mkdir(parents=True)
    (old.parent / ".gitignore").write_text("*\n")
    old.write_text("dev-value\n")
    old.chmod(0o600)
    Path(".secrets").mkdir()
    Path(".secrets/db_password").write_text("dev-value\n")
    for _ in range(2):  # a second run changes nothing
        assert migrations.main(step) == 0
        assert new.read_text() == "dev-value\n"
        assert stat.S_IMODE(new.stat().st_mode) == 0o600
        assert stat.S_IMODE(new.parent.stat().st_mode) == 0o700
        assert (new.parent / ".gitignore").read_text() == "*\n"
        assert not old.parent.exists()
    assert capsys.readouterr().err.count("moved k8s/base/secrets/db-password") == 1

    # a value that is not compose's (the old README said to put prod's there): moved,
    # and the developer is told
    old.parent.mkdir()
    new.unlink()
    old.write_text("prod-value\n")
    assert migrations.main(step) == 0
    assert new.read_text() == "prod-value\n"
    assert "holds another value than .secrets/db_password" in capsys.readouterr().err

    # both there: neither is touched
    old.parent.mkdir()
    old.write_text("other\n")
    assert migrations.main(step) == 0
    assert (old.read_text(), new.read_text()) == ("other\n", "prod-value\n")
    assert "is left where it is" in capsys.readouterr().err
