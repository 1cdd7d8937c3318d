"""Read the template's own `copier.yml`: the single source of truth for questions.

The CLI checks `--data` keys against it, and the test matrix and the catalogue read
their choices from it, so none of them can drift from the template.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from packaging.version import InvalidVersion, Version

from generator.copier_config import Reader, folder_reader, load_config, matches
from generator.errors import TemplateError
from generator.git import git, show_at
from generator.repository import PROBE_SECONDS, git_url, is_placeholder, is_remote, list_refs
from generator.source import resolve

COPIER_FILES = ("copier.yml", "copier.yaml")
"""The names copier reads a template's settings and questions from, in its order."""


def copier_yml_at(template: Path, ref: str) -> str | None:
    """Return a local template's `copier.yml` as it is at a git ref, or None.

    Args:
        template: The template's folder (a git work tree).
        ref: A tag, branch or commit.

    """
    return show_at(template, ref, *COPIER_FILES)


def spec_at(location: str, ref: str | None = None) -> TemplateSpec | None:
    """Read a template's questions as copier will render them, wherever it lives.

    One reader for every kind of source: a folder or checkout (its files, or
    `copier.yml` at `ref` when a ref other than HEAD is named), a bare repository
    (`git show`), or a git URL (the one ref fetched into a temporary folder that is
    always removed).

    Args:
        location: The template: a folder, a bare repository, or a git URL.
        ref: The tag, branch or commit; by default what copier picks for a
            repository: its newest release tag, else its default branch.

    Returns:
        The spec; None when the template cannot be read from here (copier, which
        fetches it next, then says why).

    Raises:
        TemplateError: Its copier.yml is not a YAML mapping.

    """
    where = git_url(location)
    path = Path(where)
    if is_placeholder(location) or (not is_remote(location) and not path.is_dir()):
        return None
    if not is_remote(location) and any((path / name).is_file() for name in COPIER_FILES):
        if ref and ref != "HEAD" and (text := copier_yml_at(path, ref)) is not None:
            return TemplateSpec.parse(
                text, root=path, where=f"{path / 'copier.yml'} at {ref}", read=ref_reader(path, ref)
            )
        return TemplateSpec.load(path)
    if ref is None:
        refs = list_refs(location)
        if isinstance(refs, str):
            return None
        ref = newest_release([n.removeprefix("refs/tags/") for n in refs]) or "HEAD"
    shown = f"{location} at {ref}"
    if not is_remote(location):  # a bare repository on this machine
        text = show_at(path, ref, *COPIER_FILES)
        return (
            None
            if text is None
            else TemplateSpec.parse(text, root=path, where=shown, read=ref_reader(path, ref))
        )
    return _fetched_spec(where, ref, root=Path(location), shown=shown)


def ref_reader(repo: Path, ref: str) -> Reader:
    """Read `copier.yml`'s includes from a git repository as it is at a ref."""

    @functools.cache
    def tree() -> tuple[str, ...]:  # listed once, however many includes it serves
        return tuple(git("ls-tree", "-r", "--name-only", ref, cwd=repo).stdout.splitlines())

    def read(pattern: str) -> list[str]:
        names = sorted(n for n in tree() if matches(n, pattern))
        return [text for name in names if (text := show_at(repo, ref, name)) is not None]

    return read


def _fetched_spec(url: str, ref: str, *, root: Path, shown: str) -> TemplateSpec | None:
    """Fetch one ref of a remote template into a temporary folder; read its questions."""
    with tempfile.TemporaryDirectory(prefix="keelson-template-") as tmp:
        repo = Path(tmp)
        git("init", "--quiet", "--bare", cwd=repo)
        # one ref, shallow; a commit that is no tip needs the history (a full fetch)
        fetched = git("fetch", "--quiet", "--depth=1", "--", url, ref, cwd=repo,
                      timeout=PROBE_SECONDS * 4)  # fmt: skip
        target = "FETCH_HEAD"
        if fetched.returncode != 0:
            every = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
            fetched = git("fetch", "--quiet", "--", url, *every, cwd=repo,
                          timeout=PROBE_SECONDS * 8)  # fmt: skip
            target = ref
        if fetched.returncode != 0:
            return None
        text = show_at(repo, target, *COPIER_FILES)
        return (
            None
            if text is None
            else TemplateSpec.parse(text, root=root, where=shown, read=ref_reader(repo, target))
        )


def newest_release(tags: list[str]) -> str | None:
    """Pick the tag copier updates to by default: the highest PEP 440 version, no pre-release."""
    versions: dict[str, Version] = {}
    for tag in tags:
        try:
            version = Version(tag)
        except InvalidVersion:
            continue
        if not version.is_prerelease:
            versions[tag] = version
    return max(versions, key=versions.__getitem__) if versions else None


def default_template() -> str:
    """Return the template keelson renders when none is named (see generator.source).

    Raises:
        TemplateError: No template is available.

    """
    return resolve().location


@dataclass(frozen=True)
class Question:
    """One question of `copier.yml`, as far as keelson needs to know it."""

    name: str
    type: str
    choices: tuple[str, ...]
    default: Any
    help: str
    when: Any = True
    """The question's `when` as copier.yml writes it: a Jinja condition, or a bool."""


def _rendered(raw: Any, read: Reader, context: Mapping[str, Any], where: str) -> Any:
    """Render a templated `choices` (a Jinja string that makes YAML) as copier does.

    `copier.yml`'s `language` choices list the packs this way, reading each
    `templates/<language>/pack.jinja` for its label.
    """
    if not isinstance(raw, str):
        return raw
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: next(iter(read(name)), None)),
        autoescape=False,
    )
    env.filters["to_json"] = json.dumps
    try:
        return yaml.safe_load(env.from_string(raw).render(context))
    except (jinja2.TemplateError, yaml.YAMLError) as error:
        raise TemplateError(f"{where}: choices {raw!r}: {error}") from error


def _choice_values(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    # a mapping of label: value, or a list of values or of [label, value] pairs; a
    # value may be `{value: ..., validator: ...}`
    pairs = raw.values() if isinstance(raw, Mapping) else raw
    values = (v[1] if isinstance(v, (list, tuple)) and len(v) == 2 else v for v in pairs)
    return tuple(str(v["value"] if isinstance(v, Mapping) else v) for v in values)


@dataclass(frozen=True)
class TemplateSpec:
    """The questions and settings of a template's `copier.yml`."""

    root: Path
    questions: Mapping[str, Question]
    settings: Mapping[str, Any]

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> TemplateSpec:
        """Read `copier.yml` (or `copier.yaml`) from a template folder.

        Args:
            root: Folder holding the template's `copier.yml`.

        Raises:
            TemplateError: The file is missing or is not a YAML mapping.

        """
        base = Path(root)
        for name in COPIER_FILES:
            path = base / name
            if path.is_file():
                break
        else:
            raise TemplateError(f"{base} is not a copier template: no copier.yml")
        return cls.parse(
            path.read_text(encoding="utf-8"), root=base, where=str(path), read=folder_reader(base)
        )

    @classmethod
    def parse(cls, text: str, *, root: Path, where: str, read: Reader) -> TemplateSpec:
        """Read the questions and settings from the text of a `copier.yml`.

        Args:
            text: The file's content.
            root: The template folder the spec describes.
            where: How messages name the file.
            read: Where the files its `!include` tags name come from.

        Raises:
            TemplateError: The text is not a YAML mapping.

        """
        base, path = root, where
        try:
            data = load_config(text, read)
        except yaml.YAMLError as error:
            raise TemplateError(f"{path}: invalid YAML: {error}") from error
        except ValueError as error:
            raise TemplateError(f"{path}: {error}") from error
        questions: dict[str, Question] = {}
        settings: dict[str, Any] = {}
        # what a templated `choices` may use: the values computed without an answer
        computed = {
            str(k): v["default"]
            for k, v in data.items()
            if isinstance(v, Mapping) and not isinstance(v.get("default", ""), str)
        }
        for key, value in data.items():
            if str(key).startswith("_"):
                settings[str(key)] = value
                continue
            details = value if isinstance(value, Mapping) else {"default": value}
            questions[str(key)] = Question(
                name=str(key),
                type=str(details.get("type", "str")),
                choices=_choice_values(_rendered(details.get("choices"), read, computed, path)),
                default=details.get("default"),
                help=str(details.get("help", "")),
                when=details.get("when", True),
            )
        return cls(root=base, questions=questions, settings=settings)

    def choices(self, name: str) -> tuple[str, ...]:
        """Return the values a choice question offers.

        Raises:
            KeyError: The template has no such question.

        """
        return self.questions[name].choices

    def matrix(self, *axes: str) -> Iterator[dict[str, str]]:
        """Yield every combination of the given choice questions' values.

        Args:
            *axes: Names of choice questions, e.g. "language", "database".

        """
        for combo in itertools.product(*(self.choices(axis) for axis in axes)):
            yield dict(zip(axes, combo, strict=True))
