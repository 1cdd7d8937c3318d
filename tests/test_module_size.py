"""No keelson module grows past 600 lines (issue 19): one concern a module, read whole.

keelson's Python is the `generator` package and each pack's adopt detection
(`templates/<language>/detect.py`, linted as keelson code too by scripts/lint.sh).
A module that outgrows the limit is split by concern, not trimmed to fit.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 600


def keelson_modules() -> list[Path]:
    """Every Python file of the generator package and of the packs' detection."""
    return sorted([*(ROOT / "generator").rglob("*.py"), *(ROOT / "templates").glob("*/detect.py")])


def test_the_scan_finds_the_modules() -> None:
    found = {path.relative_to(ROOT).as_posix() for path in keelson_modules()}
    assert {"generator/cli.py", "generator/update.py"} <= found
    assert any(path.endswith("/detect.py") for path in found)


def test_no_module_is_over_600_lines() -> None:
    counts = {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in keelson_modules()
    }
    over = [f"{path}: {count} lines" for path, count in counts.items() if count > LIMIT]
    assert not over, f"over {LIMIT} lines, split by concern: " + "; ".join(over)
