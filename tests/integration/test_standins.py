"""The base-image stand-ins keep the official images' contracts, proven for real.

Every test runs containers on the local engine. The images come from
`generator.images.ensure_images` once per session (policy from
``$KEELSON_STANDINS``, default ``auto``: a present image is reused), so the same
tests also hold against the real official images where a registry answers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from generator.docker import engine_arch, engine_problem
from generator.docker import run_docker as docker
from generator.images import (
    STANDIN_LABEL,
    VERSION_LABEL,
    ImageResult,
    StandInError,
    ensure_images,
    standin_supported,
)

PYTHON = "python:3.13-slim-trixie"
NODE = "node:24-trixie-slim"
GOLANG = "golang:1.27-trixie"
DISTROLESS = "gcr.io/distroless/static-debian13:nonroot"
POSTGRES = "postgres:17"
MARIADB = "mariadb:11.8"
REDIS = "redis:8"
DISTROLESS_PYTHON = "gcr.io/distroless/python3-debian13:nonroot"
DISTROLESS_NODE = "gcr.io/distroless/nodejs24-debian13:nonroot"
ALL = [
    PYTHON,
    NODE,
    GOLANG,
    DISTROLESS,
    DISTROLESS_PYTHON,
    DISTROLESS_NODE,
    POSTGRES,
    MARIADB,
    REDIS,
]


COMPANIONS = {"python3", "npm", "pg_isready", "mysql", "redis-cli"}
"""Commands of the contract below whose output is not the stand-in's runtime version."""


def unique(prefix: str) -> str:
    return f"keelson-test-{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(probe: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def pid1_uid(container: str) -> str:
    out = docker("exec", container, "awk", "/^Uid:/ {print $2}", "/proc/1/status").stdout
    return out.strip()


@pytest.fixture(scope="session")
def standins() -> dict[str, ImageResult]:
    """All base images, present locally: built once per machine, reused after."""
    problem = engine_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a Docker engine: {problem}")
        print(f"skipping: no Docker engine answers ({problem})")
        pytest.skip(f"no Docker engine answers: {problem}")
    policy = os.environ.get("KEELSON_STANDINS", "auto")
    results = ensure_images(ALL, policy=policy, log=print)
    return {r.image: r for r in results}


@pytest.fixture
def network() -> Iterator[str]:
    """A private bridge network, so clients reach servers by container name."""
    name = unique("net")
    docker("network", "create", name)
    try:
        yield name
    finally:
        docker("network", "rm", name, check=False)


@pytest.fixture
def cleanup() -> Iterator[list[tuple[str, str]]]:
    """Collect (kind, name) pairs removed at the end whatever happens."""
    items: list[tuple[str, str]] = []
    try:
        yield items
    finally:
        for kind, name in reversed(items):
            if kind == "container":
                docker("rm", "-f", "-v", name, check=False)
            elif kind == "volume":
                docker("volume", "rm", "-f", name, check=False)
            elif kind == "image":
                docker("rmi", "-f", name, check=False)


def build(context: Path, cleanup: list[tuple[str, str]], dockerfile: str) -> str:
    """Build a Dockerfile (given as text) in context under a throwaway tag."""
    (context / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    tag = unique("build")
    cleanup.append(("image", tag))
    docker("build", "--quiet", "--tag", tag, str(context), timeout=900)
    return tag


def readable(path: Path, text: str) -> Path:
    """Write `text` to `path`, readable by any user: the container's own user reads the mount."""
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)
    return path


# --- what keelson promises about every stand-in --------------------------------------


@pytest.mark.parametrize(
    ("image", "command", "pattern"),
    [
        (PYTHON, ["python", "--version"], r"Python (3\.13\.\d+)"),
        (
            PYTHON,
            ["python3", "-c", "import sys; print(sys.executable)"],
            r"(/usr/local/bin/python3)",
        ),
        (NODE, ["node", "--version"], r"v(24\.\d+\.\d+)"),
        (NODE, ["npm", "--version"], r"(11\.\d+\.\d+)"),
        (GOLANG, ["go", "version"], r"go(1\.27(?:\.\d+)?) linux/"),
        (POSTGRES, ["postgres", "--version"], r"PostgreSQL\) (17\.\d+)"),
        (POSTGRES, ["pg_isready", "--version"], r"(17\.\d+)"),
        (MARIADB, ["mariadb", "--version"], r"(11\.8\.\d+)-MariaDB"),
        (MARIADB, ["mysql", "--version"], r"(11\.8\.\d+)-MariaDB"),
        (REDIS, ["redis-server", "--version"], r"v=(8\.\d+\.\d+)"),
        (REDIS, ["redis-cli", "--version"], r"redis-cli (8\.\d+\.\d+)"),
        # distroless: the entrypoint is the runtime, the command its arguments
        (DISTROLESS_PYTHON, ["--version"], r"Python (3\.13\.\d+)"),
        (DISTROLESS_NODE, ["--version"], r"v(24\.\d+\.\d+)"),
    ],
)
def test_runtime_reports_the_version_the_tag_claims(
    standins: dict[str, ImageResult], image: str, command: list[str], pattern: str
) -> None:
    out = docker("run", "--rm", "--network", "none", image, *command).stdout
    match = re.search(pattern, out)
    assert match, f"{image}: {' '.join(command)} printed {out!r}"
    result = standins[image]
    # the runtime itself reports the version the label records; a companion tool
    # (npm, a client) or another fact (the interpreter's path) does not
    if result.standin and command[0] not in COMPANIONS:
        assert result.runtime_version == match.group(1)


def test_standins_are_labelled_and_reused(standins: dict[str, ImageResult]) -> None:
    for image in ALL:
        labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", image).stdout
        if standins[image].standin:
            assert f'"{STANDIN_LABEL}":"1"' in labels
            assert VERSION_LABEL in labels
    # a second call finds everything present and builds nothing
    again = ensure_images(ALL, policy="auto", log=lambda _m: None)
    assert [r.source for r in again] == ["local"] * len(ALL)


def test_unsupported_tags_are_refused_with_a_reason() -> None:
    for image in (
        "postgres:16",
        "python:3.12-slim",
        "mysql:8.4",
        "node:24-alpine",
        "gcr.io/distroless/nodejs20-debian13:nonroot",
    ):
        assert not standin_supported(image)
    with pytest.raises(StandInError, match=r"postgres:16.*PostgreSQL 17 only"):
        ensure_images(["postgres:16"], policy="never", log=lambda _m: None, pull_timeout=5)
    with pytest.raises(StandInError, match="unknown stand-in policy"):
        ensure_images([REDIS], policy="sometimes")


def test_only_the_distroless_runtime_bases_are_built_for_a_foreign_architecture() -> None:
    foreign = "arm64" if engine_arch() == "amd64" else "amd64"
    with pytest.raises(StandInError, match=rf"{GOLANG}: no linux/{foreign} stand-in"):
        ensure_images([GOLANG], arch=foreign, log=lambda _m: None)
    with pytest.raises(StandInError, match="unknown architecture 'sparc': use one of amd64, arm64"):
        ensure_images([DISTROLESS], arch="sparc")


# --- language images: a build FROM them installs from the registries ---------------


def test_python_venv_and_pip_install_from_pypi(
    standins: dict[str, ImageResult], tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    tag = build(
        tmp_path,
        cleanup,
        f"FROM {PYTHON}\n"
        "RUN python -m venv /venv \\\n"
        " && /venv/bin/pip install --no-cache-dir --disable-pip-version-check six==1.17.0 \\\n"
        " && pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore"
        " idna==3.10\n"
        # six in the venv, idna in the image's own interpreter (no PEP 668 marker)
        'CMD /venv/bin/python -c "import six; print(six.__version__)"'
        ' && python -c "import idna; print(idna.__version__)"\n',
    )
    assert docker("run", "--rm", tag).stdout.split() == ["1.17.0", "3.10"]
    # slim means no compiler
    assert docker("run", "--rm", tag, "sh", "-c", "command -v gcc cc", check=False).returncode != 0


def test_node_npm_ci_from_the_registry_as_user_node(
    standins: dict[str, ImageResult], tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    (tmp_path / "package.json").write_text(
        '{"name": "standin-probe", "version": "1.0.0", "private": true,'
        ' "dependencies": {"is-number": "7.0.0"}}\n',
        encoding="utf-8",
    )
    tag = build(
        tmp_path,
        cleanup,
        f"FROM {NODE}\n"
        "RUN install -d -o node -g node /home/node/app\n"
        "WORKDIR /home/node/app\n"
        "COPY --chown=node:node package.json ./\n"
        "USER node\n"
        "RUN npm install --package-lock-only --no-audit --no-fund \\\n"
        " && npm ci --no-audit --no-fund\n"
        'CMD ["node", "-e", "console.log(require(\'is-number\')(7), process.getuid())"]\n',
    )
    assert docker("run", "--rm", tag).stdout.split() == ["true", "1000"]


def test_go_module_download_and_a_static_binary_on_distroless(
    standins: dict[str, ImageResult], tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    (tmp_path / "main.go").write_text(
        "package main\n\n"
        'import (\n\t"fmt"\n\t"os"\n\t"time"\n\n\t"golang.org/x/text/language"\n)\n\n'
        "func main() {\n"
        '\t_, shell := os.Stat("/bin/sh")\n'
        '\tcerts, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")\n'
        '\t_, zone := time.LoadLocation("Europe/Paris")\n'
        '\ttmp, _ := os.Stat("/tmp")\n'
        "\tfmt.Println(language.English, os.Getuid(), os.IsNotExist(shell), len(certs) > 10000, zone == nil, tmp.Mode().Perm()&0o777 == 0o777)\n"  # noqa: E501
        "}\n",
        encoding="utf-8",
    )
    tag = build(
        tmp_path,
        cleanup,
        f"FROM {GOLANG} AS build\n"
        "WORKDIR /src\n"
        "COPY main.go ./\n"
        "RUN go mod init example.com/probe \\\n"
        " && go get golang.org/x/text@v0.21.0 \\\n"
        " && go mod download \\\n"
        " && CGO_ENABLED=0 go build -o /probe .\n"
        f"FROM {DISTROLESS}\n"
        "COPY --from=build /probe /probe\n"
        'ENTRYPOINT ["/probe"]\n',
    )
    assert docker("run", "--rm", tag).stdout.split() == [
        "en",
        "65532",
        "true",
        "true",
        "true",
        "true",
    ]


def test_distroless_has_no_shell_nor_package_manager(
    standins: dict[str, ImageResult], tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    name = unique("distroless")
    cleanup.append(("container", name))
    docker("create", "--name", name, DISTROLESS, "/nothing")
    export = tmp_path / "rootfs.tar"
    docker("export", "--output", str(export), name)
    with tarfile.open(export) as archive:
        members = {m.name.rstrip("/"): m for m in archive.getmembers()}
    for present in ("etc/ssl/certs/ca-certificates.crt", "usr/share/zoneinfo/UTC", "home/nonroot"):
        assert present in members
    for absent in ("bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/apt", "usr/bin/dpkg"):
        assert absent not in members
    assert members["tmp"].mode & 0o7777 == 0o1777
    assert members["home/nonroot"].uid == 65532
    docker("cp", f"{name}:/etc/passwd", str(tmp_path / "passwd"))
    passwd = (tmp_path / "passwd").read_text(encoding="utf-8")
    assert "nonroot:x:65532:65532:" in passwd
    assert "nobody:x:65534:" in passwd
    user = docker("image", "inspect", "--format", "{{.Config.User}}", DISTROLESS).stdout.strip()
    assert user in {"65532", "nonroot", "65532:65532"}
    assert docker("run", "--rm", "--entrypoint", "/bin/sh", DISTROLESS, check=False).returncode != 0


@pytest.mark.parametrize(
    ("image", "entrypoint", "absent"),
    [
        (
            DISTROLESS_PYTHON,
            ["/usr/bin/python3.13"],
            ["usr/bin/pip", "usr/bin/pip3", "usr/lib/python3/dist-packages/pip"],
        ),
        (
            DISTROLESS_NODE,
            ["/nodejs/bin/node"],
            [
                "nodejs/bin/npm",
                "nodejs/bin/npx",
                "nodejs/bin/corepack",
                "nodejs/lib/node_modules",
                "nodejs/include/node/node.h",
                "usr/local/bin/npm",
            ],
        ),
    ],
)
def test_distroless_runtimes_follow_the_published_contract(
    standins: dict[str, ImageResult],
    tmp_path: Path,
    cleanup: list[tuple[str, str]],
    *,
    image: str,
    entrypoint: list[str],
    absent: list[str],
) -> None:
    config = docker(
        "image", "inspect", "--format", "{{json .Config.Entrypoint}} {{.Config.User}}", image
    ).stdout.split()
    assert config[0] == json.dumps(entrypoint, separators=(",", ":"))
    assert config[1] in {"65532", "nonroot", "65532:65532"}
    name = unique("runtime")
    cleanup.append(("container", name))
    docker("create", "--name", name, image)
    export = tmp_path / "rootfs.tar"
    docker("export", "--output", str(export), name)
    with tarfile.open(export) as archive:
        members = {m.name.rstrip("/"): m for m in archive.getmembers()}
    # Debian packages unpacked as distroless does: recorded for scanners, no
    # maintainer scripts, so no shell and no package manager
    for gone in ["bin/sh", "usr/bin/sh", "usr/bin/dash", "usr/bin/bash", "usr/bin/dpkg", *absent]:
        assert gone not in members, gone
    assert "var/lib/dpkg/status.d/libc6" in members
    assert "etc/ssl/certs/ca-certificates.crt" in members
    assert members["home/nonroot"].uid == 65532
    # the runtime works with its libraries and as any user, without a shell
    if image == DISTROLESS_PYTHON:
        probe = (
            "import ssl, sqlite3, zlib, ctypes.util, os, sys; "
            "print(os.getuid(), sys.getfilesystemencoding(), ssl.OPENSSL_VERSION.split()[0], "
            "bool(ctypes.util.find_library('ssl')))"
        )
        out = docker("run", "--rm", "--user", "10001:10001", image, "-c", probe).stdout
        assert out.split() == ["10001", "utf-8", "OpenSSL", "True"]
        shell = docker(
            "run",
            "--rm",
            image,
            "-c",
            "import subprocess; subprocess.run('true', shell=True)",
            check=False,
        )
        assert shell.returncode != 0
    else:
        probe = (
            "console.log(process.getuid(),"
            " require('node:crypto').createHash('sha256').update('').digest('hex').slice(0, 8))"
        )
        out = docker("run", "--rm", "--user", "10001:10001", image, "-e", probe).stdout
        assert out.split() == ["10001", "e3b0c442"]


# --- databases: the official entrypoint contracts ---------------------------------------


@pytest.mark.usefixtures("standins")
def test_postgres_contract(tmp_path: Path, network: str, cleanup: list[tuple[str, str]]) -> None:
    secret = readable(tmp_path / "pw", "s3cret 'with' quotes\n")
    initdb = tmp_path / "initdb"
    initdb.mkdir()
    initdb.chmod(0o755)
    readable(initdb / "01-items.sql", "CREATE TABLE items (id serial PRIMARY KEY, name text);\n")
    name, volume = unique("pg"), unique("pgdata")
    cleanup += [("volume", volume), ("container", name)]
    docker(
        "run", "--detach", "--name", name, "--network", network,
        "--volume", f"{volume}:/var/lib/postgresql/data",
        "--volume", f"{secret}:/run/secrets/db_password:ro",
        "--volume", f"{initdb}:/docker-entrypoint-initdb.d:ro",
        "--env", "POSTGRES_PASSWORD_FILE=/run/secrets/db_password",
        "--env", "POSTGRES_USER=app",
        "--env", "POSTGRES_DB=appdb",
        POSTGRES,
    )  # fmt: skip

    def ready() -> bool:
        probe = ["exec", name, "pg_isready", "--host", "127.0.0.1", "--username", "app"]
        return docker(*probe, "--dbname", "appdb", check=False).returncode == 0

    wait_for(ready, "pg_isready")
    assert pid1_uid(name) == "999"

    def psql(sql: str, password: str = "s3cret 'with' quotes") -> subprocess.CompletedProcess[str]:
        return docker(
            "run", "--rm", "--network", network, "--env", f"PGPASSWORD={password}", POSTGRES,
            "psql", "--host", name, "--username", "app", "--dbname", "appdb",
            "--no-psqlrc", "--tuples-only", "--no-align", "--command", sql,
            check=False,
        )  # fmt: skip

    inserted = psql("INSERT INTO items (name) VALUES ('kept') RETURNING id, current_user")
    assert inserted.returncode == 0, inserted.stderr
    assert inserted.stdout.strip().splitlines()[0] == "1|app"
    wrong = psql("SELECT 1", password="wrong")
    assert wrong.returncode != 0
    assert "password authentication failed" in wrong.stderr

    docker("restart", name)
    wait_for(ready, "pg_isready after restart")
    kept = psql("SELECT name FROM items WHERE id = 1")
    assert kept.stdout.strip() == "kept", kept.stderr
    assert "Skipping initialization" in docker("logs", name).stdout


def test_postgres_refuses_to_initialise_without_a_password(
    standins: dict[str, ImageResult], cleanup: list[tuple[str, str]]
) -> None:
    proc = docker("run", "--rm", POSTGRES, check=False, timeout=120)
    assert proc.returncode != 0
    assert "superuser password is not specified" in proc.stderr


@pytest.mark.usefixtures("standins")
def test_mariadb_contract(tmp_path: Path, network: str, cleanup: list[tuple[str, str]]) -> None:
    secret = readable(tmp_path / "root_pw", "r00t\n")
    name = unique("mariadb")
    cleanup.append(("container", name))
    docker(
        "run", "--detach", "--name", name, "--network", network,
        "--volume", f"{secret}:/run/secrets/root_pw:ro",
        "--env", "MARIADB_ROOT_PASSWORD_FILE=/run/secrets/root_pw",
        "--env", "MARIADB_DATABASE=appdb",
        "--env", "MARIADB_USER=app",
        # the MYSQL_* spelling is accepted too
        "--env", "MYSQL_PASSWORD=app'pw",
        MARIADB,
    )  # fmt: skip

    def healthy() -> bool:
        probe = ["exec", name, "healthcheck.sh", "--connect", "--innodb_initialized"]
        return docker(*probe, check=False).returncode == 0

    wait_for(healthy, "healthcheck.sh --connect --innodb_initialized", timeout=120)
    assert pid1_uid(name) == "999"

    def sql(user: str, password: str, query: str) -> subprocess.CompletedProcess[str]:
        return docker(
            "run", "--rm", "--network", network, MARIADB,
            "mariadb", "--host", name, "--user", user, f"--password={password}",
            "--batch", "--skip-column-names", "appdb", "--execute", query,
            check=False,
        )  # fmt: skip

    made = sql(
        "app",
        "app'pw",
        "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT);"
        " INSERT INTO items (name) VALUES ('x'); SELECT id, CURRENT_USER() FROM items;",
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.split() == ["1", "app@%"]
    root = sql("root", "r00t", "SELECT COUNT(*) FROM items")
    assert root.stdout.strip() == "1", root.stderr
    assert sql("app", "nope", "SELECT 1").returncode != 0


def test_redis_contract(
    standins: dict[str, ImageResult], network: str, cleanup: list[tuple[str, str]]
) -> None:
    locked, open_ = unique("redis"), unique("redis-open")
    cleanup += [("container", locked), ("container", open_)]
    docker("run", "--detach", "--name", locked, "--network", network, REDIS,
           "redis-server", "--requirepass", "s3cret")  # fmt: skip
    # no arguments: the image's CMD, reachable from other containers (protected mode off)
    docker("run", "--detach", "--name", open_, "--network", network, REDIS)

    def cli(host: str, *args: str) -> str:
        return docker(
            "run", "--rm", "--network", network, REDIS, "redis-cli", "-h", host, *args,
            check=False,
        ).stdout.strip()  # fmt: skip

    wait_for(lambda: cli(locked, "-a", "s3cret", "--no-auth-warning", "PING") == "PONG", "redis")
    assert "NOAUTH" in cli(locked, "PING")
    wait_for(lambda: cli(open_, "PING") == "PONG", "redis without a password")
    assert pid1_uid(locked) == "999"
    workdir = docker("image", "inspect", "--format", "{{.Config.WorkingDir}}", REDIS).stdout
    assert workdir.strip() == "/data"
