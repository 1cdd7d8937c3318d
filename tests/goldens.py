"""Golden renders: real services, committed under tests/golden/, that show what a change does.

A few representative combinations are rendered and kept file by file, so that a template
change shows up in review as a diff of the services it produces. What differs from one
render to the next is replaced by a fixed marker: the random database password, and the
template's commit and path in the answers file. Files named `.gitignore` are kept as
`.gitignore.golden`, so that git does not apply them to the golden folder itself.

The fast tier compares a fresh render with these folders (tests/test_golden.py). Refresh
them after an intended template change, and review `git diff tests/golden`:

    scripts/refresh-golden.sh          (= .venv/bin/python -m tests.goldens refresh)
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from tests.matrix import ROOT, combo_id, render

GOLDEN = ROOT / "tests" / "golden"
REFRESH = "scripts/refresh-golden.sh"
# representative, not exhaustive: one per language, each database kind once, and the
# variant without a database that gets an Ingress
CASES: list[dict[str, str]] = [
    {"language": "python", "database": "postgresql"},
    {"language": "node", "database": "redis"},
    {"language": "go", "database": "mariadb"},
    {"language": "go", "database": "none", "ingress_host": "api.example.com"},
]
# the project name comes from this folder name, as it does for a user
PROJECT = "orders"
PASSWORD_FILE = ".secrets/db_password"
PASSWORD_MARKER = "GOLDEN-RANDOM-DB-PASSWORD"
ANSWER_MARKERS = {"_commit": "GOLDEN-TEMPLATE-COMMIT", "_src_path": "GOLDEN-TEMPLATE-PATH"}
STORED_AS = {".gitignore": ".gitignore.golden"}


def stored_name(rel: str) -> str:
    """The name a rendered file is kept under in the golden folder."""
    path = Path(rel)
    return str(path.with_name(STORED_AS.get(path.name, path.name)))


def normalise(root: Path) -> dict[str, tuple[bytes, bool]]:
    """The render's files as stored: name -> (content with markers, executable bit)."""
    secret = root / PASSWORD_FILE
    password = secret.read_text(encoding="utf-8").strip() if secret.is_file() else ""
    files: dict[str, tuple[bytes, bool]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        content = path.read_bytes()
        if password:
            content = content.replace(password.encode(), PASSWORD_MARKER.encode())
        if rel == ".copier-answers.yml":
            text = content.decode("utf-8")
            for key, marker in ANSWER_MARKERS.items():
                text = re.sub(rf"^{key}: .*$", f"{key}: {marker}", text, flags=re.M)
            content = text.encode("utf-8")
        files[stored_name(rel)] = (content, os.access(path, os.X_OK))
    return files


def stored(folder: Path) -> dict[str, tuple[bytes, bool]]:
    """A golden folder's files: name -> (content, executable bit)."""
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes(), os.access(path, os.X_OK))
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def render_case(answers: dict[str, str], scratch: Path) -> dict[str, tuple[bytes, bool]]:
    """Render one case into `scratch` (a new folder) and return its normalised files."""
    return normalise(render(scratch / PROJECT, **answers))


def _text(content: bytes) -> list[str]:
    return content.decode("utf-8", "replace").splitlines(keepends=True)


def differences(expected: dict[str, tuple[bytes, bool]], actual: dict[str, tuple[bytes, bool]],
                case: str) -> str:  # fmt: skip
    """A unified diff from the golden files to a fresh render; empty when they match."""
    out: list[str] = []
    for name in sorted(expected.keys() | actual.keys()):
        old, new = expected.get(name), actual.get(name)
        if old == new:
            continue
        golden, fresh = f"tests/golden/{case}/{name}", f"fresh render/{name}"
        if old is None or new is None:
            out.append(f"{'only in a fresh render' if old is None else 'no longer rendered'}: "
                       f"{golden}\n")  # fmt: skip
        if old is not None and new is not None and old[1] != new[1]:
            out.append(f"executable bit of {golden}: golden {old[1]}, fresh {new[1]}\n")
        diff = difflib.unified_diff(
            _text(old[0]) if old else [], _text(new[0]) if new else [], golden, fresh
        )
        out.extend(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in diff)  # fmt: skip
    return "".join(out)


def refresh(cases: list[dict[str, str]] = CASES) -> list[str]:
    """Render every case anew into tests/golden/, dropping folders of retired cases."""
    wanted = {combo_id(answers) for answers in cases}
    if GOLDEN.is_dir():
        for folder in GOLDEN.iterdir():
            if folder.is_dir() and folder.name not in wanted:
                shutil.rmtree(folder)
    written = []
    with tempfile.TemporaryDirectory(prefix="keelson-golden-") as scratch:
        for answers in cases:
            case = combo_id(answers)
            files = render_case(answers, Path(scratch) / case)
            target = GOLDEN / case
            shutil.rmtree(target, ignore_errors=True)
            for name, (content, executable) in files.items():
                path = target / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
                path.chmod(0o755 if executable else 0o644)
            written.append(f"{case}: {len(files)} files")
    return written


def main(argv: list[str]) -> int:
    """`python -m tests.goldens refresh`: rewrite the golden renders."""
    if argv != ["refresh"]:
        print(f"usage: {REFRESH}  (python -m tests.goldens refresh)", file=sys.stderr)
        return 2
    for line in refresh():
        print(f"golden: {line}")
    print("golden: review the change with `git diff --stat tests/golden`, then commit it")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
