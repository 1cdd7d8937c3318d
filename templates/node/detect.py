"""keelson adopt's Node.js detection: version, package manager, start command, port, database."""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from generator.adopt.findings import Detection, DetectionError, pick_version, read_text, slug
from generator.errors import one_line
from generator.packs import Adoption
from generator.template import TemplateSpec

DEFAULT_PNPM = "10.34.8"
DEFAULT_YARN = "1.22.22"


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
        text = read_text(root / name).strip()
        if match := re.match(r"v?(\d+)", text):
            newest = pick_version(
                spec, "node_version", _at_least(int(match[1])), name, f"Node.js {text}"
            )
            return newest, f"{name} ({text})"
    engines = pkg.get("engines") if isinstance(pkg.get("engines"), dict) else {}
    wanted_range = str((engines or {}).get("node") or "").strip()
    if wanted_range:
        picked = pick_version(
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
    berry = "__metadata:" in read_text(root / "yarn.lock")
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
    if re.search(r"^yarnPath\s*:", read_text(root / ".yarnrc.yml"), re.M):
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
# a start script through the package manager (`yarn babel-node src`) runs no dependency's bin
_PACKAGE_MANAGERS = {"npm", "npx", "pnpm", "pnpx", "yarn", "bun", "bunx", "corepack"}


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


def _declared(pkg: Mapping[str, Any], key: str) -> list[str]:
    """Name the packages one of package.json's dependency tables lists."""
    table = pkg.get(key)
    return [str(name) for name in table] if isinstance(table, dict) else []


def _npm_locked(root: Path) -> dict[str, Any]:
    """Return package-lock.json's packages table (v2 and later), or {} without one.

    Each entry, keyed `node_modules/<name>`, records the package's bin as npm installs it.
    """
    try:
        lock = json.loads(read_text(root / "package-lock.json") or "{}")
    except ValueError:
        return {}
    packages = lock.get("packages") if isinstance(lock, dict) else None
    return packages if isinstance(packages, dict) else {}


def _bins(root: Path, name: str, locked: Mapping[str, Any]) -> dict[str, str]:
    """Return the commands a package declares (its bin), by name.

    From its package.json in node_modules, or without node_modules from npm's lockfile.
    """
    if locked:
        manifest = locked.get(f"node_modules/{name}")
    else:
        try:
            manifest = json.loads(read_text(root / "node_modules" / name / "package.json") or "{}")
        except ValueError:
            return {}
    field = manifest.get("bin") if isinstance(manifest, dict) else None
    if isinstance(field, str):  # one command, named after the package (less its scope)
        return {name.rsplit("/", 1)[-1]: field}
    return {str(k): str(v) for k, v in field.items()} if isinstance(field, dict) else {}


def _dependency_command(
    root: Path, pkg: Mapping[str, Any], start: str, words: list[str]
) -> tuple[list[str], str, str] | None:
    """Resolve `next start`, `fastify start app.js`: a dependency's command, run by node.

    npm runs such a command from node_modules/.bin; the image has neither npm nor a shell
    (and pnpm's .bin entries are shell scripts), so node runs the file the package's `bin`
    names. An installed node_modules says which package and file that is, or without it
    npm's lockfile (pnpm's and Yarn's do not record bins).
    """
    if not words or words[0] in _PACKAGE_MANAGERS or any(c in start for c in "&|;"):
        return None
    command, args = words[0], words[1:]
    installed = (root / "node_modules").is_dir()
    locked = {} if installed else _npm_locked(root)
    for name in _declared(pkg, "dependencies"):
        if file := _bins(root, name, locked).get(command):
            path = posixpath.normpath(f"node_modules/{name}/{file}")
            return (
                [path, *args],
                f"package.json scripts.start ({start}), {path} from {name}'s bin"
                + (" (package-lock.json)" if locked else ""),
                path,
            )
    for name in _declared(pkg, "devDependencies"):
        if command in _bins(root, name, locked):
            raise DetectionError(
                f"package.json scripts.start runs `{command}`, which {name} installs, a "
                "devDependency: the image installs package.json's dependencies only: move "
                f"{name} to them, or pass --data start_command='<file> [args]', the file node "
                "should run"
            )
    if _declared(pkg, "dependencies") and not installed and not locked:
        raise DetectionError(
            f"package.json scripts.start runs `{command}`, a command one of the packages "
            "package.json names installs, and node_modules is not there to say which file it is: "
            "run `npm install` and adopt again, or pass --data start_command='node_modules/"
            f"<package>/<file> {shlex.join(args)}' (the file node runs)"
        )
    return None


def _start_script(root: Path, pkg: Mapping[str, Any], start: str) -> tuple[list[str], str, str]:
    """Turn package.json's scripts.start into node's arguments, their origin and entry file."""
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
    if found := _dependency_command(root, pkg, start, words):
        return found
    raise DetectionError(
        f"package.json scripts.start is {start!r}, not `node [flags] <file>` nor a command "
        "of one of package.json's dependencies (the runtime image has no shell and no "
        "npm): pass --data start_command='<file> [args]', the file node should run"
    )


def _node_start(
    root: Path, pkg: Mapping[str, Any], build: bool
) -> tuple[list[str] | None, str, str | None]:
    """Return the node arguments that start the app, their origin, and the entry file."""
    scripts = pkg.get("scripts") if isinstance(pkg.get("scripts"), dict) else {}
    if start := str((scripts or {}).get("start") or "").strip():
        return _start_script(root, pkg, start)
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


def _check_start_command(
    root: Path, pkg: Mapping[str, Any], given: list[str], build: bool
) -> str | None:
    """Check the file a given start command runs; return it (the entry file).

    A build writes its output (dist/) in the image, and node_modules is installed there:
    without them here, only a source file, or the package a node_modules path is in, is
    checked.
    """
    _, entry, _ = _node_args(given)
    if entry and entry.startswith("node_modules/") and not (root / "node_modules").is_dir():
        parts = entry.split("/")
        name = "/".join(parts[1:3] if parts[1].startswith("@") else parts[1:2])
        if name not in _declared(pkg, "dependencies"):
            raise DetectionError(
                f"start_command: {entry} is in {name}, which package.json's dependencies do "
                "not name (the image installs those only)"
            )
    elif entry and not build and not (root / entry).is_file():
        raise DetectionError(
            f"start_command: {entry} is not a file in {root}: name the file node runs, "
            "relative to the project (e.g. --data start_command='server.js')"
        )
    return entry


def _propose_port_option(detection: Detection) -> None:
    """Propose the port the start command gives its server (`--port 8080`, `--port=8080`).

    A server's own option wins over the defaults its code names.
    """
    command = detection.answers["start_command"]
    words = [str(word) for word in command] if isinstance(command, list) else []
    for word, following in zip(words, [*words[1:], ""], strict=True):
        name, equals, value = word.partition("=")
        if word == "--port":
            value = following
        elif not (name == "--port" and equals):
            continue
        if value.isdigit() and 0 < int(value) < 65536:
            detection.propose("port", int(value), f"the start command (--port {value})")
            return


_NODE_PORT = (
    re.compile(r"PORT\s*(?:\|\||\?\?)\s*['\"]?(\d{2,5})\b"),
    re.compile(r"\.listen\(\s*(\d{2,5})\b"),
    re.compile(r"\bport\s*[:=]\s*['\"]?(\d{4,5})\b", re.IGNORECASE),
)


def detect(detection: Detection, spec: TemplateSpec, adoption: Adoption) -> None:
    """Propose a Node.js project's answers."""
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
    if pm.partition("@")[0] == "npm" and (root / "npm-shrinkwrap.json").is_file():
        # npm ci prefers it to package-lock.json; the image mounts package-lock.json only
        raise DetectionError(
            f"{root} holds npm-shrinkwrap.json, which npm ci installs from and keelson adopt "
            "does not: rename it package-lock.json (the same format, replacing any other) "
            "and adopt again"
        )
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
    elif isinstance(given := detection.answers["start_command"], list):
        given_words = [str(word) for word in given]
        build_script = bool(detection.answers["build_script"])
        entry = _check_start_command(root, pkg, given_words, build_script)
    deps = {
        str(name): "package.json dependencies"
        for name in (pkg.get("dependencies") or {})
        if isinstance(pkg.get("dependencies"), dict)
    }
    detection.propose_database(deps, adoption.databases)
    _propose_port_option(detection)
    texts = {
        path: read_text(path)
        for path in detection.files(root, (".js", ".mjs", ".cjs", ".ts", ".mts"))
    }
    detection.propose_port(
        texts, [root / entry] if entry else [], _NODE_PORT, adoption.pack.default_port
    )
    detection.propose_health(texts)


# ---------------------------------------------------------------------------
