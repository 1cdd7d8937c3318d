"""Each generated service's own unit tests pass on the host toolchain.

They run as its pipelines run them: `ci/release.sh check`, rendered from the language
pack's `unit_tests`, so the suite and the service's CI run the same commands.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator import packs
from tests.conftest import Render
from tests.matrix import MATRIX, MATRIX_IDS, ROOT


def commands(language: str) -> list[list[str]]:
    """The service's own unit-test commands, as its language pack states them."""
    pack = packs.load(ROOT, language)
    return [
        [sys.executable if arg == "{python}" else arg for arg in cmd] for cmd in pack.unit_tests
    ]


@pytest.mark.parametrize("combo", MATRIX, ids=MATRIX_IDS)
def test_generated_unit_tests_pass(rendered: Render, combo: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "svc"
    shutil.copytree(rendered(**combo), project)
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca-certificates.crt"}
    env.pop("VIRTUAL_ENV", None)
    env["PYTHON"] = sys.executable
    # the host tools the commands need (what they make themselves, in .venv/, aside)
    for cmd in commands(combo["language"]):
        if not cmd[0].startswith((".venv/", "/")) and shutil.which(cmd[0]) is None:
            pytest.fail(f"{cmd[0]} is not installed on this machine")
    # the pack's commands, as the pipelines run them
    result = subprocess.run(
        ["ci/release.sh", "check"], cwd=project, env=env, capture_output=True, text=True,
        check=False, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
