"""A language is one folder: no language fact is spelled outside `templates/<language>/`.

The scan reads generator/, scripts/, benchmarks/, tests/ (goldens and the sample
projects adopt reads aside) and copier.yml, and reports every
- per-language table: a Python dict, list, tuple or set literal naming two or more
  languages (a pack's folder name, or its runtime-version question);
- language branch: a Python comparison with a language name (`language == "go"`);
- file of a pack kept elsewhere: a path under those folders named after a language,
  or a shell or YAML line naming `templates/<language>/` or a language's question;
- in copier.yml, any language name at all.
A test that renders one combination (`rendered(language="go")`) is an example, not
a fact, and is not reported. A fourth language would have to be added at each hit, so
each one left is in ALLOWED with the reason it stays.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from generator import packs
from tests.matrix import ROOT

SCANNED = ("generator", "scripts", "benchmarks", "tests")
SKIPPED = ("tests/golden", "tests/adopt/fixtures")
"""Rendered services and sample projects: output and data in a language, not facts about one."""

ALLOWED: dict[str, str] = {
    # a file, a folder (ending in /), a prefix (ending in *) or `file what` -> why its hits stay
    "tests/kubernetes/test_pods.py": "in-pod probe scripts, each in its runtime's language",
    "tests/test_pack_scan.py": "the scan's own example of what it finds",
    "copier.yml names 'python'": "the `language` default: one choice among the packs",
    "tests/test_update_from_before.py": "services made at a past commit: its languages are history",
    "tests/test_update_pipeline.py": "services made at a past commit: its languages are history",
    "tests/test_real_use.py": "a case of the go pack's own go_module question (project `go`)",
}
"""Files whose language names stay, each with its reason."""


def _languages() -> dict[str, set[str]]:
    """Each language's spellings: its folder name and its runtime-version question."""
    return {name: {name, pack.version_question} for name, pack in packs.discover(ROOT).items()}


def _named(node: ast.AST, spellings: dict[str, set[str]]) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {lang for lang, words in spellings.items() if node.value in words}
    return set()


def python_hits(text: str, spellings: dict[str, set[str]]) -> Iterator[tuple[int, str]]:
    """Per-language tables and language branches in a Python module."""
    tree = ast.parse(text)
    # docstrings and other bare strings are prose, not data
    prose = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Dict, ast.List, ast.Tuple, ast.Set)):
            items = [*(k for k in node.keys if k), *node.values] if isinstance(
                node, ast.Dict) else node.elts  # fmt: skip
            named = set().union(*(_named(item, spellings) for item in items))
            if len(named) >= 2:
                yield node.lineno, f"table of {', '.join(sorted(named))}"
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
        ):
            # a list spelled in one string: "node, python, go"
            words = set(re.findall(r"[\w.]+", node.value))
            named = {lang for lang, spelled in spellings.items() if lang in words}
            if len(named) >= 2 and re.search(r"\w, \w", node.value):
                yield node.lineno, f"list of {', '.join(sorted(named))} in a string"
        elif isinstance(node, ast.Compare):
            named = set().union(*(_named(n, spellings) for n in [node.left, *node.comparators]))
            if named:
                yield node.lineno, f"branch on {', '.join(sorted(named))}"


def text_hits(
    text: str, spellings: dict[str, set[str]], *, every: bool
) -> Iterator[tuple[int, str]]:
    """Lines of a shell or YAML file naming a pack's folder or question (any name if `every`)."""
    words = {w for ws in spellings.values() for w in ws}
    alternatives = "|".join(re.escape(w) for w in sorted(words))
    if every:
        rx = re.compile(rf"(?<![\w/.-])({alternatives})(?![\w-])")
    else:
        rx = re.compile(rf"templates/({alternatives})/|relock-({alternatives})\b")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.lstrip().startswith("#") and (match := rx.search(line)):
            yield number, f"names {match.group(0)!r}"


def scan(root: Path, spellings: dict[str, set[str]]) -> list[str]:
    """Every hit under `root`, as `path:line: what`."""
    found: list[str] = []
    files = [root / "copier.yml"]
    for folder in SCANNED:
        files += sorted(p for p in (root / folder).rglob("*") if "__pycache__" not in p.parts)
    languages = set(spellings)
    for path in files:
        rel = path.relative_to(root).as_posix()
        if rel.startswith(SKIPPED):
            continue
        # a folder or file named after a language (relock-go.sh, go-none.go, standins/node/)
        named = Path(rel).stem.removeprefix("relock-").split("-")[0]
        if languages & {*Path(rel).parts[:-1], named}:
            found.append(f"{rel}:0: a file of a language pack kept outside it")
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".py":
            hits = python_hits(text, spellings)
        elif path.suffix in (".sh", ".yml", ".yaml"):
            hits = text_hits(text, spellings, every=rel == "copier.yml")
        else:
            continue
        found += [f"{rel}:{line}: {what}" for line, what in hits]
    return found


def _allowed(hit: str, key: str | None = None) -> bool:
    """Whether an ALLOWED entry (any, or `key`) covers a hit: its file, folder, or `file what`."""
    rel, _line, what = hit.split(":", 2)
    keys = ALLOWED if key is None else [key]
    return any(
        k in (rel, f"{rel} {what.strip()}")
        or (k.endswith("/") and rel.startswith(k))
        or (k.endswith("*") and rel.startswith(k[:-1]))
        for k in keys
    )


def test_no_language_fact_outside_the_packs() -> None:
    hits = [hit for hit in scan(ROOT, _languages()) if not _allowed(hit)]
    assert hits == [], "language facts outside templates/<language>/:\n" + "\n".join(hits)


def test_every_allowed_entry_still_has_a_hit() -> None:
    hits = scan(ROOT, _languages())
    stale = [key for key in ALLOWED if not any(_allowed(hit, key) for hit in hits)]
    assert stale == [], f"ALLOWED entries with nothing left to allow: {stale}"


def test_the_scan_finds_a_table_a_branch_and_a_pack_file(tmp_path: Path) -> None:
    spellings = {"go": {"go", "go_version"}, "node": {"node", "node_version"}}
    (tmp_path / "copier.yml").write_text("port:\n  default: 8080\n", encoding="utf-8")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "b.py").write_text(
        '"""Usage: b.py --languages go, node"""\nMEMORY = {"go": 1, "node": 2}\n'
        'if language == "go":\n    pass\nrendered(language="go")\nALLOWED = "one of: go, node"\n',
        encoding="utf-8",
    )
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "relock-go.sh").write_text("cd templates/go/parts\n", encoding="utf-8")
    for folder in ("generator", "tests"):
        (tmp_path / folder).mkdir()
    assert sorted(scan(tmp_path, spellings)) == [
        "benchmarks/b.py:2: table of go, node",
        "benchmarks/b.py:3: branch on go",
        "benchmarks/b.py:6: list of go, node in a string",
        "scripts/relock-go.sh:0: a file of a language pack kept outside it",
        "scripts/relock-go.sh:1: names 'templates/go/'",
    ]


def test_the_guide_names_every_fact_and_file_of_a_pack() -> None:
    guide = (ROOT / "docs" / "adding-a-language.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([^`\s]+)`", guide))
    missing = [fact for fact in packs.FIELDS if fact not in named]
    missing += [name for name in packs.PACK_FILES if name not in guide]
    missing += [
        name
        for name in ("relock.sh", "reference.Dockerfile", "floor-", packs.STANDIN_IMAGES)
        if name not in guide
    ]
    assert missing == [], f"docs/adding-a-language.md does not name: {missing}"
    # every repository file it points to exists
    paths = {p for p in named if re.fullmatch(r"(generator|benchmarks|tests|docs)/[\w/.-]+", p)}
    assert paths and not [p for p in sorted(paths) if not (ROOT / p).exists()]
