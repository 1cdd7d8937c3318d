#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up, then lint and test everything.
# Extra arguments go to one pytest run instead, e.g. `scripts/test.sh tests/test_cli.py`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/lint.sh
if [ $# -gt 0 ]; then
  exec .venv/bin/pytest "$@"
fi
# the fast tier on 4 pytest-xdist workers (much of it waits on git, pip, npm and go, not
# the CPU); then the engine tiers in one process, as they keep one stack at a time
status=0
.venv/bin/pytest -m "not docker and not kubernetes" -n 4 --dist worksteal || status=$?
.venv/bin/pytest -m "docker or kubernetes" || status=$?
exit "$status"
