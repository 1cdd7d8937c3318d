"""The `keelson` console script.

Stop signals are turned into a clean exit before anything heavy (copier, jinja2,
the rest of keelson) is imported, so Ctrl-C at any moment prints one line, never a
traceback. `generator.cli.main` then takes over signal handling for the command.
"""

from __future__ import annotations

import signal
import sys


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signum)


def main() -> int:
    """Run the keelson command line; return its exit code."""
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for stop in stops:
        signal.signal(stop, _stop)
    try:
        from generator import transaction  # noqa: PLC0415 - after the handlers, on purpose
        from generator.cli import main as run  # noqa: PLC0415

        for stop in stops:
            signal.signal(stop, transaction.on_signal)
        code = run()
    except KeyboardInterrupt as error:
        # before the command began: nothing was done
        signum = error.args[0] if error.args and isinstance(error.args[0], int) else 2
        print("keelson: interrupted; nothing was written", file=sys.stderr)
        code = 128 + signum
    # the command has said how it ended; a late signal must not kill the interpreter
    # on its way out (it restores the default handlers while it shuts down)
    for stop in stops:
        signal.signal(stop, signal.SIG_IGN)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
