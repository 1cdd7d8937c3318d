"""scripts/release-tools.sh outside the build: its usage and an empty cache."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "release-tools.sh"


def _run(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEELSON_KUBE_CACHE": str(cache)}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, check=False, env=env
    )


def test_an_unknown_command_prints_the_usage_and_writes_nothing(tmp_path: Path) -> None:
    done = _run(tmp_path / "cache", "install")
    assert done.returncode == 2
    assert done.stderr.strip() == f"usage: {SCRIPT} build|path"
    assert not (tmp_path / "cache").exists()


def test_path_on_an_empty_cache_fails_and_names_the_build_command(tmp_path: Path) -> None:
    done = _run(tmp_path / "cache", "path")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == f"release-tools: not built yet: run {SCRIPT} build"
    assert not (tmp_path / "cache").exists()
