"""`keelson update` and `keelson check`: keep a service on its template's newest version."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generator.check import format_check
from generator.commands import shared
from generator.errors import UpdateConflictError
from generator.fleet import check_json
from generator.pins import check_pinned, update_pinned
from generator.update import summary


def add_commands(commands: Any) -> None:
    """Add `keelson update` and `keelson check`."""
    _add_update(commands)
    _add_check(commands)


def _cmd_update(args: argparse.Namespace) -> int:
    try:
        result, notes = update_pinned(
            args.dir,
            catalogue=args.catalogue,
            to=args.to,
            pretend=args.pretend,
            trust=args.trust or None,
            quiet=not args.verbose,
            data=shared.parse_data(args.data, args.data_file),
            template=args.template,
        )
    except UpdateConflictError as error:
        if error.result.diff:
            print(error.result.diff, end="")
        for path in error.result.conflicts:
            print(f"conflict: {path}{_why(path, error.result.dropped)}")
        if error.result.pretend:
            rerun = _real_update(args, error.result.path)
            raise UpdateConflictError(error.result, rerun=rerun) from None
        raise
    if result.pretend:
        print(result.diff, end="")
    if not args.quiet or result.pretend:
        for line in [*summary(result), *notes]:
            print(f"keelson: {line}", file=sys.stderr)
    return 0


def _why(path: str, dropped: Sequence[str]) -> str:
    """Why a file the update kept is a conflict, when it is not a matter of markers."""
    if path not in dropped:
        return ""
    quoted = shlex.quote(path)
    return (
        ": the template no longer generates it and you changed it, so it was kept; "
        f"`git add {quoted}` keeps it, `git rm {quoted}` drops it"
    )


def _real_update(args: argparse.Namespace, where: Path) -> str:
    """Spell the `keelson update` command that does for real what a --pretend run showed."""
    words = ["keelson", "update", str(where)]
    if args.to is not None:
        words += ["--to", args.to]
    for pair in args.data:
        words += ["--data", pair]
    if args.data_file is not None:
        words += ["--data-file", str(args.data_file)]
    if args.trust:
        words.append("--trust")
    if args.catalogue:
        words += ["--catalogue", args.catalogue]
    return shlex.join(words)


def _add_update(commands: Any) -> None:
    update = commands.add_parser(
        "update",
        help="pull the template's newer version into a service",
        description=(
            "Update a generated service to a newer template version (copier update): "
            "your edits are kept; where both changed the same lines the file keeps both "
            "between conflict markers, the files are listed and the exit code is 1."
        ),
    )
    shared.add_dir(update)
    update.add_argument(
        "--to",
        metavar="REF",
        help="template version (git ref); default: the team catalogue's pin for the "
        "service's template, else its newest tag",
    )
    shared.add_catalogue_option(update)
    update.add_argument(
        "--template",
        metavar="PATH|URL",
        help="re-point the service to this template (a fork, a mirror, a moved repository); "
        "the update runs from it and the service records it",
    )
    update.add_argument(
        "--pretend",
        action="store_true",
        help="print the diff the update would make and write nothing",
    )
    shared.add_data(update, "change an answer (repeatable); the files follow it")
    shared.add_trust(update)
    shared.add_verbosity(update)
    update.set_defaults(handler=_cmd_update)


def _cmd_check(args: argparse.Namespace) -> int:
    if args.json:
        record = check_json(args.dir, catalogue=args.catalogue)
        print(json.dumps(record.to_dict(), indent=2))
        return 0 if record.state == "current" else 2 if record.state == "unknown" else 1
    result = check_pinned(args.dir, catalogue=args.catalogue)
    # "cannot tell" is a failure to report, not a result: stderr, as every failure
    failed = result.exit_code == 2
    try:
        for line in format_check(result):
            if failed:
                print(f"keelson: {line}" if line else line, file=sys.stderr)
            else:
                print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # `keelson check | head -1`: the reader has what it wanted; the verdict
        # still travels in the exit code
        shared.silence_stdout()
    return result.exit_code


def _add_check(commands: Any) -> None:
    check = commands.add_parser(
        "check",
        help="tell whether a service is on the newest template version",
        description=(
            "Exit 0 when the service is on its template's newest version (or at the team "
            "catalogue's pin for it, newer releases mentioned); exit 1 with "
            "the releases (or commits) it missed and their changelog, or when files still "
            "hold conflict markers from an update; exit 2 when it cannot tell (for CI)."
        ),
    )
    shared.add_dir(check)
    shared.add_catalogue_option(check)
    check.add_argument(
        "--json",
        action="store_true",
        help="print the service's record as `keelson fleet status --json` does (same exit codes)",
    )
    check.set_defaults(handler=_cmd_check)
