"""What the commands share: their common options, `--data` answers, and a reader gone away."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generator.errors import UsageError
from generator.yamlfile import load_yaml

CATALOGUE_HELP = (
    "team catalogue of templates and presets (default: $KEELSON_CATALOGUE, then "
    "<config dir>/keelson/catalogue.yml)"
)

STANDINS_HELP = (
    "base images missing locally and not pullable: 'auto' builds honest local "
    "stand-ins (default), 'build' rebuilds them, 'never' forbids them"
)


def parse_data(pairs: Sequence[str], data_file: Path | None) -> dict[str, Any]:
    """Merge `--data-file` and `--data KEY=VALUE` answers (the latter win).

    Raises:
        UsageError: A pair has no `=`, or the file is not a YAML mapping.

    """
    answers: dict[str, Any] = {}
    if data_file is not None:
        try:
            text = data_file.read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"--data-file {data_file}: {error.strerror}") from error
        except UnicodeDecodeError as error:
            raise UsageError(f"--data-file {data_file}: not UTF-8 text") from error
        loaded = load_yaml(text, f"--data-file {data_file}")
        if not isinstance(loaded, dict):
            raise UsageError(f"--data-file {data_file}: expected a mapping of answers")
        answers.update({str(k): v for k, v in loaded.items()})
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--data expects KEY=VALUE, got {pair!r}")
        answers[key.strip()] = value
    return answers


def add_catalogue_option(parser: argparse.ArgumentParser) -> None:
    """Add `--catalogue PATH|URL`: the team catalogue to read."""
    parser.add_argument("--catalogue", metavar="PATH|URL", help=CATALOGUE_HELP)


def add_trust(parser: argparse.ArgumentParser) -> None:
    """Add `--trust`: run a template's tasks and migrations."""
    parser.add_argument(
        "--trust",
        action="store_true",
        help="run the tasks and migrations of a template other than keelson's own",
    )


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """Add `-q/--quiet` and `-v/--verbose`."""
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show copier's progress and messages"
    )


def add_dir(parser: argparse.ArgumentParser) -> None:
    """Add the optional `dir` argument: the service, the current folder by default."""
    parser.add_argument(
        "dir", type=Path, nargs="?", default=Path("."), help="the service (default: .)"
    )


def add_data(parser: argparse.ArgumentParser, help_text: str) -> None:
    """Add `--data KEY=VALUE` (repeatable) and `--data-file FILE`."""
    parser.add_argument("--data", action="append", default=[], metavar="KEY=VALUE", help=help_text)
    parser.add_argument(
        "--data-file", type=Path, metavar="FILE", help="YAML file of answers; --data wins over it"
    )


def add_standins(parser: argparse.ArgumentParser) -> None:
    """Add `--standins auto|build|never`."""
    parser.add_argument(
        "--standins", choices=["auto", "build", "never"], default="auto", help=STANDINS_HELP
    )


def silence_stdout() -> None:
    """Point stdout at /dev/null once its reader is gone, as well-behaved CLIs end.

    Python flushes stdout again at exit; into a closed pipe that would print
    "Exception ignored ... BrokenPipeError".
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
