"""All or nothing: how every keelson command that writes brings its result into the user's tree.

A command does its work away from the user's files (a scratch folder in the system
temp folder, or a staging folder beside the destination) and then brings the result
in with one short commit step:

1. everything the step needs is prepared inside a journal folder on the same file
   system (new contents, the index to install, nothing yet touched);
2. `journal.json` is written (and synced): from here on the step can be undone;
3. each file is moved into place by rename, its old version moved into the journal;
4. `journal.json` is removed: the step is complete.

Signals are held during the step (a few renames), so Ctrl-C, SIGTERM and SIGHUP
either come before it (the tree is untouched: "nothing was written") or after it (the
command's work is complete). Only SIGKILL or a crash can stop it half-way; then
`journal.json` remains, and the next keelson command that looks at that folder rolls
the step back from the journal and says so in one line (`recover`).

Scratch folders are named `keelson-<pid>-…` (system temp) and `.keelson-<pid>-…`
(staging beside a new service's folder); each command removes its own on the way
out, and removes any whose process is gone (a SIGKILL) on the way in. copier's own
temporary clones land inside the scratch folder (`tempfile.tempdir` and `$TMPDIR`
point there while it runs), so they go with it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

JOURNAL = "keelson-journal"
"""The journal folder's name inside a repository's git directory."""
LOOSE_JOURNAL = ".keelson-journal"
"""The journal folder's name in a folder that is not in git (`keelson adopt`, `keelson new`)."""
_STATE = "journal.json"
_SIGNALS = tuple(
    sig for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if sig
)
_SCRATCH = re.compile(r"^\.?keelson-(?P<pid>\d+)-")


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM or SIGHUP) asked keelson to stop."""

    def __init__(self, signum: int) -> None:
        """Build it for the signal that arrived."""
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal's number (130, 143, 129)."""
        return 128 + self.signum


@dataclass
class _Signals:
    """Which signal arrived, and whether the commit step is holding them."""

    holding: int = 0
    pending: int | None = None
    received: int | None = None
    written: list[str] = field(default_factory=list)


_signals = _Signals()


def on_signal(signum: int, frame: FrameType | None) -> None:
    """Raise `Interrupted`, or note the signal while the commit step holds them."""
    _signals.received = _signals.received or signum
    if _signals.holding:
        _signals.pending = _signals.pending or signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into `Interrupted` while the block runs.

    Python's default for SIGTERM and SIGHUP ends the process on the spot, with no
    cleanup; raising instead lets every `finally` remove its scratch folders.
    Outside the main thread (where handlers cannot be set) it does nothing.
    """
    _signals.received = None
    _signals.pending = None
    _signals.holding = 0
    _signals.written.clear()
    try:
        previous = {sig: signal.signal(sig, on_signal) for sig in _SIGNALS}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        # the command is over: a signal from now on is only noted, so that it cannot
        # turn a finished command into a traceback or a false "nothing was written"
        _signals.holding = 1
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold the stop signals while the block runs; act on one that arrived after it."""
    _signals.holding += 1
    try:
        yield
    finally:
        _signals.holding -= 1
    if not _signals.holding and (pending := _signals.pending) is not None:
        _signals.pending = None
        raise Interrupted(pending)


def received() -> int | None:
    """Return the stop signal that arrived while `interruptible` was in force, if any."""
    return _signals.received


def note_written(what: str) -> None:
    """Record that a command's commit step completed (for the interruption message)."""
    _signals.written.append(what)


def written() -> list[str]:
    """Return what the commit steps of this command completed (one line each)."""
    return list(_signals.written)


# --- scratch folders ---------------------------------------------------------------


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep(folder: Path) -> None:
    """Remove the scratch folders in `folder` whose keelson process is gone."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = _SCRATCH.match(entry.name)
        if match and entry.is_dir(follow_symlinks=False) and not _alive(int(match["pid"])):
            shutil.rmtree(entry.path, ignore_errors=True)


def sweep_temp() -> None:
    """Remove the system temp folder's scratch folders whose keelson process is gone."""
    sweep(_system_temp())


def _system_temp() -> Path:
    """Return the system temp folder, even while a scratch folder redirects `tempfile`."""
    return Path(os.environ.get("KEELSON_SYSTEM_TMP") or tempfile.gettempdir())


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """Open a private scratch folder in the system temp folder; remove it on the way out.

    While it is open, `tempfile` and child processes (`$TMPDIR`) make their
    temporary files inside it, copier's clones among them.
    """
    base = _system_temp()
    sweep(base)
    path = Path(tempfile.mkdtemp(prefix=f"keelson-{os.getpid()}-", dir=base))
    saved = tempfile.tempdir, os.environ.get("TMPDIR"), os.environ.get("KEELSON_SYSTEM_TMP")
    tempfile.tempdir = str(path)
    os.environ["TMPDIR"] = str(path)
    os.environ["KEELSON_SYSTEM_TMP"] = str(base)
    try:
        yield path
    finally:
        with held():
            tempfile.tempdir = saved[0]
            _restore_env("TMPDIR", saved[1])
            _restore_env("KEELSON_SYSTEM_TMP", saved[2])
            _remove(path)


@contextlib.contextmanager
def staging(parent: Path) -> Iterator[Path]:
    """Open a staging folder inside `parent` (same file system: moved in by rename)."""
    sweep(parent)
    path = Path(tempfile.mkdtemp(prefix=f".keelson-{os.getpid()}-", dir=parent))
    try:
        yield path
    finally:
        with held():
            _remove(path)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _remove(path: Path) -> None:
    def writable(function: Any, name: str, _: Any) -> None:
        # a read-only folder (Go's module cache makes them) cannot be emptied as is
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), 0o700)
            os.chmod(name, 0o700)
        with contextlib.suppress(OSError):
            function(name)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=writable)


# --- the commit step -----------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One path to bring into the tree.

    Attributes:
        path: Relative to the tree's root.
        source: The new content (a file, a link or a whole folder); None deletes.

    """

    path: str
    source: Path | None


@dataclass(frozen=True)
class IndexSwap:
    """A git index to install with the files (prepared with `GIT_INDEX_FILE`).

    Attributes:
        target: The repository's index file.
        new: The index to install in its place.

    """

    target: Path
    new: Path


@dataclass(frozen=True)
class RefMove:
    """A git ref to move with the files (a first commit).

    Attributes:
        git_dir: The repository's git directory.
        name: The ref, e.g. `refs/heads/main`.
        old: Its commit before, or None when it did not exist.
        new: Its commit after.

    """

    git_dir: Path
    name: str
    old: str | None
    new: str


def journal_home(root: Path) -> Path:
    """Where the journal of a command writing into `root` lives.

    The git directory of the repository holding `root` (never part of the tree),
    else a `.keelson-journal` folder in `root` itself.
    """
    found = subprocess.run(
        ["git", "rev-parse", "--absolute-git-dir"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode == 0 and found.stdout.strip():
        return Path(found.stdout.strip()) / JOURNAL
    return root / LOOSE_JOURNAL


def _device(path: Path) -> int:
    """Return the file system a path is on (its nearest existing folder's)."""
    for candidate in [path, *path.absolute().parents]:
        with contextlib.suppress(OSError):
            return candidate.stat().st_dev
    return -1  # pragma: no cover - the root folder always exists


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def _fsync_write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    with contextlib.suppress(OSError):
        descriptor = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def commit(
    root: Path,
    changes: Sequence[Change],
    *,
    what: str,
    home: Path | None = None,
    index: IndexSwap | None = None,
    ref: RefMove | None = None,
) -> None:
    """Bring `changes` into `root` all at once, or not at all.

    Args:
        root: The tree to change.
        changes: What to put where (and what to delete).
        what: The command, for the recovery message (`keelson update`).
        home: The journal folder (default: `journal_home(root)`).
        index: A git index to install with the files.
        ref: A git ref to move with the files.

    """
    home = home or journal_home(root)
    if _device(home) != _device(root):
        # renames only are atomic within one file system (a git directory kept apart)
        home = root / LOOSE_JOURNAL
    recover_at(home)
    try:
        state = _prepare(root, home, changes, what=what, index=index, ref=ref)
    except BaseException:
        # a signal or an error while preparing: nothing of the tree was touched yet,
        # and the prepared copies go too
        with held():
            _remove(home)
        raise
    with held():
        _fsync_write(home / _STATE, json.dumps(state, indent=1))
        try:
            _apply(root, home, state)
        except BaseException:
            # a file system error half-way (a full disk, a permission): undo at once
            _roll_back(home, state)
            (home / _STATE).unlink()
            _remove(home)
            raise
        (home / _STATE).unlink()
        note_written(what)
        _remove(home)


def _prepare(
    root: Path,
    home: Path,
    changes: Sequence[Change],
    *,
    what: str,
    index: IndexSwap | None,
    ref: RefMove | None,
) -> dict[str, Any]:
    """Copy everything the commit step needs into the journal folder; return its record."""
    _remove(home)
    (home / "new").mkdir(parents=True)
    (home / "old").mkdir()
    entries: list[dict[str, Any]] = []
    made: dict[str, int] = {}
    for number, change in enumerate(changes):
        target = root / change.path
        entry: dict[str, Any] = {
            "path": change.path,
            "existed": os.path.lexists(target),
            "new": None,
            "old": f"old/{number}",
        }
        if change.source is not None:
            entry["new"] = f"new/{number}"
            _copy(change.source, home / entry["new"])
            rendered = change.source
            for parent in Path(change.path).parents:
                rendered = rendered.parent
                if str(parent) != "." and not (root / parent).exists():
                    made.setdefault(str(parent), stat.S_IMODE(rendered.stat().st_mode))
        entries.append(entry)
    state: dict[str, Any] = {
        "what": what,
        "root": str(root.absolute()),
        "entries": entries,
        # shallowest first, as they are made
        "made": sorted(made.items(), key=lambda item: len(Path(item[0]).parts)),
        "emptied": [],
    }
    if index is not None:
        state["index"] = {"target": str(index.target), "existed": index.target.exists()}
        shutil.copy2(index.new, home / "index.new")
        if index.target.exists():
            shutil.copy2(index.target, home / "index.old")
    if ref is not None:
        state["ref"] = {"git_dir": str(ref.git_dir), "name": ref.name, "old": ref.old,
                        "new": ref.new}  # fmt: skip
    modes = {
        folder: (root / folder).stat().st_mode
        for change in changes
        if change.source is None
        for folder in map(str, Path(change.path).parents)
        if folder != "." and (root / folder).is_dir()
    }
    state["emptied"] = sorted(modes.items(), key=lambda item: -len(item[0]))
    return state


def _fault(moves: int) -> None:
    """Die by SIGKILL after that many moves, when the fault-injection tests ask for it."""
    if os.environ.get("KEELSON_FAULT_KILL") == str(moves):
        os.kill(os.getpid(), signal.SIGKILL)


def _apply(root: Path, home: Path, state: dict[str, Any]) -> None:
    for folder, mode in state["made"]:
        (root / folder).mkdir()
        os.chmod(root / folder, mode)  # as rendered: a private secrets folder is 0700
    moves = 0
    for entry in state["entries"]:
        target = root / entry["path"]
        if entry["existed"]:
            os.replace(target, home / entry["old"])
            moves += 1
            _fault(moves)
        if entry["new"] is not None:
            os.replace(home / entry["new"], target)
            moves += 1
            _fault(moves)
    for folder, _mode in state["emptied"]:
        with contextlib.suppress(OSError):
            (root / folder).rmdir()  # only if the deletions emptied it
    if "index" in state:
        os.replace(home / "index.new", state["index"]["target"])
    if (ref := state.get("ref")) is not None:
        _git_ref(ref, ref["new"], ref["old"])


def _git_ref(ref: dict[str, Any], value: str | None, expected: str | None) -> None:
    git_dir = ref["git_dir"]
    if value is None:
        command = ["git", "--git-dir", git_dir, "update-ref", "-d", ref["name"]]
    else:
        command = ["git", "--git-dir", git_dir, "update-ref", ref["name"], value]
        if expected is not None:
            command.append(expected)
    subprocess.run(command, capture_output=True, check=False)


# --- recovery ------------------------------------------------------------------------


def recover_at(home: Path) -> str | None:
    """Roll back the commit step a journal folder records, if it did not complete.

    Returns:
        One line saying what was restored, or None when there was nothing to do.

    """
    file = home / _STATE
    if not file.is_file():
        _remove(home)  # a step that completed, or never began
        return None
    with held():
        state = json.loads(file.read_text(encoding="utf-8"))
        _roll_back(home, state)
        file.unlink()
        _remove(home)
    return (
        f"an interrupted `{state['what']}` had begun writing to {state['root']}; "
        "restored it as it was before"
    )


def _roll_back(home: Path, state: dict[str, Any]) -> None:
    root = Path(state["root"])
    # folders the deletions emptied come back first, with their modes
    for folder, mode in reversed(state["emptied"]):  # shallowest first
        if not (root / folder).exists():
            (root / folder).mkdir()
            os.chmod(root / folder, stat.S_IMODE(mode))
    for entry in reversed(state["entries"]):
        target = root / entry["path"]
        old = home / entry["old"]
        new_moved = entry["new"] is not None and not (home / entry["new"]).exists()
        if entry["existed"]:
            if os.path.lexists(old):
                if os.path.lexists(target):
                    _remove_any(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(old, target)
        elif new_moved and os.path.lexists(target):
            _remove_any(target)
    for folder, _mode in reversed(state["made"]):
        with contextlib.suppress(OSError):
            (root / folder).rmdir()
    if (index := state.get("index")) is not None and not (home / "index.new").exists():
        if (home / "index.old").exists():
            os.replace(home / "index.old", index["target"])
        elif not index["existed"]:
            Path(index["target"]).unlink(missing_ok=True)
    if (ref := state.get("ref")) is not None:
        _git_ref(ref, ref["old"], None)


def _remove_any(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        _remove(path)
    else:
        path.unlink()


def recover(folder: Path) -> list[str]:
    """Roll back any interrupted commit step into `folder`; say what was restored.

    Looks in the folder's own `.keelson-journal` and in the git directory of the
    repository holding it. Every keelson command calls this before it starts.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    homes = [folder / LOOSE_JOURNAL]
    with contextlib.suppress(OSError):
        homes.append(journal_home(folder))
    said = []
    for home in dict.fromkeys(homes):
        try:
            if (line := recover_at(home)) is not None:
                said.append(line)
        except OSError as error:
            if error.errno != errno.ENOENT:
                raise
    return said
