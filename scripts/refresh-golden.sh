#!/usr/bin/env bash
# Rewrite the golden renders under tests/golden/ from the working tree of the template.
# Run it after an intended template change; review `git diff tests/golden`, then commit.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m tests.goldens refresh "$@"
