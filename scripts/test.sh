#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up, then lint and test everything.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not docker"` for the fast tier.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/lint.sh
exec .venv/bin/pytest "$@"
