"""`keelson adopt` without an engine: detection, what is written, lints, failures, update.

The corpus under fixtures/ is shaped like real projects (not like keelson's own
skeleton): an Express app with pnpm, a Node.js app with only a `main` and no
lockfile, a Node.js app on Yarn 4 (Berry) whose start script passes node flags, a
FastAPI app in src/ layout with uv, a Flask app with requirements.txt and gunicorn, a
Flask app managed by Poetry (poetry.lock), a Django app, a Go service with cmd/server
and one at the module root.
The build-and-boot side is in test_adopt_engine.py (marker docker).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from generator import packs
from generator.adopt import RENOVATE_CONFIGS, DetectionError, adopt_project, detect
from tests.adopt.helpers import (
    CONTAINER_FILES,
    CORPUS,
    CORPUS_IDS,
    GUNICORN,
    TEMPLATE_ARGS,
    adopt,
    copy_fixture,
    keelson,
    snapshot,
)
from tests.conftest import Render, Terminal, tool
from tests.matrix import ROOT, SPEC
from tests.test_lint import OVERLAYS, kustomize, run

corpus = pytest.mark.parametrize("fixture", CORPUS_IDS)


@pytest.fixture(scope="module")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Every corpus project, adopted once with --defaults."""
    root = tmp_path_factory.mktemp("adopted")
    projects: dict[str, Path] = {}
    for fixture in CORPUS:
        project = copy_fixture(fixture, root / fixture)
        result = adopt(project)
        assert result.code == 0, result.err
        projects[fixture] = project
    yield projects


@corpus
def test_detection_finds_the_right_answers(fixture: str, tmp_path: Path) -> None:
    project = copy_fixture(fixture, tmp_path)
    detection = detect(project, {}, SPEC)
    expected = CORPUS[fixture][1]
    assert {key: detection.answers.get(key) for key in expected} == expected
    # every answer says where it came from
    assert all(detection.evidence.get(key) for key in expected)


@corpus
def test_adopt_writes_only_the_container_files(
    fixture: str, adopted: dict[str, Path], tmp_path: Path
) -> None:
    project = adopted[fixture]
    original = snapshot(copy_fixture(fixture, tmp_path))
    now = snapshot(project)
    # the project's own files are untouched
    assert {name: now[name] for name in original} == original
    added = {name.split("/")[0] for name in set(now) - set(original)}
    # and keelson's pipeline (`ci` defaults to github; no fixture has a pipeline of its own)
    expected = CONTAINER_FILES | {"k8s", ".copier-answers.yml", ".github", "ci"}
    if CORPUS[fixture][1]["database"] != "none":
        expected |= {".secrets"}  # the git-ignored local database password
        assert (project / ".secrets/.gitignore").read_text() == "*\n"
        assert (project / "k8s/overlays/dev/secrets/.gitignore").read_text() == "*\n"
        assert not (project / "k8s/base/secrets").exists()
    assert added == expected
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["adopted"] is True
    assert {k: answers[k] for k in CORPUS[fixture][1]} == CORPUS[fixture][1]


@corpus
def test_dockerfile_is_hardened_and_hadolint_clean(fixture: str, adopted: dict[str, Path]) -> None:
    dockerfile = adopted[fixture] / "Dockerfile"
    result = run(tool("hadolint"), "--no-color", "--failure-threshold", "style", str(dockerfile))
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr
    text = dockerfile.read_text()
    assert text.count("\nFROM ") >= 2  # multi-stage
    assert "--mount=type=cache" in text  # dependency downloads cached, never in a layer
    assert "\nUSER 10001:10001\n" in text
    assert '\nENTRYPOINT ["' in text  # exec form
    assert "HEALTHCHECK" in text
    final = text.rsplit("\nFROM ", 1)[1]
    assert final.startswith("gcr.io/distroless/")


@corpus
def test_kustomize_and_strict_schema_accept_every_overlay(
    fixture: str, adopted: dict[str, Path]
) -> None:
    project = adopted[fixture]
    version = kubernetes_validate.latest_version()
    health = CORPUS[fixture][1]["health_path"]
    for overlay in OVERLAYS:
        docs = kustomize(project, overlay)
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)
    docs = kustomize(project, "k8s/overlays/prod")
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsUser"] == 10001
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if health:
            assert container[probe]["httpGet"]["path"] == health
        else:  # no health endpoint: the port accepting connections is the check
            assert container[probe]["tcpSocket"] == {"port": "http"}


@corpus
def test_compose_config_is_accepted(fixture: str, adopted: dict[str, Path]) -> None:
    project = adopted[fixture]
    result = run(tool("docker-compose"), "config", "--quiet", cwd=project)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(run(tool("docker-compose"), "config", cwd=project).stdout)
    app = config["services"]["app"]
    port = CORPUS[fixture][1]["port"]
    assert app["ports"][0]["target"] == port
    assert app["init"] is True and app["cap_drop"] == ["ALL"]
    assert ("db" in config["services"]) == (CORPUS[fixture][1]["database"] != "none")


def test_checkov_passes_every_adopted_project(adopted: dict[str, Path], tmp_path: Path) -> None:
    """One checkov run over every project's Dockerfile and overlay views."""
    for fixture, project in adopted.items():
        scratch = tmp_path / fixture
        scratch.mkdir()
        (scratch / "Dockerfile").write_text((project / "Dockerfile").read_text())
        for overlay in ("k8s/checkov/dev", "k8s/checkov/prod"):
            name = overlay.replace("/", "-") + ".yaml"
            (scratch / name).write_text(yaml.safe_dump_all(kustomize(project, overlay)))
    result = run(
        tool("checkov"), "--directory", str(tmp_path), "--framework", "dockerfile", "kubernetes",
        "--skip-download", "--output", "json", "--quiet", "--compact",
    )  # fmt: skip
    reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['resource']} {check['file_path']}"
        for report in reports
        if isinstance(report, dict)
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert failed == [], "\n".join(failed)
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports if isinstance(r, dict))
    assert passed > 50 * len(adopted)


# ---------------------------------------------------------------------------
# Clear failures: one line, exit 2, nothing written
# ---------------------------------------------------------------------------


def _refused(project: Path, *args: str) -> str:
    before = snapshot(project)
    result = adopt(project, *args)
    assert result.code == 2, result.err
    assert result.err.startswith("keelson: ") and result.err.count("\n") == 1, result.err
    assert snapshot(project) == before  # nothing written
    return result.err


def test_two_candidate_languages_name_the_answer_that_settles_it(tmp_path: Path) -> None:
    project = copy_fixture("two-languages", tmp_path)
    message = _refused(project)
    assert "Node.js project (package.json)" in message
    assert "Python project (requirements.txt)" in message
    assert "--data language=node or --data language=python" in message
    settled = adopt(project, "--data", "language=node")
    assert settled.code == 0, settled.err
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["language"], answers["start_command"]) == ("node", ["server.js"])


def test_a_project_in_a_subfolder_is_named(tmp_path: Path) -> None:
    repo = copy_fixture("monorepo", tmp_path)
    message = _refused(repo)
    api = repo / "services" / "api"
    assert f"but {api} holds a Node.js project (package.json)" in message
    assert f"run `keelson adopt {api}`" in message
    done = adopt(api)
    assert done.code == 0, done.err
    assert (api / "Dockerfile").is_file() and not (repo / "Dockerfile").exists()


def test_a_project_without_a_lockfile_is_adopted(tmp_path: Path) -> None:
    # docker init's Node.js template needs a lockfile; keelson installs from the ranges
    project = copy_fixture("node-main", tmp_path)
    result = adopt(project)
    assert result.code == 0, result.err
    assert "no lockfile" in result.err
    dockerfile = (project / "Dockerfile").read_text()
    assert "npm install --no-package-lock" in dockerfile
    assert "package-lock.json" not in dockerfile.split("FROM gcr.io")[0].split("RUN", 1)[1]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"package.json": '{"name": "x", "scripts": {"start": "next start"}}'},
         "scripts.start is 'next start', not `node [flags] <file>` nor a command of one of "
         "package.json's dependencies"),
        ({"package.json": '{"name": "x"}'},
         "no `start` script and no `main`, and there is no server.js: pass "
         "--data start_command="),
        ({"requirements.txt": "requests\n", "job.py": "print(1)\n"},
         "no FastAPI, Starlette, Flask or Django app"),
        ({"requirements.txt": "fastapi\n",
          "api.py": "from fastapi import FastAPI\napp = FastAPI()\n"},
         "found the fastapi app api:app but no ASGI server in the dependencies: add uvicorn"),
        ({"go.mod": "module example.com/two\n\ngo 1.24\n",
          "cmd/a/main.go": "package main\nfunc main() {}\n",
          "cmd/b/main.go": "package main\nfunc main() {}\n"},
         "several main packages: pass --data go_main=./cmd/a or --data go_main=./cmd/b"),
        ({"go.mod": "module example.com/x\n\ngo 1.99\n", "main.go": "package main\n"},
         "go.mod asks for Go 1.99, and keelson offers 1.27, 1.26: pass --data go_version="),
        ({"package.json": '{"name": "x", "main": "i.js"}', "i.js": "",
          "package-lock.json": "{}", "yarn.lock": ""},
         "holds yarn.lock and package-lock.json: pass --data package_manager=yarn or "
         "--data package_manager=npm"),
        ({"package.json": '{"name": "x", "main": "i.js"}', "i.js": "",
          "npm-shrinkwrap.json": "{}"},
         "holds npm-shrinkwrap.json, which npm ci installs from and keelson adopt does not: "
         "rename it package-lock.json"),
        ({"README.md": "nothing here\n"}, "holds no Go, Node.js or Python project"),
    ],
    ids=["start-not-node", "no-start", "no-app", "no-server", "two-mains", "go-too-new",
         "two-lockfiles", "shrinkwrap", "empty"],
)  # fmt: skip
def test_unknown_or_ambiguous_projects_fail_in_one_line(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    project = tmp_path / "svc"
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    assert expected in _refused(project)


def test_existing_container_files_are_never_overwritten_silently(tmp_path: Path) -> None:
    project = copy_fixture("flask-gunicorn", tmp_path)
    (project / "Dockerfile").write_text('FROM python:3.13-slim\nCMD ["python", "app.py"]\n')
    (project / "docker-compose.yml").write_text("services: {}\n")
    message = _refused(project)
    assert "already holds Dockerfile, docker-compose.yml" in message
    assert "--force" in message and "--skip-existing" in message

    kept = adopt(project, "--skip-existing")
    assert kept.code == 0, kept.err
    assert (project / "Dockerfile").read_text().startswith("FROM python:3.13-slim")
    assert "kept your Dockerfile" in kept.err and "older compose file" in kept.err
    assert (project / "compose.yaml").is_file() and (project / "k8s").is_dir()
    password = (project / ".secrets/db_password").read_text()

    # --force merges keelson's files into the existing ones: keelson's side of the
    # Dockerfile did not change since it was skipped, so the team's own stays as it is
    forced = adopt(project, "--force")
    assert forced.code == 0, forced.err
    assert "--- a/Dockerfile" not in forced.out
    assert (project / "Dockerfile").read_text().startswith("FROM python:3.13-slim")
    assert (project / ".secrets/db_password").read_text() == password
    assert password not in forced.out


def test_force_marks_conflicts_in_hand_written_container_files(tmp_path: Path) -> None:
    """Without an earlier adoption there is no base: a file that differs is one conflict."""
    project = copy_fixture("flask-gunicorn", tmp_path)
    mine = 'FROM python:3.13-slim\nCMD ["python", "app.py"]\n'
    (project / "Dockerfile").write_text(mine)
    forced = adopt(project, "--force")
    assert forced.code == 1, forced.err
    assert "conflict: Dockerfile" in forced.out.splitlines()
    assert "conflict markers: Dockerfile" in forced.err
    dockerfile = (project / "Dockerfile").read_text()
    # both versions are there, between markers: nothing the team wrote is lost
    assert mine in dockerfile and "USER 10001:10001" in dockerfile
    assert "<<<<<<< before updating" in dockerfile and ">>>>>>> after updating" in dockerfile
    assert (project / "compose.yaml").is_file()


def test_data_answers_win_over_detection(tmp_path: Path) -> None:
    project = copy_fixture("node-main", tmp_path)
    result = adopt(
        project, "--data", "start_command=node index.js --quiet", "--data", "port=9000",
        "--data", "health_path=/livez", "--data", "database=redis",
    )  # fmt: skip
    assert result.code == 0, result.err
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["start_command"] == ["index.js", "--quiet"]
    assert (answers["port"], answers["health_path"], answers["database"]) == (
        9000,
        "/livez",
        "redis",
    )
    assert 'CMD ["index.js", "--quiet"]' in (project / "Dockerfile").read_text()


def test_bad_answers_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    project = copy_fixture("go-root", tmp_path)
    assert "invalid port" in _refused(project, "--data", "port=80")
    assert "invalid go_main" in _refused(project, "--data", "go_main=cmd/x")
    assert "unknown question 'colour'" in _refused(project, "--data", "colour=red")


def test_without_a_terminal_adopt_needs_defaults(tmp_path: Path) -> None:
    project = copy_fixture("go-root", tmp_path)
    result = keelson("adopt", project, *TEMPLATE_ARGS)
    assert result.code == 2 and "pass --defaults" in result.err
    assert not (project / "Dockerfile").exists()


def test_a_generated_service_records_no_adopt_answers(rendered: Render) -> None:
    service = rendered(language="go", database="none")
    answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert "adopted" not in answers and "start_command" not in answers
    assert not (service / "CONTAINER.md").exists() and not (service / "adopt").exists()


@pytest.mark.parametrize(
    ("text", "major", "allowed"),
    [
        (">=20", 24, True), (">=20", 18, False), ("^22.1.0", 22, True), ("^22", 24, False),
        ("20.x || 22.x", 22, True), (">=18 <23", 24, False), (">=18 <23", 22, True),
        ("*", 24, True), ("~24.3", 24, True), ("<=22", 24, False),
    ],
)  # fmt: skip
def test_engines_node_ranges(text: str, major: int, allowed: bool) -> None:
    node = packs.adoption(ROOT, "node")
    assert node is not None
    assert node.code._node_allows(text, major) is allowed


@pytest.mark.parametrize(
    ("constraint", "release", "allowed"),
    [
        ("^3.12", "3.13", True), ("^3.12", "3.11", False), ("^3.12", "4.0", False),
        ("~3.12", "3.13", False), ("~3.13", "3.13", True), (">=3.10,<3.13", "3.13", False),
        (">=3.10 <3.14", "3.13", True), ("3.13.*", "3.13", True), ("*", "3.13", True),
        ("~3.11 || ^3.13", "3.13", True), ("~3.11 | ~3.12", "3.13", False), ("^3", "3.13", True),
    ],
)  # fmt: skip
def test_poetry_python_constraints(constraint: str, release: str, allowed: bool) -> None:
    python = packs.adoption(ROOT, "python")
    assert python is not None
    assert python.code._poetry_python(constraint)(release) is allowed


def test_the_poetry_fixture_installs_only_locked_main_dependencies(
    adopted: dict[str, Path],
) -> None:
    text = (adopted["flask-poetry"] / "Dockerfile").read_text()
    deps, runtime = text.split("\nFROM ")[1], text.rsplit("\nFROM ", 1)[1]
    assert "source=poetry.lock,target=/src/poetry.lock" in deps
    assert "pip install --target /opt/poetry poetry==2.5.1" in deps  # pinned, from PyPI
    assert "poetry export --directory /src --only main" in deps  # no dev group
    assert "pip install --require-hashes --no-deps" in deps
    assert "poetry" not in runtime.lower()  # never in the runtime image
    assert "COPY --from=deps /opt/app/packages /opt/app/packages" in runtime


POETRY_PACKAGE = """\
[tool.poetry]
name = "Billing_Service"
version = "0.1.0"
description = "Bills."
packages = [{include = "billing"}]

[tool.poetry.dependencies]
python = ">=3.11,<3.14"
fastapi = "^0.115"
uvicorn = {version = "^0.34", extras = ["standard"]}
asyncpg = "^0.30"

[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
"""
POETRY_APP = "from fastapi import FastAPI\n\napp = FastAPI()\n"


def test_a_poetry_package_is_detected_and_installed_as_one(tmp_path: Path) -> None:
    project = tmp_path / "billing"
    (project / "billing").mkdir(parents=True)
    (project / "pyproject.toml").write_text(POETRY_PACKAGE)
    (project / "poetry.lock").write_text('[metadata]\nlock-version = "2.1"\n')
    (project / "billing/__init__.py").write_text("")
    (project / "billing/api.py").write_text(POETRY_APP)
    detection = detect(project, {}, SPEC)
    answers = detection.answers
    assert (answers["package_manager"], answers["lockfile"], answers["install_project"]) == (
        "poetry", True, True,
    )  # fmt: skip
    assert answers["python_version"] == "3.13"
    assert detection.evidence["python_version"] == (
        "pyproject.toml [tool.poetry.dependencies] python (>=3.11,<3.14)"
    )
    assert answers["project_name"] == "billing-service"
    assert answers["database"] == "postgresql"  # asyncpg, from [tool.poetry.dependencies]
    assert answers["start_command"][:3] == ["-m", "uvicorn", "billing.api:app"]


def test_poetry_python_falls_back_to_the_lock_and_must_fit(tmp_path: Path) -> None:
    project = copy_fixture("flask-poetry", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('python = "^3.12"\n', ""))
    detection = detect(project, {}, SPEC)
    assert detection.evidence["python_version"] == "poetry.lock python-versions (^3.12)"
    lock = project / "poetry.lock"
    lock.write_text(
        lock.read_text().replace('python-versions = "^3.12"', 'python-versions = "~3.11"')
    )
    assert "poetry.lock python-versions asks for '~3.11', and keelson offers 3.13" in _refused(
        project
    )


def test_a_poetry_project_without_its_lock_is_refused(tmp_path: Path) -> None:
    project = copy_fixture("flask-poetry", tmp_path)
    (project / "poetry.lock").unlink()
    message = _refused(project)
    assert "is a Poetry project ([tool.poetry]) without poetry.lock: run `poetry lock`" in message


# a Django project as published ones are laid out beyond `startproject`: a settings
# package, a root manage.py that only bootstraps a virtualenv, the real one in the
# project package, and a wsgi.py that leaves DJANGO_SETTINGS_MODULE to the server
DJANGO_SETTINGS_PACKAGE = {
    "pyproject.toml": '[project]\nname = "tracker"\nversion = "1.0"\n'
    'dependencies = ["django", "gunicorn"]\n[project.scripts]\n'
    'tracker = "tracker_site.__main__:main"\n',
    "requirements.txt": "django==5.2\ngunicorn==23.0.0\n",
    "manage.py": "import venv\nvenv.EnvBuilder(with_pip=True).create('.venv')\n",
    "tracker_site/__init__.py": "",
    "tracker_site/__main__.py": "def main():\n    pass\n",
    "tracker_site/manage.py": "import os\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tracker_site.settings.local')\n",
    "tracker_site/settings/__init__.py": "",
    "tracker_site/settings/local.py": "DEBUG = True\n",
    "tracker_site/wsgi.py": "from django.core.wsgi import get_wsgi_application\n\n"
    "application = get_wsgi_application()\n",
}


@pytest.mark.parametrize(
    ("changes", "environment", "note"),
    [
        ({}, ["--env", "DJANGO_SETTINGS_MODULE=tracker_site.settings.local"],
         "tracker_site/wsgi.py does not set DJANGO_SETTINGS_MODULE: gunicorn sets manage.py's "
         "tracker_site.settings.local (--env in the start command"),
        ({"manage.py": "import os\n"
          "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tracker_site.settings.prod')\n",
          "tracker_site/wsgi.py": "import os\n"
          "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tracker_site.settings.prod')\n"
          "from django.core.wsgi import get_wsgi_application\n"
          "application = get_wsgi_application()\n"},
         [], ""),
    ],
    ids=["manage-in-package", "root-manage-settings-module"],
)  # fmt: skip
def test_a_django_project_with_a_settings_package_is_served_by_gunicorn(
    tmp_path: Path, changes: dict[str, str], environment: list[str], note: str
) -> None:
    project = tmp_path / "tracker"
    for name, text in {**DJANGO_SETTINGS_PACKAGE, **changes}.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    detection = detect(project, {}, SPEC)
    assert detection.answers["start_command"] == [
        *GUNICORN, "--access-logfile", "-", *environment, "tracker_site.wsgi:application",
    ]  # fmt: skip
    assert detection.evidence["start_command"].startswith(
        "django app tracker_site.wsgi:application, served by gunicorn"
    )
    said = [line for line in detection.notes if "DJANGO_SETTINGS_MODULE" in line]
    assert (note in said[0]) if note else not said, detection.notes


@pytest.mark.parametrize(
    ("start", "command", "why"),
    [
        ("node --enable-source-maps dist/index.js", ["--enable-source-maps", "dist/index.js"],
         ""),
        ("cross-env NODE_ENV=production node -r dotenv/config --no-warnings server.js --quiet",
         ["-r", "dotenv/config", "--no-warnings", "server.js", "--quiet"], ""),
        ("node --env-file .env --import=./otel.mjs --watch src/main.mjs",
         ["--import=./otel.mjs", "src/main.mjs"], ", without --env-file .env --watch"),
        ("node --inspect=0.0.0.0:9229 --max-old-space-size=512 app.js",
         ["--max-old-space-size=512", "app.js"], ", without --inspect=0.0.0.0:9229"),
    ],
    ids=["source-maps", "require-value", "dev-flags-dropped", "inspect-dropped"],
)  # fmt: skip
def test_node_flags_in_the_start_script_are_kept(
    tmp_path: Path, start: str, command: list[str], why: str
) -> None:
    project = tmp_path / "svc"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "svc", "scripts": {"start": start}}))
    detection = detect(project, {}, SPEC)
    assert detection.answers["start_command"] == command
    assert detection.evidence["start_command"] == f"package.json scripts.start ({start}){why}"


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("nodemon server.js", "nodemon restarts node on file changes, a development tool the "
         "image does not ship: pass --data start_command='server.js' to run it with node"),
        ("node --require", "not `node [flags] <file>`"),
        ("node -r dotenv/config", "not `node [flags] <file>`"),
        ("ts-node src/index.ts", "pass --data start_command='<file> [args]'"),
    ],
    ids=["nodemon", "flag-only", "flag-value-only", "ts-node"],
)  # fmt: skip
def test_start_scripts_node_cannot_run_name_the_answer(
    tmp_path: Path, start: str, expected: str
) -> None:
    project = tmp_path / "svc"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "svc", "scripts": {"start": start}}))
    assert expected in _refused(project)


def _cli_project(tmp_path: Path, deps: dict[str, str], start: str) -> Path:
    """A project whose start script runs a dependency's command (`fastify start app.js`)."""
    project = tmp_path / "svc"
    project.mkdir()
    pkg = {"name": "svc", "scripts": {"start": start}, "dependencies": deps}
    (project / "package.json").write_text(json.dumps(pkg))
    (project / "app.js").write_text("module.exports = async () => {}\n")
    return project


def _installed(project: Path, name: str, bin_field: object, file: str) -> None:
    """Put a package that declares `bin_field` (and its bin file) under node_modules."""
    folder = project / "node_modules" / name
    (folder / file).parent.mkdir(parents=True, exist_ok=True)
    (folder / file).write_text("#!/usr/bin/env node\n")
    (folder / "package.json").write_text(json.dumps({"name": name, "bin": bin_field}))


@pytest.mark.parametrize(
    ("deps", "start", "bin_field", "command"),
    [
        ({"fastify-cli": "^7.4.0"}, "fastify start -l info app.js",
         {"fastify": "./cli.js"}, ["node_modules/fastify-cli/cli.js", "start", "-l", "info",
                                   "app.js"]),
        ({"@scope/serve": "^1.0.0"}, "serve --port 3000", "bin/serve.js",
         ["node_modules/@scope/serve/bin/serve.js", "--port", "3000"]),
    ],
    ids=["bin-object", "scoped-bin-string"],
)  # fmt: skip
def test_a_dependency_command_as_start_script_runs_its_bin_file_with_node(
    tmp_path: Path, deps: dict[str, str], start: str, bin_field: object, command: list[str]
) -> None:
    # `next start`, `fastify start app.js`: npm runs the command from node_modules/.bin;
    # the image has no npm and no shell, so node runs the file the package's bin names
    project = _cli_project(tmp_path, deps, start)
    name = next(iter(deps))
    file = bin_field["fastify"] if isinstance(bin_field, dict) else bin_field
    _installed(project, name, bin_field, str(file).removeprefix("./"))
    detection = detect(project, {}, SPEC)
    assert detection.answers["start_command"] == command
    assert detection.evidence["start_command"] == (
        f"package.json scripts.start ({start}), {command[0]} from {name}'s bin"
    )


@pytest.mark.parametrize(
    ("start", "port"),
    [("serve --port 8080 .", 8080), ("serve --port=9000", 9000), ("serve -p 8080", 3000),
     ("serve --portal=1", 3000), ("serve --port", 3000)],
    ids=["option", "option-equals", "short-unknown", "other-option", "no-value"],
)  # fmt: skip
def test_the_start_commands_port_option_is_the_port(tmp_path: Path, start: str, port: int) -> None:
    # a server's --port wins over the default its code names (3000 here)
    project = _cli_project(tmp_path, {"@scope/serve": "^1.0.0"}, start)
    (project / "app.js").write_text("app.listen(process.env.PORT || 3000)\n")
    _installed(project, "@scope/serve", "bin/serve.js", "bin/serve.js")
    detection = detect(project, {}, SPEC)
    assert detection.answers["port"] == port
    assert detection.evidence["port"] == (
        f"the start command (--port {port})" if port != 3000 else "app.js"
    )


@pytest.mark.parametrize("dev", [False, True], ids=["dependency", "dev-dependency"])
def test_a_dependency_command_is_resolved_from_package_lock_without_node_modules(
    tmp_path: Path, dev: bool
) -> None:
    # a fresh clone: no node_modules, but npm's lockfile (v2 and later) records each
    # package's bin and whether only development needs it
    table = "devDependencies" if dev else "dependencies"
    project = _cli_project(tmp_path, {}, "fastify start -l info app.js")
    pkg = {**json.loads((project / "package.json").read_text()), table: {"fastify-cli": "^7.4.0"}}
    (project / "package.json").write_text(json.dumps(pkg))
    locked = {"version": "7.4.0", "bin": {"fastify": "cli.js"}, **({"dev": True} if dev else {})}
    lock = {
        "name": "svc", "lockfileVersion": 3, "requires": True,
        "packages": {"": {"name": "svc", table: pkg[table]}, "node_modules/fastify-cli": locked},
    }  # fmt: skip
    (project / "package-lock.json").write_text(json.dumps(lock))
    if dev:
        assert _refused(project).startswith(
            "keelson: package.json scripts.start runs `fastify`, which fastify-cli installs, "
            "a devDependency: "
        )
        return
    detection = detect(project, {}, SPEC)
    assert detection.answers["start_command"] == [
        "node_modules/fastify-cli/cli.js", "start", "-l", "info", "app.js",
    ]  # fmt: skip
    assert detection.evidence["start_command"] == (
        "package.json scripts.start (fastify start -l info app.js), "
        "node_modules/fastify-cli/cli.js from fastify-cli's bin (package-lock.json)"
    )


@pytest.mark.parametrize(
    ("deps", "dev", "expected"),
    [
        ({"fastify-cli": "^7.4.0"}, False,
         "scripts.start runs `fastify`, a command one of the packages package.json "
         "names installs, and node_modules is not there to say which file it is: run `npm install` "
         "and adopt again, or pass --data start_command='node_modules/<package>/<file> start "
         "-l info app.js' (the file node runs)"),
        ({}, True,
         "scripts.start runs `fastify`, which fastify-cli installs, a devDependency: the "
         "image installs package.json's dependencies only: move fastify-cli to them, or "
         "pass --data start_command='<file> [args]', the file node should run"),
    ],
    ids=["not-installed", "dev-dependency"],
)  # fmt: skip
def test_a_dependency_command_adopt_cannot_resolve_is_refused_in_one_line(
    tmp_path: Path, deps: dict[str, str], dev: bool, expected: str
) -> None:
    project = _cli_project(tmp_path, deps, "fastify start -l info app.js")
    if dev:
        pkg = json.loads((project / "package.json").read_text())
        pkg["devDependencies"] = {"fastify-cli": "^7.4.0"}
        (project / "package.json").write_text(json.dumps(pkg))
        _installed(project, "fastify-cli", {"fastify": "cli.js"}, "cli.js")
    assert _refused(project) == f"keelson: package.json {expected}\n"


@pytest.mark.parametrize(
    ("deps", "refused"),
    [
        ({"fastify-cli": "^7.4.0"}, None),
        ({"fastify": "^5.0.0"},
         "keelson: start_command: node_modules/fastify-cli/cli.js is in fastify-cli, which "
         "package.json's dependencies do not name (the image installs those only)\n"),
    ],
    ids=["dependency", "not-a-dependency"],
)  # fmt: skip
def test_a_start_command_in_node_modules_names_a_production_dependency(
    tmp_path: Path, deps: dict[str, str], refused: str | None
) -> None:
    # node_modules is installed in the image: without it here, the package is what is checked
    project = _cli_project(tmp_path, deps, "fastify start app.js")
    given = "start_command=node_modules/fastify-cli/cli.js start -a 0.0.0.0 app.js"
    if refused:
        assert _refused(project, "--data", given) == refused
        return
    detection = detect(project, {"start_command": given.partition("=")[2]}, SPEC)
    assert detection.answers["start_command"][0] == "node_modules/fastify-cli/cli.js"


BERRY_LOCK = "__metadata:\n  version: 8\n  cacheKey: 10c0\n"


@pytest.mark.parametrize(
    ("manager", "yarnrc", "expected"),
    [
        (None, "", "has a Yarn 2+ (Berry) yarn.lock but package.json names no packageManager"),
        ("yarn@3.8.7", "", "uses Yarn 3.8.7, and keelson adopt installs Yarn 1 or 4+"),
        ("yarn@4.18.1", "yarnPath: .yarn/releases/yarn-4.18.1.cjs\n",
         "sets yarnPath (a committed Yarn release), which the image does not run"),
    ],
    ids=["no-package-manager", "yarn-3", "yarn-path"],
)  # fmt: skip
def test_yarn_berry_setups_the_image_cannot_install_are_refused(
    tmp_path: Path, manager: str | None, yarnrc: str, expected: str
) -> None:
    project = tmp_path / "svc"
    project.mkdir()
    pkg = {"name": "svc", "main": "i.js", **({"packageManager": manager} if manager else {})}
    (project / "package.json").write_text(json.dumps(pkg))
    (project / "i.js").write_text("")
    (project / "yarn.lock").write_text(BERRY_LOCK)
    if yarnrc:
        (project / ".yarnrc.yml").write_text(yarnrc)
    assert expected in _refused(project)


def test_detection_error_is_a_usage_error() -> None:
    assert DetectionError("x").exit_code == 2


@pytest.mark.parametrize(("key", "written"), [(b"n", False), (b"y", True)], ids=["no", "yes"])
def test_in_a_terminal_the_answers_are_shown_for_confirmation(
    tmp_path: Path, key: bytes, written: bool
) -> None:
    project = copy_fixture("express-pnpm", tmp_path)
    before = snapshot(project)
    terminal = Terminal("adopt", str(project), *TEMPLATE_ARGS, cwd=tmp_path)
    try:
        terminal.expect("Write the container files with these answers?")
        for shown in ("pnpm@10.34.8", '["src/server.js"]', "postgresql", "/healthz", "3000"):
            assert shown in terminal.screen
        assert "package.json scripts.start" in terminal.screen  # where each answer came from
        terminal.send(key)
        if not written:  # no: any answer may be changed, and an empty one writes nothing
            terminal.expect("Change an answer (KEY=VALUE; empty: write nothing)")
            terminal.send(b"\r")
        code = terminal.wait()
    finally:
        terminal.close()
    assert code == (0 if written else 1), terminal.screen[-1500:]
    if written:
        assert (project / "Dockerfile").is_file()
    else:
        assert "nothing was written" in terminal.screen
        assert snapshot(project) == before


def test_in_a_terminal_a_detected_answer_can_be_changed_before_writing(tmp_path: Path) -> None:
    project = copy_fixture("express-pnpm", tmp_path)
    terminal = Terminal("adopt", str(project), *TEMPLATE_ARGS, cwd=tmp_path)
    try:
        terminal.expect("Write the container files with these answers?")
        terminal.send(b"n")
        terminal.expect("Change an answer")
        terminal.send(b"port=9000\r")
        terminal.expect("  port             9000")  # shown again, from --data's source
        terminal.send(b"y")
        code = terminal.wait()
    finally:
        terminal.close()
    assert code == 0, terminal.screen[-1500:]
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["port"], answers["package_manager"]) == (9000, "pnpm@10.34.8")


def test_interactive_adopt_changes_answers_until_confirmed(tmp_path: Path) -> None:
    project = copy_fixture("node-main", tmp_path)
    replies = iter([False, False, True])
    edits = iter(["port=9000", "health_path=/healthz"])
    shown: list[str] = []
    adopt_project(
        project, template=str(ROOT), vcs_ref="HEAD", allow_dirty=True, interactive=True,
        confirm=lambda _: next(replies), edit=lambda _: next(edits), show=shown.append,
    )  # fmt: skip
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["port"], answers["health_path"]) == (9000, "/healthz")
    assert sum("found a Node.js project" in line for line in shown) == 3


def test_adopting_again_keeps_the_recorded_answers(tmp_path: Path) -> None:
    project = copy_fixture("node-main", tmp_path)
    first = adopt(project, "--data", "start_command=index.js --quiet", "--data", "port=9000")
    assert first.code == 0, first.err
    again = adopt(project, "--force", "--data", "health_path=/")
    assert again.code == 0, again.err
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["start_command"], answers["port"]) == (["index.js", "--quiet"], 9000)
    assert answers["health_path"] == "/"
    assert '+    CMD ["/nodejs/bin/node", "-e", "fetch(' in again.out


@pytest.mark.parametrize(
    ("fixture", "remove", "data", "wanted"),
    [
        ("node-main", [], ["package_manager=yarn@1.22.22", "build_script=true"],
         ["yarn@1.22.22", "yarn run build", "COPY --from=build /app ./"]),
        ("yarn-berry", [], ["build_script=true"],
         ["cli-dist/bin/yarn.js install\n", "cli-dist/bin/yarn.js run build",
          "COPY --from=build /app ./"]),
        ("fastapi-uv", ["uv.lock"], [],
         ["import tomllib", "FROM deps AS project", "COPY --from=project"]),
        ("flask-poetry", [], ["install_project=true"],
         ["python -m poetry export", "FROM deps AS project", "COPY --from=project"]),
    ],
    ids=["node-yarn-build", "yarn-berry-build", "python-pyproject-only", "poetry-package"],
)  # fmt: skip
def test_other_install_variants_are_hadolint_clean(
    fixture: str, remove: list[str], data: list[str], wanted: list[str], tmp_path: Path
) -> None:
    project = copy_fixture(fixture, tmp_path)
    for name in remove:
        (project / name).unlink()
    result = adopt(project, *(arg for pair in data for arg in ("--data", pair)))
    assert result.code == 0, result.err
    dockerfile = project / "Dockerfile"
    for text in wanted:
        assert text in dockerfile.read_text()
    linted = run(tool("hadolint"), "--no-color", "--failure-threshold", "style", str(dockerfile))
    assert linted.returncode == 0 and linted.stdout == "", linted.stdout + linted.stderr


@pytest.mark.parametrize("name", [*RENOVATE_CONFIGS, "package.json"])
def test_a_project_with_its_own_renovate_config_keeps_it(name: str, tmp_path: Path) -> None:
    project = copy_fixture("node-main", tmp_path)
    pkg = json.loads((project / "package.json").read_text())
    if name == "package.json":
        (project / name).write_text(json.dumps({**pkg, "renovate": {"extends": ["config:base"]}}))
    else:
        (project / name).parent.mkdir(exist_ok=True)
        (project / name).write_text('{"extends": ["config:recommended"]}\n')
    found = 'package.json ("renovate")' if name == "package.json" else name
    detection = detect(project, {}, SPEC)
    assert (detection.answers["renovate"], detection.evidence["renovate"]) == (
        False,
        f"{found} exists",
    )
    assert _refused(project, "--data", "renovate=true") == (
        f"keelson: renovate: {found} already configures Renovate and keelson never overwrites "
        "it; allowed here: false (drop --data renovate=true)\n"
    )


def test_adopt_writes_renovate_json5_only_where_renovate_is_not_configured(
    tmp_path: Path,
) -> None:
    project = copy_fixture("go-root", tmp_path / "a")
    assert adopt(project).code == 0
    ours = (project / "renovate.json5").read_text()
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["renovate"] is True
    # adopting again: keelson's own file is no Renovate config of the project's
    again = adopt(project, "--force")
    assert again.code == 0, again.err
    assert (project / "renovate.json5").read_text() == ours

    theirs = copy_fixture("go-root", tmp_path / "b")
    (theirs / ".github").mkdir()
    (theirs / ".github/renovate.json").write_text('{"extends": ["config:recommended"]}\n')
    assert adopt(theirs).code == 0
    assert not (theirs / "renovate.json5").exists()
    assert yaml.safe_load((theirs / ".copier-answers.yml").read_text())["renovate"] is False
    assert (theirs / ".github/renovate.json").read_text() == '{"extends": ["config:recommended"]}\n'


@pytest.mark.parametrize(
    ("fixture", "data", "installs"),
    [
        ("node-main", [], ["npm install --no-package-lock --ignore-scripts"]),
        ("express-pnpm", [], ["pnpm install --frozen-lockfile --ignore-scripts"]),
        ("node-main", ["package_manager=yarn@1.22.22"],
         ["yarn install --non-interactive --no-lockfile --ignore-scripts"]),
        ("yarn-berry", [], ["YARN_ENABLE_SCRIPTS=false"]),
    ],
    ids=["npm", "pnpm", "yarn-classic", "yarn-berry"],
)  # fmt: skip
def test_node_installs_run_no_lifecycle_scripts(
    fixture: str, data: list[str], installs: list[str], tmp_path: Path
) -> None:
    """A project's own `prepare`/`prepublish` (husky, a babel build) never runs in the image.

    json-server 0.17.4's `prepublish` runs babel, a dev dependency: `babel: not found`.
    """
    project = copy_fixture(fixture, tmp_path)
    manifest = project / "package.json"
    pkg = json.loads(manifest.read_text())
    pkg["scripts"] = {**pkg.get("scripts", {}), "prepare": "husky", "prepublish": "babel src"}
    manifest.write_text(json.dumps(pkg))
    result = adopt(project, *(arg for pair in data for arg in ("--data", pair)))
    assert result.code == 0, result.err
    dockerfile = (project / "Dockerfile").read_text()
    for install in installs:
        assert install in " ".join(dockerfile.split())


@pytest.mark.parametrize(
    ("fixture", "command", "missing"),
    [
        ("node-main", "nope.js", "nope.js"),
        ("node-main", "--enable-source-maps lib/nope.js --port 1", "lib/nope.js"),
        ("flask-gunicorn", "nope.py", "nope.py"),
    ],
    ids=["entry-file", "entry-file-after-flags", "script"],
)
def test_a_start_command_naming_a_missing_file_is_refused(
    fixture: str, command: str, missing: str, tmp_path: Path
) -> None:
    project = copy_fixture(fixture, tmp_path)
    message = _refused(project, "--data", f"start_command={command}")
    assert message.startswith(f"keelson: start_command: {missing} is not a file in {project}:")


@pytest.mark.parametrize(
    ("fixture", "command"),
    [
        ("node-main", "index.js --host 127.0.0.1"),
        ("node-main", "index.js --host=localhost"),
        ("flask-gunicorn", "-m gunicorn --bind 127.0.0.1:8000 app:app"),
    ],
    ids=["host-flag", "host-localhost", "bind-flag"],
)
def test_a_start_command_binding_loopback_is_warned_in_one_line(
    fixture: str, command: str, tmp_path: Path
) -> None:
    project = copy_fixture(fixture, tmp_path)
    result = adopt(project, "--data", f"start_command={command}")
    assert result.code == 0, result.err
    warned = [line for line in result.err.splitlines() if "loopback" in line]
    assert warned == [
        "keelson: note: start_command binds a loopback address (127.0.0.1/localhost), which "
        "nothing outside the container reaches: bind 0.0.0.0 (e.g. --host 0.0.0.0)"
    ], result.err
    quiet = adopt(copy_fixture(fixture, tmp_path / "quiet"))
    assert "loopback" not in quiet.err
