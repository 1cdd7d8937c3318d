#!/usr/bin/env bash
# The project's static checks, the same for CI (scripts/test.sh) and the pre-commit hook:
# ruff's lint rules, ruff's formatting and mypy --strict (its scope is in pyproject.toml).
# Every check runs, so one run shows every finding; the exit code is 1 if any failed.
# Needs the tools of scripts/setup.sh (.venv); arguments are ignored.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BIN=${KEELSON_VENV:-.venv}/bin
# each pack's adopt detection (templates/<language>/detect.py) is keelson code too
DETECTORS=(templates/*/detect.py)
PATHS=(generator tests benchmarks "${DETECTORS[@]}")
failed=()
run() {
  local name=$1; shift
  if ! "$@"; then failed+=("$name"); fi
}
run "ruff check" "$BIN/ruff" check --quiet "${PATHS[@]}"
run "ruff format --check" "$BIN/ruff" format --check --quiet "${PATHS[@]}"
run "mypy" "$BIN/mypy"
# one run per file: every pack's module is named detect
for detector in "${DETECTORS[@]}"; do run "mypy $detector" "$BIN/mypy" "$detector"; done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'lint: FAILED:' >&2; printf ' [%s]' "${failed[@]}" >&2; printf '\n' >&2
  exit 1
fi
echo "lint: ruff check, ruff format --check and mypy passed"
