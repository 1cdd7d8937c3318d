#!/usr/bin/env bash
# The release tier's tools, built from the Go module proxy once per version and cached beside
# the Kubernetes binaries (the same cache and Go toolchain as scripts/kube-control-plane.sh):
#   cosign  signs images and attaches attestations (key pairs here; keyless in hosted pipelines)
#   syft    makes the SPDX SBOM
#   crane   assembles the two per-platform images into one OCI index and reads manifests
#   kustomize  `kustomize edit set image` of ci/release.sh pin (kubectl has no `edit`)
# and, with KEELSON_RELEASE_BUILDX=1 (the default), the two-platform builder that generated
# services' ci/release.sh drives, as hosted CI does:
#   docker-buildx  Docker's buildx, a CLI plugin (tests/release/builder.py links it)
#   buildkitd      BuildKit's daemon, run as a host process (runc worker, host network) and
#   buildctl       registered with `docker buildx create --driver remote`: the
#                  docker-container driver would need moby/buildkit from Docker Hub, and the
#                  engine's own BuildKit keeps one platform per image name
# BuildKit's go.mod carries exclude directives, which `go install pkg@version` refuses: it is
# built inside its module's folder from the Go module proxy, with the module's go.sum.
#
#   scripts/release-tools.sh build   build what the cache lacks; print the bin folder
#   scripts/release-tools.sh path    print the bin folder if every tool is built, else exit 1
#
# Quiet when everything is cached; a build says what it builds and how long it took (stderr).
# Environment:
#   KEELSON_KUBE_CACHE       cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/keelson/kubernetes)
#   KEELSON_COSIGN_VERSION   github.com/sigstore/cosign/v3 version (default v3.1.3)
#   KEELSON_SYFT_VERSION     github.com/anchore/syft version (default v1.57.2)
#   KEELSON_CRANE_VERSION    github.com/google/go-containerregistry version (default v0.22.1)
#   KEELSON_KUSTOMIZE_VERSION  sigs.k8s.io/kustomize/kustomize/v5 version (default v5.8.2; v5.8.3 needs Go 1.27)
#   KEELSON_RELEASE_BUILDX   0 to leave out buildx and BuildKit (default 1)
#   KEELSON_BUILDX_VERSION   github.com/docker/buildx version (default v0.38.2)
#   KEELSON_BUILDKIT_VERSION github.com/moby/buildkit version (default v0.34.2)
set -euo pipefail

CACHE_ROOT=${KEELSON_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keelson/kubernetes}
TOOLS=$CACHE_ROOT/release-tools
BIN=$TOOLS/bin
COSIGN_VERSION=${KEELSON_COSIGN_VERSION:-v3.1.3}
SYFT_VERSION=${KEELSON_SYFT_VERSION:-v1.57.2}
CRANE_VERSION=${KEELSON_CRANE_VERSION:-v0.22.1}
KUSTOMIZE_VERSION=${KEELSON_KUSTOMIZE_VERSION:-v5.8.2}
BUILDX_VERSION=${KEELSON_BUILDX_VERSION:-v0.38.2}
BUILDKIT_VERSION=${KEELSON_BUILDKIT_VERSION:-v0.34.2}

log() { printf 'release-tools: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# go_toolchain, shared with the Kubernetes build
# shellcheck source=scripts/kube-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/kube-lib.sh"

# name package version ldflags: one line per tool; the version flag makes `TOOL version`
# report the module version rather than "devel"
tools() {
  local rel=sigs.k8s.io/release-utils/version
  echo "cosign github.com/sigstore/cosign/v3/cmd/cosign $COSIGN_VERSION -X $rel.gitVersion=$COSIGN_VERSION -X $rel.gitTreeState=clean"
  echo "syft github.com/anchore/syft/cmd/syft $SYFT_VERSION -X main.version=${SYFT_VERSION#v}"
  echo "crane github.com/google/go-containerregistry/cmd/crane $CRANE_VERSION -X github.com/google/go-containerregistry/cmd/crane/cmd.Version=$CRANE_VERSION"
  echo "kustomize sigs.k8s.io/kustomize/kustomize/v5 $KUSTOMIZE_VERSION -X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION"
  if [ "${KEELSON_RELEASE_BUILDX:-1}" = 1 ]; then
    local bk=github.com/moby/buildkit
    echo "docker-buildx github.com/docker/buildx/cmd/buildx $BUILDX_VERSION -X github.com/docker/buildx/version.Version=$BUILDX_VERSION"
    echo "buildkitd $bk/cmd/buildkitd $BUILDKIT_VERSION -X $bk/version.Version=$BUILDKIT_VERSION"
    echo "buildctl $bk/cmd/buildctl $BUILDKIT_VERSION -X $bk/version.Version=$BUILDKIT_VERSION"
  fi
}

binary() { echo "$TOOLS/$1-$2/$1"; } # name version

go_build() { # go out package version ldflags: the package's binary into out
  local go=$1 out=$2 pkg=$3 version=$4 ldflags=$5 dir
  if [[ $pkg != github.com/moby/buildkit/* ]]; then
    GOBIN=$out GOFLAGS=-mod=mod CGO_ENABLED=0 "$go" install -trimpath -ldflags "$ldflags" "$pkg@$version"
    return
  fi
  # the main module may exclude versions; its go.sum lists every dependency, so -mod=readonly
  # builds in the read-only module cache without writing to it
  dir=$(module_dir "$go" "github.com/moby/buildkit@$version")
  (cd "$dir" && GOFLAGS=-mod=readonly CGO_ENABLED=0 "$go" build -trimpath -ldflags "$ldflags" \
    -o "$out/" "./${pkg#github.com/moby/buildkit/}")
}

build_one() { # name package version ldflags...
  local name=$1 pkg=$2 version=$3 ldflags=${*:4} go started out dest
  dest=$(binary "$name" "$version")
  [ -x "$dest" ] && return
  go=$(go_toolchain)
  started=$(date +%s)
  log "building $name $version from the Go module proxy"
  out=$(mktemp -d "$TOOLS/.build-$name.XXXXXX")
  # go install honours the module's own go.mod (its exact dependency versions) and keeps
  # the module and build caches shared with the Kubernetes build
  if ! go_build "$go" "$out" "$pkg" "$version" "-s -w $ldflags" >"$TOOLS/build-$name.log" 2>&1; then
    tail -n 20 "$TOOLS/build-$name.log" >&2
    rm -rf "$out"
    die "$name build failed; full log: $TOOLS/build-$name.log"
  fi
  mkdir -p "$(dirname "$dest")"
  # go install names the binary after the package (buildx, not docker-buildx; kustomize, not v5)
  mv "$out"/* "$dest"
  rm -rf "$out"
  log "built $name $version in $(($(date +%s) - started)) s"
}

link_all() { # the bin folder points at this script's versions
  local name pkg version ldflags
  mkdir -p "$BIN"
  while read -r name pkg version ldflags; do
    ln -sfn "$(binary "$name" "$version")" "$BIN/$name"
  done < <(tools)
}

have_all() {
  local name pkg version ldflags
  while read -r name pkg version ldflags; do
    [ -x "$(binary "$name" "$version")" ] || return 1
  done < <(tools)
}

build() {
  mkdir -p "$TOOLS"
  local name pkg version ldflags
  while read -r name pkg version ldflags; do
    # shellcheck disable=SC2086 # ldflags is one string, passed on as words
    build_one "$name" "$pkg" "$version" $ldflags
  done < <(tools)
  link_all
  echo "$BIN"
}

path() {
  have_all || { log "not built yet: run $0 build"; exit 1; }
  link_all
  echo "$BIN"
}

case ${1:-} in
  build) build ;;
  path) path ;;
  *) echo "usage: $0 build|path" >&2; exit 2 ;;
esac
