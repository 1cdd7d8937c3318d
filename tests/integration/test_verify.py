"""`keelson verify` on a user's own service: a pass/fail table, and the reason on failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.matrix import render


def verify(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", "verify", str(project)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def test_verify_passes_a_generated_service(tmp_path: Path, base_images: list[str]) -> None:
    project = render(tmp_path / "orders", language="go", database="redis")
    result = verify(project)
    assert result.returncode == 0, result.stdout + result.stderr
    table = result.stdout
    for check in (
        "build",
        "compose up --wait",
        "GET /healthz",
        "GET /readyz",
        "database round trip",
        "runs as non-root",
        "graceful stop (SIGTERM)",
    ):
        row = next(line for line in table.splitlines() if line.startswith(check))
        assert " pass " in row, row
    assert "image registry.example.com/team/orders:dev:" in table
    assert table.strip().endswith("verify: passed")
    # torn down: no container of the stack is left
    left = subprocess.run(
        ["docker", "ps", "-a", "--filter", "name=keelson-", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "orders" not in left


def test_verify_fails_with_the_build_error(tmp_path: Path, base_images: list[str]) -> None:
    project = render(tmp_path / "broken", language="go", database="none")
    main = project / "main.go"
    main.write_text(main.read_text() + "\nfunc broken() { undefinedCall() }\n")
    result = verify(project)
    assert result.returncode == 1
    assert "build" in result.stdout and "FAIL" in result.stdout
    assert "undefined: undefinedCall" in result.stdout
    assert result.stdout.strip().endswith("verify: FAILED")
