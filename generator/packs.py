"""The template's language packs: one folder per language under `templates/`.

A pack is `templates/<language>/` with `project/` (what a service gets, rendered by
copier through `_subdirectory`), `parts/` (pieces its files include), `pack.jinja`
(its facts), `questions.yml` (its own questions) and `language.yml` (its value of the
`language` question), both included by `copier.yml`. The template imports the facts
through `includes/vars.jinja` and `copier.yml`; this module reads the same files, so
the generator, the tests and the benchmarks take a language's facts from the one
place the template does. `languages()` finds the packs: a folder with the three
files is a language, and no list of languages exists anywhere else.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2

from generator.errors import TemplateError, UsageError
from generator.yamlfile import load_yaml

PACK_FILE = "pack.jinja"
DETECT_FILE = "detect.py"
"""A pack's `keelson adopt` detection code (`detect(detection, spec, adoption)`)."""
QUESTIONS_FILE = "questions.yml"
CHOICE_FILE = "language.yml"
PACK_FILES = (PACK_FILE, QUESTIONS_FILE, CHOICE_FILE)
"""The files that make a folder of `templates/` a language pack."""
STANDINS = "standins"
"""A pack's stand-ins: build contexts (one folder each) and `images.yml`."""
STANDIN_IMAGES = f"{STANDINS}/images.yml"
"""A pack's stand-in recipe rows, read by `generator.images.recipes` (optional)."""
PROJECT = "project"
COMMON = "common"


@dataclass(frozen=True)
class Pack:
    """The facts `templates/<language>/pack.jinja` states about one language."""

    language: str
    root: Path
    label: str
    version_question: str
    source_paths: tuple[str, ...]
    dependency_files: tuple[str, ...]
    dependency_dir: str
    edit_file: str
    line_comment: str
    owned: tuple[str, ...]
    unit_tests: tuple[tuple[str, ...], ...]
    default_port: int
    memory_mib: int
    max_header_fields: int
    framework: str
    package_managers: tuple[str, ...]
    adopt_lockfile: bool
    start_args_optional: bool
    runtime_kind: str
    service_mb: float
    floor_file: str
    floor_clears: tuple[str, ...]
    bench_dependency: tuple[tuple[str, ...], ...]

    @property
    def bench(self) -> Path:
        """The benchmarks' files: `reference.Dockerfile`, `floor-<database>.*`."""
        return self.root / "bench"

    @property
    def version_arg(self) -> str:
        """The Dockerfile build argument that carries the runtime release (`GO_VERSION`)."""
        return self.version_question.upper()

    @property
    def project(self) -> Path:
        """The folder copier renders for this language."""
        return self.root / PROJECT

    def owns(self, relpath: str) -> bool:
        """Tell whether a path of a rendered service belongs to this language only.

        Args:
            relpath: A path relative to the service, `/`-separated; folders end in `/`.

        """
        name = relpath.rstrip("/").rsplit("/", 1)[-1]
        for pattern in self.owned:
            if pattern.endswith("/"):
                if relpath.startswith(pattern):
                    return True
            elif fnmatch.fnmatchcase(name, pattern):
                return True
        return False

    def own_files(self) -> list[str]:
        """List the files of `project/` that are this pack's own, not links to shared parts.

        Names are as the template spells them (`.jinja` suffix and conditions kept).
        """
        found: list[str] = []
        for folder, dirs, files in os.walk(self.project):
            here = Path(folder)
            dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
            for name in sorted(files):
                path = here / name
                if not path.is_symlink():
                    found.append(path.relative_to(self.project).as_posix())
        return found


def _strings(value: object, field: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TemplateError(f"{path}: `{field}` must be a list of strings")
    return tuple(value)


def _facts(template: str | os.PathLike[str], language: str) -> tuple[Any, Path]:
    """Return the module `pack.jinja` makes, and the file's path."""
    base = Path(template)
    path = base / "templates" / language / PACK_FILE
    if not path.is_file():
        raise TemplateError(f"no language pack for {language!r}: {path} is missing")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(base), autoescape=False)
    try:
        return env.get_template(f"templates/{language}/{PACK_FILE}").module, path
    except jinja2.TemplateError as error:
        raise TemplateError(f"{path}: {error}") from error


def load(template: str | os.PathLike[str], language: str) -> Pack:
    """Read one language's pack from a template checkout.

    Args:
        template: The template's root folder (holding `copier.yml`).
        language: A `language` choice of `copier.yml`.

    Raises:
        TemplateError: The pack or one of its facts is missing.

    """
    return _read(template, language)[0]


def _read(template: str | os.PathLike[str], language: str) -> tuple[Pack, Any, Path]:
    """Read one pack: its checked facts, the module `pack.jinja` makes, the file's path."""
    facts, path = _facts(template, language)

    def text(field: str) -> str:
        value = getattr(facts, field, None)
        if not isinstance(value, str):
            raise TemplateError(f"{path}: `{field}` must be a string")
        return value

    def flag(field: str) -> bool:
        value = getattr(facts, field, None)
        if not isinstance(value, bool):
            raise TemplateError(f"{path}: `{field}` must be true or false")
        return value

    def number(field: str, low: int = 1, high: int = 2**20) -> int:
        value = getattr(facts, field, None)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise TemplateError(f"{path}: `{field}` must be an integer from {low} to {high}")
        return value

    def measure(field: str) -> float:
        value = getattr(facts, field, None)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise TemplateError(f"{path}: `{field}` must be a number, 0 or more")
        return float(value)

    port = number("default_port", 1024, 65535)
    chosen = [line.strip() for line in (path.parent / CHOICE_FILE).read_text(
        encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]  # fmt: skip
    if chosen != [language]:
        raise TemplateError(
            f"{path.parent / CHOICE_FILE}: must hold {language!r}, its folder's name"
        )

    def commands(field: str) -> tuple[tuple[str, ...], ...]:
        value = getattr(facts, field, None)
        if not isinstance(value, list):
            raise TemplateError(f"{path}: `{field}` must be a list of commands")
        return tuple(_strings(c, field, path) for c in value)

    pack = Pack(
        language=language,
        root=path.parent,
        label=text("label"),
        version_question=text("version_question"),
        source_paths=_strings(getattr(facts, "source_paths", None), "source_paths", path),
        dependency_files=_strings(
            getattr(facts, "dependency_files", None), "dependency_files", path
        ),
        dependency_dir=text("dependency_dir"),
        edit_file=text("edit_file"),
        line_comment=text("line_comment"),
        owned=_strings(getattr(facts, "owned", None), "owned", path),
        unit_tests=commands("unit_tests"),
        default_port=port,
        memory_mib=number("memory_mib"),
        max_header_fields=number("max_header_fields", 0),
        framework=text("framework"),
        package_managers=_strings(
            getattr(facts, "package_managers", None), "package_managers", path
        ),
        adopt_lockfile=flag("adopt_lockfile"),
        start_args_optional=flag("start_args_optional"),
        runtime_kind=text("runtime_kind"),
        service_mb=measure("service_mb"),
        floor_file=text("floor_file"),
        floor_clears=_strings(getattr(facts, "floor_clears", None), "floor_clears", path),
        bench_dependency=commands("bench_dependency"),
    )
    return pack, facts, path


FIELDS = tuple(f.name for f in dataclasses.fields(Pack) if f.name not in ("language", "root"))
"""The facts every `pack.jinja` states (docs/adding-a-language.md names each)."""


def languages(template: str | os.PathLike[str]) -> tuple[str, ...]:
    """Name the template's languages: its `templates/` folders that hold a pack, sorted.

    Copier offers the same set, as `copier.yml` includes each pack's `language.yml`.
    """
    base = Path(template) / "templates"
    return tuple(
        sorted(d.name for d in base.iterdir() if all((d / n).is_file() for n in PACK_FILES))
    )


def discover(template: str | os.PathLike[str]) -> dict[str, Pack]:
    """Read every pack of a template checkout, by language name.

    Raises:
        TemplateError: A pack is unreadable, or two packs share a label (the
            `language` question would offer two choices under one name).

    """
    found = load_all(template, languages(template))
    labels: dict[str, str] = {}
    for name, pack in found.items():
        if (other := labels.setdefault(pack.label, name)) != name:
            raise TemplateError(f"{pack.root / PACK_FILE}: label {pack.label!r} is {other}'s too")
    return found


def load_all(template: str | os.PathLike[str], languages: tuple[str, ...]) -> dict[str, Pack]:
    """Read the pack of every language, in the order given.

    Args:
        template: The template's root folder.
        languages: The `language` choices of `copier.yml`.

    """
    return {language: load(template, language) for language in languages}


def standin_images(
    template: str | os.PathLike[str], language: str
) -> tuple[Path, tuple[Mapping[str, Any], ...]]:
    """Read a pack's stand-in rows (`standins/images.yml`) and the folder they live in.

    Args:
        template: The template's root folder (holding `copier.yml`).
        language: A `language` choice of `copier.yml`.

    Returns:
        The pack's `standins/` folder and its rows, in order (none without the file).

    Raises:
        TemplateError: The file is not YAML, or not a list of mappings.

    """
    path = Path(template) / "templates" / language / STANDIN_IMAGES
    if not path.is_file():
        return path.parent, ()
    try:
        rows = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except UsageError as error:  # a template's fault, not the command line's
        raise TemplateError(str(error)) from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TemplateError(f"{path}: must be a list of image rows (`repo`, `tags`, `otherwise`)")
    return path.parent, tuple(rows)


@dataclass(frozen=True)
class Adoption:
    """What `keelson adopt` knows of one language: its pack's `adopt_*` facts and `detect.py`.

    Attributes:
        pack: The language's pack (its label, version question, default port, ...).
        markers: Files whose presence marks a project in this language.
        marker_globs: Patterns of further marker files (the first match counts).
        databases: Dependency (or module path prefix) -> the `database` its client means.
        answers: The language's own answers, in the order adopt shows them.
        runtime_words: Words a `--data start_command` may begin with that name the runtime.
        skip_dirs: Folders of dependencies and caches that no scan enters.
        code: The pack's `detect.py`; its `detect(detection, spec, adoption)` proposes answers.

    """

    pack: Pack
    markers: tuple[str, ...]
    marker_globs: tuple[str, ...]
    databases: Mapping[str, str]
    answers: tuple[str, ...]
    runtime_words: tuple[str, ...]
    skip_dirs: tuple[str, ...]
    code: ModuleType

    @property
    def detect(self) -> Callable[..., None]:
        """The pack's `detect(detection, spec, adoption)`."""
        found: Callable[..., None] = self.code.detect
        return found


def adoption(template: str | os.PathLike[str], language: str) -> Adoption | None:
    """Read what `keelson adopt` needs of one language; None when its pack has no `detect.py`.

    Args:
        template: The template's root folder (holding `copier.yml`).
        language: A `language` choice of `copier.yml`.

    Raises:
        TemplateError: A fact is missing or `detect.py` does not load.

    """
    code_path = Path(template) / "templates" / language / DETECT_FILE
    if not code_path.is_file():
        return None
    pack, facts, path = _read(template, language)
    databases = getattr(facts, "adopt_databases", None)
    if not isinstance(databases, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in databases.items()
    ):
        raise TemplateError(f"{path}: `adopt_databases` must map dependency names to databases")
    spec = importlib.util.spec_from_file_location(f"keelson_pack_{language}_detect", code_path)
    if spec is None or spec.loader is None:
        raise TemplateError(f"{code_path}: cannot be loaded")
    code = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(code)
    except (ImportError, SyntaxError) as error:
        raise TemplateError(f"{code_path}: {error}") from error
    if not callable(getattr(code, "detect", None)):
        raise TemplateError(f"{code_path}: defines no detect(detection, spec, adoption)")

    def strings(field: str) -> tuple[str, ...]:
        return _strings(getattr(facts, field, None), field, path)

    return Adoption(
        pack=pack,
        markers=strings("adopt_markers"),
        marker_globs=strings("adopt_marker_globs"),
        databases=dict(databases),
        answers=strings("adopt_answers"),
        runtime_words=strings("adopt_runtime_words"),
        skip_dirs=strings("adopt_skip_dirs"),
        code=code,
    )
