"""Fault injection: `keelson update`, `new` and `adopt` are all or nothing, whatever stops them.

Each command runs as the real console script in a session of its own, and the whole
process group (keelson and its git children, as a terminal's Ctrl-C does) gets
SIGINT, SIGTERM or SIGHUP at 20 delays spread evenly over the command's measured
duration, and SIGKILL at 10 of them followed by the next keelson command. SIGKILL
also lands inside the commit step itself, where no delay can aim (`KEELSON_FAULT_KILL`
kills the process after that many moves). After each run the folder must be exactly
as before or exactly as after an uninterrupted run (file bytes, modes and links,
`git status --porcelain=v2`, HEAD), the team's edits intact, no scratch folder left in
the temp folder or beside the service, and the message true to what happened.

The update case carries every hard part at once: a team edit on a line the template
changes too (a conflict), a file the template drops that the team edited, an answer
changed with --data and the template's migrations. Each test prints its table.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.adopt.helpers import copy_fixture
from tests.matrix import clone_release, git, release

KEELSON = str(Path(sys.executable).with_name("keelson"))
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
POINTS = 20
KILLS = 10
TEAM_EDIT = "revisionHistoryLimit: 7"
TEAM_SECURITY = "Mail security@acme.test; we answer within a day.\n"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, released_template: Path) -> Path:
    """v1.0.0 generates SECURITY.md and NOTES.md; v2.0.0 drops both and changes two files."""
    repo = clone_release(released_template, tmp_path_factory.mktemp("template") / "keelson", None)
    pack = repo / "templates/node/project"
    (pack / "SECURITY.md.jinja").write_text("Report issues in {{ project_name }}.\n")
    (pack / "NOTES.md.jinja").write_text("Notes on {{ project_name }}.\n")
    release(repo, "v1.0.0")
    deployment = repo / "templates/common/k8s/base/deployment.yaml.jinja"
    text = deployment.read_text()
    assert text.count("revisionHistoryLimit: 5") == 1
    deployment.write_text(text.replace("revisionHistoryLimit: 5", "revisionHistoryLimit: 4"))
    dockerfile = pack / "Dockerfile.jinja"
    dockerfile.write_text(dockerfile.read_text() + 'LABEL org.example.release="2"\n')
    (pack / "SECURITY.md.jinja").unlink()
    (pack / "NOTES.md.jinja").unlink()
    release(repo, "v2.0.0")
    return repo


def keelson(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEELSON, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, check=False, timeout=600,
    )  # fmt: skip


@dataclass
class Scenario:
    """A command, the folder it writes, and how to lay that folder out afresh."""

    name: str
    args: list[str]
    prepare: Callable[[Path], Path]  # makes a fresh copy under the given folder; returns it
    target: str  # the folder the command writes, relative to the copy's parent
    next_command: list[str]
    edits: dict[str, str]  # team edits that must survive: path -> text


def state(folder: Path) -> tuple[object, ...]:
    """Everything that says what a folder holds: files, modes, links, git's view, HEAD."""
    if not folder.exists():
        return ("absent",)
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] == ".git":
            continue
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            files[str(relative)] = ("link", os.readlink(path))
        elif stat.S_ISDIR(mode):
            files[str(relative)] = ("dir", stat.S_IMODE(mode))
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            files[str(relative)] = ("file", stat.S_IMODE(mode), digest)
    git_state: tuple[str, ...] = ()
    if (folder / ".git").exists():
        status = subprocess.run(
            ["git", "status", "--porcelain=v2", "--untracked-files=all"],
            cwd=folder, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        log = subprocess.run(
            ["git", "log", "--format=%s %T", "--all"], cwd=folder, capture_output=True,
            text=True, check=False,
        ).stdout  # fmt: skip
        leftovers = sorted(p.name for p in (folder / ".git").iterdir() if "keelson" in p.name)
        git_state = (status, log, *leftovers)
    return (files, git_state)


def strays(temp: Path, parent: Path) -> list[str]:
    found = [p.name for p in temp.iterdir()]
    found += [p.name for p in parent.iterdir() if p.name.startswith(".keelson")]
    return found


def run_interrupted(
    scenario: Scenario, where: Path, env: dict[str, str], signum: int, delay: float
) -> tuple[Path, int, str]:
    """Run the command in a fresh copy, send `signum` to its process group after `delay`."""
    copy = scenario.prepare(where)
    process = subprocess.Popen(
        [KEELSON, *scenario.args], cwd=copy.parent, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signum)
    _, err = process.communicate(timeout=600)
    message = err.strip().splitlines()[-1] if err.strip() else f"exit {process.returncode}"
    return copy, process.returncode, f"{process.returncode}: {message}"


def judge(scenario: Scenario, copy: Path, before: object, after: object) -> str:
    now = state(copy.parent / scenario.target)
    if now == before:
        return "before"
    if now == after:
        for path, text in scenario.edits.items():
            assert text in (copy.parent / scenario.target / path).read_text(), f"lost {path}"
        return "after"
    return f"MIXED ({difference(now, after)})"


def difference(now: object, after: object) -> str:
    """Say where a state differs from the completed one (for the failure message)."""
    if not (isinstance(now, tuple) and isinstance(after, tuple) and len(now) == len(after) == 2):
        return f"{now!r:.80} vs {after!r:.80}"
    files, wanted = now[0], after[0]
    paths = [p for p in sorted(set(files) | set(wanted)) if files.get(p) != wanted.get(p)]
    lines = [p for p in zip(now[1], after[1], strict=False) if p[0] != p[1]]
    return f"files {paths[:5]}, git {lines[:1]!r:.300}"


def python_startup() -> float:
    """How long Python takes to reach keelson's signal handlers here (twice the slowest of 3)."""
    times = []
    for _ in range(3):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "import generator.launch"], check=True)
        times.append(time.monotonic() - started)
    return 2 * max(times)


def exercise(scenario: Scenario, tmp_path: Path, extra_env: dict[str, str] | None = None) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), **(extra_env or {})}
    env.pop("KEELSON_FAULT_KILL", None)
    # the reference: the states before and after one uninterrupted run, and its duration
    reference = scenario.prepare(tmp_path / "reference")
    target = reference.parent / scenario.target
    before = state(target)
    started = time.monotonic()
    done = keelson(*scenario.args, cwd=reference.parent, env=env)
    duration = time.monotonic() - started
    assert done.returncode in {0, 1}, done.stderr
    after = state(target)
    assert after != before
    assert strays(temp, reference.parent) == []

    startup = python_startup()
    rows = []
    outcomes: dict[str, int] = {}
    for point in range(POINTS):
        delay = duration * (point + 0.5) / POINTS
        for signum in (SIGNALS[point % len(SIGNALS)],) + ((signal.SIGKILL,) if point % 2 else ()):
            where = tmp_path / f"run-{point}-{signum}"
            copy, code, said = run_interrupted(scenario, where, env, signum, delay)
            if signum == signal.SIGKILL:
                follow = keelson(*scenario.next_command, cwd=copy.parent, env=env)
                said += f" | next: {follow.stderr.strip().splitlines()[:1]}"
            verdict = judge(scenario, copy, before, after)
            leftover = strays(temp, copy.parent)
            name = signal.Signals(signum).name
            rows.append(f"{scenario.name:<7} {delay:6.2f}s {name:<8} {verdict:<7} {said[:110]}")
            outcomes[verdict] = outcomes.get(verdict, 0) + 1
            assert not verdict.startswith("MIXED"), "\n".join(rows)
            assert leftover == [], f"{rows[-1]}: left {leftover}"
            if verdict == "before" and signum != signal.SIGKILL:
                # before keelson's own code runs, only Python can answer, in its own words
                early = delay < startup and said.endswith("KeyboardInterrupt")
                assert "nothing was written" in said or early, rows[-1]
                assert code == 128 + signum or early, rows[-1]  # 130, 143, 129
            if verdict == "after" and signum != signal.SIGKILL:
                # finished before the signal landed, or said that it had written its result
                assert code == done.returncode or (
                    code == 128 + signum and "had written its result" in said
                ), rows[-1]
            shutil.rmtree(where)
    print(
        f"\n{scenario.name}: {duration:.1f} s uninterrupted, Python starts in {startup:.2f} s; "
        f"{outcomes}"
    )
    print("\n".join(rows))


def update_scenario(template: Path, tmp_path: Path) -> Scenario:
    pristine = tmp_path / "pristine" / "svc"
    made = keelson(
        "new", pristine, "--template", template, "--vcs-ref", "v1.0.0", "--defaults",
        "--data", "language=node", "--data", "database=postgresql", "--trust", "-q",
        cwd=tmp_path, env=dict(os.environ),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    deployment = pristine / "k8s/base/deployment.yaml"
    deployment.write_text(deployment.read_text().replace("revisionHistoryLimit: 5", TEAM_EDIT))
    (pristine / "SECURITY.md").write_text(TEAM_SECURITY)
    git(pristine, "commit", "-q", "-am", "team edits")

    def prepare(where: Path) -> Path:
        where.mkdir(parents=True)
        return Path(shutil.copytree(pristine, where / "svc", symlinks=True))

    return Scenario(
        name="update",
        args=["update", "svc", "--trust", "--data", "port=8081"],
        prepare=prepare,
        target="svc",
        next_command=["check", "svc"],
        edits={"k8s/base/deployment.yaml": TEAM_EDIT, "SECURITY.md": TEAM_SECURITY},
    )


def test_an_update_is_all_or_nothing_under_every_signal(template: Path, tmp_path: Path) -> None:
    scenario = update_scenario(template, tmp_path)
    exercise(scenario, tmp_path)


def test_a_new_service_is_all_or_nothing_under_every_signal(template: Path, tmp_path: Path) -> None:
    def prepare(where: Path) -> Path:
        where.mkdir(parents=True)
        return where / "svc"

    scenario = Scenario(
        name="new",
        args=["new", "svc", "--template", str(template), "--defaults", "--data", "language=node",
              "--trust", "-q"],
        prepare=prepare,
        target="svc",
        # a killed `new` is finished by running it again
        next_command=["new", "svc", "--template", str(template), "--defaults", "--data",
                      "language=node", "--trust", "-q"],
        edits={},
    )  # fmt: skip
    exercise(scenario, tmp_path)


def test_an_adoption_is_all_or_nothing_under_every_signal(template: Path, tmp_path: Path) -> None:
    pristine = copy_fixture("node-main", tmp_path / "pristine")
    git(pristine, "init", "-q", "-b", "main")
    git(pristine, "add", "-A")
    git(pristine, "commit", "-q", "-m", "the team's project")

    def prepare(where: Path) -> Path:
        where.mkdir(parents=True)
        return Path(shutil.copytree(pristine, where / pristine.name, symlinks=True))

    scenario = Scenario(
        name="adopt",
        args=["adopt", pristine.name, "--defaults", "--template", str(template), "--vcs-ref",
              "v2.0.0", "--trust"],
        prepare=prepare,
        target=pristine.name,
        next_command=["check", pristine.name],
        edits={},
    )  # fmt: skip
    exercise(scenario, tmp_path)


@pytest.mark.parametrize("moves", [1, 2, 5, 9])
def test_a_crash_inside_the_commit_step_is_rolled_back_by_the_next_command(
    template: Path, tmp_path: Path, moves: int
) -> None:
    """SIGKILL after `moves` renames of the commit step: the next command restores the service."""
    scenario = update_scenario(template, tmp_path)
    copy = scenario.prepare(tmp_path / "run")
    before = state(copy)
    env = {**os.environ, "KEELSON_FAULT_KILL": str(moves)}
    crashed = keelson(*scenario.args, cwd=copy.parent, env=env)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert state(copy) != before  # half-written: the journal is all that can undo it
    env.pop("KEELSON_FAULT_KILL")
    follow = keelson("check", "svc", cwd=copy.parent, env=env)
    assert "restored it as it was before" in follow.stderr.splitlines()[0], follow.stderr
    assert state(copy) == before
    # and the update then goes through as if nothing had happened
    again = keelson(*scenario.args, cwd=copy.parent, env=env)
    assert again.returncode == 1, again.stderr
    assert TEAM_EDIT in (copy / "k8s/base/deployment.yaml").read_text()


@pytest.mark.parametrize("moves", [1, 4])
def test_a_crash_inside_an_adoptions_commit_step_outside_git_is_rolled_back(
    template: Path, tmp_path: Path, moves: int
) -> None:
    """A project not in git keeps the journal in `.keelson-journal`; the next command uses it."""
    project = copy_fixture("node-main", tmp_path)
    before = state(project)
    args = ["adopt", project.name, "--defaults", "--template", str(template), "--vcs-ref",
            "v2.0.0", "--trust", "-q"]  # fmt: skip
    env = {**os.environ, "KEELSON_FAULT_KILL": str(moves)}
    crashed = keelson(*args, cwd=tmp_path, env=env)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert (project / ".keelson-journal").is_dir()
    assert state(project) != before
    env.pop("KEELSON_FAULT_KILL")
    again = keelson(*args, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines() == [
        f"keelson: an interrupted `keelson adopt` had begun writing to {project}; "
        "restored it as it was before"
    ]
    assert not (project / ".keelson-journal").exists()
    assert (project / "Dockerfile").is_file() and (project / ".copier-answers.yml").is_file()


STARTUP_HIT = """
import os, signal, sys
from generator import launch

class Landing:
    # a signal that lands while Python runs __set_name__ (pydantic and dataclass
    # fields do, while copier is imported) reaches us wrapped in a RuntimeError
    def __set_name__(self, owner, name):
        os.kill(os.getpid(), signal.SIG{name})
        for _ in range(1000):
            pass

def command():
    class Task:
        extra_vars = Landing()
    return 0

sys.exit(launch.run(command))
"""


@pytest.mark.parametrize("name", ["INT", "TERM", "HUP"])
def test_a_signal_wrapped_by_python_during_start_up_is_reported_as_the_interruption(
    name: str,
) -> None:
    ran = subprocess.run(
        [sys.executable, "-c", STARTUP_HIT.replace("{name}", name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.stderr == "keelson: interrupted; nothing was written\n"
    assert ran.returncode == 128 + getattr(signal, f"SIG{name}")
