"""Shared by the adopt tests: the fixture corpus, what detection must find, and a runner."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator.cli import main
from generator.images import docker_command, dockerfile_bases, ensure_images
from tests.matrix import ROOT

FIXTURES = Path(__file__).resolve().parent / "fixtures"
UVICORN = ["--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "4"]
GUNICORN = ["-m", "gunicorn", "--bind", "0.0.0.0:8000", "--graceful-timeout", "4"]

# fixture folder -> (the folder name a team would have, what adopt must detect)
CORPUS: dict[str, tuple[str, dict[str, Any]]] = {
    "express-pnpm": (
        "orders",
        {
            "language": "node", "node_version": "24", "package_manager": "pnpm@10.34.8",
            "lockfile": True, "build_script": False, "start_command": ["src/server.js"],
            "port": 3000, "database": "postgresql", "health_path": "/healthz",
            "project_name": "orders-api",
        },
    ),
    "node-main": (
        "hello-worker",
        {
            "language": "node", "node_version": "24", "package_manager": "npm",
            "lockfile": False, "start_command": ["index.js"], "port": 8081,
            "database": "none", "health_path": "", "project_name": "hello-worker",
        },
    ),
    "yarn-berry": (
        "status-page",
        {
            "language": "node", "node_version": "24", "package_manager": "yarn@4.18.1",
            "lockfile": True, "build_script": False,
            "start_command": ["--enable-source-maps", "server.mjs"], "port": 4000,
            "database": "none", "health_path": "", "project_name": "status-page",
        },
    ),
    "static-site": (  # a fresh clone: no node_modules, the command's file from the lock
        "handbook",
        {
            "language": "node", "node_version": "24", "package_manager": "npm",
            "lockfile": True, "build_script": False,
            "start_command": [
                "node_modules/http-server/bin/http-server", "public", "--port", "8080",
                "-a", "0.0.0.0", "--no-dotfiles",
            ],
            "port": 8080, "database": "none", "health_path": "", "project_name": "team-handbook",
        },
    ),
    "fastapi-uv": (
        "inventory",
        {
            "language": "python", "python_version": "3.13", "package_manager": "uv",
            "lockfile": True, "python_path": "src", "install_project": True,
            "start_command": ["-m", "uvicorn", "inventory.main:app", *UVICORN],
            "port": 8000, "database": "redis", "health_path": "/health",
            "project_name": "inventory",
        },
    ),
    "flask-gunicorn": (
        "guestbook",
        {
            "language": "python", "package_manager": "pip", "lockfile": True,
            "python_path": ".", "install_project": False,
            "start_command": [*GUNICORN, "--access-logfile", "-", "app:app"],
            "port": 8000, "database": "mariadb", "health_path": "/healthz",
            "project_name": "guestbook",
        },
    ),
    "flask-poetry": (
        "bookmarks",
        {
            "language": "python", "python_version": "3.13", "package_manager": "poetry",
            "lockfile": True, "python_path": ".", "install_project": False,
            "start_command": [
                "-m", "gunicorn", "--bind", "0.0.0.0:5000", "--graceful-timeout", "4",
                "--access-logfile", "-", "bookmarks.web:app",
            ],
            "port": 5000, "database": "redis", "health_path": "/ping",
            "project_name": "bookmarks",
        },
    ),
    "django": (
        "mysite",
        {
            "language": "python", "package_manager": "pip", "lockfile": True,
            "start_command": [*GUNICORN, "--access-logfile", "-", "mysite.wsgi:application"],
            "port": 8000, "database": "none", "health_path": "/healthz",
            "project_name": "mysite",
        },
    ),
    "go-cmd-server": (
        "ledger",
        {
            "language": "go", "go_version": "1.27", "go_module": "example.com/acme/ledger",
            "go_main": "./cmd/server", "start_command": [], "port": 9090,
            "database": "none", "health_path": "/healthz", "project_name": "ledger",
        },
    ),
    "go-root": (
        "pinger",
        {
            "language": "go", "go_version": "1.27", "go_module": "github.com/acme/pinger",
            "go_main": ".", "port": 8088, "database": "postgresql", "health_path": "",
            "project_name": "pinger",
        },
    ),
}  # fmt: skip
CORPUS_IDS = list(CORPUS)
CONTAINER_FILES = {"Dockerfile", ".dockerignore", "compose.yaml", "CONTAINER.md", "renovate.json5"}
TEMPLATE_ARGS = ["--template", str(ROOT), "--vcs-ref", "HEAD", "--allow-dirty"]


def copy_fixture(fixture: str, where: Path, name: str | None = None) -> Path:
    """Copy a fixture project to `where/<name>` (its team's folder name by default)."""
    target = where / (name or CORPUS.get(fixture, (fixture, {}))[0])
    shutil.copytree(FIXTURES / fixture, target)
    return target


@dataclass(frozen=True)
class Run:
    """A `keelson` run: exit code and output."""

    code: int
    out: str
    err: str


def keelson(*args: str | Path) -> Run:
    """Run the keelson CLI in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return Run(code, out.getvalue(), err.getvalue())


def adopt(project: Path, *args: str) -> Run:
    """`keelson adopt PROJECT --defaults` from this working tree's template."""
    return keelson("adopt", project, "--defaults", *TEMPLATE_ARGS, *args)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under a folder and its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def docker(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [docker_command(), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


@dataclass(frozen=True)
class Booted:
    """A running container of an adopted project."""

    name: str
    port: int
    path: str
    answers: dict[str, object]


def boot(project: Path, tag: str) -> Iterator[Booted]:
    """Build the project's image and run it read-only; always remove the container."""
    # the bases of the Dockerfile built here: a real project's own other Dockerfiles
    # (go-httpbin's Dockerfile.release) name images this build never pulls
    bases = dockerfile_bases((project / "Dockerfile").read_text(encoding="utf-8"))
    ensure_images(bases, policy=os.environ.get("KEELSON_STANDINS", "auto"))
    image = f"keelson-adopt-test/{tag}:latest"
    started = time.monotonic()
    built = docker("build", "--quiet", "--tag", image, str(project))
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    print(f"{tag}: built in {time.monotonic() - started:.1f} s", file=sys.stderr)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    port = int(answers["port"])
    name = f"keelson-adopt-test-{tag}-{os.getpid()}"
    ran = docker(
        "run", "--detach", "--name", name, "--read-only", "--tmpfs", "/tmp",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
        "--publish", f"127.0.0.1::{port}", image,
    )  # fmt: skip
    try:
        assert ran.returncode == 0, ran.stderr
        mapped = docker("port", name, f"{port}/tcp").stdout.split()[0]
        yield Booted(name, int(mapped.rsplit(":", 1)[1]), str(answers["health_path"]), answers)
    finally:
        docker("rm", "--force", name)
        docker("image", "rm", image)
