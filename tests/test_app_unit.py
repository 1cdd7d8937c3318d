"""Each generated service's own unit tests pass on the host toolchain."""

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
    for cmd in commands(combo["language"]):
        if (
            shutil.which(cmd[0]) is None
            and not Path(project, cmd[0]).exists()
            and not Path(cmd[0]).is_absolute()
        ):
            pytest.fail(f"{cmd[0]} is not installed on this machine")
        result = subprocess.run(
            cmd, cwd=project, env=env, capture_output=True, text=True, check=False, timeout=600
        )
        assert result.returncode == 0, (
            f"{' '.join(cmd)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
