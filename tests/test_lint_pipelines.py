"""The generated delivery pipelines pass their linters with zero findings, in every combination.

Each of the 12 language x database combinations is rendered with each `ci` choice:
- `github`: actionlint (with shellcheck on every `run:` block), zizmor's offline security
  audit and GitHub's workflow schema (check-jsonschema's vendored copy);
- `gitlab`: GitLab's published CI schema (check-jsonschema's vendored copy);
- both: shellcheck on `ci/release.sh`, the one script both pipelines call;
- `none`: no pipeline file and no `ci/` at all.
Each gate is also shown to fail on a file with the fault it exists to catch.
actionlint is built by scripts/pipeline-tools.sh (Go module proxy, cached by version).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from generator import packs
from tests.conftest import Render, tool
from tests.matrix import MATRIX, ROOT, combo_id

WORKFLOWS = (".github/workflows/ci.yml", ".github/workflows/release.yml")
PIPELINE_FILES = (*WORKFLOWS, ".gitlab-ci.yml", "ci/release.sh")


def run(*cmd: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, check=False, cwd=cwd, timeout=300
    )


@functools.cache
def actionlint() -> str:
    built = run(ROOT / "scripts" / "pipeline-tools.sh", "build")
    if built.returncode != 0:
        pytest.fail(f"scripts/pipeline-tools.sh build failed:\n{built.stderr}")
    return built.stdout.strip().splitlines()[-1]


def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found is None:
        pytest.fail("shellcheck is not installed: run scripts/pipeline-tools.sh build")
    return found


def renders(rendered: Render, ci: str) -> list[Path]:
    # `github` is the default answer: those renders are the ones every other test uses
    return [rendered(**combo) if ci == "github" else rendered(**combo, ci=ci) for combo in MATRIX]


def files(roots: list[Path], name: str) -> list[Path]:
    found = [root / name for root in roots]
    missing = [str(path) for path in found if not path.is_file()]
    assert not missing, missing
    return found


# --- GitHub Actions -------------------------------------------------------------------


def test_actionlint_with_shellcheck_has_zero_findings(rendered: Render) -> None:
    roots = renders(rendered, "github")
    workflows = [path for name in WORKFLOWS for path in files(roots, name)]
    result = run(actionlint(), "-no-color", "-shellcheck", shellcheck(), *workflows)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_zizmor_has_zero_findings(rendered: Render) -> None:
    roots = renders(rendered, "github")
    folders = [root / ".github" / "workflows" for root in roots]
    result = run(tool("zizmor"), "--offline", "--no-progress", "--format", "plain", *folders)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout, result.stdout


def test_github_workflow_schema_accepts_them(rendered: Render) -> None:
    roots = renders(rendered, "github")
    workflows = [path for name in WORKFLOWS for path in files(roots, name)]
    result = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_by_commit_with_its_version(rendered: Render) -> None:
    for root in renders(rendered, "github"):
        for name in WORKFLOWS:
            text = (root / name).read_text()
            uses = [
                line.split("uses:", 1)[1].strip() for line in text.splitlines() if "uses:" in line
            ]
            assert uses or name.endswith("ci.yml")
            for use in uses:
                ref, _, comment = use.partition(" # ")
                sha = ref.rsplit("@", 1)[1]
                assert len(sha) == 40 and all(c in "0123456789abcdef" for c in sha), use
                assert comment.startswith("v"), use
            assert "pull_request_target" not in text


def test_id_token_only_where_signing_needs_it(rendered: Render) -> None:
    root = rendered(**MATRIX[0])
    for name in WORKFLOWS:
        workflow = yaml.safe_load((root / name).read_text())
        assert workflow["permissions"] == {}, name
        for job_name, job in workflow["jobs"].items():
            wants_token = job["permissions"].get("id-token") == "write"
            assert wants_token == (job_name == "release"), (name, job_name, job["permissions"])


# --- GitLab CI --------------------------------------------------------------------------


def test_gitlab_ci_schema_accepts_them(rendered: Render) -> None:
    roots = renders(rendered, "gitlab")
    result = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci",
        *files(roots, ".gitlab-ci.yml"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_gitlab_release_signs_with_an_id_token_and_pushes_with_the_job_token(
    rendered: Render,
) -> None:
    pipeline = yaml.safe_load((rendered(**MATRIX[0], ci="gitlab") / ".gitlab-ci.yml").read_text())
    release = pipeline["release"]
    assert release["id_tokens"] == {"SIGSTORE_ID_TOKEN": {"aud": "sigstore"}}
    assert release["variables"]["REGISTRY_PASSWORD"] == "$CI_JOB_TOKEN"
    assert pipeline["deploy"]["environment"]["name"] == "production"
    assert [k for k, job in pipeline.items() if isinstance(job, dict) and "id_tokens" in job] == [
        "release"
    ]


# --- ci/release.sh, the steps of both ----------------------------------------------------


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_release_script_has_zero_shellcheck_findings(rendered: Render, ci: str) -> None:
    scripts = files(renders(rendered, ci), "ci/release.sh")
    result = run(shellcheck(), "--severity=style", *scripts)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


@pytest.mark.parametrize("combo", MATRIX, ids=[combo_id(c) for c in MATRIX])
def test_pipelines_call_only_release_script_subcommands(
    rendered: Render, combo: dict[str, str]
) -> None:
    # the pipelines can run nothing the suite cannot run: every command is ci/release.sh's
    github = rendered(**combo)
    steps = [
        step["run"]
        for name in WORKFLOWS
        for job in yaml.safe_load((github / name).read_text())["jobs"].values()
        for step in job["steps"]
        if "run" in step
    ]
    gitlab = yaml.safe_load((rendered(**combo, ci="gitlab") / ".gitlab-ci.yml").read_text())
    scripts = [
        line for job in gitlab.values() if isinstance(job, dict) for line in job.get("script", [])
    ]
    usage = run(github / "ci" / "release.sh", "help").stderr
    for command in [*steps, *scripts]:
        if command.startswith("if "):  # the key-pair switch, an `export` only
            assert "export COSIGN_KEY=" in command, command
            continue
        assert command.startswith("ci/release.sh "), command
        assert command.split()[1] in usage, (command, usage)


def test_none_writes_no_pipeline(rendered: Render) -> None:
    # what ci=none leaves out depends on nothing else: one service per language
    for language in packs.languages(ROOT):
        root = rendered(language=language, database="none", ci="none")
        assert not [name for name in PIPELINE_FILES if (root / name).exists()], root
        assert not (root / ".github").exists() and not (root / "ci").exists()


def test_release_script_refuses_bad_use_in_one_line(rendered: Render, tmp_path: Path) -> None:
    script = rendered(**MATRIX[0]) / "ci" / "release.sh"
    bad = run(script, "publish")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("release: usage: ci/release.sh check|") and bad.stderr.endswith(
        "(got publish)\n"
    )
    nodigest = subprocess.run(
        [script, "sign"], capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path)},
    )  # fmt: skip
    assert nodigest.returncode == 1
    assert nodigest.stderr == (
        "release: no image digest: run `ci/release.sh build` first or set "
        "DIGEST=sha256:<64 hex digits> (got nothing)\n"
    )
    keyless = subprocess.run(
        [script, "verify"], capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path), "DIGEST": "sha256:" + "0" * 64},
    )  # fmt: skip
    assert keyless.returncode == 1
    assert "keyless verification needs COSIGN_IDENTITY_REGEXP" in keyless.stderr


# --- the gates can fail ------------------------------------------------------------------

INJECTED = """\
name: bad
on: pull_request
permissions: {}
jobs:
  greet:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}" $UNQUOTED
"""


def test_the_github_gates_catch_what_they_are_for(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(INJECTED)
    linted = run(actionlint(), "-no-color", "-shellcheck", shellcheck(), workflows / "bad.yml")
    assert linted.returncode == 1
    assert "github.event.pull_request.title" in linted.stdout and "SC2086" in linted.stdout
    audited = run(tool("zizmor"), "--offline", "--no-progress", "--format", "plain", workflows)
    assert audited.returncode != 0
    assert "template-injection" in audited.stdout and "unpinned-uses" in audited.stdout
    (workflows / "bad.yml").write_text(INJECTED.replace("runs-on:", "run-on:"))
    schema = run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        workflows / "bad.yml",
    )
    assert schema.returncode == 1, schema.stdout


def test_the_gitlab_schema_catches_a_mistyped_keyword(rendered: Render, tmp_path: Path) -> None:
    text = (rendered(**MATRIX[0], ci="gitlab") / ".gitlab-ci.yml").read_text()
    bad = tmp_path / ".gitlab-ci.yml"
    bad.write_text(text.replace("  id_tokens:", "  id_token:", 1))
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", bad)
    assert result.returncode == 1, result.stdout
