"""The pipelines' build-and-boot job, run here with the commands the pipelines run.

`ci/release.sh image` then `ci/release.sh smoke` is the whole of that job in both
`.github/workflows/ci.yml` and `.gitlab-ci.yml`; here it builds and boots each
language's service (database none) on the local engine. The smoke check must also be
able to fail: an image that runs as root is refused with one line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from generator import packs
from generator.docker import docker_command
from tests.matrix import ROOT, render

LANGUAGES = packs.languages(ROOT)


def release(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(project / "ci" / "release.sh"), *args], cwd=project, capture_output=True,
        text=True, check=False, timeout=900,
        # the client keelson uses (one with BuildKit), as a pipeline's runner has one
        env={**os.environ, "DOCKER": docker_command(), **env},
    )  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_build_job_builds_and_boots_the_image(
    base_images: list[str], tmp_path: Path, language: str
) -> None:
    project = render(tmp_path / f"pipe-{language}", language=language, database="none")
    image = f"keelson-pipeline-test/{language}"
    try:
        built = release(project, "image", IMAGE=image, TAG="v1.2.3")
        assert built.returncode == 0, built.stderr[-3000:]
        labels = subprocess.run(
            [docker_command(), "image", "inspect", "--format",
             '{{ index .Config.Labels "org.opencontainers.image.version" }}', f"{image}:ci"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert labels == "1.2.3"
        smoke = release(project, "smoke", IMAGE=image)
        assert smoke.returncode == 0, smoke.stderr
        assert f"{image}:ci answers on port" in smoke.stderr and "as UID 10001" in smoke.stderr

        if language == LANGUAGES[0]:
            # the same image forced to run as root must fail the check, in one line (one
            # language is enough: the check reads the image, not the language)
            root = tmp_path / "root"
            root.mkdir()
            (root / "Dockerfile").write_text(f"FROM {image}:ci\nUSER 0:0\n")
            subprocess.run(
                [docker_command(), "build", "-q", "-t", f"{image}:root", str(root)],
                capture_output=True, check=True, env={**os.environ, "DOCKER_BUILDKIT": "1"},
            )  # fmt: skip
            refused = release(project, "smoke", SMOKE_IMAGE=f"{image}:root")
            assert refused.returncode == 1
            assert refused.stderr.splitlines()[-1] == (
                f"release: {image}:root runs as UID 0, not 10001"
            )
    finally:
        subprocess.run(
            [docker_command(), "image", "rm", "-f", f"{image}:ci", f"{image}:root"],
            capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(project, ignore_errors=True)
