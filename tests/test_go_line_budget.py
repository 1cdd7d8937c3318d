"""The generated Go service stays small enough for a team to own (issue 20)."""

from __future__ import annotations

from tests.conftest import Render

BUDGET = 600  # lines of non-test code (*.go and go.mod) on PostgreSQL


def test_go_postgresql_stays_within_its_line_budget(rendered: Render) -> None:
    root = rendered(language="go", database="postgresql")
    files = [p for p in root.glob("*.go") if not p.name.endswith("_test.go")] + [root / "go.mod"]
    lines = {p.name: len(p.read_text().splitlines()) for p in files}
    assert sum(lines.values()) <= BUDGET, lines


def test_every_go_file_says_what_it_is_for(rendered: Render) -> None:
    root = rendered(language="go", database="postgresql")
    for path in root.glob("*.go"):
        if path.name.endswith("_test.go"):
            continue
        text = path.read_text()
        after_header = text.split("your own edits are kept.\n\n", 1)[1]
        assert after_header.startswith("// "), f"{path.name} opens without a comment on its purpose"
