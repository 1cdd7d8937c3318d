"""Answer migrations that the template runs during `copier update` (`_migrations`).

copier runs this file as a script from the checkout of the template version being
updated *to* (`{{ _copier_conf.src_path }}/generator/migrations.py`), in the project
folder, before it re-renders the project (`_stage == 'before'`). It rewrites the
project's answers file so that the new template version accepts them:

- `rename OLD NEW`: a question was renamed; its answer moves to the new name.
- `remap QUESTION OLD=NEW ...`: a question's values were renamed.
- `retired-versions`: a `*_version` answer the new template no longer offers (a
  runtime or database release line reached its end of life) moves to the nearest
  newer release the template still offers, and says so. Left alone, copier drops
  an answer that is no longer valid without a word and takes the default, which
  is usually the newest line: a bigger jump than the service asked for.
- `unasked QUESTION VALUE`: a question older template versions never asked
  records VALUE (YAML) where it is absent, instead of the default a new service
  gets (the `renovate` question: services made before it do not start getting
  merge requests unasked).
- `move-secret OLD NEW [--same-as FILE]`: a git-ignored secret file the template
  reads moved (the dev database password, from `k8s/base/secrets/` to
  `k8s/overlays/dev/secrets/`); the file moves with it, into a private folder that
  ignores itself, so the value already in use is kept.

Every step is idempotent and changes nothing when there is nothing to migrate. The
script uses the standard library and PyYAML only (copier's own dependencies): it
runs under copier's Python, where keelson itself may not be installed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import yaml

if __package__:
    from generator.copier_config import folder_reader, load_config
else:  # run by copier as a script from the template checkout: its own folder is on sys.path
    from copier_config import folder_reader, load_config  # type: ignore[import-not-found,no-redef]

# generator.answers.ANSWERS_FILE: copier runs this file as a standalone script, where
# the keelson package may not be importable, so the name is repeated here
DEFAULT_ANSWERS_FILE = ".copier-answers.yml"


def _say(message: str) -> None:
    print(f"keelson migration: {message}", file=sys.stderr)


def rename_answer(answers: MutableMapping[str, Any], old: str, new: str) -> bool:
    """Move the answer of a renamed question to its new name.

    Args:
        answers: The project's answers, changed in place.
        old: The question's name in the old template version.
        new: Its name in the new template version.

    Returns:
        Whether anything changed (False when `old` is absent or `new` already set).

    """
    if old not in answers or new in answers:
        return False
    items = list(answers.items())
    answers.clear()
    # keep the key where it was, so the answers file diff stays one line
    for key, value in items:
        answers[new if key == old else key] = value
    _say(f"renamed answer {old} -> {new}")
    return True


def remap_answer(
    answers: MutableMapping[str, Any], question: str, mapping: Mapping[str, Any]
) -> bool:
    """Replace a renamed value of a question.

    Args:
        answers: The project's answers, changed in place.
        question: The question whose values were renamed.
        mapping: Old value to new value.

    Returns:
        Whether the answer changed.

    """
    if question not in answers:
        return False
    old = answers[question]
    if not isinstance(old, str | int | float | bool) or str(old) not in mapping:
        return False
    answers[question] = mapping[str(old)]
    _say(f"changed {question}: {old} -> {answers[question]}")
    return True


def record_unasked(answers: MutableMapping[str, Any], question: str, value: Any) -> bool:
    """Record `value` for a question the project's template version never asked.

    Returns:
        Whether anything changed (False when the project answered it already).

    """
    if question in answers:
        return False
    answers[question] = value
    _say(f"{question}: never asked before, recorded {value!r} (change it with --data)")
    return True


def _release(value: Any) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", str(value)))


def _static_choices(details: Any) -> list[str]:
    """Return a question's choice values, or [] when they are templated or absent."""
    if not isinstance(details, Mapping):
        return []
    raw = details.get("choices")
    if isinstance(raw, Mapping):
        raw = list(raw.values())
    if not isinstance(raw, list):
        return []
    values = [item.get("value") if isinstance(item, Mapping) else item for item in raw]
    if any(not isinstance(v, str | int | float) or "{" in str(v) for v in values):
        return []
    return [str(v) for v in values]


# answers whose release line names the format of data on a volume that the next line
# does not open: a move must not happen behind the user's back. PostgreSQL refuses a
# data folder of another major release; MariaDB and Redis read their older files.
# Once the data has moved, `KEELSON_DATA_MOVED=<answer>[,<answer>]` lets the update move it.
DATA_FORMAT_VERSIONS = {
    "postgresql_version": (
        "PostgreSQL does not open a data folder of another major release: move the data to "
        "{new} first (pg_dumpall and restore, or pg_upgrade), then update again with "
        "KEELSON_DATA_MOVED=postgresql_version in the environment"
    ),
}
DATA_MOVED_ENV = "KEELSON_DATA_MOVED"


def retire_versions(answers: MutableMapping[str, Any], questions: Mapping[str, Any]) -> list[str]:
    """Move `*_version` answers that are no longer offered to the nearest newer one.

    The nearest newer release is the least upgrade that keeps the project working;
    when the template only offers older releases, its default is used instead. An
    answer in `DATA_FORMAT_VERSIONS` is not moved unless `$KEELSON_DATA_MOVED` names it:
    the step stops instead, naming what to do, and nothing is written.

    Args:
        answers: The project's answers, changed in place.
        questions: The new template's `copier.yml`, as a mapping.

    Returns:
        The names of the answers that changed.

    Raises:
        SystemExit: A data-format answer is no longer offered.

    """
    changed: list[str] = []
    moved = {item.strip() for item in os.environ.get(DATA_MOVED_ENV, "").split(",")}
    for name, details in questions.items():
        if name.startswith("_") or not name.endswith("_version") or name not in answers:
            continue
        offered = _static_choices(details)
        current = answers[name]
        if not offered or str(current) in offered:
            continue
        newer = sorted((c for c in offered if _release(c) > _release(current)), key=_release)
        default = details.get("default") if isinstance(details, Mapping) else None
        if newer:
            replacement = newer[0]
        elif default is not None and str(default) in offered:
            replacement = str(default)
        else:
            replacement = offered[0]
        if name in DATA_FORMAT_VERSIONS and name not in moved:
            how = DATA_FORMAT_VERSIONS[name].format(new=replacement)
            raise SystemExit(
                f"keelson migration: {name} {current} is no longer offered; "
                f"not moved to {replacement}: {how}"
            )
        answers[name] = replacement
        _say(f"{name} {current} is no longer offered; moved to {replacement}")
        changed.append(name)
    return changed


def move_secret(old: Path, new: Path, same_as: Path | None = None) -> bool:
    """Move a git-ignored secret file to where the new template reads it.

    The new file's folder is made private (0700) and ignores itself (a `.gitignore`
    of `*`), as generator/tasks.py makes it; the file keeps its mode. The old folder
    goes when only its `.gitignore` is left. A file already at `new` is never
    overwritten: both stay, and the step says so.

    Args:
        old: Where the old template version kept the file.
        new: Where the new one reads it.
        same_as: A file that normally holds the same value: when the moved one
            differs, the step warns (it may hold a password meant for elsewhere).

    Returns:
        Whether the file moved.

    """
    if not old.is_file():
        return False
    if new.exists():
        _say(f"{old} is left where it is: {new} exists already; delete the one you do not use")
        return False
    new.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    new.parent.chmod(0o700)
    ignore = new.parent / ".gitignore"
    if not ignore.is_file():
        ignore.write_text("*\n", encoding="utf-8")
    os.replace(old, new)
    leftover = {p.name for p in old.parent.iterdir()}
    if leftover <= {".gitignore"}:
        (old.parent / ".gitignore").unlink(missing_ok=True)
        old.parent.rmdir()
    _say(f"moved {old} -> {new}")
    expected = same_as.read_bytes().strip() if same_as and same_as.is_file() else None
    if expected is not None and expected != new.read_bytes().strip():
        _say(
            f"{new} holds another value than {same_as}: if it is a password for "
            f"another environment (prod), make that environment's Secret from it, "
            f"then copy {same_as} to {new}"
        )
    return True


def read_answers(path: Path) -> tuple[list[str], dict[str, Any]]:
    """Read an answers file: its leading comment lines and its answers."""
    text = path.read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise SystemExit(f"keelson migration: {path} is not a mapping of answers")
    return header, data


def write_answers(path: Path, header: Sequence[str], answers: Mapping[str, Any]) -> None:
    """Write an answers file back, keeping its leading comment lines."""
    body = yaml.safe_dump(dict(answers), sort_keys=False, allow_unicode=True)
    path.write_text("".join(f"{line}\n" for line in header) + body, encoding="utf-8")


def _template_questions(template: Path) -> Mapping[str, Any]:
    for name in ("copier.yml", "copier.yaml"):
        if (template / name).is_file():
            return load_config(
                (template / name).read_text(encoding="utf-8"), folder_reader(template)
            )
    raise SystemExit(f"keelson migration: no copier.yml in {template}")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the migration script."""
    parser = argparse.ArgumentParser(prog="migrations.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--answers-file",
        type=Path,
        default=Path(DEFAULT_ANSWERS_FILE),
        help="the project's answers file (default: %(default)s)",
    )
    steps = parser.add_subparsers(dest="step", required=True)
    rename = steps.add_parser("rename", help="a question was renamed")
    rename.add_argument("old")
    rename.add_argument("new")
    remap = steps.add_parser("remap", help="a question's values were renamed")
    remap.add_argument("question")
    remap.add_argument("pairs", nargs="+", metavar="OLD=NEW")
    retired = steps.add_parser("retired-versions", help="move retired *_version answers")
    retired.add_argument("--template", type=Path, required=True, help="new template checkout")
    unasked = steps.add_parser("unasked", help="record a value for a question never asked")
    unasked.add_argument("question")
    unasked.add_argument("value", type=yaml.safe_load, help="a YAML value, such as false")
    moved = steps.add_parser("move-secret", help="a git-ignored secret file moved")
    moved.add_argument("old", type=Path)
    moved.add_argument("new", type=Path)
    moved.add_argument("--same-as", type=Path, help="a file that normally holds the same value")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one migration step on the answers file; return the exit code."""
    args = build_parser().parse_args(argv)
    if args.step == "move-secret":
        # a file of the project, not an answer: it moves whatever the answers say
        move_secret(args.old, args.new, args.same_as)
        return 0
    path: Path = args.answers_file
    if not path.is_file():
        _say(f"no {path}; nothing to migrate")
        return 0
    header, answers = read_answers(path)
    if args.step == "rename":
        changed = rename_answer(answers, args.old, args.new)
    elif args.step == "remap":
        mapping = dict(pair.split("=", 1) for pair in args.pairs if "=" in pair)
        changed = remap_answer(answers, args.question, mapping)
    elif args.step == "unasked":
        changed = record_unasked(answers, args.question, args.value)
    else:
        changed = bool(retire_versions(answers, _template_questions(args.template)))
    if changed:
        write_answers(path, header, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
