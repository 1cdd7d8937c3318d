"""The `keelson` CLI and copier itself reject bad answers the same way, writing nothing.

The commands run in-process through `generator.cli.main` (the `keelson` fixture); the
last test runs the installed console script in a process of its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml

from generator import __version__
from tests.conftest import Keelson, Ran, tool
from tests.matrix import ROOT, SPEC


def new(keelson: Keelson, dest: Path, *data: str) -> Ran:
    # the suite renders the working tree of the template, edits included
    args = ["new", str(dest), "--defaults", "--vcs-ref", "HEAD", "--allow-dirty"]
    for pair in data:
        args += ["--data", pair]
    return keelson(*args)


BAD_ANSWERS = [
    ("project_name=Bad_Name", "project_name", "DNS-1123"),
    ("project_name=9lives", "project_name", "starting with a letter"),
    ("project_name=" + "a" * 41, "project_name", "at most 40"),
    ("port=80", "port", "1024 to 65535"),
    ("port=70000", "port", "1024 to 65535"),
    ("port=abc", "port", "1024-65535"),
    ("language=java", "language", ", ".join(SPEC.choices("language"))),
    ("database=mongodb", "database", "none, postgresql, mariadb, redis"),
    ("node_version=12", "node_version", ", ".join(SPEC.choices("node_version"))),
    ("image_repository=Registry/UPPER", "image_repository", "without tag"),
    ("namespace=Prod_NS", "namespace", "DNS-1123"),
    ("ingress_host=not a host", "ingress_host", "DNS name"),
    # values YAML would read as booleans, null or numbers, and control characters
    *[
        (f"project_name={word}", "project_name", "boolean or null")
        for word in ("no", "yes", "on", "off", "y", "n", "true", "null")
    ],
    ("ingress_host=123", "ingress_host", "not an IP address"),
    ("ingress_host=1e3", "ingress_host", "two labels or more"),
    ("ingress_host=1.2.3.4", "ingress_host", "not an IP address"),
    ("description=two\nlines", "description", "one line"),
    ("description=del\x7fchar", "description", "without control characters"),
    ("go_module=std", "go_module", "reserved by the Go toolchain"),
    ("ingress_class=Nginx Class", "ingress_class", "IngressClass name"),
    ("storage_class=Fast_SSD", "storage_class", "StorageClass name"),
    ("ci=jenkins", "ci", "is not one of: github, gitlab, none"),
]
# a question asked only after another answer needs that answer too
PREREQUISITE = {
    "node_version": ["language=node"],
    "ingress_class": ["ingress_host=api.example.com"],
    "storage_class": ["database=redis"],
    "go_module": ["language=go"],
}


@pytest.mark.parametrize(
    ("pair", "field", "allowed"), BAD_ANSWERS, ids=[b[0][:24] for b in BAD_ANSWERS]
)
def test_bad_answer_is_one_line_exit_2_and_writes_nothing(
    keelson: Keelson, tmp_path: Path, pair: str, field: str, allowed: str
) -> None:
    dest = tmp_path / "svc"
    extra = PREREQUISITE.get(field, [])
    result = new(keelson, dest, *extra, pair)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"keelson: invalid {field}: ")
    assert allowed in lines[0]
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_version_not_offered_for_chosen_database(keelson: Keelson, tmp_path: Path) -> None:
    result = new(keelson, tmp_path / "svc", "database=postgresql", "postgresql_version=9")
    assert result.returncode == 2
    assert "invalid postgresql_version: '9' is not one of: 17, 16" in result.stderr
    assert not (tmp_path / "svc").exists()


def test_unknown_question_is_rejected(keelson: Keelson, tmp_path: Path) -> None:
    result = new(keelson, tmp_path / "svc", "langauge=go")
    assert result.returncode == 2
    assert "unknown question 'langauge'" in result.stderr
    assert "language" in result.stderr.split("asks:")[1]
    assert not (tmp_path / "svc").exists()


@pytest.mark.parametrize(
    ("answers", "field", "why"),
    [
        (["ingress_class=traefik"], "ingress_class", "only when ingress_host is set)"),
        (["language=go", "python_version=3.13"], "python_version", "when language is python)"),
        (["storage_class=fast-ssd"], "storage_class", "when database is not none)"),
        (["framework=stdlib", "language=go"], "framework", "never asks it"),
    ],
)
def test_an_answer_the_template_does_not_use_is_refused(
    keelson: Keelson, tmp_path: Path, answers: list[str], field: str, why: str
) -> None:
    # copier drops an answer whose question's `when` is false without a word
    result = new(keelson, tmp_path / "svc", *answers)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"keelson: --data {field}: not used with these answers (")
    assert why in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_answers_that_apply_are_taken(keelson: Keelson, tmp_path: Path) -> None:
    result = new(
        keelson, tmp_path / "svc", "database=redis", "storage_class=fast-ssd",
        "ingress_host=api.example.com", "ingress_class=traefik",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "svc" / ".copier-answers.yml").read_text()
    assert "storage_class: fast-ssd" in text and "ingress_class: traefik" in text


def test_missing_parents_are_not_left_behind(keelson: Keelson, tmp_path: Path) -> None:
    result = new(keelson, tmp_path / "a" / "b" / "svc", "port=1")
    assert result.returncode == 2
    assert list(tmp_path.iterdir()) == []


def test_non_empty_destination_is_never_overwritten(keelson: Keelson, tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep me")
    result = new(keelson, dest)
    assert result.returncode == 2
    assert "is not empty" in result.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["mine.txt"]
    assert (dest / "mine.txt").read_text() == "keep me"


def test_empty_destination_is_used(keelson: Keelson, tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    result = new(keelson, dest, "project_name=orders")
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "orders"


def test_project_name_defaults_to_folder_name(keelson: Keelson, tmp_path: Path) -> None:
    dest = tmp_path / "Billing_API"
    result = new(keelson, dest)
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "billing-api"
    assert answers["namespace"] == "billing-api"


def test_no_terminal_and_no_defaults_says_what_to_do(keelson: Keelson, tmp_path: Path) -> None:
    result = keelson(
        "new", str(tmp_path / "svc"), "--allow-dirty", "--data", "language=go", stdin=""
    )
    assert result.returncode == 2
    assert "--defaults" in result.stderr and "--data" in result.stderr
    assert not (tmp_path / "svc").exists()


def test_data_file_and_data_flag(keelson: Keelson, tmp_path: Path) -> None:
    answers_file = tmp_path / "answers.yml"
    answers_file.write_text("language: go\nport: 9090\n")
    dest = tmp_path / "svc"
    result = keelson(
        "new",
        str(dest),
        "--defaults",
        "--vcs-ref",
        "HEAD",
        "--allow-dirty",
        "--data-file",
        str(answers_file),
        "--data",
        "port=9191",
    )
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert (answers["language"], answers["port"]) == ("go", 9191)


def test_malformed_data_pair(keelson: Keelson, tmp_path: Path) -> None:
    result = keelson("new", str(tmp_path / "svc"), "--defaults", "--data", "port")
    assert result.returncode == 2
    assert "--data expects KEY=VALUE" in result.stderr


def test_version_and_help(keelson: Keelson) -> None:
    version = keelson("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("keelson ")
    commands = keelson("--help").stdout.split("COMMAND", 1)[1]
    for command in ("new", "update", "check", "catalogue", "verify", "images"):
        assert command in commands
        helped = keelson(command, "--help")
        assert helped.returncode == 0 and "usage: keelson " + command in helped.stdout


@pytest.mark.parametrize("pair", ["port=80", "language=java", "project_name=Bad_Name"])
def test_copier_itself_applies_the_same_validation(tmp_path: Path, pair: str) -> None:
    # copier.yml's own validators: a team that runs plain copier gets the same refusal
    dest = tmp_path / "svc"
    field, value = pair.split("=", maxsplit=1)
    with pytest.raises(ValueError, match=f"'{field}'"):
        copier.run_copy(
            str(ROOT), dest, data={field: value}, defaults=True, vcs_ref="HEAD", unsafe=True,
            quiet=True,
        )  # fmt: skip
    assert not dest.exists()


def test_console_script_runs_the_cli_in_a_process_of_its_own(tmp_path: Path) -> None:
    """The one test through real processes: the installed `keelson` and `python -m generator`."""
    for command in ([tool("keelson")], [sys.executable, "-m", "generator"]):
        version = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, check=False, cwd=tmp_path
        )
        assert (version.returncode, version.stdout) == (0, f"keelson {__version__}\n")
    # a failure's exit code and its one line reach the shell
    refused = subprocess.run(
        [tool("keelson"), "new", str(tmp_path / "svc"), "--defaults", "--data", "port"],
        capture_output=True, text=True, check=False, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr == "keelson: --data expects KEY=VALUE, got 'port'\n"
    assert list(tmp_path.iterdir()) == []
