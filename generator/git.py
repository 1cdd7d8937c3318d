"""Running git: the one helper every module that reads a repository goes through."""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from generator.errors import KeelsonError, one_line

# when the commands of this thread must be done (time.monotonic()), set by `deadline`
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound every git command this thread runs inside the block to `seconds` from now, in all."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def deadline_passed() -> bool:
    """Whether the enclosing `deadline` has run out."""
    end = _DEADLINE.get()
    return end is not None and time.monotonic() >= end


def git(
    *args: str, cwd: Path, check: bool = False, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git in a folder and capture its output as text.

    Args:
        *args: The git command and its arguments (`"rev-parse", "HEAD"`).
        cwd: The folder to run it in.
        check: Raise when git exits non-zero (by default the caller reads
            `returncode`).
        timeout: For a probe of a remote repository: seconds before giving up
            (exit code 124), and git never asks for a password (it fails instead).

    Returns:
        The finished process.

    Raises:
        KeelsonError: git is not installed, or it failed and `check` is set.

    """
    end = _DEADLINE.get()
    if end is not None:
        left = max(end - time.monotonic(), 0.001)
        timeout = left if timeout is None else min(timeout, left)
    env = None
    if timeout is not None:
        # a probe must not hang on a credential prompt or an ssh host-key question
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    try:
        # a session of its own, so that a timeout ends git's helpers too (git-remote-http
        # holds the output pipes open after git itself is killed)
        process = subprocess.Popen(
            ["git", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, start_new_session=timeout is not None,
        )  # fmt: skip
    except FileNotFoundError as error:
        raise KeelsonError(
            "git is not installed; keelson needs it: `apt-get install -y git`"
        ) from error
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return subprocess.CompletedProcess(
            ["git", *args], 124, "", f"no answer within {timeout:g} seconds"
        )
    except BaseException:
        # interrupted (Ctrl-C): git must not outlive keelson
        process.kill()
        process.wait()
        raise
    result = subprocess.CompletedProcess(["git", *args], process.returncode, out, err)
    if check and result.returncode != 0:
        detail = one_line(result.stderr) or f"exit code {result.returncode}"
        raise KeelsonError(f"git {args[0]} failed in {cwd}: {detail}")
    return result


def git_env(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, stdin: str | None = None
) -> str:
    """Run git with extra environment variables (`GIT_INDEX_FILE`) and input; return its output.

    Raises:
        KeelsonError: git failed.

    """
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})},
        input=stdin, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise KeelsonError(f"git {args[0]} failed in {cwd}: {' '.join(done.stderr.split())}")
    return done.stdout


def show_at(repo: Path, ref: str, *names: str) -> str | None:
    """Return the first of `names` that exists in `repo` at `ref`, or None.

    Args:
        repo: A folder inside a git work tree.
        ref: A tag, branch or commit.
        *names: Paths relative to the repository root, tried in order.

    """
    for name in names:
        shown = git("show", f"{ref}:{name}", cwd=repo)
        if shown.returncode == 0:
            return shown.stdout
    return None
