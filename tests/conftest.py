"""Shared fixtures: the template matrix, rendered services and the tools that lint them."""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate.utils
import pytest
import yaml

from generator.cli import main
from generator.docker import engine_problem
from generator.locks import locked
from tests.matrix import (
    ROOT,
    clone_release,
    copy_template,
    release,
    render,
)

# kubernetes-validate reads its schema files, a multi-megabyte definitions file among
# them, for every object it checks; they never change during a run, so read each once
kubernetes_validate.utils.schema_contents = functools.cache(
    kubernetes_validate.utils.schema_contents
)

# copier commits inside its scratch clones; a fresh CI machine has no git identity
for _var, _value in {
    "GIT_AUTHOR_NAME": "keelson tests",
    "GIT_AUTHOR_EMAIL": "tests@keelson.invalid",
    "GIT_COMMITTER_NAME": "keelson tests",
    "GIT_COMMITTER_EMAIL": "tests@keelson.invalid",
}.items():
    os.environ.setdefault(_var, _value)

# the golden renders are services, with tests of their own: not this suite's
collect_ignore = ["golden"]

Render = Callable[..., Path]
Manifests = list[dict[str, Any]]
Kustomized = Callable[[Path, str], Manifests]
# libyaml when PyYAML has it: the suite parses a few thousand manifests
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --- tiers: set here and nowhere else ---------------------------------------------------
# A tier is a marker. A test gets the markers of the most specific entry it matches: a
# folder (`name/`) covers everything under it, a file its tests, `file::test` one test;
# an empty entry keeps a file of a tier's folder in the fast tier. scripts/test.sh runs
# the tiers in turn; tests/test_tiers.py checks that every entry still names a test.
TIERS: dict[str, tuple[str, ...]] = {
    "integration/": ("docker",),
    "adopt/test_adopt_engine.py": ("docker", "slow"),
    # real published projects, fetched beforehand by scripts/adopt-corpus.sh
    "adopt/test_adopt_corpus.py": ("docker", "adopt_corpus"),
    "kubernetes/": ("kubernetes", "slow"),
    "release/": ("docker", "release"),
    # the deploy helpers' pure functions: no cluster
    "kubernetes/test_deploy_helpers.py": (),
    "adopt/test_adopt_pipeline.py": ("slow",),
    "adopt/test_adopt_update.py": ("slow",),
    "test_fleet.py": ("slow",),
    "test_interruptions.py": ("slow",),
    "test_never_lose_work.py": ("slow",),
    "test_pins.py": ("slow",),
    "test_release.py": ("slow",),
    "test_update.py": ("slow",),
    "test_update_from_before.py": ("slow",),
    "test_update_pipeline.py": ("slow",),
    "test_update_across_packs.py": ("slow",),
    "adopt/test_adopt.py::test_in_a_terminal_the_answers_are_shown_for_confirmation": ("slow",),
    "adopt/test_adopt.py::test_in_a_terminal_a_detected_answer_can_be_changed_before_writing": (
        "slow",
    ),
    "test_app_unit.py::test_generated_unit_tests_pass": ("slow",),
    "test_defects_cli.py::"
    "test_adopt_quiet_prints_nothing_and_skip_existing_says_when_nothing_is_left": ("slow",),
    "test_defects_cli.py::test_pretend_hint_repeats_the_same_update_for_real": ("slow",),
    "test_defects_cli.py::test_update_from_a_subfolder_finds_the_service": ("slow",),
    "test_defects_cli.py::test_update_names_data_as_the_source_of_a_bad_answer": ("slow",),
    "test_governance.py::test_validate_refuses_port_80_with_keelsons_own_validator": ("slow",),
    "test_renovate.py::test_a_service_from_before_the_question_opts_in_only_when_asked": ("slow",),
    "test_renovate.py::test_the_validator_accepts_every_render": ("renovate",),
    "test_renovate.py::test_the_validator_accepts_an_adopted_project": ("renovate",),
    "test_renovate.py::test_the_docs_example_is_what_a_service_gets_and_is_valid": ("renovate",),
    "test_renovate.py::test_renovate_reports_the_template_update": ("renovate",),
    "test_pack_move.py::test_service_from_before_the_move_updates_with_only_the_intended_change": (
        "slow",
    ),
}
TESTS = Path(__file__).resolve().parent
ENGINE_PROBLEM = engine_problem()


def tiers_of(path: Path, test: str) -> tuple[str, ...]:
    """The markers TIERS gives a test (its file's path and its function's name)."""
    rel = path.resolve().relative_to(TESTS).as_posix()
    matching = [
        key
        for key in TIERS
        if key in {rel, f"{rel}::{test}"} or (key.endswith("/") and rel.startswith(key))
    ]
    return TIERS[max(matching, key=len)] if matching else ()


def pytest_itemcollected(item: pytest.Item) -> None:
    # marked as they are collected, so that `-m "not docker"` deselects them
    name = getattr(item, "originalname", item.name)
    for mark in tiers_of(item.path, name):
        item.add_marker(getattr(pytest.mark, mark))
        # under CI a missing engine must fail the run, never skip it
        if mark == "docker" and ENGINE_PROBLEM and not os.environ.get("CI"):
            item.add_marker(pytest.mark.skip(reason=f"no Docker engine: {ENGINE_PROBLEM}"))


def shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this run that every pytest-xdist worker shares (the session's own without)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """Render a combination once per run and hand out the same folder.

    The folders are shared by the pytest-xdist workers of the run (the first one to ask
    renders, under a lock), so a test must never change what it gets: copy it first.
    """
    cache: dict[tuple[tuple[str, object], ...], Path] = {}
    shared = shared_tmp(tmp_path_factory) / "rendered"

    def get(**answers: object) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in cache:
            name = "-".join(str(v) for _, v in key) or "defaults"
            folder = shared / hashlib.sha256(repr(key).encode()).hexdigest()[:16]
            folder.mkdir(parents=True, exist_ok=True)
            dest = folder / f"svc-{name}"[:40].rstrip("-.")
            with locked(folder / ".lock"):
                if not (folder / ".rendered").exists():
                    render(dest, **answers)
                    (folder / ".rendered").touch()
            cache[key] = dest
        return cache[key]

    return get


@pytest.fixture(scope="session")
def released_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """keelson's template, as the working tree has it, committed and tagged v1.0.0.

    Made once per run and shared by the pytest-xdist workers (the first one to ask makes
    it, under a lock): it is read-only, so a test that needs its own release clones it
    through `template_release`.
    """
    folder = shared_tmp(tmp_path_factory) / "released-template"
    folder.mkdir(parents=True, exist_ok=True)
    repo = folder / "keelson"
    with locked(folder / ".lock"):
        if not (folder / ".released").exists():
            if repo.exists():
                shutil.rmtree(repo)
            release(copy_template(repo), "v1.0.0")
            (folder / ".released").touch()
    return repo


ReleaseClone = Callable[..., Path]


@pytest.fixture
def template_release(released_template: Path) -> ReleaseClone:
    """Hand out a private clone of `released_template`: `template_release(dest, tag=...)`.

    The clone's one release is named `tag` (v1.0.0 unless told; None leaves its commit
    untagged, for a first release that needs an edit); the test edits the clone and tags
    its later releases with `tests.matrix.release`.
    """
    return functools.partial(clone_release, released_template)


@dataclass(frozen=True)
class Ran:
    """What one `keelson` command did: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


Keelson = Callable[..., Ran]


@pytest.fixture
def keelson(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Keelson:
    """Run `keelson ARGS` in this process, through `generator.cli.main` as the console script.

    The working folder, extra environment variables and stdin (never a terminal) hold for
    that one command. Output is captured at the file descriptors, so anything a child
    process (git, a copier task) prints counts too. One test in test_cli.py runs the real
    console script in a process of its own.
    """

    def run(
        *args: str | Path, cwd: Path = ROOT, env: Mapping[str, str] | None = None, stdin: str = ""
    ) -> Ran:
        capfd.readouterr()  # what the test printed before is not the command's
        with monkeypatch.context() as patch:
            patch.chdir(cwd)
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            try:
                code = main([str(arg) for arg in args])
            except SystemExit as exit:  # argparse: --help, --version and usage errors
                code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
        out, err = capfd.readouterr()
        return Ran(code, out, err)

    return run


def tool(name: str) -> str:
    """Find a command: beside this Python, in the project's tool venvs, or on PATH."""
    candidates = [Path(sys.executable).parent / name]
    candidates += sorted((ROOT / ".tools").glob(f"*/bin/{name}"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/setup.sh")
    return found


def _kustomize_text(root: Path, overlay: str) -> str:
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(root / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _manifests(text: str) -> Manifests:
    return [doc for doc in yaml.load_all(text, Loader=FAST_LOADER) if doc]


def kustomize(root: Path, overlay: str) -> Manifests:
    """Build `root/overlay` with the project's kubectl; fail the test with kubectl's error."""
    return _manifests(_kustomize_text(root, overlay))


@pytest.fixture(scope="session")
def kustomized(tmp_path_factory: pytest.TempPathFactory) -> Kustomized:
    """`kubectl kustomize` once per rendered folder and overlay for the whole run.

    The run's rendered folders never change, so their builds are cached (on disk, for
    every pytest-xdist worker); each call hands out a fresh copy, which the test may edit.
    """
    cache: dict[tuple[Path, str], Manifests] = {}
    shared = shared_tmp(tmp_path_factory) / "kustomized"
    shared.mkdir(exist_ok=True)

    def get(root: Path, overlay: str) -> Manifests:
        key = (root.resolve(), overlay)
        if key not in cache:
            stored = shared / (hashlib.sha256(repr(key).encode()).hexdigest()[:16] + ".yaml")
            with locked(stored.with_suffix(".lock")):
                if not stored.exists():
                    stored.write_text(_kustomize_text(root, overlay))
            cache[key] = _manifests(stored.read_text())
        return copy.deepcopy(cache[key])

    return get


class Terminal:
    """`keelson` running in a real pseudo-terminal, driven like a person would."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        environ = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TERM": "xterm",
            "COLUMNS": "120",
            "LINES": "40",
            **(env or {}),
        }
        self.fd, terminal = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "generator", *args],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            cwd=cwd,
            env=environ,
            close_fds=True,
        )
        os.close(terminal)
        self.seen: list[str] = []

    @property
    def screen(self) -> str:
        """Everything the program wrote so far."""
        return "".join(self.seen)

    def expect(self, wanted: str, timeout: float = 30) -> None:
        """Wait until `wanted` appears; fail with what was seen."""
        deadline = time.monotonic() + timeout
        while wanted not in self.screen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"never saw {wanted!r} in {self.screen[-2000:]!r}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"exited before {wanted!r}: {self.screen[-2000:]!r}")
                self.seen.append(chunk.decode("utf-8", "replace"))

    def send(self, keys: bytes) -> None:
        """Type keys (b"\\r" is Enter, b"\\x03" is Ctrl-C)."""
        os.write(self.fd, keys)

    def wait(self, timeout: float = 60) -> int:
        """Wait for the exit code, reading the rest of the output."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                self.seen.append(chunk.decode("utf-8", "replace"))
        return self.process.wait(timeout=max(1.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Kill the program if it still runs and close the terminal."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.fd)
