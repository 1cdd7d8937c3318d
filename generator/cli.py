"""The `keelson` command line: parses arguments and delegates to the public API.

Every failure is one line on stderr starting with `keelson: `, and the exit code is 2
for bad input (nothing written) and 1 for anything else.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from copier.errors import DirtyLocalWarning

from generator import __version__
from generator.errors import KeelsonError, UsageError
from generator.render import new_service

Handler = Callable[[argparse.Namespace], int]


def parse_data(pairs: Sequence[str], data_file: Path | None) -> dict[str, Any]:
    """Merge `--data-file` and `--data KEY=VALUE` answers (the latter win).

    Raises:
        UsageError: A pair has no `=`, or the file is not a YAML mapping.

    """
    answers: dict[str, Any] = {}
    if data_file is not None:
        try:
            loaded = yaml.safe_load(data_file.read_text(encoding="utf-8"))
        except OSError as error:
            raise UsageError(f"--data-file {data_file}: {error.strerror}") from error
        except yaml.YAMLError as error:
            raise UsageError(f"--data-file {data_file}: invalid YAML") from error
        if not isinstance(loaded, dict):
            raise UsageError(f"--data-file {data_file}: expected a mapping of answers")
        answers.update({str(k): v for k, v in loaded.items()})
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--data expects KEY=VALUE, got {pair!r}")
        answers[key.strip()] = value
    return answers


def _cmd_new(args: argparse.Namespace) -> int:
    answers = parse_data(args.data, args.data_file)
    dest = new_service(
        args.dest,
        data=answers,
        defaults=args.defaults,
        template=args.template,
        vcs_ref=args.vcs_ref,
        quiet=args.quiet,
        trust=args.trust or None,
    )
    if not args.quiet:
        print(f"keelson: created {dest}", file=sys.stderr)
    return 0


def _add_new(commands: Any) -> None:
    new = commands.add_parser(
        "new",
        help="generate a new service",
        description="Generate a new service from the keelson template (copier copy).",
    )
    new.add_argument(
        "dest",
        type=Path,
        nargs="?",
        default=Path("."),
        help="folder to create (must not exist or be empty)",
    )
    new.add_argument(
        "--defaults",
        action="store_true",
        help="use the default answer for every question not given with --data",
    )
    new.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="answer a question (repeatable)",
    )
    new.add_argument(
        "--data-file", type=Path, metavar="FILE", help="YAML file of answers; --data wins over it"
    )
    new.add_argument(
        "--template", metavar="PATH|URL", help="template to render (default: the keelson template)"
    )
    new.add_argument(
        "--vcs-ref", metavar="REF", help="template git ref (default: its newest release tag)"
    )
    new.add_argument(
        "--trust", action="store_true", help="allow a third-party template's tasks and migrations"
    )
    new.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    new.set_defaults(handler=_cmd_new)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="keelson",
        description="Generate, verify and update container-ready services.",
    )
    parser.add_argument("--version", action="version", version=f"keelson {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_new(commands)
    return parser


def _show_warning(  # noqa: PLR0917 - the signature warnings.showwarning requires
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    text = " ".join(str(message).split())
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
    try:
        return handler(args)
    except KeelsonError as error:
        print(f"keelson: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("keelson: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
