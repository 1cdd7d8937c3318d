"""A team's life with an installed keelson, end to end, with no network.

keelson is built as a wheel from a copy of this repository whose canonical template
URL points at a bare git repository on disk (as a company points keelson at its own
mirror), installed into a fresh virtualenv outside any checkout, and used the way a
team uses it: `keelson new` (git init + first commit), a teammate's clone, a new
template release, `keelson check`, the teammate's edits and `keelson update`.

Release tags do not travel with this repository's history, so the tests make their
own: once with tags (`scripts/release.sh`), once without (commits are compared).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from generator.repository import FALLBACK_URL
from tests.matrix import ROOT, git
from tests.test_update import LIMITRANGE

DOCKERFILE_LINE = 'LABEL org.opencontainers.image.vendor="acme platform team"'
NEWS = [
    "- The image names its vendor (OCI label).",
    "- A LimitRange manifest for the namespace.",
]


def run(
    *cmd: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def project_files() -> list[str]:
    """The repository's files as the working tree has them (tracked and new, not ignored)."""
    listed = run("git", "ls-files", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    return [
        name
        for name in listed.stdout.splitlines()
        if (ROOT / name).is_file() or (ROOT / name).is_symlink()
    ]


@dataclass(frozen=True)
class Team:
    """A template repository, its bare 'canonical' mirror, and an installed keelson."""

    source: Path  # the template maintainers' working copy
    bare: Path  # the canonical repository every clone reaches
    keelson: Path  # the installed console script
    env: dict[str, str]  # a user's environment: no config, no $KEELSON_TEMPLATE
    work: Path  # where the team keeps its services

    def keelson_run(
        self, *args: str | Path, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run(self.keelson, *args, cwd=cwd or self.work, env=self.env)

    def release(self, *, tagged: bool, version: str) -> None:
        """The maintainers ship a Dockerfile change and a new manifest."""
        dockerfile = self.source / "templates/python/project/Dockerfile.jinja"
        dockerfile.write_text(dockerfile.read_text() + DOCKERFILE_LINE + "\n")
        (self.source / "templates/common/k8s/base/limitrange.yaml.jinja").write_text(LIMITRANGE)
        changelog = self.source / "CHANGELOG.md"
        entries = "### Added\n" + "\n".join(NEWS) + "\n\n"
        heading = f"## [{version}] - 2026-12-01\n" if tagged else ""
        text = changelog.read_text().replace(
            "## [Unreleased]\n\n", "## [Unreleased]\n\n" + heading + entries, 1
        )
        changelog.write_text(text)
        git(self.source, "add", "-A")
        git(
            self.source,
            "commit",
            "-q",
            "-m",
            f"Template: vendor label and a LimitRange ({version})",
        )
        if tagged:
            released = run("bash", "scripts/release.sh", cwd=self.source)
            assert released.returncode == 0, released.stderr
        git(self.source, "push", "-q", "--follow-tags", "origin", "main")


def copy_project(source: Path) -> None:
    for name in project_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():  # a language pack's link to a shared part
            target.symlink_to(os.readlink(ROOT / name))
        else:
            shutil.copy2(ROOT / name, target)


def install_wheel(tmp: Path, *spec: str | Path) -> tuple[Path, dict[str, str]]:
    """Build a wheel of `spec` offline, install it in a fresh virtualenv; return keelson and env."""
    wheels = tmp / "wheels"
    built = run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", wheels, *spec, cwd=tmp,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("keelson-*.whl"))
    venv = tmp / "venv"
    made = run(sys.executable, "-m", "venv", venv, cwd=tmp)
    assert made.returncode == 0, made.stderr
    site = Path(
        run(venv / "bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=tmp).stdout.strip()
    )  # fmt: skip
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run(venv / "bin/python", "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", wheel, cwd=tmp)  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    home = tmp / "home"
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"KEELSON_TEMPLATE", "XDG_CONFIG_HOME", "PYTHONPATH", "VIRTUAL_ENV"}
    }
    env["HOME"] = str(home)
    return venv / "bin/keelson", env


def install_team(tmp: Path, *, tagged: bool) -> Team:
    source = tmp / "keelson-src"
    copy_project(source)
    bare = tmp / "mirror" / "keelson.git"
    bare.parent.mkdir()
    git(tmp, "init", "-q", "--bare", "-b", "main", str(bare))
    # setuptools wants a host in a project URL; git reads file://localhost/ as a path
    url = f"file://localhost{bare}"
    pyproject = source / "pyproject.toml"
    text = pyproject.read_text()
    assert 'Template = "' in text
    lines = [
        f'Template = "{url}"' if line.startswith("Template = ") else line
        for line in text.splitlines()
    ]
    pyproject.write_text("\n".join(lines) + "\n")
    # the release this copy stands for: nothing left under [Unreleased]
    changelog = source / "CHANGELOG.md"
    head, _, rest = changelog.read_text().partition("## [Unreleased]\n")
    changelog.write_text(head + "## [Unreleased]\n\n" + rest[rest.index("## [") :])
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "keelson as the team builds it")
    git(source, "remote", "add", "origin", url)
    if tagged:
        released = run("bash", "scripts/release.sh", cwd=source)
        assert released.returncode == 0, released.stderr
        assert "tagged v" in released.stdout
    git(source, "push", "-q", "--follow-tags", "origin", "main")

    # the wheel, built offline with the test environment's setuptools; a fresh
    # virtualenv outside any checkout; its dependencies come from the test
    # environment through a path entry (not an install), so nothing is downloaded
    keelson, env = install_wheel(tmp, source)
    work = tmp / "work"
    work.mkdir()
    return Team(source=source, bare=bare, keelson=keelson, env=env, work=work)


def answers(service: Path) -> dict[str, object]:
    data = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("tagged", [True, False], ids=["tagged", "untagged"])
def test_team_life_with_an_installed_keelson(tmp_path: Path, tagged: bool) -> None:
    team = install_team(tmp_path, tagged=tagged)
    version = run(team.keelson, "--version", cwd=team.work, env=team.env)
    changelog_version = next(
        line.split("]")[0].removeprefix("## [")
        for line in (ROOT / "CHANGELOG.md").read_text().splitlines()
        if line.startswith("## [") and line[4].isdigit()
    )
    assert version.stdout.strip() == f"keelson {changelog_version}"

    # 1. a service from the installed wheel: no checkout around, no network
    made = team.keelson_run("new", "orders", "--defaults", "--data", "database=postgresql")
    assert made.returncode == 0, made.stderr
    service = team.work / "orders"
    recorded = answers(service)
    assert recorded["_src_path"] == f"file://localhost{team.bare}"
    head = git(team.source, "rev-parse", "HEAD").strip()
    if tagged:
        assert recorded["_commit"] == f"v{changelog_version}"
    else:
        assert head.startswith(str(recorded["_commit"]))
    assert git(service, "log", "--format=%s").strip().startswith("Generate the service")
    assert git(service, "status", "--porcelain") == ""
    # the database password is git-ignored, and private
    assert ".secrets/db_password" not in git(service, "ls-files")
    assert (service / ".secrets").stat().st_mode & 0o777 == 0o700

    # 2. a teammate's clone in another folder: it reaches the template too
    teammate = team.work / "teammate" / "orders"
    git(team.work, "clone", "-q", str(service), str(teammate))
    current = team.keelson_run("check", teammate)
    assert current.returncode == 0, current.stdout + current.stderr
    assert "up to date" in current.stdout

    # 3. the maintainers release a new template version
    team.release(tagged=tagged, version="9.0.0")
    behind = team.keelson_run("check", teammate)
    assert behind.returncode == 1, behind.stdout + behind.stderr
    for line in NEWS:
        assert line in behind.stdout
    assert ("1 release behind: v9.0.0" if tagged else "1 commit behind") in behind.stdout
    assert "keelson update" in behind.stdout and "--trust" not in behind.stdout

    # 4. the teammate's own edits survive the update
    compose = teammate / "compose.yaml"
    compose.write_text(
        compose.read_text().replace(
            'LOG_LEVEL: "${LOG_LEVEL:-info}"\n',
            'LOG_LEVEL: "${LOG_LEVEL:-info}"\n      FEATURE_FLAGS: "beta"\n',
        )
    )
    assert 'FEATURE_FLAGS: "beta"' in compose.read_text()
    git(teammate, "commit", "-q", "-am", "our feature flags")
    updated = team.keelson_run("update", teammate)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert DOCKERFILE_LINE in (teammate / "Dockerfile").read_text()
    assert "kind: LimitRange" in (teammate / "k8s/base/limitrange.yaml").read_text()
    assert 'FEATURE_FLAGS: "beta"' in compose.read_text()
    git(teammate, "add", "-A")
    git(teammate, "commit", "-q", "-m", "keelson update")
    after = team.keelson_run("check", teammate)
    assert after.returncode == 0, after.stdout + after.stderr


@pytest.mark.parametrize("origin", [True, False], ids=["fork", "no-origin"])
def test_a_wheel_records_the_fork_it_was_built_from(tmp_path: Path, origin: bool) -> None:
    # pyproject.toml keeps the placeholder Template URL, as a fork that never touched it
    source = tmp_path / "fork"
    copy_project(source)
    assert FALLBACK_URL in (source / "pyproject.toml").read_text()
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "our fork of keelson")
    bare = tmp_path / "git" / "keelson.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(bare))
    url = f"file://{bare}"
    # `pip install git+URL`, as the generated README says: pip clones with origin = URL
    keelson, env = install_wheel(tmp_path, f"git+{url}" if origin else source)
    work = tmp_path / "work"
    work.mkdir()
    made = run(keelson, "new", "orders", "--defaults", cwd=work, env=env)
    assert made.returncode == 0, made.stderr
    recorded = answers(work / "orders")
    notes = [line for line in made.stderr.splitlines() if line.startswith("keelson: note:")]
    if origin:
        assert recorded["_src_path"] == url
        assert git(source, "rev-parse", "HEAD").startswith(str(recorded["_commit"]))
        assert notes == []
        checked = run(keelson, "check", "orders", cwd=work, env=env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    else:
        # nothing says where it came from: the placeholder, and one line saying so
        assert recorded["_src_path"] == FALLBACK_URL
        [note] = notes
        assert "a placeholder no machine can reach" in note
        assert "[project.urls] Template" in note and "--template URL" in note


def test_release_script_refuses_what_would_surprise(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    script = ROOT / "scripts/release.sh"
    (repo / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2026-12-01\n- x\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    first = run("bash", script, cwd=repo)
    assert first.returncode == 0, first.stderr
    assert git(repo, "tag", "--points-at", "HEAD").split() == ["v1.2.0"]
    again = run("bash", script, cwd=repo)
    assert again.returncode == 1 and "v1.2.0 exists already" in again.stderr
    (repo / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n- pending\n\n## [1.3.0] - 2026-12-02\n- y\n"
    )
    dirty = run("bash", script, cwd=repo)
    assert dirty.returncode == 1 and "uncommitted" in dirty.stderr
    git(repo, "commit", "-q", "-am", "second")
    pending = run("bash", script, cwd=repo)
    assert pending.returncode == 1 and "[Unreleased]" in pending.stderr
    assert git(repo, "tag").split() == ["v1.2.0"]
