"""`keelson adopt`: containerize an existing Node.js, Python or Go project.

The project is inspected (`detect`) for the answers keelson's template needs:
language and runtime version, package manager and lockfile, the start command
(npm's `start` script or `main`; the ASGI/WSGI app or console script; the Go main
package), the port, the database its dependencies name and a health endpoint.
The template's adopted-project pack (`templates/adopt`) then renders only the
container files (Dockerfile, .dockerignore, compose.yaml, k8s/, CONTAINER.md), the
delivery pipeline (`ci`) and a renovate.json5 unless the project has its own, and the
answers file, which makes the project a keelson service like any other for `keelson
check` and `keelson update`.

Detection fails clearly: an unknown or ambiguous project gets one line naming
what was found and the `--data` answer that settles it, exit code 2, and nothing
is written. Existing container files are never overwritten silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import filecmp
import json
import os
import re
import shlex
import shutil
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from generator import gateway, transaction
from generator.answers import ANSWERS_FILE
from generator.errors import DestinationError, KeelsonError, UsageError, one_line
from generator.gateway import NO_TERMINAL
from generator.merging import merge_file
from generator.render import (
    check_data_keys,
    checked_source,
    local_spec,
    record_source,
)
from generator.source import TemplateSource, confirm_trust, is_own, own_template
from generator.template import TemplateSpec, spec_at
from generator.update import render_recorded

LANGUAGE_LABELS = {"node": "Node.js", "python": "Python", "go": "Go"}
MARKERS = {
    "node": ("package.json",),
    "python": (
        "pyproject.toml",
        "requirements.txt",
        "setup.py",
        "manage.py",
        "uv.lock",
        "poetry.lock",
    ),
    "go": ("go.mod",),
}
# what `keelson adopt` writes; anything else in the project is never touched
WRITES = ("Dockerfile", ".dockerignore", "compose.yaml", "k8s", "CONTAINER.md", ANSWERS_FILE)
# the delivery pipeline each `ci` answer adds; a project's own pipeline is never overwritten
PIPELINES = {
    "github": (".github/workflows/ci.yml", ".github/workflows/release.yml", "ci/release.sh"),
    "gitlab": (".gitlab-ci.yml", "ci/release.sh"),
    "none": (),
}
SECRET_DIRS = (".secrets/", "k8s/overlays/dev/secrets/")
OTHER_COMPOSE = ("compose.yml", "docker-compose.yml", "docker-compose.yaml")
# every file Renovate reads a repository's configuration from (package.json's
# "renovate" key too): a project with one keeps it, and gets no renovate.json5
RENOVATE_CONFIGS = (
    "renovate.json", "renovate.json5", ".github/renovate.json", ".github/renovate.json5",
    ".gitlab/renovate.json", ".gitlab/renovate.json5", ".renovaterc", ".renovaterc.json",
    ".renovaterc.json5",
)  # fmt: skip
SKIP_DIRS = {
    ".git", ".hg", ".venv", "venv", "env", "node_modules", "vendor", "__pycache__", ".tox",
    "dist", "build", "testdata", ".mypy_cache", ".pytest_cache", "site-packages",
}  # fmt: skip
HEALTH_PATHS = ("/healthz", "/health", "/livez", "/readyz", "/ready", "/ping", "/api/health")
DEFAULT_PNPM = "10.34.8"
DEFAULT_YARN = "1.22.22"

NODE_DATABASES = {
    "pg": "postgresql", "postgres": "postgresql", "pg-promise": "postgresql",
    "mysql2": "mariadb", "mysql": "mariadb", "mariadb": "mariadb",
    "redis": "redis", "ioredis": "redis",
}  # fmt: skip
PYTHON_DATABASES = {
    "psycopg": "postgresql", "psycopg2": "postgresql", "psycopg2-binary": "postgresql",
    "psycopg-binary": "postgresql", "asyncpg": "postgresql", "pg8000": "postgresql",
    "pymysql": "mariadb", "mysqlclient": "mariadb", "aiomysql": "mariadb",
    "asyncmy": "mariadb", "mysql-connector-python": "mariadb", "mariadb": "mariadb",
    "redis": "redis",
}  # fmt: skip
GO_DATABASES = {
    "github.com/jackc/pgx": "postgresql", "github.com/lib/pq": "postgresql",
    "github.com/go-sql-driver/mysql": "mariadb",
    "github.com/redis/go-redis": "redis", "github.com/go-redis/redis": "redis",
    "github.com/gomodule/redigo": "redis",
}  # fmt: skip


class DetectionError(UsageError):
    """The project is unknown or ambiguous; the message names the `--data` answer."""


@dataclass
class Detection:
    """What `detect` proposes for a project.

    Attributes:
        root: The project's folder.
        answers: Proposed answers by question name (`--data` answers included).
        evidence: Where each detected answer came from, by question name.
        notes: Things the user should know (one line each).

    """

    root: Path
    answers: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def propose(self, key: str, value: Any, why: str) -> None:
        """Record a detected answer unless the user gave one."""
        if key not in self.answers:
            self.answers[key] = value
            self.evidence[key] = why


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def renovate_config(root: Path) -> str | None:
    """Name the project's own Renovate configuration (keelson's renovate.json5 aside), if any."""
    for name in RENOVATE_CONFIGS:
        text = _read_text(root / name) if (root / name).is_file() else None
        if text is not None and not text.startswith("// Generated by keelson."):
            return name
    try:
        pkg = json.loads(_read_text(root / "package.json") or "{}")
    except json.JSONDecodeError:
        return None
    return 'package.json ("renovate")' if isinstance(pkg, dict) and "renovate" in pkg else None


def _renovate(detection: Detection) -> None:
    found = renovate_config(detection.root)
    if found and detection.answers.get("renovate") is True:
        raise DetectionError(
            f"renovate: {found} already configures Renovate and keelson never overwrites it; "
            "allowed here: false (drop --data renovate=true)"
        )
    detection.propose("renovate", not found, f"{found} exists" if found else "no Renovate config")


def _files(root: Path, suffixes: tuple[str, ...], limit: int = 2000) -> Iterator[Path]:
    """Yield the project's source files with these suffixes, skipping dependencies."""
    count = 0
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            if name.endswith(suffixes):
                count += 1
                if count > limit:
                    return
                yield Path(folder) / name


def slug(name: str) -> str:
    """Turn a package name into a project name keelson accepts (a DNS label)."""
    name = name.rsplit("/", 1)[-1].lower()
    text = re.sub(r"[^a-z0-9]+", "-", name)
    text = re.sub(r"^[^a-z]+", "", text)[:40].rstrip("-")
    if text in {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}:
        return ""
    return text


def _choices(spec: TemplateSpec, question: str) -> tuple[str, ...]:
    return spec.questions[question].choices


def _pick_version(
    spec: TemplateSpec, question: str, allowed: Callable[[str], bool], where: str, wanted: str
) -> str:
    """Return the newest choice of `question` that `allowed` accepts, or fail in one line."""
    choices = _choices(spec, question)
    fits = [c for c in choices if allowed(c)]
    if not fits:
        raise DetectionError(
            f"{where} asks for {wanted}, and keelson offers {', '.join(choices)}: pass "
            f"--data {question}=<one of them> if the project runs on it"
        )
    return max(fits, key=lambda c: tuple(int(p) for p in c.split(".")))


# ---------------------------------------------------------------------------
# Language
# ---------------------------------------------------------------------------


def _markers(folder: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for language, names in MARKERS.items():
        present = [name for name in names if (folder / name).is_file()]
        if language == "python" and not present:
            present = sorted(p.name for p in folder.glob("requirements*.txt"))[:1]
        if present:
            found[language] = present
    return found


def _describe(found: Mapping[str, list[str]]) -> str:
    return " and ".join(
        f"a {LANGUAGE_LABELS[lang]} project ({', '.join(files)})" for lang, files in found.items()
    )


def detect_language(root: Path, data: Mapping[str, Any]) -> tuple[str, str]:
    """Say which language the project is in, and why.

    Raises:
        DetectionError: No project, a project only in a subfolder, or two languages.

    """
    found = _markers(root)
    given = data.get("language")
    if given is not None:
        given = str(given)
        if given not in MARKERS:
            return given, "--data"  # copier's validation names the choices
        if given not in found:
            raise DetectionError(
                f"--data language={given}: {root} has no {' or '.join(MARKERS[given])}"
            )
        return given, f"--data (found {', '.join(found[given])})"
    if len(found) == 1:
        ((language, files),) = found.items()
        return language, ", ".join(files)
    if len(found) > 1:
        options = " or ".join(f"--data language={lang}" for lang in found)
        raise DetectionError(f"{root} holds {_describe(found)}: pass {options}")
    nested: list[tuple[Path, dict[str, list[str]]]] = []
    for folder, dirs, _ in os.walk(root):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        if depth >= 2:
            dirs[:] = []
        if depth and (inner := _markers(Path(folder))):
            nested.append((Path(folder), inner))
    looked = ", ".join(name for names in MARKERS.values() for name in names)
    if len(nested) == 1:
        where, inner = nested[0]
        raise DetectionError(
            f"{root} holds no project files ({looked}), but {where} holds {_describe(inner)}: "
            f"run `keelson adopt {where}`"
        )
    if nested:
        shown = ", ".join(str(folder) for folder, _ in nested[:4])
        raise DetectionError(
            f"{root} holds no project files ({looked}); projects in its subfolders: {shown}: "
            "run `keelson adopt <subfolder>` for each"
        )
    raise DetectionError(
        f"{root} holds no Node.js, Python or Go project (looked for {looked}): "
        "run keelson adopt in the project's folder"
    )


# ---------------------------------------------------------------------------
# Node.js
# ---------------------------------------------------------------------------


def _node_allows(range_text: str, major: int) -> bool:
    """Whether a node semver range (engines.node) admits `major`.x (a pragmatic reading)."""
    for alternative in range_text.split("||"):
        ok = True
        pattern = r"(>=|<=|>|<|=|\^|~)?\s*v?(\d+|\*|x)((?:\.(?:\d+|\*|x))*)"
        for operator, first, rest in re.findall(pattern, alternative):
            if first in {"*", "x"}:
                continue
            bound = int(first)
            beyond = any(part not in {"", "0", "x", "*"} for part in rest.split("."))
            if operator in {"", "=", "^", "~"}:
                ok = ok and major == bound
            elif operator == ">=":
                ok = ok and major >= bound
            elif operator == ">":
                ok = ok and (major > bound or (major == bound and beyond))
            elif operator == "<":
                ok = ok and (major < bound or (major == bound and beyond))
            elif operator == "<=":
                ok = ok and major <= bound
        if ok:
            return True
    return False


def _at_least(major: int) -> Callable[[str], bool]:
    return lambda choice: int(choice) >= major


def _node_version(root: Path, pkg: Mapping[str, Any], spec: TemplateSpec) -> tuple[str, str]:
    for name in (".nvmrc", ".node-version"):
        text = _read_text(root / name).strip()
        if match := re.match(r"v?(\d+)", text):
            newest = _pick_version(
                spec, "node_version", _at_least(int(match[1])), name, f"Node.js {text}"
            )
            return newest, f"{name} ({text})"
    engines = pkg.get("engines") if isinstance(pkg.get("engines"), dict) else {}
    wanted_range = str((engines or {}).get("node") or "").strip()
    if wanted_range:
        picked = _pick_version(
            spec,
            "node_version",
            lambda c: _node_allows(wanted_range, int(c)),
            "package.json engines.node",
            repr(wanted_range),
        )
        return picked, f"package.json engines.node ({wanted_range})"
    default = str(spec.questions["node_version"].default)
    return default, "default (no engines.node, .nvmrc or .node-version)"


def _yarn_berry_check(root: Path, version: str) -> None:
    """Refuse the Yarn setups the image cannot install: Berry before 4, or a yarnPath release.

    Yarn 4 installs with its own release from npm (@yarnpkg/cli-dist) in the build stage.
    """
    berry = "__metadata:" in _read_text(root / "yarn.lock")
    if not berry and (not version or version.startswith("1.")):
        return
    if not version:
        raise DetectionError(
            f"{root} has a Yarn 2+ (Berry) yarn.lock but package.json names no packageManager: "
            'add "packageManager": "yarn@4.<minor>.<patch>" or pass '
            "--data package_manager=yarn@<version>"
        )
    # Yarn 4 has `workspaces focus` (a production-only install) built in
    if int(version.partition(".")[0]) < 4:
        raise DetectionError(
            f"{root} uses Yarn {version}, and keelson adopt installs Yarn 1 or 4+: run "
            "`yarn set version 4`, or pass --data package_manager=npm after `npm install` "
            "made a package-lock.json"
        )
    if re.search(r"^yarnPath\s*:", _read_text(root / ".yarnrc.yml"), re.M):
        raise DetectionError(
            f"{root / '.yarnrc.yml'} sets yarnPath (a committed Yarn release), which the image "
            "does not run: remove it (Yarn 4 is installed from npm at packageManager's version)"
        )


def _node_package_manager(root: Path, pkg: Mapping[str, Any]) -> tuple[str, bool, str]:
    locks = {
        "pnpm": "pnpm-lock.yaml",
        "yarn": "yarn.lock",
        "npm": "package-lock.json",
    }
    present = [pm for pm, lock in locks.items() if (root / lock).is_file()]
    declared = str(pkg.get("packageManager") or "")
    if match := re.match(r"^(npm|pnpm|yarn)@(\d+(?:\.\d+)*)", declared):
        pm, version = match[1], match[2]
        why = f"package.json packageManager ({declared.split('+', maxsplit=1)[0]})"
    elif len(present) > 1:
        files = " and ".join(locks[pm] for pm in present)
        options = " or ".join(f"--data package_manager={pm}" for pm in present)
        raise DetectionError(f"{root} holds {files}: pass {options}")
    elif present:
        pm, version, why = present[0], "", locks[present[0]]
    else:
        return "npm", False, "no lockfile (npm installs from package.json)"
    if pm == "yarn":
        _yarn_berry_check(root, version)
        version = version or DEFAULT_YARN
    if pm == "pnpm":
        version = version or DEFAULT_PNPM
    has_lock = (root / locks[pm]).is_file()
    return (f"{pm}@{version}" if pm != "npm" else "npm"), has_lock, why


# node options whose value is the next word (`-r dotenv/config`)
_NODE_VALUE_FLAGS = {
    "-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions",
    "--env-file", "--env-file-if-exists", "--title", "--inspect-port", "--watch-path",
    "--input-type", "--disable-warning",
}  # fmt: skip
# development-only options dropped from the image's command: no watcher, no debugger,
# and the container's settings come from its environment (compose, k8s), not a .env file
_NODE_DEV_FLAGS = ("--watch", "--watch-path", "--inspect", "--env-file")
_NODE_RELOADERS = {"nodemon", "node-dev", "node-supervisor", "supervisor"}


def _node_args(words: list[str]) -> tuple[list[str], str | None, list[str]]:
    """Split node's words into the kept arguments, the entry file and the dropped dev flags."""
    args: list[str] = []
    dropped: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if not word.startswith("-") or word == "-":
            return [*args, *words[index:]], word, dropped
        flag = word.split("=", 1)[0]
        takes_value = "=" not in word and flag in _NODE_VALUE_FLAGS
        if takes_value and index + 2 >= len(words):
            break  # a flag, its value and no file
        value = [words[index + 1]] if takes_value else []
        if flag.startswith(_NODE_DEV_FLAGS):
            dropped += [word, *value]
        else:
            args += [word, *value]
        index += 1 + len(value)
    return args, None, dropped


def _node_start(
    root: Path, pkg: Mapping[str, Any], build: bool
) -> tuple[list[str] | None, str, str | None]:
    """Return the node arguments that start the app, their origin, and the entry file."""
    scripts = pkg.get("scripts") if isinstance(pkg.get("scripts"), dict) else {}
    start = str((scripts or {}).get("start") or "").strip()
    if start:
        try:
            words = shlex.split(start)
        except ValueError:
            words = []
        if words[:1] == ["cross-env"]:
            words.pop(0)  # cross-env NODE_ENV=production node server.js
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            words.pop(0)  # NODE_ENV=production node server.js
        if words[:1] == ["node"] and len(words) > 1 and not any(c in start for c in "&|;"):
            args, entry, dropped = _node_args(words[1:])
            if entry is not None:
                why = f"package.json scripts.start ({start})"
                if dropped:
                    why += f", without {' '.join(dropped)}"
                return args, why, entry
        if words[:1] and words[0] in _NODE_RELOADERS and len(words) == 2:
            raise DetectionError(
                f"package.json scripts.start is {start!r}: {words[0]} restarts node on file "
                "changes, a development tool the image does not ship: pass "
                f"--data start_command='{words[1]}' to run it with node"
            )
        raise DetectionError(
            f"package.json scripts.start is {start!r}, not `node [flags] <file>` (the runtime "
            "image has no shell and no npm): pass --data start_command='<file> [args]', the "
            "file node should run"
        )
    main = str(pkg.get("main") or "").strip()
    if main:
        if not build and not (root / main).is_file():
            raise DetectionError(
                f"package.json main is {main!r}, which does not exist: pass "
                "--data start_command='<file>'"
            )
        return [main], f"package.json main ({main})", main
    if (root / "server.js").is_file():
        return ["server.js"], "server.js (npm's default start)", "server.js"
    return None, "", None


_NODE_PORT = (
    re.compile(r"PORT\s*(?:\|\||\?\?)\s*['\"]?(\d{2,5})\b"),
    re.compile(r"\.listen\(\s*(\d{2,5})\b"),
    re.compile(r"\bport\s*[:=]\s*['\"]?(\d{4,5})\b", re.IGNORECASE),
)


def _ports(texts: Mapping[Path, str], patterns: tuple[re.Pattern[str], ...]) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for path, text in texts.items():
        for pattern in patterns:
            for match in pattern.finditer(text):
                found.setdefault(int(match[1]), path)
    return found


def _port(
    detection: Detection,
    texts: Mapping[Path, str],
    preferred: list[Path],
    patterns: tuple[re.Pattern[str], ...],
    default: int,
) -> None:
    """Propose the port the code names: in the entry files first, else anywhere."""
    found = _ports({p: texts[p] for p in preferred if p in texts}, patterns)
    found = found or _ports(texts, patterns)
    root = detection.root
    if len(found) == 1:
        ((port, where),) = found.items()
        detection.propose("port", port, f"{where.relative_to(root)}")
    elif not found:
        detection.propose("port", default, "default (the code names no port)")
        if "port" not in detection.evidence or detection.evidence["port"].startswith("default"):
            detection.notes.append(
                f"no port found in the code: using {default} (--data port=N to change it)"
            )
    elif "port" not in detection.answers:
        listed = ", ".join(f"{p} ({w.relative_to(root)})" for p, w in sorted(found.items()))
        raise DetectionError(f"the code names several ports: {listed}: pass --data port=N")


_HEALTH_NAMES = r"(?:api/)?(?:healthz|health|livez|readyz|ready|ping)"
_HEALTH = (
    # '/healthz' in a route, or Go 1.22's "GET /healthz" pattern
    re.compile(rf"""['"`](?:(?:GET|HEAD)\s+)?/({_HEALTH_NAMES})/?['"`]"""),
    # Django's path("healthz", ...) has no leading slash
    re.compile(rf"""\b(?:re_)?path\(\s*r?['"]\^?({_HEALTH_NAMES})/?\$?['"]"""),
)


def _health(detection: Detection, texts: Mapping[Path, str]) -> None:
    found: dict[str, Path] = {}
    for path, text in texts.items():
        for pattern in _HEALTH:
            for match in pattern.finditer(text):
                found.setdefault("/" + match[1], path)
    for wanted in HEALTH_PATHS:
        if wanted in found:
            where = found[wanted].relative_to(detection.root)
            detection.propose("health_path", wanted, f"{where}")
            return
    detection.propose("health_path", "", "none found: TCP health check")


def _database(detection: Detection, deps: Mapping[str, str], table: Mapping[str, str]) -> None:
    found: dict[str, str] = {}
    for dep, where in deps.items():
        for prefix, database in table.items():
            if dep == prefix or dep.startswith(prefix + "/"):
                found.setdefault(database, f"{dep} in {where}")
    if len(found) > 1 and "database" not in detection.answers:
        listed = ", ".join(f"{db} ({why})" for db, why in found.items())
        options = " or ".join(f"--data database={db}" for db in found)
        raise DetectionError(f"the dependencies name several databases: {listed}: pass {options}")
    if found:
        ((database, why),) = list(found.items())[:1]
        detection.propose("database", database, why)
    else:
        detection.propose("database", "none", "no database client in the dependencies")


def _detect_node(detection: Detection, spec: TemplateSpec) -> None:
    root = detection.root
    try:
        pkg = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DetectionError(f"{root / 'package.json'}: not valid JSON ({error})") from error
    if not isinstance(pkg, dict):
        raise DetectionError(f"{root / 'package.json'}: expected a JSON object")
    if name := slug(str(pkg.get("name") or "")):
        detection.propose("project_name", name, "package.json name")
    if description := str(pkg.get("description") or "").strip():
        detection.propose("description", one_line(description)[:200], "package.json")
    if "node_version" not in detection.answers:
        version, why = _node_version(root, pkg, spec)
        detection.propose("node_version", version, why)
    if "package_manager" not in detection.answers:
        pm, has_lock, why = _node_package_manager(root, pkg)
        detection.propose("package_manager", pm, why)
        detection.propose("lockfile", has_lock, why)
        if not has_lock:
            detection.notes.append(
                "no lockfile: the image installs what package.json's ranges allow at build "
                "time; commit a lockfile for reproducible builds"
            )
    else:
        pm = str(detection.answers["package_manager"]).partition("@")[0]
        lock = {"pnpm": "pnpm-lock.yaml", "yarn": "yarn.lock"}.get(pm, "package-lock.json")
        detection.propose("lockfile", (root / lock).is_file(), lock)
    scripts = pkg.get("scripts") if isinstance(pkg.get("scripts"), dict) else {}
    build = bool((scripts or {}).get("build"))
    detection.propose("build_script", build, "package.json scripts.build")
    entry: str | None = None
    if "start_command" not in detection.answers:
        args, why, entry = _node_start(root, pkg, bool(detection.answers["build_script"]))
        if args is None:
            raise DetectionError(
                f"no start command in {root}: package.json has no `start` script and no "
                "`main`, and there is no server.js: pass --data start_command='<file>' (the "
                "file node runs)"
            )
        detection.propose("start_command", args, why)
    deps = {
        str(name): "package.json dependencies"
        for name in (pkg.get("dependencies") or {})
        if isinstance(pkg.get("dependencies"), dict)
    }
    _database(detection, deps, NODE_DATABASES)
    texts = {
        path: _read_text(path) for path in _files(root, (".js", ".mjs", ".cjs", ".ts", ".mts"))
    }
    _port(detection, texts, [root / entry] if entry else [], _NODE_PORT, 3000)
    _health(detection, texts)


# ---------------------------------------------------------------------------
# Python
# ---------------------------------------------------------------------------

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_APP = re.compile(
    r"^(?P<var>[A-Za-z_]\w*)\s*(?::\s*\w+\s*)?=\s*(?:\w+\.)?(?P<kind>FastAPI|Starlette|Flask|Quart)\(",
    re.M,
)
_FACTORY = re.compile(r"^def\s+(create_app|make_app)\s*\(", re.M)
_DJANGO_SETTINGS = re.compile(r"DJANGO_SETTINGS_MODULE['\"]\s*,\s*['\"]([\w.]+)\.settings['\"]")
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
        for line in _read_text(file).splitlines():
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
    lock = _read_text(root / "uv.lock")
    if not requires and (match := re.search(r'^requires-python\s*=\s*"([^"]+)"', lock, re.M)):
        requires, where = match[1], "uv.lock requires-python"
    poetry_deps = _poetry(pyproject).get("dependencies")
    poetry_python = str((poetry_deps if isinstance(poetry_deps, dict) else {}).get("python") or "")
    if not poetry_python and (root / "poetry.lock").is_file():
        try:
            metadata = tomllib.loads(_read_text(root / "poetry.lock")).get("metadata")
        except tomllib.TOMLDecodeError:
            metadata = None
        if isinstance(metadata, dict):
            poetry_python = str(metadata.get("python-versions") or "")
    pinned = _read_text(root / ".python-version").strip().splitlines()[:1]
    if pinned and (match := re.match(r"^(3\.\d+)", pinned[0])):
        wanted = match[1]
        version = _pick_version(
            spec,
            "python_version",
            lambda c: tuple(map(int, c.split("."))) >= tuple(map(int, wanted.split("."))),
            ".python-version",
            f"Python {wanted}",
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
        version = _pick_version(spec, "python_version", admits, where, repr(poetry_python))
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
        version = _pick_version(
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


def _python_apps(root: Path, base: Path) -> list[tuple[str, str]]:
    """List the (framework, module:attribute) of every module-level ASGI/WSGI app."""
    found: list[tuple[str, str]] = []
    for path in _files(base, (".py",)):
        rel = path.relative_to(root).parts
        if any(part in {"tests", "test", "migrations", "docs", "scripts"} for part in rel):
            continue
        text = _read_text(path)
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


def _python_start(
    root: Path, base: Path, deps: Mapping[str, str], pyproject: Mapping[str, Any], port: int
) -> tuple[list[str], str]:
    apps = _python_apps(root, base)
    manage = _read_text(root / "manage.py")
    if django := _DJANGO_SETTINGS.search(manage):
        package = django[1]
        folder = base / package.replace(".", "/")
        if "gunicorn" in deps and (folder / "wsgi.py").is_file():
            apps.append(("django", f"{package}.wsgi:application"))
        elif (folder / "asgi.py").is_file():
            apps.append(("django-asgi", f"{package}.asgi:application"))
        else:
            apps.append(("django", f"{package}.wsgi:application"))
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
        if asgi and "uvicorn" in deps:
            factory = ["--factory"] if target.endswith("()") else []
            return [
                "-m", "uvicorn", target.removesuffix("()"), *factory,
                "--host", "0.0.0.0", "--port", str(port), "--timeout-graceful-shutdown", "4",
            ], f"{where}, served by uvicorn ({deps['uvicorn']})"  # fmt: skip
        if not asgi and "gunicorn" in deps:
            return [
                "-m", "gunicorn", "--bind", f"0.0.0.0:{port}", "--graceful-timeout", "4",
                "--access-logfile", "-", target,
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


def _detect_python(detection: Detection, spec: TemplateSpec) -> None:
    root = detection.root
    pyproject: dict[str, Any] = {}
    if (root / "pyproject.toml").is_file():
        try:
            pyproject = tomllib.loads(_read_text(root / "pyproject.toml"))
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
    _database(detection, deps, PYTHON_DATABASES)
    texts = {path: _read_text(path) for path in _files(root, (".py",))}
    _port(detection, texts, [], _PY_PORT, 8000)
    if "start_command" not in detection.answers:
        args, why = _python_start(root, base, deps, pyproject, int(detection.answers["port"]))
        detection.propose("start_command", args, why)
    _health(detection, texts)


# ---------------------------------------------------------------------------
# Go
# ---------------------------------------------------------------------------

_GO_PORT = (
    re.compile(r"\"(?:0\.0\.0\.0|127\.0\.0\.1|localhost)?:(\d{2,5})\""),
    re.compile(r"Getenv\(\"PORT\"\)[\s\S]{0,120}?\"(\d{4,5})\""),
)


def _go_version(detection: Detection, gomod: str, spec: TemplateSpec) -> None:
    wanted = [m[1] for m in re.finditer(r"^go\s+(\d+\.\d+)", gomod, re.M)]
    wanted += [m[1] for m in re.finditer(r"^toolchain\s+go(\d+\.\d+)", gomod, re.M)]
    if not wanted:
        detection.propose("go_version", spec.questions["go_version"].default, "default")
        return
    need = max(wanted, key=lambda v: tuple(map(int, v.split("."))))
    version = _pick_version(
        spec,
        "go_version",
        lambda c: tuple(map(int, c.split("."))) >= tuple(map(int, need.split("."))),
        "go.mod",
        f"Go {need}",
    )
    detection.propose("go_version", version, f"go.mod (go {need})")


def _go_main(detection: Detection, texts: Mapping[Path, str]) -> None:
    root = detection.root
    mains = sorted(
        {
            "./" + str(path.parent.relative_to(root)) if path.parent != root else "."
            for path, text in texts.items()
            if re.search(r"^package\s+main\b", text, re.M)
        }
    )
    if "go_main" in detection.answers:
        return
    if len(mains) == 1:
        detection.propose("go_main", mains[0], f"package main in {mains[0]}")
    elif not mains:
        raise DetectionError(
            f"{root} has no package main: pass --data go_main=./cmd/<name> (the package to build)"
        )
    else:
        options = " or ".join(f"--data go_main={m}" for m in mains[:4])
        raise DetectionError(f"{root} has several main packages: pass {options}")


def _detect_go(detection: Detection, spec: TemplateSpec) -> None:
    root = detection.root
    gomod = _read_text(root / "go.mod")
    module = re.search(r"^module\s+(\S+)", gomod, re.M)
    if module is None:
        raise DetectionError(f"{root / 'go.mod'} has no module line")
    module_path = module[1].strip('"')
    detection.propose("go_module", module_path, "go.mod module")
    if name := slug(module_path):
        detection.propose("project_name", name, "go.mod module")
    if "go_version" not in detection.answers:
        _go_version(detection, gomod, spec)
    detection.propose("package_manager", "go", "go.mod")
    texts = {path: _read_text(path) for path in _files(root, (".go",)) if "_test" not in path.name}
    _go_main(detection, texts)
    detection.propose("start_command", [], "the binary itself")
    requires = {
        m[1]: "go.mod"
        for m in re.finditer(r"^\s*(?:require\s+)?([\w.\-]+/[\w./\-]+)\s+v", gomod, re.M)
    }
    _database(detection, requires, GO_DATABASES)
    main_dir = (root / str(detection.answers["go_main"])).resolve()
    in_main = [p for p in texts if p.parent.resolve() == main_dir]
    _port(detection, texts, in_main, _GO_PORT, 8080)
    _health(detection, texts)


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def normalise_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Accept `--data start_command=node server.js` as well as a YAML list."""
    answers = dict(data)
    command = answers.get("start_command")
    if isinstance(command, str):
        text = command.strip()
        if text.startswith("["):
            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError as error:
                raise UsageError(f"--data start_command: invalid YAML list ({error})") from error
        else:
            try:
                loaded = shlex.split(text)
            except ValueError as error:
                raise UsageError(f"--data start_command: {error}") from error
            if loaded[:1] in (["node"], ["python"], ["python3"]):
                loaded = loaded[1:]
        answers["start_command"] = loaded
    for key in ("lockfile", "build_script", "install_project", "adopted", "renovate"):
        if isinstance(answers.get(key), str):
            answers[key] = answers[key].strip().lower() in {"1", "true", "yes", "y", "on"}
    return answers


def detect(
    directory: str | Path, data: Mapping[str, Any] | None = None, spec: TemplateSpec | None = None
) -> Detection:
    """Inspect a project and propose the template's answers.

    Args:
        directory: The project's folder.
        data: Answers the user gave (`--data`); they win over detection.
        spec: The template's questions (their choices bound the versions); keelson's
            own by default.

    Returns:
        The proposed answers, where each came from, and notes.

    Raises:
        DetectionError: The project is unknown or ambiguous.
        UsageError: The folder does not exist.

    """
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    if spec is None:
        from generator.source import CHECKOUT, own_template  # noqa: PLC0415

        location = own_template().location
        spec = TemplateSpec.load(location if Path(location).is_dir() else CHECKOUT)
    detection = Detection(root=root, answers=normalise_data(data or {}))
    detection.evidence = {key: "--data" for key in detection.answers}
    language, why = detect_language(root, detection.answers)
    detection.propose("language", language, why)
    if language not in MARKERS:
        return detection
    {"node": _detect_node, "python": _detect_python, "go": _detect_go}[language](detection, spec)
    if "ci" in spec.questions:  # templates from before the pipeline have no `ci`
        _detect_ci(detection)
    if "project_name" not in detection.answers and (name := slug(root.resolve().name)):
        detection.propose("project_name", name, "folder name")
    name = detection.answers.get("project_name") or "service"
    detection.propose("description", f"{name}: containerized by keelson", "default")
    if "renovate" in spec.questions:  # a template version from before the question lacks it
        _renovate(detection)
    return detection


def _own_pipeline(root: Path) -> str | None:
    """Name the project's own pipeline file or folder, if it has one."""
    if (root / ".gitlab-ci.yml").exists():
        return ".gitlab-ci.yml"
    workflows = root / ".github" / "workflows"
    if workflows.is_dir() and any(p.suffix in {".yml", ".yaml"} for p in workflows.iterdir()):
        return ".github/workflows/"
    return None


def _detect_ci(detection: Detection) -> None:
    """Propose keelson's pipeline only for a project that has none of its own."""
    own = _own_pipeline(detection.root)
    if own is None:
        detection.propose("ci", "github", "no pipeline found")
    else:
        detection.propose("ci", "none", f"{own} is the project's own pipeline")


def _refuse_pipeline_clash(root: Path, ci: str, previous: Mapping[str, Any] | None) -> None:
    """Refuse a `ci` answer whose files the project already has, unless keelson wrote them."""
    if previous is not None and previous.get("ci") == ci:
        return  # an earlier adoption wrote them: --force merges, --skip-existing keeps them
    taken = [name for name in PIPELINES.get(ci, ()) if (root / name).exists()]
    if taken:
        raise UsageError(
            f"ci: {root} already has {', '.join(taken)}, which keelson adopt never "
            f"overwrites; pass --data ci=none to keep the project's pipeline, or move "
            f"{'it' if len(taken) == 1 else 'them'} away to get keelson's"
        )


@dataclass(frozen=True)
class Adopted:
    """What `keelson adopt` wrote.

    Attributes:
        path: The project's folder.
        answers: The answers file's content.
        written: Files written (relative paths), sorted.
        skipped: Existing files kept with --skip-existing.
        diffs: Unified diffs of the files --force replaced.
        notes: Things the user should know.
        conflicts: Files --force merged with conflict markers (both versions kept).

    """

    path: Path
    answers: Mapping[str, Any]
    written: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    diffs: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()


def existing_files(root: Path) -> list[str]:
    """List the container files a project already holds (that adopt would write or shadow)."""
    return [name for name in (*WRITES, *OTHER_COMPOSE) if (root / name).exists()]


def _walk(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def _diff(old: Path, new: Path, name: str) -> str:
    try:
        before = old.read_text(encoding="utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        before = ["(binary or unreadable)\n"]
    after = new.read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, f"a/{name}", f"b/{name}"))


def format_detection(detection: Detection) -> list[str]:
    """Render the proposed answers as the lines shown before confirmation."""
    keys = [
        "language", "node_version", "python_version", "go_version", "package_manager",
        "lockfile", "build_script", "python_path", "install_project", "go_main",
        "start_command", "port",
        "database", "health_path", "project_name", "renovate", "ci",
    ]  # fmt: skip
    lines = []
    for key in keys:
        if key in detection.answers:
            value = detection.answers[key]
            shown = json.dumps(value) if isinstance(value, (list, bool)) or value == "" else value
            lines.append(f"  {key:<16} {shown!s:<28} {detection.evidence.get(key, '')}")
    return lines


def _recorded(root: Path, spec: TemplateSpec | None) -> dict[str, Any]:
    """Return the answers an earlier adoption recorded, so that adopting again keeps them."""
    try:
        data = yaml.safe_load((root / ANSWERS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    if not isinstance(data, dict) or data.get("adopted") is not True:
        return {}
    known = spec.questions if spec is not None else {}
    return {str(k): v for k, v in data.items() if not str(k).startswith("_") and k in known}


def _previous_adoption(root: Path) -> dict[str, Any] | None:
    """Return the answers file of an earlier adoption (with `_src_path`), else None."""
    try:
        data = yaml.safe_load((root / ANSWERS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(data, dict) or data.get("adopted") is not True:
        return None
    return {str(k): v for k, v in data.items()} if data.get("_src_path") else None


def _recorded_location(previous: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Where to render the template an adoption recorded: (template, ref) for `checked_source`."""
    src, commit = str(previous["_src_path"]), previous.get("_commit")
    if not is_own(src):
        return src, str(commit) if commit else None
    # keelson's own template: the bundled copy when it is that version, else its repository
    own = own_template()
    return None, None if own.commit == commit or not commit else str(commit)


def _refuse_existing(root: Path, force: bool, skip_existing: bool) -> list[str]:
    """Stop before anything is written when container files exist and no flag says what to do."""
    present = existing_files(root)
    if present and not (force or skip_existing):
        raise DestinationError(
            f"{root} already holds {', '.join(present)}: nothing was written; rerun with "
            "--force to replace them (their diff is shown first) or --skip-existing to keep "
            "them and write only the missing files"
        )
    return present


def _copy_into(staged: Path, root: Path, names: list[str]) -> None:
    """Copy rendered files into the project, making folders with the staged modes."""
    for name in names:
        for parent in reversed(Path(name).parents):
            if str(parent) == ".":
                continue
            if (root / parent).is_file():
                raise DestinationError(f"cannot write {name}: {root / parent} is a file")
            if not (root / parent).exists():
                (root / parent).mkdir()
                (root / parent).chmod((staged / parent).stat().st_mode & 0o777)
        shutil.copy2(staged / name, root / name)


def adopt_project(
    directory: str | Path = ".",
    *,
    data: Mapping[str, Any] | None = None,
    defaults: bool = False,
    force: bool = False,
    skip_existing: bool = False,
    template: str | None = None,
    vcs_ref: str | None = None,
    allow_dirty: bool = False,
    trust: bool | None = None,
    quiet: bool = True,
    interactive: bool | None = None,
    confirm: Callable[[str], bool] | None = None,
    show: Callable[[str], None] | None = None,
) -> Adopted:
    """Containerize an existing project with keelson's adopted-project template.

    Args:
        directory: The project's folder.
        data: Answers that win over detection (`--data`).
        defaults: Take the detected answers without asking.
        force: Replace existing container files (their diff is shown first).
        skip_existing: Keep existing container files and write only the others.
        template: Template path or git URL; keelson's own by default.
        vcs_ref: Git ref of the template.
        allow_dirty: Render a template checkout with uncommitted changes.
        trust: Allow another template's tasks.
        quiet: Hide copier's output.
        interactive: Whether the detected answers may be confirmed in a terminal
            (default: when stdin is one).
        confirm: Asks a yes/no question (default: questionary in a terminal).
        show: Prints a line for the user (default: stderr).

    Returns:
        What was written.

    Raises:
        DetectionError: The project is unknown or ambiguous (nothing written).
        DestinationError: Container files exist and neither --force nor
            --skip-existing was given (nothing written).
        UsageError: Bad answers or options (nothing written).

    """
    root = Path(directory)
    if force and skip_existing:
        raise UsageError("--force and --skip-existing exclude each other: pick one")
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not defaults and not interactive:
        raise UsageError(NO_TERMINAL.replace("--data KEY=VALUE", "--data KEY=VALUE to change one"))
    say = show or (lambda line: print(line, file=sys.stderr))
    transaction.recover(root)
    previous = _previous_adoption(root)
    stay = previous is not None and template is None and vcs_ref is None
    if previous is not None and template is None:
        # adopting again keeps the template the project records (`--template` names
        # another on purpose) and its version unless `--vcs-ref` moves it
        template, recorded_ref = _recorded_location(previous)
        vcs_ref = recorded_ref if vcs_ref is None else vcs_ref
    source, notes = checked_source(
        template, root / ".keelson-adopt", vcs_ref, allow_dirty=allow_dirty
    )
    keep_source = source
    if stay and previous is not None:
        keep_source = dataclasses.replace(
            source, record=str(previous["_src_path"]), commit=previous.get("_commit")
        )
    spec = local_spec(source.location, vcs_ref)
    answers = normalise_data(data or {})
    # a bare repository or a URL: its copier.yml at the ref, fetched to check --data
    asks = spec or (spec_at(source.location, vcs_ref) if answers else None)
    if asks is not None:
        check_data_keys(asks, answers)
    answers = {**_recorded(root, spec), **answers}
    if answers.get("adopted") is False:
        raise UsageError("adopted: keelson adopt always records adopted=true; drop --data adopted")
    detection = detect(root, answers, spec)
    present = _refuse_existing(root, force, skip_existing)
    _refuse_pipeline_clash(root, str(detection.answers.get("ci", "none")), previous)
    ask = confirm or _ask
    if interactive and not defaults:
        language = LANGUAGE_LABELS.get(str(detection.answers["language"]), "?")
        say(f"keelson found a {language} project in {root}:")
        for line in [*format_detection(detection), *(f"  note: {n}" for n in detection.notes)]:
            say(line)
        if not ask("Write the container files with these answers?"):
            raise KeelsonError(
                "nothing was written; change an answer with --data KEY=VALUE and rerun"
            )
    unsafe = confirm_trust(source, trust, interactive=interactive)
    adopted = _write(
        root, source=source, record=keep_source, answers=detection.answers, vcs_ref=vcs_ref,
        quiet=quiet, unsafe=unsafe, force=force, skip_existing=skip_existing,
        previous=previous, ask=None if defaults or not interactive else (confirm or _ask_no),
        say=say, allow_dirty=allow_dirty,
    )  # fmt: skip
    if {"docker-compose.yml", "docker-compose.yaml", "compose.yml"} & set(present):
        notes.append(
            "an older compose file is still there; `docker compose` reads compose.yaml "
            "first, so merge what you need from it and delete it"
        )
    return dataclasses.replace(adopted, notes=(*detection.notes, *notes, *adopted.notes))


def _write(
    root: Path,
    *,
    source: TemplateSource,
    record: TemplateSource,
    answers: Mapping[str, Any],
    vcs_ref: str | None,
    quiet: bool,
    unsafe: bool,
    force: bool,
    skip_existing: bool,
    previous: Mapping[str, Any] | None,
    ask: Callable[[str], bool] | None,
    say: Callable[[str], None],
    allow_dirty: bool,
) -> Adopted:
    """Render the container files away from the project, merge or skip, and write in one step."""
    with transaction.scratch() as scratch:
        staged = scratch / "new" / root.resolve().name
        gateway.copy(
            source.location,
            staged,
            {**answers, "adopted": True},
            vcs_ref=vcs_ref,
            quiet=quiet,
            unsafe=unsafe,
        )
        # template authors (--allow-dirty) render their own checkout: no probe of its origin
        source_notes: list[str] = []
        recorded = record_source(staged, record, None if allow_dirty else source_notes)
        rendered = _walk(staged)
        # a password made earlier stays (a database volume may hold it already),
        # and is never shown in a diff
        secrets = {n for n in rendered if n.startswith(SECRET_DIRS) and (root / n).exists()}
        rendered = [name for name in rendered if name not in secrets]
        taken = {name for name in rendered if (root / name).exists()}
        conflicts: list[str] = []
        notes: list[str] = []
        if force and taken:
            conflicts, notes = _merge_taken(
                root, staged, sorted(taken), previous, source=source.location, vcs_ref=vcs_ref,
                unsafe=unsafe,
            )  # fmt: skip
        diffs = [
            diff
            for name in sorted(taken)
            if force and (root / name).is_file()
            if (diff := _diff(root / name, staged / name, name))
        ]
        if diffs and ask is not None:
            for diff in diffs:
                say(diff.rstrip("\n"))
            if not ask(f"Replace {len(diffs)} existing file(s) with these changes?"):
                raise KeelsonError("nothing was written")
        skipped = sorted(taken) if skip_existing else []
        written = [name for name in rendered if name not in skipped]
        changes = [
            transaction.Change(path=name, source=staged / name)
            for name in written
            if not (name in taken and filecmp.cmp(root / name, staged / name, shallow=False))
        ]
        transaction.commit(root, changes, what="keelson adopt")
    return Adopted(
        path=root,
        answers=recorded,
        written=tuple(written),
        skipped=tuple(skipped),
        diffs=tuple(diffs),
        conflicts=tuple(conflicts),
        notes=(*source_notes, *notes),
    )


def _merge_taken(
    root: Path,
    staged: Path,
    taken: list[str],
    previous: Mapping[str, Any] | None,
    *,
    source: str,
    vcs_ref: str | None,
    unsafe: bool,
) -> tuple[list[str], list[str]]:
    """Merge the project's existing container files into the staged render (`--force`).

    Returns:
        The files left with conflict markers, and notes for the user.

    """
    base = None
    notes = []
    if previous is not None:
        # inside the command's scratch folder (staged is scratch/new/<name>)
        before = staged.parent.parent / "before"
        base = render_recorded(previous, unsafe=unsafe, into=before / "recorded")
        if base is None:
            # the recorded version cannot be had (a commit of a dirty checkout, a template
            # that moved): the recorded answers at the version used now are the next best
            # base; the team's edits still all survive, at worst as conflicts
            here = {**previous, "_src_path": source, "_commit": vcs_ref}
            base = render_recorded(here, unsafe=unsafe, into=before / "here")
            notes.append(
                f"what keelson generated before (template {previous['_src_path']} at "
                f"{previous.get('_commit')}) cannot be rendered here; your files were merged "
                "against this version's render of your recorded answers"
            )
        if base is None:
            raise KeelsonError(
                f"cannot render what keelson generated before (template {previous['_src_path']} "
                f"at {previous.get('_commit')}), so --force cannot merge your edits: pass "
                "--template and --vcs-ref naming a template that has that version"
            )
    conflicts = []
    for name in taken:
        if not (root / name).is_file() or name == ANSWERS_FILE:
            continue
        merged, conflicted = merge_file(
            root / name, base / name if base is not None else None, staged / name
        )
        (staged / name).write_bytes(merged)
        if conflicted:
            conflicts.append(name)
    return conflicts, notes


def _ask(question: str, default: bool = True) -> bool:
    import questionary  # noqa: PLC0415 - the interactive path only

    return bool(questionary.confirm(question, default=default).unsafe_ask())


def _ask_no(question: str) -> bool:
    """Ask a question whose safe answer, and so the default, is no."""
    return _ask(question, default=False)
