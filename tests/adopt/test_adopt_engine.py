"""Adopted projects build, boot and stop on a real engine (marker docker).

Each corpus project, and one real published project pulled from PyPI as its users
get it (the httpbin sdist), is adopted with --defaults (httpbin needs one --data
answer, as its detection says), built with BuildKit from the local base images
(stand-ins where the official ones cannot be pulled), run with a read-only root
filesystem, asked over HTTP, checked for its user and its own HEALTHCHECK, and
stopped with SIGTERM.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from tests.adopt.helpers import (
    CORPUS,
    CORPUS_IDS,
    Booted,
    adopt,
    boot,
    copy_fixture,
    docker,
    get,
)

HTTPBIN = "httpbin==0.10.4"
# httpbin defines two Flask apps (core and filters) and no WSGI server dependency, so
# detection stops and names --data start_command; its own __main__ serves the app
HTTPBIN_START = "start_command=-m httpbin.core --host 0.0.0.0 --port 8000"


def check_running(booted: Booted) -> None:
    """It answers over HTTP, runs as 10001, turns healthy and stops on SIGTERM in < 5 s."""
    url = f"http://127.0.0.1:{booted.port}{booted.path or '/'}"
    deadline = time.monotonic() + 60
    status = 0
    while time.monotonic() < deadline:
        try:
            status, _ = get(url)
        except OSError:
            status = 0
        if status == 200:
            break
        time.sleep(0.5)
    logs = docker("logs", booted.name)
    assert status == 200, f"{url}: {status}\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}"

    pid = docker("inspect", "--format", "{{.State.Pid}}", booted.name).stdout.strip()
    uids = next(
        line.split()[1:]
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("Uid:")
    )
    assert uids == ["10001"] * 4

    deadline = time.monotonic() + 60
    health = ""
    while time.monotonic() < deadline and health != "healthy":
        health = docker("inspect", "--format", "{{.State.Health.Status}}", booted.name).stdout
        health = health.strip()
        time.sleep(1)
    assert health == "healthy"

    started = time.monotonic()
    stopped = docker("stop", "--time", "10", booted.name)
    took = time.monotonic() - started
    assert stopped.returncode == 0, stopped.stderr
    code = docker("inspect", "--format", "{{.State.ExitCode}}", booted.name).stdout.strip()
    assert took < 5, f"stopped in {took:.1f} s"
    assert code != "137", "killed, not stopped by SIGTERM"


@pytest.mark.parametrize("fixture", CORPUS_IDS)
def test_adopted_project_builds_boots_and_stops(fixture: str, tmp_path: Path) -> None:
    project = copy_fixture(fixture, tmp_path)
    result = adopt(project)
    assert result.code == 0, result.err
    for booted in boot(project, fixture):
        assert booted.answers["port"] == CORPUS[fixture][1]["port"]
        if fixture == "yarn-berry":  # production dependencies only, in node_modules
            for package, found in (("ms", 0), ("left-pad", 1)):
                resolved = docker(
                    "exec", booted.name, "/nodejs/bin/node", "-e", f"require.resolve('{package}')"
                )
                assert resolved.returncode == found, (package, resolved.stderr[-500:])
        check_running(booted)


def test_a_published_project_from_pypi_is_adopted_built_and_booted(tmp_path: Path) -> None:
    downloaded = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "--dest", str(tmp_path), HTTPBIN],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert downloaded.returncode == 0, downloaded.stderr
    (archive,) = tmp_path.glob("httpbin-*.tar.gz")
    with tarfile.open(archive) as sdist:
        sdist.extractall(tmp_path, filter="data")
    (project,) = (p for p in tmp_path.iterdir() if p.is_dir())

    first = adopt(project)
    assert first.code == 2
    assert "several web apps (httpbin.core:app, httpbin.filters:app)" in first.err
    assert "--data start_command=" in first.err
    assert not (project / "Dockerfile").exists()

    result = adopt(project, "--data", HTTPBIN_START)
    assert result.code == 0, result.err
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["language"], answers["package_manager"], answers["lockfile"]) == (
        "python", "pip", False,
    )  # fmt: skip
    assert answers["project_name"] == "httpbin"
    for booted in boot(project, "httpbin"):
        check_running(booted)
        assert booted.path == ""  # no health endpoint: the TCP check


def test_node_flags_of_the_start_script_reach_node(tmp_path: Path) -> None:
    """`node --enable-source-maps index.js`: the flags run after the SIGTERM preload."""
    project = copy_fixture("node-main", tmp_path)
    manifest = project / "package.json"
    pkg = json.loads(manifest.read_text())
    pkg["scripts"] = {"start": "node --enable-source-maps --watch index.js"}
    manifest.write_text(json.dumps(pkg))
    result = adopt(project)
    assert result.code == 0, result.err
    for booted in boot(project, "node-flags"):
        assert booted.answers["start_command"] == ["--enable-source-maps", "index.js"]
        pid = docker("inspect", "--format", "{{.State.Pid}}", booted.name).stdout.strip()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert argv[0] == b"/nodejs/bin/node" and argv[3:5] == [
            b"--enable-source-maps",
            b"index.js",
        ]
        assert b"--watch" not in argv  # a development flag, dropped
        check_running(booted)
