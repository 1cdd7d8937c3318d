"""Build-and-boot tier: real Docker engine, real databases, every combination.

Skipped (with the reason printed) only where no engine answers; under CI=true a
missing engine is an error, never a silent skip.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator

import pytest
from pytest_docker.plugin import get_docker_services

from generator.docker import compose_command
from generator.verify import Stack
from tests.conftest import ENGINE_PROBLEM
from tests.matrix import MATRIX, combo_id, render


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Runs after pytest's own reordering and `-m` deselection. One stack per
    # combination: the rules parametrized over subsets of the matrix (WITH_DB,
    # REDIS...) give the same combination other parameter indices, which pytest's
    # own grouping tells apart, so it would boot a stack many times over. Run every
    # test of a combination together (stable: their order is kept).
    order = {combo_id(combo): n for n, combo in enumerate(MATRIX)}

    def stack_of(item: pytest.Item) -> int:
        callspec = getattr(item, "callspec", None)
        combo = callspec.params.get("stack") if callspec else None
        return -1 if combo is None else order[combo_id(combo)]

    items[:] = sorted(items, key=stack_of)


@pytest.fixture(scope="session")
def base_images(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Every base image the matrix needs: local, pulled, or an honest stand-in."""
    from generator import ensure_images, required_images

    if ENGINE_PROBLEM:
        pytest.fail(f"CI needs a Docker engine: {ENGINE_PROBLEM}")

    needed: list[str] = []
    root = tmp_path_factory.mktemp("images")
    for combo in MATRIX:
        for image in required_images(render(root / combo_id(combo), **combo)):
            if image not in needed:
                needed.append(image)
    ensure_images(needed, policy=os.environ.get("KEELSON_STANDINS", "auto"), log=print)
    return needed


@pytest.fixture(scope="session")
def stack(
    request: pytest.FixtureRequest, base_images: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The combination's compose stack, built and healthy; always torn down.

    Session scope: pytest groups the tests of every module by combination, so the
    boot tier and the conformance suite share one stack per combination, and only
    one stack runs at a time (the previous one is torn down before the next boots).
    """
    combo: dict[str, str] = request.param
    project = render(tmp_path_factory.mktemp("boot") / combo_id(combo), **combo)
    booted = Stack(project)
    # BuildKit through the docker CLI first: it fails loudly on a broken step,
    # while Compose without buildx falls back to a builder that exits 0
    booted.build()
    compose = f"APP_PORT={booted.port} {shlex.join(compose_command())}"
    with get_docker_services(
        compose,
        str(project / "compose.yaml"),
        booted.name,
        ["up --build --wait"],
        ["down --volumes --remove-orphans --timeout 10"],
    ):
        yield booted
