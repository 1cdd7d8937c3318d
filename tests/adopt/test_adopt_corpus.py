"""Adopt on real published projects (marker adopt_corpus, with the engine).

The projects are listed in corpus.yml by exact version; scripts/adopt-corpus.sh downloads
them from their registries into a cache beforehand (scripts/test.sh starts it in the
background), so the tests themselves reach only 127.0.0.1 and their own containers.
Each project, in a temporary copy that is a fresh git repository (with the corpus's
`files` added and `remove` deleted), is adopted with `--defaults` and the corpus's
`--data`; then either adopt refused in one line and wrote nothing, or the image builds,
runs as UID 10001 and answers HTTP on its port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.adopt.helpers import adopt, boot, docker, get, snapshot

CORPUS_FILE = Path(__file__).resolve().parent / "corpus.yml"
PROJECTS: dict[str, dict[str, Any]] = yaml.safe_load(CORPUS_FILE.read_text())["projects"]
CACHE = Path(
    os.environ.get("KEELSON_ADOPT_CORPUS_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "keelson/adopt-corpus"
)


@pytest.fixture(scope="module")
def table(request: pytest.FixtureRequest) -> Iterator[list[tuple[str, str, str, float]]]:
    """Rows of (project, version, outcome, seconds), printed when the module is done."""
    rows: list[tuple[str, str, str, float]] = []
    yield rows
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter and capture and rows:
        width = max(len(row[0]) for row in rows)
        # past the capture, so a passing run prints it too
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(f"{'project':<{width}} {'version':<14} {'outcome':<8} seconds")
            for name, version, outcome, seconds in rows:
                reporter.write_line(f"{name:<{width}} {version:<14} {outcome:<8} {seconds:7.1f}")


def unpacked(name: str, where: Path) -> Path:
    """A copy of the cached project, with the corpus's files, as a fresh git repository."""
    project = PROJECTS[name]
    cached = CACHE / f"{name}-{project['version']}"
    if not cached.is_dir():
        message = f"{cached} is missing: run scripts/adopt-corpus.sh first"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    target = where / name
    shutil.copytree(cached, target, symlinks=True)
    for file, text in (project.get("files") or {}).items():
        (target / file).parent.mkdir(parents=True, exist_ok=True)
        (target / file).write_text(text)
    for file in project.get("remove") or []:
        (target / file).unlink()
    subprocess.run(["git", "init", "--quiet", str(target)], check=True)
    return target


def answers_http(port: int, path: str) -> int:
    """Ask 127.0.0.1:port/path until it answers (60 s at most); return the status."""
    deadline = time.monotonic() + 60
    status = 0
    while time.monotonic() < deadline and not 200 <= status < 400:
        try:
            status, _ = get(f"http://127.0.0.1:{port}{path}")
        except OSError:
            status = 0
            time.sleep(0.5)
    return status


@pytest.mark.parametrize("name", list(PROJECTS))
def test_a_real_project_is_adopted_and_boots_or_refused_in_one_line(
    name: str, tmp_path: Path, table: list[tuple[str, str, str, float]]
) -> None:
    project = PROJECTS[name]
    expect = project["expect"]
    started = time.monotonic()
    outcome = "failed"
    try:
        outcome = adopt_and_boot(name, project, expect, tmp_path)
    finally:
        table.append((name, str(project["version"]), outcome, time.monotonic() - started))


def adopt_and_boot(name: str, project: dict[str, Any], expect: dict[str, Any], tmp: Path) -> str:
    """Adopt one project and check what corpus.yml expects; return the outcome."""
    folder = unpacked(name, tmp)
    before = snapshot(folder)
    data = [f"{key}={value}" for key, value in (project.get("data") or {}).items()]
    result = adopt(folder, *(arg for pair in data for arg in ("--data", pair)))
    if "refused" in expect:
        assert result.code != 0
        assert result.err.strip() == f"keelson: {expect['refused']}".replace(
            "<project>", str(folder)
        )
        assert snapshot(folder) == before
        return "refused"
    assert result.code == 0, result.err
    answers = yaml.safe_load((folder / ".copier-answers.yml").read_text())
    assert answers["port"] == expect["answers"]["port"]
    for booted in boot(folder, name):
        status = answers_http(booted.port, expect["answers"]["path"])
        logs = docker("logs", booted.name)
        assert 200 <= status < 400, f"{status}\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}"
        user = docker("inspect", "--format", "{{.Config.User}}", booted.name).stdout.strip()
        pid = docker("inspect", "--format", "{{.State.Pid}}", booted.name).stdout.strip()
        uids = next(
            line.split()[1:]
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("Uid:")
        )
        assert (user, uids) == ("10001:10001", ["10001"] * 4)
    return "booted"
