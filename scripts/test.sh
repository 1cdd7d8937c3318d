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
# each cached by version) while the other tiers run, and the kubernetes tiers wait; the
# release tier's tools (cosign, syft, crane) build after them, and the release tier runs last.
KEELSON_KUBE_BUILD=later scripts/setup.sh
kube_log=$(mktemp)
release_log=$(mktemp)
nice -n 10 scripts/kube-node.sh build >"$kube_log" 2>&1 &
kube_build=$!
# the release tier's tools once the Kubernetes build is done (two Go builds at once would
# share the 2 cores), while the docker tier runs; then the linux/arm64 twins of the runtime
# base stand-ins (about 3 minutes cold, seconds warm)
(
  while kill -0 "$kube_build" 2>/dev/null; do sleep 5; done
  nice -n 10 scripts/release-tools.sh build
  nice -n 10 .venv/bin/python -m tests.release.builder
) >"$release_log" 2>&1 &
release_build=$!
# Node.js and Renovate from npm for the renovate tier (about 50 s cold, cached by version)
renovate_log=$(mktemp)
nice -n 10 scripts/renovate-tool.sh >"$renovate_log" 2>&1 &
renovate_tool=$!
trap 'kill "$kube_build" "$release_build" "$renovate_tool" 2>/dev/null || true; rm -f "$kube_log" "$release_log" "$renovate_log"' EXIT
scripts/lint.sh
status=0
# the fast tier on 4 pytest-xdist workers (much of it waits on git, pip, npm and go, not
# the CPU); then the engine tiers in one process, as they keep one stack at a time
.venv/bin/pytest -m "not docker and not kubernetes and not renovate" -n 4 --dist worksteal \
  || status=$?
if wait "$renovate_tool"; then
  .venv/bin/pytest -m renovate -n 2 || status=$?
else
  cat "$renovate_log" >&2
  echo "test: could not install Renovate (scripts/renovate-tool.sh)" >&2
  status=1
fi
.venv/bin/pytest -m "docker and not kubernetes and not release" || status=$?
if wait "$kube_build"; then
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
