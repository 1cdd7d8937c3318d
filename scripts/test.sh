#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up, then lint and test everything.
# Arguments go to one pytest run instead, e.g. `scripts/test.sh tests/test_cli.py`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
  scripts/setup.sh
  scripts/lint.sh
  exec .venv/bin/pytest "$@"
fi
# On a fresh machine the Kubernetes binaries, CoreDNS and kube-router (the test node's
# NetworkPolicy engine) take minutes to build from source: they build (at a lower priority,
# each cached by version) while the other tiers run, and the kubernetes tiers wait. The
# release tier's tools (cosign, syft, crane) build after them, while the kubernetes tiers
# run, so the two Go builds never compete for the CPU; the release tier runs last.
KEELSON_KUBE_BUILD=later scripts/setup.sh
kube_log=$(mktemp)
release_log=$(mktemp)
nice -n 10 scripts/kube-node.sh build >"$kube_log" 2>&1 &
kube_build=$!
trap 'kill "$kube_build" "${release_build:-}" 2>/dev/null || true; rm -f "$kube_log" "$release_log"' EXIT
scripts/lint.sh
status=0
# the fast tier on 4 pytest-xdist workers (much of it waits on git, pip, npm and go, not
# the CPU); then the engine tiers in one process, as they keep one stack at a time
.venv/bin/pytest -m "not docker and not kubernetes" -n 4 --dist worksteal || status=$?
.venv/bin/pytest -m "docker and not kubernetes and not release" || status=$?
kube_status=0
wait "$kube_build" || kube_status=$?
nice -n 10 scripts/release-tools.sh build >"$release_log" 2>&1 &
release_build=$!
if [ "$kube_status" -eq 0 ]; then
  echo "test: kubernetes: $(tail -n 1 "$kube_log")"
else
  cat "$kube_log" >&2
  echo "test: could not build the Kubernetes control plane and node" >&2
  # in CI that is a failure; elsewhere the kubernetes tiers skip and say why
  [ "${CI:-}" = "true" ] && status=1
fi
.venv/bin/pytest -m kubernetes || status=$?
if wait "$release_build"; then
  echo "test: release tools: $(tail -n 1 "$release_log")"
else
  cat "$release_log" >&2
  echo "test: could not build the release tools" >&2
  [ "${CI:-}" = "true" ] && status=1
fi
.venv/bin/pytest -m release || status=$?
exit "$status"
