"""Read a `copier.yml` as copier does: its documents merged, `!include` globs resolved.

The template keeps each language's questions in its pack
(`templates/<language>/questions.yml`) and `copier.yml` includes them with copier's
`!include` tag. Every keelson reader of `copier.yml` goes through `load_config`, which
follows copier's rules: an include is a glob relative to the template's root, each
matching file may hold several YAML documents, the documents merge in order (a later
one wins a repeated key, which keeps its first place) and the list settings
(`_exclude` and the like) are joined. No keelson import: `migrations.py` runs this
from a template checkout as a plain script.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

Reader = Callable[[str], list[str]]
"""Given a glob relative to the template's root, the texts of its files, sorted by path."""

JOINED = ("_exclude", "_jinja_extensions", "_secret_questions", "_skip_if_exists")
"""Settings copier joins across documents instead of letting the last one win."""


def matches(path: str, pattern: str) -> bool:
    """Tell whether a `/`-separated path matches a glob whose `*` stays within a folder."""
    parts, wanted = PurePosixPath(path).parts, PurePosixPath(pattern).parts
    return len(parts) == len(wanted) and all(map(fnmatch.fnmatchcase, parts, wanted))


def folder_reader(root: Path) -> Reader:
    """Read includes from a template folder."""

    def read(pattern: str) -> list[str]:
        return [p.read_text(encoding="utf-8") for p in sorted(root.glob(pattern)) if p.is_file()]

    return read


def load_config(text: str, read: Reader) -> dict[str, Any]:
    """Merge the documents of a `copier.yml` text, resolving its `!include` tags.

    Args:
        text: The file's content.
        read: Where included files come from.

    Raises:
        yaml.YAMLError: The text or an included file is not YAML.
        ValueError: An include names an absolute path or leaves the template.

    """

    class Loader(yaml.SafeLoader):
        """SafeLoader with copier's `!include`."""

    def include(loader: yaml.SafeLoader, node: yaml.Node) -> list[Any]:
        if not isinstance(node, yaml.ScalarNode):
            raise ValueError(f"!include takes a path, got a {type(node).__name__}")
        pattern = str(loader.construct_scalar(node))
        if PurePosixPath(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
            raise ValueError(f"!include {pattern}: must be a path inside the template")
        return [doc for body in read(pattern) for doc in _documents(body, Loader)]

    Loader.add_constructor("!include", include)
    merged: dict[str, Any] = {}
    joined: dict[str, list[Any]] = {}
    for doc in _documents(text, Loader):
        if not isinstance(doc, dict):
            raise ValueError(f"expected a mapping of questions, got {type(doc).__name__}")
        for key, value in doc.items():
            if key in JOINED:
                joined.setdefault(key, []).extend(value)
            merged[str(key)] = value
    return merged | joined


def _documents(text: str, loader: type[yaml.SafeLoader]) -> list[Any]:
    """Return the non-empty documents of a YAML text, splicing in an included list of them."""
    found: list[Any] = []
    for doc in yaml.load_all(text, Loader=loader):  # a SafeLoader subclass
        if isinstance(doc, list):
            found.extend(d for d in doc if d)
        elif doc:
            found.append(doc)
    return found
