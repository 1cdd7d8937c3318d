"""The `keelson` command line: parses arguments and delegates to the public API.

Each group of commands adds its own parsers and handlers (`generator.commands`); this
module puts them into one parser, runs the command chosen, and turns every way it ends
into an exit code.

Every failure is one line on stderr starting with `keelson: `, and the exit code is 2
for bad input (nothing written) and 1 for anything else.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from signal import SIGINT
from typing import Any

from copier.errors import DirtyLocalWarning

from generator import __version__, transaction
from generator.commands import create, proof, team, upkeep
from generator.commands.shared import silence_stdout
from generator.errors import KeelsonError, one_line

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="keelson",
        description="Generate, verify and update container-ready services.",
    )
    parser.add_argument("--version", action="version", version=f"keelson {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (create, upkeep, team, proof):
        group.add_commands(commands)
    return parser


def _show_warning(  # noqa: PLR0917 - the signature warnings.showwarning requires
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    text = one_line(str(message))
    print(f"keelson: warning: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    warnings.showwarning = _show_warning
    # rendering a template checkout with uncommitted edits is what template
    # authors do all day; copier's warning about it is noise here
    warnings.filterwarnings("ignore", category=DirtyLocalWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    with transaction.interruptible():
        return _run(handler, args)


def _run(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command's handler; turn every way it can end into one line and an exit code."""
    try:
        for line in _recover(args):
            print(f"keelson: {line}", file=sys.stderr)
        return handler(args)
    except KeyboardInterrupt as error:
        caught = error.signum if isinstance(error, transaction.Interrupted) else SIGINT
        return _interrupted(transaction.received() or caught)
    except BrokenPipeError:
        # the reader of stdout went away (`keelson ... | head -1`): end quietly
        # with the code of a process that SIGPIPE ended, as `yes | head -1` does
        silence_stdout()
        return 128 + 13
    except Exception as error:
        if (arrived := transaction.received()) is not None:
            # a child process (git, a task) died of the same signal first
            return _interrupted(arrived)
        if isinstance(error, KeelsonError):
            print(f"keelson: {error}", file=sys.stderr)
            return error.exit_code
        # the last line of defence: one line, never a traceback
        detail = one_line(str(error)) or "no detail"
        print(
            f"keelson: unexpected error ({type(error).__name__}): {detail}; nothing was written",
            file=sys.stderr,
        )
        return 2


def _recover(args: argparse.Namespace) -> list[str]:
    """Roll back what an interrupted keelson command left half-written in the command's folder."""
    transaction.sweep_temp()  # scratch folders of keelson processes that were killed
    folder = getattr(args, "dir", None)
    if folder is None and getattr(args, "command", None) == "new":
        folder = args.dest or Path(".")
        transaction.sweep(Path(folder).absolute().parent)
    return transaction.recover(Path(folder)) if folder is not None else []


def _interrupted(signum: int) -> int:
    """Say truthfully what an interrupted command left behind; return 128 + the signal."""
    done = transaction.written()
    if done:
        print(
            f"keelson: interrupted after `{done[-1]}` had written its result "
            "(`git status` shows it)",
            file=sys.stderr,
        )
    else:
        print("keelson: interrupted; nothing was written", file=sys.stderr)
    return 128 + signum


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
