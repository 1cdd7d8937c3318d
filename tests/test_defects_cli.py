"""The smaller defects of issue 18: each test reproduces one as a user met it.

Most run in-process through the `keelson` fixture; the ones that need a template
history in git (updates, pretend hints) build a tiny tagged one and are slow.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from generator.render import new_service
from generator.trust import runs_code
from tests.adopt.helpers import adopt, copy_fixture
from tests.conftest import Keelson, Ran, ReleaseClone, Render, tool
from tests.matrix import ROOT, clone_release, copy_template, git, release

LABEL = 'LABEL org.opencontainers.image.vendor="acme"'


def new(keelson: Keelson, dest: Path, *args: str, **kwargs: object) -> Ran:
    # the suite renders the working tree of the template, edits included
    return keelson(
        "new", str(dest), "--defaults", "--vcs-ref", "HEAD", "--allow-dirty", *args, **kwargs
    )


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# --- answers: --data, --data-file, the user config ----------------------------


def test_data_file_refuses_a_fractional_port_like_data(keelson: Keelson, tmp_path: Path) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text("language: go\nport: 9000.5\n")
    result = new(keelson, tmp_path / "svc", "--data-file", str(answers))
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert line.startswith("keelson: invalid port: 9000.5 is not an integer")
    assert not (tmp_path / "svc").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("language: go\nport: 9000\nport: 9001\n", "line 3: duplicate key 'port'"),
        ("language: go\nport: [9000\ndatabase: none\n", "line 3: invalid YAML"),
    ],
    ids=["duplicate", "broken"],
)
def test_data_file_mistakes_name_the_line(
    keelson: Keelson, tmp_path: Path, text: str, expected: str
) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text(text)
    result = new(keelson, tmp_path / "svc", "--data-file", str(answers))
    assert result.returncode == 2
    assert one_line(result.stderr).startswith(f"keelson: --data-file {answers}: {expected}")
    assert not (tmp_path / "svc").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("templat: https://git.example.com/fork.git\n", "unknown key 'templat'"),
        ("template: [https://x\nother: 1\n", "line 2: invalid YAML"),
    ],
    ids=["misspelt", "broken"],
)
def test_user_config_mistakes_are_one_line(
    keelson: Keelson, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    monkeypatch.delenv("KEELSON_TEMPLATE", raising=False)
    config = tmp_path / "config" / "keelson" / "config.yml"
    config.parent.mkdir(parents=True)
    config.write_text(text)
    result = keelson(
        "new", tmp_path / "svc", "--defaults", env={"XDG_CONFIG_HOME": str(tmp_path / "config")}
    )
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith(f"keelson: {config}")
    assert expected in line
    if "unknown" in expected:
        assert line.endswith("allowed: template")
    assert not (tmp_path / "svc").exists()


# --- rendered text, never raw Jinja -------------------------------------------


def test_trust_refusal_lists_the_commands_as_they_will_run(
    keelson: Keelson, tmp_path: Path
) -> None:
    fork = copy_template(tmp_path / "fork")
    result = keelson("new", tmp_path / "svc", "--defaults", "--template", fork, "--allow-dirty")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "{{" not in line and "}}" not in line
    here = fork.resolve()
    assert f"task: {sys.executable} {here}/generator/tasks.py db-password" in line
    assert f"--answers-file .copier-answers.yml retired-versions --template {here}" in line
    assert (
        runs_code(str(fork))[0] == f"task: {sys.executable} {here}/generator/tasks.py db-password"
    )


def test_an_unused_answer_names_its_condition_in_words(keelson: Keelson, tmp_path: Path) -> None:
    result = new(keelson, tmp_path / "svc", "--data", "ingress_class=traefik")
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        "keelson: --data ingress_class: not used with these answers (the template asks it "
        "only when ingress_host is set); nothing written"
    )


# --- validators: the real rule, for every value derived too ----------------------


@pytest.mark.parametrize(
    ("pair", "reason"),
    [
        ("ingress_host=API.Example.com", 'must be lowercase, as Kubernetes requires of Ingress '
         'host names: use "api.example.com"'),
        ("ingress_host=1e3", "two labels or more separated by '.'"),
        ("project_name=ñçdś-sérvice", 'must be plain ASCII, as DNS and image names are: '
         "lowercase letters a-z, digits and '-', starting with a letter "
         '(got "ñçdś-sérvice")'),
    ],
    ids=["uppercase-host", "number-host", "non-ascii-name"],
)  # fmt: skip
def test_a_bad_value_gets_the_rule_it_breaks(
    keelson: Keelson, tmp_path: Path, pair: str, reason: str
) -> None:
    result = new(keelson, tmp_path / "svc", "--data", pair)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith(f"keelson: invalid {pair.partition('=')[0]}: ")
    assert reason in line
    assert "IP address" not in line
    assert list(tmp_path.iterdir()) == []


def test_a_non_ascii_folder_name_is_not_transliterated(keelson: Keelson, tmp_path: Path) -> None:
    for name in ("ñçdś-sérvice", "日本語"):
        result = new(keelson, tmp_path / name)
        assert result.returncode == 2, result.stderr
        assert one_line(result.stderr) == (
            f"keelson: invalid project_name: it defaults to the folder name {name!r}, which is "
            "not plain ASCII: pass --data project_name=NAME (lowercase letters a-z, digits and "
            "'-', starting with a letter)"
        )
    assert list(tmp_path.iterdir()) == []
    named = new(keelson, tmp_path / "日本語", "--no-git", "--data", "project_name=orders")
    assert named.returncode == 0, named.stderr


def test_a_double_dash_name_makes_valid_derived_values(keelson: Keelson, tmp_path: Path) -> None:
    # docker's reference grammar allows any run of '-' between name components
    result = new(keelson, tmp_path / "svc", "--no-git", "--data", "project_name=a--b")
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((tmp_path / "svc" / ".copier-answers.yml").read_text())
    assert answers["image_repository"] == "registry.example.com/team/a--b"
    assert answers["namespace"] == "a--b"


def test_copier_itself_names_port_for_a_non_integer(tmp_path: Path) -> None:
    # copier's own command line, which the README offers beside keelson
    result = subprocess.run(
        [tool("copier"), "copy", "--defaults", "--vcs-ref", "HEAD", "--trust",
         "--data", "port=abc", str(ROOT), str(tmp_path / "svc")],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
        # the suite renders the working tree: copier's warning that it is dirty is not news
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    line = one_line(result.stderr)
    assert "port_must_be_an_integer_from_1024_to_65535" in line
    assert not (tmp_path / "svc").exists()


def test_keelson_names_port_for_a_template_given_by_url(
    keelson: Keelson, tmp_path: Path, template_release: ReleaseClone
) -> None:
    # a git URL: its questions are read at the ref before copier runs
    repo = template_release(tmp_path / "fork", None)
    result = keelson("new", tmp_path / "svc", "--defaults", "--trust", "--vcs-ref", "HEAD",
                     "--template", f"git+file://{repo}", "--data", "port=abc")  # fmt: skip
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith('keelson: invalid port: "abc" is not an integer'), line
    assert "1024-65535" in line
    assert not (tmp_path / "svc").exists()


# --- verify, images, adopt ---------------------------------------------------


def test_verify_without_compose_says_so(keelson: Keelson, rendered: Render, tmp_path: Path) -> None:
    service = tmp_path / "svc"
    shutil.copytree(rendered(language="go"), service, symlinks=True)
    (service / "compose.yaml").unlink()
    result = keelson("verify", service)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith(f"keelson: cannot verify {service}: it has no compose.yaml")
    assert "unexpected error" not in line


def test_images_of_a_missing_folder_is_an_error(keelson: Keelson, tmp_path: Path) -> None:
    result = keelson("images", "--dir", tmp_path / "nonexistent")
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"keelson: --dir {tmp_path / 'nonexistent'}: no such folder (the service whose images "
        "to provide)"
    )
    assert result.stdout == ""


def test_adopt_quiet_prints_nothing_and_skip_existing_says_when_nothing_is_left(
    tmp_path: Path,
) -> None:
    project = copy_fixture("node-main", tmp_path)
    first = adopt(project, "-q")
    assert (first.code, first.out, first.err) == (0, "", "")
    with (project / "Dockerfile").open("a") as dockerfile:
        dockerfile.write("# our note\n")
    forced = adopt(project, "--force", "-q")
    assert (forced.code, forced.out, forced.err) == (0, "", "")
    assert "# our note" in (project / "Dockerfile").read_text()  # --force merges: edits stay
    kept = adopt(project, "--skip-existing")
    assert kept.code == 0
    assert kept.out == ""
    assert one_line(kept.err) == (
        f"keelson: nothing to write: {project} already holds every container file (kept as it is)"
    )


# --- check: pipes, stderr, subfolders -----------------------------------------


def tiny_template(root: Path) -> Path:
    """A template repository with two releases and a changelog: enough for `check`."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for version in ("0.1.0", "0.2.0"):
        with (root / "CHANGELOG.md").open("a") as changelog:
            changelog.write(f"## [{version}] - 2026-01-0{version[2]}\n- release {version}\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", version)
        git(root, "tag", f"v{version}")
    return root


def recorded_service(folder: Path, template: str) -> Path:
    folder.mkdir()
    (folder / ".copier-answers.yml").write_text(f"_commit: v0.1.0\n_src_path: {template}\n")
    (folder / "src" / "deep").mkdir(parents=True)
    return folder


def test_check_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    service = recorded_service(tmp_path / "svc", str(tiny_template(tmp_path / "tpl")))
    process = subprocess.Popen(
        [sys.executable, "-m", "generator", "check", str(service)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # `| head -1` that has read its line already
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1  # still the verdict: one release behind
    assert stderr == ""


def test_check_that_cannot_tell_says_so_on_stderr(keelson: Keelson, tmp_path: Path) -> None:
    service = recorded_service(tmp_path / "svc", str(tmp_path / "gone"))
    result = keelson("check", service)
    assert result.returncode == 2
    assert result.stdout == ""
    assert one_line(result.stderr).startswith(f"keelson: {service}: the template ")


def test_check_from_a_subfolder_finds_the_service(keelson: Keelson, tmp_path: Path) -> None:
    service = recorded_service(tmp_path / "svc", str(tiny_template(tmp_path / "tpl")))
    result = keelson("check", cwd=service / "src" / "deep")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("../.. is on template version v0.1.0; the newest is v0.2.0")
    assert "run `keelson update --trust ../..`" in result.stdout
    absolute = keelson("check", service / "src")
    assert absolute.stdout.startswith(f"{service} is on template version v0.1.0")
    # a folder outside any service is still refused
    outside = keelson("check", cwd=tmp_path)
    assert outside.returncode == 2
    assert "has no .copier-answers.yml" in outside.stderr


# --- update: where a bad answer came from, and hints that can be copied -------------


@pytest.fixture(scope="module")
def template_v2(tmp_path_factory: pytest.TempPathFactory, released_template: Path) -> Path:
    """keelson's template at v0.1.0 and at v0.2.0, which changes one Dockerfile line."""
    repo = clone_release(released_template, tmp_path_factory.mktemp("template") / "keelson", None)
    dockerfile = repo / "templates/go/project/Dockerfile.jinja"
    dockerfile.write_text(dockerfile.read_text() + LABEL + "\n")
    release(repo, "v0.1.0")
    dockerfile.write_text(dockerfile.read_text().replace(LABEL, LABEL + ' vendor.team="shop"'))
    git(repo, "commit", "-q", "-am", "v0.2.0")
    git(repo, "tag", "v0.2.0")
    return repo


@pytest.fixture
def go_service(template_v2: Path, tmp_path: Path) -> Iterator[Path]:
    """A committed go service made at v0.1.0, in a folder whose name has a space."""
    service = new_service(
        tmp_path / "my svc", data={"language": "go"}, defaults=True, template=str(template_v2),
        vcs_ref="v0.1.0", quiet=True, trust=True, git=True,
    )  # fmt: skip
    yield service


def test_update_names_data_as_the_source_of_a_bad_answer(
    keelson: Keelson, go_service: Path
) -> None:
    given = keelson("update", go_service, "--trust", "--data", "port=80")
    assert given.returncode == 2
    assert one_line(given.stderr) == (
        "keelson: --data port: must be an integer from 1024 to 65535 (got 80)"
    )
    typed = keelson("update", go_service, "--trust", "--data", "port=abc")
    assert typed.returncode == 2
    assert one_line(typed.stderr).startswith('keelson: --data port: "abc" is not an integer')
    assert git(go_service, "status", "--porcelain") == ""
    # an answer the file records is still the file's to fix
    answers = go_service / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace("port: 8080", "port: 80"))
    git(go_service, "commit", "-q", "-am", "port 80")
    recorded = keelson("update", go_service, "--trust", "--data", "description=orders")
    assert recorded.returncode == 2
    line = one_line(recorded.stderr)
    assert line.startswith("keelson: invalid port: must be an integer from 1024 to 65535")
    assert "edit .copier-answers.yml" in line


def test_update_from_a_subfolder_finds_the_service(keelson: Keelson, go_service: Path) -> None:
    result = keelson("update", "--trust", "--pretend", cwd=go_service / "k8s" / "base")
    assert result.returncode == 0, result.stderr
    assert "keelson: would update ../.. from v0.1.0 to v0.2.0" in result.stderr
    assert git(go_service, "status", "--porcelain") == ""


def test_pretend_hint_repeats_the_same_update_for_real(keelson: Keelson, go_service: Path) -> None:
    dockerfile = go_service / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace(LABEL, LABEL + ' vendor.team="ours"'))
    git(go_service, "commit", "-q", "-am", "our label")
    where = go_service.parent
    dry = keelson(
        "update", "my svc", "--pretend", "--trust", "--data", "description=orders", cwd=where
    )
    assert dry.returncode == 1, dry.stderr
    hint = one_line(dry.stderr).split("; run `")[1].split("`")[0]
    assert hint == "keelson update 'my svc' --data description=orders --trust"
    assert git(go_service, "status", "--porcelain") == ""
    # the hint, as a shell splits it, does the same update for real
    real = keelson(*shlex.split(hint)[1:], cwd=where)
    assert real.returncode == 1
    assert real.stdout.splitlines() == ["conflict: Dockerfile"]
    assert "then run `keelson check 'my svc'`" in real.stderr
    assert yaml.safe_load((go_service / ".copier-answers.yml").read_text())["description"] == (
        "orders"
    )
