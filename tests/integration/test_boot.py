"""Every combination builds, boots healthy, serves, survives faults and stops cleanly."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from generator import packs
from generator.docker import docker, docker_command
from generator.images import BASE_IMAGE
from generator.verify import (
    Stack,
    graceful_stop,
    health_status,
    process_uids,
    request,
    restart_count,
    round_trip,
    wait_for,
)
from tests.integration.loadgen import root_step, round_trip_step, run_load
from tests.matrix import MATRIX, ROOT, combo_id

# one parametrization for every test, so that pytest groups the tests of a
# combination and boots its stack once
ALL = pytest.mark.parametrize("stack", MATRIX, ids=combo_id, indirect=True)


def answers(stack: Stack) -> dict[str, object]:
    return yaml.safe_load((stack.project_dir / ".copier-answers.yml").read_text())


@ALL
def test_every_service_reports_healthy(stack: Stack) -> None:
    for service in ("app", "db") if answers(stack)["database"] != "none" else ("app",):
        assert health_status(stack.container(service)) == "healthy", service


@ALL
def test_health_readiness_and_identity(stack: Stack) -> None:
    assert request(stack.base_url, "GET", "/healthz").status == 200
    assert request(stack.base_url, "GET", "/readyz").status == 200
    root = request(stack.base_url, "GET", "/")
    assert root.status == 200
    assert root.body == {"name": answers(stack)["project_name"], "version": "0.1.0"}


@ALL
def test_database_round_trip(stack: Stack) -> None:
    if answers(stack)["database"] == "none":
        # no database, no item routes
        assert request(stack.base_url, "POST", "/items", {"name": "x"}).status == 404
        return
    ok, detail = round_trip(stack.base_url, name="round trip ✓ 'quoted'")
    assert ok, detail
    assert request(stack.base_url, "GET", "/items/987654321").status == 404
    assert request(stack.base_url, "POST", "/items", {"nom": 1}).status == 400


@ALL
def test_load_has_zero_errors(stack: Stack) -> None:
    step = round_trip_step if answers(stack)["database"] != "none" else root_step
    result = run_load(stack.base_url, total=2000, concurrency=8, step=step)
    assert result.requests >= 2000
    assert result.errors == []


@ALL
def test_readiness_follows_the_database(stack: Stack) -> None:
    services = yaml.safe_load(stack.compose("config").stdout)["services"]
    if answers(stack)["database"] == "none":
        # nothing to depend on: the app is the whole stack and is ready
        assert list(services) == ["app"]
        assert request(stack.base_url, "GET", "/readyz").status == 200
        return
    assert services["app"]["depends_on"]["db"]["condition"] == "service_healthy"
    app = stack.container("app")
    before = restart_count(app)
    stack.compose("stop", "db")
    try:
        took = wait_for(lambda: request(stack.base_url, "GET", "/readyz").status == 503, 10)
        assert took is not None, "/readyz did not turn 503 within 10 s of the database stopping"
        assert request(stack.base_url, "GET", "/healthz").status == 200
        assert request(stack.base_url, "POST", "/items", {"name": "x"}).status == 503
    finally:
        stack.compose("start", "db")
    back = wait_for(lambda: request(stack.base_url, "GET", "/readyz").status == 200, 90)
    assert back is not None, "/readyz did not return to 200 after the database came back"
    assert restart_count(app) == before, "the app container was restarted"
    ok, detail = round_trip(stack.base_url)
    assert ok, detail


@ALL
def test_image_holds_only_what_runs(stack: Stack) -> None:
    image = stack.image()
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image)
    secret_file = stack.project_dir / ".secrets" / "db_password"
    secret = secret_file.read_text().strip().encode() if secret_file.exists() else None
    if secret:
        assert secret.decode() not in history
    names = _image_files(image, secret)
    forbidden = [
        "usr/bin/gcc",
        "usr/bin/cc",
        "usr/bin/g++",
        "usr/bin/make",
        "usr/local/go/bin/go",
        "root/.npm/",
        "root/.cache/",
        ".git/",
        ".env",
        ".secrets/",
        "node_modules/.cache/",
        "usr/local/lib/node_modules/npm/",
        # distroless runtimes: no shell, no package manager, no installer at all
        "bin/sh",
        "bin/bash",
        "bin/dash",
        "usr/bin/dpkg",
        "usr/bin/apt",
        "nodejs/lib/node_modules/",
        "nodejs/bin/npm",
        "nodejs/bin/npx",
        "nodejs/bin/corepack",
        "usr/local/bin/npm",
        "usr/local/bin/yarn",
        "site-packages/pip/",
        "packages/pip/",
        "bin/pip",
    ]
    files = [n for n in names if not n.endswith("/")]
    leaked = sorted({n for n in files for f in forbidden if n.startswith(f) or f"/{f}" in n})
    # package-manager caches: downloaded packages and index files (empty dirs and
    # lock files are part of every Debian-based image)
    leaked += [n for n in files if n.startswith("var/cache/apt/archives/") and n.endswith(".deb")]
    leaked += [n for n in files if n.startswith("var/lib/apt/lists/") and not n.endswith("lock")]
    assert leaked == []
    # what a dependency layout must leave out, by the pack's runtime_kind
    pack = packs.load(ROOT, answers(stack)["language"])
    if pack.runtime_kind == "cpython":
        dev_only = _pinned(stack.project_dir / "requirements-dev.txt") - _pinned(
            stack.project_dir / "requirements.txt"
        )
        assert {"pytest"} <= dev_only
        # installed packages: a virtualenv's site-packages or a --target folder
        where = re.compile(r"(?:site-packages|opt/app/packages)/([^/]+)")
        site = {
            m.group(1).split("-")[0].lower().replace("_", "-")
            for n in names
            if (m := where.search(n))
        }
        assert site & _pinned(stack.project_dir / "requirements.txt")
        assert site & dev_only == set()
        assert not any(n.startswith("app/tests") or n.startswith("tests/") for n in names)
    elif pack.runtime_kind == "nodejs":
        lock = json.loads((stack.project_dir / "package-lock.json").read_text())
        dev = {p for p, meta in lock["packages"].items() if p and meta.get("dev")}
        assert not any(n.rstrip("/").endswith(p) for n in names for p in dev)
        assert not any("/test/" in n and "node_modules" not in n for n in names)
    elif pack.runtime_kind == "static":
        # one binary: none of the service's own files (sources, module files) ships
        assert not [n for n in files if pack.owns(n)]
    else:
        pytest.fail(f"no image check for runtime_kind {pack.runtime_kind!r}: add one here")


def _pinned(requirements: Path) -> set[str]:
    """Names of the packages a requirements file pins (`name==version`)."""
    return {
        line.split("==")[0].strip().lower().replace("_", "-")
        for line in requirements.read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    }


def _image_files(image: str, secret: bytes | None) -> list[str]:
    """List an image's files; fail if any file holds the build-time secret."""
    container = docker("create", image).strip()
    try:
        export = subprocess.Popen([docker_command(), "export", container], stdout=subprocess.PIPE)
        assert export.stdout is not None
        names: list[str] = []
        with tarfile.open(fileobj=export.stdout, mode="r|") as tar:
            for member in tar:
                names.append(member.name + ("/" if member.isdir() else ""))
                if secret and member.isfile() and member.size < 50_000_000:
                    data = tar.extractfile(member)
                    content = data.read() if data else b""
                    assert secret not in content, f"{member.name} holds the database password"
        export.wait()
        return names
    finally:
        docker("rm", "--force", container, check=False)


@pytest.mark.parametrize(
    "stack", [c for c in MATRIX if c["database"] == "none"], ids=combo_id, indirect=True
)
def test_readme_debug_recipe_reaches_the_shell_less_service(stack: Stack) -> None:
    # the generated README's docker command as written, with a local image that
    # has a shell for busybox (no registry here) and no terminal
    readme = (stack.project_dir / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("docker run --rm -it --user"))
    args = shlex.split(line.replace("<container>", stack.container("app")))[1:]
    args = [a for a in args if a != "-it"]
    port = answers(stack)["port"]
    script = (
        "head -c 4 /proc/1/root/etc/passwd >/dev/null"
        f" && exec 3<>/dev/tcp/127.0.0.1/{port}"
        " && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3"
    )
    args = [*args[: args.index("busybox")], BASE_IMAGE, "bash", "-c", script]
    out = docker(*args, check=False)
    assert out.startswith("HTTP/1.") and " 200 " in out, out


@ALL
def test_image_healthcheck_works_without_compose(stack: Stack) -> None:
    image = stack.image()
    port = str(answers(stack)["port"])
    # the image's own HEALTHCHECK command, polled more often than its interval
    container = docker(
        "run",
        "--detach",
        "--health-interval",
        "2s",
        "--health-start-period",
        "2s",
        "--env",
        f"PORT={port}",
        image,
    ).strip()
    try:
        took = wait_for(lambda: health_status(container) == "healthy", 60, interval=1)
        assert took is not None, docker("logs", container, check=False)
    finally:
        docker("rm", "--force", container, check=False)


@ALL
def test_serves_with_read_only_root_filesystem(stack: Stack, tmp_path: Path) -> None:
    override = stack.project_dir / "compose.readonly.yaml"
    # the same tmpfs the Kubernetes manifests mount as an emptyDir
    override.write_text("services:\n  app:\n    read_only: true\n    tmpfs: [/tmp]\n")
    stack.files.append(override.name)
    try:
        stack.up("app")
        ro = docker("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", stack.container("app"))
        assert ro.strip() == "true"
        assert request(stack.base_url, "GET", "/healthz").status == 200
        assert request(stack.base_url, "GET", "/readyz").status == 200
        if answers(stack)["database"] != "none":
            ok, detail = round_trip(stack.base_url)
            assert ok, detail
    finally:
        stack.files.remove(override.name)


@ALL
def test_runs_as_non_root_and_stops_gracefully(stack: Stack) -> None:
    app = stack.container("app")
    uids = process_uids(app)
    assert uids and 0 not in uids and 10001 in uids, uids
    assert request(stack.base_url, "GET", "/healthz").status == 200
    seconds, code = graceful_stop(app)
    assert seconds < 5, f"docker stop took {seconds:.1f}s: SIGTERM not handled"
    assert code == 0, f"exit code {code} after SIGTERM"
    time.sleep(0.1)
    assert request(stack.base_url, "GET", "/healthz", timeout=1).status == 0
