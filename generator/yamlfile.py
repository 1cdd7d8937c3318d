"""Read a YAML file a person wrote (answers, the user config), naming the line of a mistake.

PyYAML's `safe_load` keeps the last of two equal keys without a word and reports
syntax errors over several lines; a person needs one line that says where to look.
"""

from __future__ import annotations

from typing import Any

import yaml

from generator.errors import UsageError, one_line


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping naming the same key twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class says so
                break
            if duplicate:
                raise _DuplicateKeyError(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: object, line: int) -> None:
        super().__init__(key, line)
        self.key = key
        self.line = line


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML text, refusing duplicate keys; errors name the line.

    Args:
        text: The file's content.
        where: How messages name the file (e.g. `--data-file answers.yml`).

    Returns:
        The parsed document (None for an empty one).

    Raises:
        UsageError: The text is not valid YAML or repeats a key, as one line such as
            `--data-file F: line 3: duplicate key 'port'`.

    """
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except _DuplicateKeyError as error:
        raise UsageError(f"{where}: line {error.line}: duplicate key {error.key!r}") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = one_line(str(error.problem or error.context or ""))
        raise UsageError(f"{where}: {line}invalid YAML ({problem})") from None
    except yaml.YAMLError as error:
        raise UsageError(f"{where}: invalid YAML ({' '.join(str(error).split())})") from None
