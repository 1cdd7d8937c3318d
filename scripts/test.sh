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
# the adopt corpus: real published projects by exact version from npm, PyPI and the Go
# module proxy, for the adopt_corpus tier (seconds, cached by version)
corpus_log=$(mktemp)
nice -n 10 scripts/adopt-corpus.sh >"$corpus_log" 2>&1 &
corpus_fetch=$!
trap 'kill "$kube_build" "$release_build" "$renovate_tool" "$corpus_fetch" 2>/dev/null || true; rm -f "$kube_log" "$release_log" "$renovate_log" "$corpus_log"' EXIT
scripts/lint.sh
status=0
# job_done PID LOG WHAT WHEN: wait for a background job; if it failed, print its log and
# "could not WHAT", and fail the run (WHEN=always) or only under CI (WHEN=ci: elsewhere the
# tier that needs it skips and says why)
job_done() {
  if wait "$1"; then return 0; fi
  cat "$2" >&2
  echo "test: could not $3" >&2
  if [ "$4" = always ] || [ "${CI:-}" = "true" ]; then status=1; fi
  return 1
}
# the fast tier on 4 pytest-xdist workers (much of it waits on git, pip, npm and go, not
# the CPU); then the engine tiers in one process, as they keep one stack at a time
.venv/bin/pytest -m "not docker and not kubernetes and not renovate" -n 4 --dist worksteal \
  || status=$?
if job_done "$renovate_tool" "$renovate_log" "install Renovate (scripts/renovate-tool.sh)" always; then
  .venv/bin/pytest -m renovate -n 2 || status=$?
fi
.venv/bin/pytest -m "docker and not kubernetes and not release and not adopt_corpus" || status=$?
if job_done "$corpus_fetch" "$corpus_log" "fetch the adopt corpus (scripts/adopt-corpus.sh)" always; then
  .venv/bin/pytest -m adopt_corpus || status=$?
fi
job_done "$kube_build" "$kube_log" "build the Kubernetes control plane and node" ci \
  && echo "test: kubernetes: $(tail -n 1 "$kube_log")"
.venv/bin/pytest -m kubernetes || status=$?
job_done "$release_build" "$release_log" "build the release tools" ci \
  && echo "test: release tools: $(tail -n 1 "$release_log")"
.venv/bin/pytest -m release || status=$?
exit "$status"
