"""Running git: the one helper every module that reads a repository goes through."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from generator.errors import KeelsonError, one_line


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
    env = None
    if timeout is not None:
        # a probe must not hang on a credential prompt or an ssh host-key question
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
            env=env, timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(
            ["git", *args], 124, "", f"no answer within {timeout:g} seconds"
        )
    except FileNotFoundError as error:
        raise KeelsonError(
            "git is not installed; keelson needs it: `apt-get install -y git`"
        ) from error
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
