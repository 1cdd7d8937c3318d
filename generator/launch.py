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
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, _stop)
    try:
        from generator.cli import main as run  # noqa: PLC0415 - after the handlers, on purpose

        return run()
    except KeyboardInterrupt as error:
        signum = error.args[0] if error.args and isinstance(error.args[0], int) else 2
        print("keelson: interrupted; nothing was written", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
