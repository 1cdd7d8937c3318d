"""keelson adopt's Python detection: version, installer, layout, start command, port, database."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from generator.adopt.findings import (
    Detection,
    DetectionError,
    at_least,
    pick_version,
    read_text,
    slug,
)
from generator.errors import one_line
from generator.packs import Adoption
from generator.template import TemplateSpec

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_APP = re.compile(
    r"^(?P<var>[A-Za-z_]\w*)\s*(?::\s*\w+\s*)?=\s*(?:\w+\.)?(?P<kind>FastAPI|Starlette|Flask|Quart)\(",
    re.M,
)
_FACTORY = re.compile(r"^def\s+(create_app|make_app)\s*\(", re.M)
# manage.py's default settings: `<package>.settings`, or one module of a settings package
# (`<package>.settings.prod`); the package holds wsgi.py/asgi.py
_DJANGO_SETTINGS = re.compile(
    r"DJANGO_SETTINGS_MODULE['\"]\s*,\s*"
    r"['\"](?P<module>(?P<package>[\w.]+?)\.settings(?:\.\w+)?)['\"]"
)
_PY_PORT = (
    re.compile(r"\bport\s*=\s*(\d{4,5})\b"),
    re.compile(r"PORT['\"]\s*,\s*['\"]?(\d{4,5})\b"),
)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _poetry(pyproject: Mapping[str, Any]) -> dict[str, Any]:
    """Return pyproject.toml's [tool.poetry] table ({} when there is none)."""
    tool = pyproject.get("tool") if isinstance(pyproject.get("tool"), dict) else {}
    poetry = (tool or {}).get("poetry")
    return poetry if isinstance(poetry, dict) else {}


def _poetry_specifier(constraint: str) -> SpecifierSet | None:
    """Turn one Poetry version constraint (^3.12, ~3.12, >=3.11,<4, 3.12.*) into PEP 440.

    Returns None for `*` (any version). Raises InvalidSpecifier when it is neither.
    """
    clauses: list[str] = []
    for word in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", constraint.strip()):
        if not word or word == "*":
            continue
        if match := re.fullmatch(r"([\^~])\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", word):
            caret = match[1] == "^"
            parts = [int(p) for p in match.groups()[1:] if p is not None]
            # ^3.12 -> <4; ^0.3 -> <0.4; ~3.12 -> <3.13; ~3 -> <4
            bump = (
                next((i for i, p in enumerate(parts) if p), len(parts) - 1)
                if caret
                else (min(1, len(parts) - 1))
            )
            upper = [*parts[:bump], parts[bump] + 1]
            clauses += [f">={'.'.join(map(str, parts))}", f"<{'.'.join(map(str, upper))}"]
        elif re.fullmatch(r"\d+(\.\d+)*(\.\*)?", word):
            clauses.append(f"=={word}")
        else:
            clauses.append(word)
    return SpecifierSet(",".join(clauses)) if clauses else None


def _poetry_python(constraint: str) -> Callable[[str], bool]:
    """Whether a Poetry `python` constraint (alternatives split by ||) admits a release."""
    alternatives = [_poetry_specifier(a) for a in re.split(r"\s*\|\|?\s*", constraint)]
    return lambda c: any(a is None or a.contains(c + ".0") for a in alternatives)


def _python_deps(root: Path, pyproject: Mapping[str, Any]) -> dict[str, str]:
    deps: dict[str, str] = {}
    project = pyproject.get("project") if isinstance(pyproject.get("project"), dict) else {}
    for requirement in (project or {}).get("dependencies") or []:
        if match := _REQUIREMENT.match(str(requirement)):
            deps.setdefault(_normalise(match[1]), "pyproject.toml")
    poetry_deps = _poetry(pyproject).get("dependencies")
    for name in poetry_deps if isinstance(poetry_deps, dict) else {}:
        if str(name).lower() != "python":
            deps.setdefault(_normalise(str(name)), "pyproject.toml [tool.poetry.dependencies]")
    for file in sorted(root.glob("requirements*.txt")):
        if "dev" in file.name or "test" in file.name:
            continue
        for line in read_text(file).splitlines():
            if line.strip().startswith(("#", "-")):
                continue
            if match := _REQUIREMENT.match(line):
                deps.setdefault(_normalise(match[1]), file.name)
    return deps


def _python_version(
    root: Path, pyproject: Mapping[str, Any], spec: TemplateSpec, detection: Detection
) -> None:
    project = pyproject.get("project") if isinstance(pyproject.get("project"), dict) else {}
    requires = str((project or {}).get("requires-python") or "").strip()
    where = "pyproject.toml requires-python"
    lock = read_text(root / "uv.lock")
    if not requires and (match := re.search(r'^requires-python\s*=\s*"([^"]+)"', lock, re.M)):
        requires, where = match[1], "uv.lock requires-python"
    poetry_deps = _poetry(pyproject).get("dependencies")
    poetry_python = str((poetry_deps if isinstance(poetry_deps, dict) else {}).get("python") or "")
    if not poetry_python and (root / "poetry.lock").is_file():
        try:
            metadata = tomllib.loads(read_text(root / "poetry.lock")).get("metadata")
        except tomllib.TOMLDecodeError:
            metadata = None
        if isinstance(metadata, dict):
            poetry_python = str(metadata.get("python-versions") or "")
    pinned = read_text(root / ".python-version").strip().splitlines()[:1]
    if pinned and (match := re.match(r"^(3\.\d+)", pinned[0])):
        wanted = match[1]
        version = pick_version(
            spec, "python_version", at_least(wanted), ".python-version", f"Python {wanted}"
        )
        if version != wanted:
            detection.notes.append(
                f".python-version pins {wanted}; the runtime image has CPython {version} only"
            )
        detection.propose("python_version", version, f".python-version ({pinned[0]})")
        return
    if not requires and poetry_python.strip():
        where = "pyproject.toml [tool.poetry.dependencies] python"
        if poetry_deps is None or "python" not in (poetry_deps or {}):
            where = "poetry.lock python-versions"
        try:
            admits = _poetry_python(poetry_python)
        except InvalidSpecifier as error:
            raise DetectionError(
                f"{where} {poetry_python!r} is not a version constraint: pass "
                "--data python_version=<version>"
            ) from error
        version = pick_version(spec, "python_version", admits, where, repr(poetry_python))
        detection.propose("python_version", version, f"{where} ({poetry_python})")
        return
    if requires:
        try:
            allowed = SpecifierSet(requires)
        except InvalidSpecifier as error:
            raise DetectionError(
                f"{where} {requires!r} is not a version specifier: pass "
                "--data python_version=<version>"
            ) from error
        version = pick_version(
            spec, "python_version", lambda c: allowed.contains(c + ".0"), where, repr(requires)
        )
        detection.propose("python_version", version, f"{where} ({requires})")
        return
    default = str(spec.questions["python_version"].default)
    detection.propose("python_version", default, "default (no requires-python)")


def _module_of(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _python_apps(detection: Detection, base: Path) -> list[tuple[str, str]]:
    """List the (framework, module:attribute) of every module-level ASGI/WSGI app."""
    found: list[tuple[str, str]] = []
    root = detection.root
    for path in detection.files(base, (".py",)):
        rel = path.relative_to(root).parts
        if any(part in {"tests", "test", "migrations", "docs", "scripts"} for part in rel):
            continue
        text = read_text(path)
        for match in _APP.finditer(text):
            kind = match["kind"].lower()
            target = f"{_module_of(path, base)}:{match['var']}"
            found.append((kind, target))
        if not any(_module_of(path, base) == t.split(":")[0] for _, t in found):
            factory = _FACTORY.search(text)
            if factory and re.search(r"\b(Flask|FastAPI|Quart)\(", text):
                kind = "flask" if "Flask(" in text else "fastapi"
                found.append((kind, f"{_module_of(path, base)}:{factory[1]}()"))
    return found


def _django_app(
    root: Path, base: Path, deps: Mapping[str, str]
) -> tuple[tuple[str, str], str, str] | None:
    """Find a Django project's app, or None.

    Returns (kind, module:attribute), the app module when it leaves
    DJANGO_SETTINGS_MODULE to its server ("" when it sets it) and manage.py's default
    settings. manage.py sits at the root, or in the project package it names (when the
    root's is something else, such as a bootstrap script).
    """
    nested = (
        (_DJANGO_SETTINGS.search(read_text(manage)), manage.parent.name)
        for manage in sorted(base.glob("*/manage.py"))
    )
    django = _DJANGO_SETTINGS.search(read_text(root / "manage.py")) or next(
        (named for named, folder in nested if named and named["package"] == folder), None
    )
    if not django:
        return None
    folder = base / django["package"].replace(".", "/")
    if "gunicorn" in deps and (folder / "wsgi.py").is_file():
        kind, module = "django", "wsgi"
    elif (folder / "asgi.py").is_file():
        kind, module = "django-asgi", "asgi"
    else:
        kind, module = "django", "wsgi"
    entry = folder / f"{module}.py"
    unset = entry.is_file() and "DJANGO_SETTINGS_MODULE" not in read_text(entry)
    return (
        (kind, f"{django['package']}.{module}:application"),
        str(entry.relative_to(root)) if unset else "",
        django["module"],
    )


def _python_start(
    detection: Detection,
    base: Path,
    deps: Mapping[str, str],
    pyproject: Mapping[str, Any],
    port: int,
) -> tuple[list[str], str]:
    root = detection.root
    apps = _python_apps(detection, base)
    # a Django app module that leaves DJANGO_SETTINGS_MODULE to its server, and
    # manage.py's default for it
    unset, settings = "", ""
    if django := _django_app(root, base, deps):
        app, unset, settings = django
        apps.append(app)
    targets = sorted({target for _, target in apps})
    if len(targets) > 1:
        raise DetectionError(
            f"{root} defines several web apps ({', '.join(targets)}): pass "
            f"--data start_command='-m uvicorn|gunicorn <module:app>'"
        )
    if apps:
        kind, target = apps[0]
        asgi = kind in {"fastapi", "starlette", "quart", "django-asgi"}
        where = f"{kind.removesuffix('-asgi')} app {target}"
        gunicorn = not asgi and "gunicorn" in deps
        if unset and not gunicorn:
            detection.notes.append(
                f"{unset} does not set DJANGO_SETTINGS_MODULE: set it where the container "
                f"runs (manage.py uses {settings})"
            )
        if asgi and "uvicorn" in deps:
            factory = ["--factory"] if target.endswith("()") else []
            return [
                "-m", "uvicorn", target.removesuffix("()"), *factory,
                "--host", "0.0.0.0", "--port", str(port), "--timeout-graceful-shutdown", "4",
            ], f"{where}, served by uvicorn ({deps['uvicorn']})"  # fmt: skip
        if gunicorn:
            environment = []
            if unset:
                # gunicorn sets it for the app; --env is gunicorn's own setting
                environment = ["--env", f"DJANGO_SETTINGS_MODULE={settings}"]
                detection.notes.append(
                    f"{unset} does not set DJANGO_SETTINGS_MODULE: gunicorn sets manage.py's "
                    f"{settings} (--env in the start command; pass --data start_command to "
                    "run other settings)"
                )
            return [
                "-m", "gunicorn", "--bind", f"0.0.0.0:{port}", "--graceful-timeout", "4",
                "--access-logfile", "-", *environment, target,
            ], f"{where}, served by gunicorn ({deps['gunicorn']})"  # fmt: skip
        if not asgi and "waitress" in deps:
            return (
                ["-m", "waitress", f"--port={port}", target.removesuffix("()")],
                f"{where}, served by waitress ({deps['waitress']})",
            )
        server = "uvicorn" if asgi else "gunicorn"
        raise DetectionError(
            f"found the {where} but no {'ASGI' if asgi else 'WSGI'} server in the "
            f"dependencies: add {server} to them, or pass --data start_command='-m <server> ...'"
        )
    project = pyproject.get("project") if isinstance(pyproject.get("project"), dict) else {}
    scripts = (project or {}).get("scripts") or {}
    if isinstance(scripts, dict) and len(scripts) == 1:
        ((name, target),) = scripts.items()
        return [str(target)], f"pyproject.toml [project.scripts] {name}"
    if isinstance(scripts, dict) and len(scripts) > 1:
        raise DetectionError(
            f"pyproject.toml has several [project.scripts] ({', '.join(scripts)}): pass "
            "--data start_command='<package.module:function>'"
        )
    mains = sorted(
        _module_of(p.parent / "x.py", base).rsplit(".", 1)[0] or p.parent.name
        for p in base.glob("*/__main__.py")
    )
    if len(mains) == 1:
        return ["-m", mains[0]], f"{mains[0]}/__main__.py"
    raise DetectionError(
        f"no start command in {root}: no FastAPI, Starlette, Flask or Django app, no "
        "[project.scripts] and no package __main__.py: pass --data start_command='-m <module>'"
    )


def _python_installer(detection: Detection, project: bool, poetry: bool) -> None:
    """Propose how the dependencies install: uv.lock, poetry.lock, requirements.txt, pyproject."""
    root = detection.root
    if (root / "uv.lock").is_file():
        detection.propose("package_manager", "uv", "uv.lock")
        detection.propose("lockfile", True, "uv.lock")
    elif (root / "poetry.lock").is_file():
        if not (root / "pyproject.toml").is_file():
            raise DetectionError(
                f"{root} holds poetry.lock but no pyproject.toml: Poetry needs both; add it "
                "and adopt again"
            )
        detection.propose("package_manager", "poetry", "poetry.lock")
        detection.propose("lockfile", True, "poetry.lock")
    elif (root / "requirements.txt").is_file():
        detection.propose("package_manager", "pip", "requirements.txt")
        detection.propose("lockfile", True, "requirements.txt")
    elif poetry:
        raise DetectionError(
            f"{root} is a Poetry project ([tool.poetry]) without poetry.lock: run `poetry "
            "lock`, commit poetry.lock and adopt again (the image installs what it pins)"
        )
    elif (root / "Pipfile").is_file():
        raise DetectionError(
            f"{root} installs with Pipfile, which keelson adopt does not read yet: export a "
            "requirements.txt (`pipenv requirements > requirements.txt`) and adopt again"
        )
    elif project:
        detection.propose("package_manager", "pip", "pyproject.toml (no lockfile)")
        detection.propose("lockfile", False, "pyproject.toml")
        detection.notes.append(
            "no lockfile: the image installs what [project.dependencies] allow at build time; "
            "commit a requirements.txt or uv.lock for reproducible builds"
        )
    else:
        raise DetectionError(
            f"{root} has no requirements.txt, uv.lock, poetry.lock or pyproject.toml [project] "
            "to install from: add one and adopt again"
        )


def detect(detection: Detection, spec: TemplateSpec, adoption: Adoption) -> None:
    """Propose a Python project's answers."""
    root = detection.root
    pyproject: dict[str, Any] = {}
    if (root / "pyproject.toml").is_file():
        try:
            pyproject = tomllib.loads(read_text(root / "pyproject.toml"))
        except tomllib.TOMLDecodeError as error:
            raise DetectionError(f"{root / 'pyproject.toml'}: invalid TOML ({error})") from error
    project = pyproject.get("project") if isinstance(pyproject.get("project"), dict) else {}
    poetry = _poetry(pyproject)
    if name := slug(str((project or {}).get("name") or poetry.get("name") or "")):
        detection.propose("project_name", name, "pyproject.toml name")
    description = str((project or {}).get("description") or poetry.get("description") or "")
    if description := description.strip():
        detection.propose("description", one_line(description)[:200], "pyproject.toml")
    if "python_version" not in detection.answers:
        _python_version(root, pyproject, spec, detection)
    _python_installer(detection, bool(project), bool(poetry))
    # a Poetry project is a package unless [tool.poetry] package-mode = false
    package = bool(project) or bool(poetry.get("name"))
    installable = (
        package
        and poetry.get("package-mode", True) is not False
        and isinstance(pyproject.get("build-system"), dict)
    )
    detection.propose(
        "install_project",
        installable,
        "pyproject.toml [project] and [build-system]"
        if installable
        else "[tool.poetry] package-mode = false"
        if package and poetry.get("package-mode") is False
        else "not a package",
    )
    src = root / "src"
    layout = "src" if src.is_dir() and any(src.glob("*/__init__.py")) else "."
    detection.propose("python_path", layout, "src layout" if layout == "src" else "project root")
    base = root / str(detection.answers["python_path"])
    deps = _python_deps(root, pyproject)
    detection.propose_database(deps, adoption.databases)
    texts = {path: read_text(path) for path in detection.files(root, (".py",))}
    detection.propose_port(texts, [], _PY_PORT, adoption.pack.default_port)
    if "start_command" not in detection.answers:
        args, why = _python_start(detection, base, deps, pyproject, int(detection.answers["port"]))
        detection.propose("start_command", args, why)
    elif isinstance(given := detection.answers["start_command"], list) and given:
        script = str(given[0])
        if not script.startswith("-") and not (root / script).is_file():
            raise DetectionError(
                f"start_command: {script} is not a file in {root}: name the script python "
                "runs, relative to the project, or a module (--data start_command='-m <module>')"
            )
    detection.propose_health(texts)


# ---------------------------------------------------------------------------
