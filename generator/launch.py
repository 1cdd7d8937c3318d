"""The `keelson` console script.

Stop signals are turned into a clean exit before anything heavy (copier, jinja2,
the rest of keelson) is imported, so Ctrl-C at any moment prints one line, never a
traceback. `generator.cli.main` then takes over signal handling for the command.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_arrived: list[int] = []


def _stop(signum: int, frame: object) -> None:
    _arrived.append(signum)
    raise KeyboardInterrupt(signum)


def _command() -> int:
    from generator import transaction  # noqa: PLC0415 - after the handlers, on purpose
    from generator.cli import main as run  # noqa: PLC0415

    for stop in _STOPS:
        signal.signal(stop, transaction.on_signal)
    return run()


def run(command: Callable[[], int]) -> int:
    """Run `command` with stop signals turned into one line and 128 + the signal."""
    for stop in _STOPS:
        signal.signal(stop, _stop)
    try:
        code = command()
    except KeyboardInterrupt as error:
        # before the command began: nothing was done
        signum = error.args[0] if error.args and isinstance(error.args[0], int) else 2
        code = _interrupted(signum)
    except Exception:
        # Python wraps what a signal raises inside `__set_name__` (pydantic fields,
        # while copier is imported) in a RuntimeError: still the interruption
        if not _arrived:
            raise
        code = _interrupted(_arrived[0])
    # the command has said how it ended; a late signal must not kill the interpreter
    # on its way out (it restores the default handlers while it shuts down)
    for stop in _STOPS:
        signal.signal(stop, signal.SIG_IGN)
    return code


def _interrupted(signum: int) -> int:
    print("keelson: interrupted; nothing was written", file=sys.stderr)
    return 128 + signum


def main() -> int:
    """Run the keelson command line; return its exit code."""
    return run(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
