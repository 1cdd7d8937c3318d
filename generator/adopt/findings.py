"""What every language's detection shares: the proposal, its errors and the code scans."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.errors import UsageError
from generator.template import TemplateSpec

# folders no scan enters (a pack adds its dependency and cache folders: `adopt_skip_dirs`)
SKIP_DIRS = frozenset({".git", ".hg", "dist", "build"})
HEALTH_PATHS = ("/healthz", "/health", "/livez", "/readyz", "/ready", "/ping", "/api/health")


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
        label: The detected language's name for people.
        shown: The language's own answers, in the order they are shown.
        skip_dirs: Folders no scan enters (dependencies, caches).

    """

    root: Path
    answers: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    label: str = "?"
    shown: tuple[str, ...] = ()
    skip_dirs: frozenset[str] = SKIP_DIRS

    def propose(self, key: str, value: Any, why: str) -> None:
        """Record a detected answer unless the user gave one."""
        if key not in self.answers:
            self.answers[key] = value
            self.evidence[key] = why

    def files(self, root: Path, suffixes: tuple[str, ...], limit: int = 2000) -> Iterator[Path]:
        """Yield the project's source files with these suffixes, skipping dependencies."""
        count = 0
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in self.skip_dirs and not d.startswith("."))
            for name in sorted(names):
                if name.endswith(suffixes):
                    count += 1
                    if count > limit:
                        return
                    yield Path(folder) / name

    def propose_port(
        self,
        texts: Mapping[Path, str],
        preferred: list[Path],
        patterns: tuple[re.Pattern[str], ...],
        default: int,
    ) -> None:
        """Propose the port the code names: in the entry files first, else anywhere."""
        found = _ports({p: texts[p] for p in preferred if p in texts}, patterns)
        found = found or _ports(texts, patterns)
        root = self.root
        if len(found) == 1:
            ((port, where),) = found.items()
            self.propose("port", port, f"{where.relative_to(root)}")
        elif not found:
            self.propose("port", default, "default (the code names no port)")
            if "port" not in self.evidence or self.evidence["port"].startswith("default"):
                self.notes.append(
                    f"no port found in the code: using {default} (--data port=N to change it)"
                )
        elif "port" not in self.answers:
            listed = ", ".join(f"{p} ({w.relative_to(root)})" for p, w in sorted(found.items()))
            raise DetectionError(f"the code names several ports: {listed}: pass --data port=N")

    def propose_health(self, texts: Mapping[Path, str]) -> None:
        """Propose the first health endpoint of HEALTH_PATHS the code routes, else none."""
        found: dict[str, Path] = {}
        for path, text in texts.items():
            for pattern in _HEALTH:
                for match in pattern.finditer(text):
                    found.setdefault("/" + match[1], path)
        for wanted in HEALTH_PATHS:
            if wanted in found:
                where = found[wanted].relative_to(self.root)
                self.propose("health_path", wanted, f"{where}")
                return
        self.propose("health_path", "", "none found: TCP health check")

    def propose_database(self, deps: Mapping[str, str], table: Mapping[str, str]) -> None:
        """Propose the database whose client the dependencies name (`table`: prefix -> database)."""
        found: dict[str, str] = {}
        for dep, where in deps.items():
            for prefix, database in table.items():
                if dep == prefix or dep.startswith(prefix + "/"):
                    found.setdefault(database, f"{dep} in {where}")
        if len(found) > 1 and "database" not in self.answers:
            listed = ", ".join(f"{db} ({why})" for db, why in found.items())
            options = " or ".join(f"--data database={db}" for db in found)
            raise DetectionError(
                f"the dependencies name several databases: {listed}: pass {options}"
            )
        if found:
            ((database, why),) = list(found.items())[:1]
            self.propose("database", database, why)
        else:
            self.propose("database", "none", "no database client in the dependencies")


def read_text(path: Path) -> str:
    """Return a file's text ("" when it cannot be read)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


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


def release(text: str) -> tuple[int, ...]:
    """Turn a release (`1.24`, `3.13`) into numbers that compare in order."""
    return tuple(int(part) for part in text.split("."))


def at_least(wanted: str) -> Callable[[str], bool]:
    """Accept a choice that is `wanted` or a later release."""
    return lambda choice: release(choice) >= release(wanted)


def pick_version(
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
    return max(fits, key=release)


def _ports(texts: Mapping[Path, str], patterns: tuple[re.Pattern[str], ...]) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for path, text in texts.items():
        for pattern in patterns:
            for match in pattern.finditer(text):
                found.setdefault(int(match[1]), path)
    return found


_HEALTH_NAMES = r"(?:api/)?(?:healthz|health|livez|readyz|ready|ping)"
_HEALTH = (
    # '/healthz' in a route, or Go 1.22's "GET /healthz" pattern
    re.compile(rf"""['"`](?:(?:GET|HEAD)\s+)?/({_HEALTH_NAMES})/?['"`]"""),
    # Django's path("healthz", ...) has no leading slash
    re.compile(rf"""\b(?:re_)?path\(\s*r?['"]\^?({_HEALTH_NAMES})/?\$?['"]"""),
)
