#!/usr/bin/env bash
# The adopt corpus (tests/adopt/corpus.yml): real published projects, each downloaded by
# exact version from its registry (npm tarball, PyPI sdist, Go module zip through the Go
# module proxy), its integrity checked (npm's sha512 integrity, PyPI's sha256, Go's
# checksum database), and unpacked once into a cache the `adopt_corpus` test tier copies
# from. Tests never reach a registry themselves; scripts/test.sh starts this in the
# background before the docker tier. Prints the cache folder.
#
# Environment:
#   KEELSON_ADOPT_CORPUS_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/keelson/adopt-corpus)
#   KEELSON_ADOPT_CORPUS        the corpus file (default tests/adopt/corpus.yml)
#   NPM_REGISTRY                npm registry (default https://registry.npmjs.org)
#   PYPI_SIMPLE                 PyPI's simple index (default https://pypi.org/simple)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "adopt-corpus: $*" >&2; }
die() { log "$*"; exit 1; }

CACHE_ROOT=${KEELSON_ADOPT_CORPUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keelson/adopt-corpus}
REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}
PYPI=${PYPI_SIMPLE:-https://pypi.org/simple}
PYTHON=.venv/bin/python
[ -x "$PYTHON" ] || PYTHON=python3
# shellcheck source=scripts/kube-lib.sh
. scripts/kube-lib.sh

mkdir -p "$CACHE_ROOT"
# one fetch at a time (test.sh and a developer may both ask); the loser finds the cache filled
exec 9>"$CACHE_ROOT/.lock"
flock 9

json() { # expression: evaluate it on the JSON document on stdin (`d`), print the result
  "$PYTHON" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

download() { # url file
  curl --fail --silent --show-error --location --retry 3 --output "$2" "$1"
}

fetch_npm() { # package version folder
  local meta tarball integrity actual
  meta=$(curl --fail --silent --show-error --retry 3 "$REGISTRY/$1/$2")
  tarball=$(json 'd["dist"]["tarball"]' <<<"$meta")
  integrity=$(json 'd["dist"]["integrity"]' <<<"$meta")
  [[ $integrity == sha512-* ]] || die "$1@$2: no sha512 integrity in the registry ($integrity)"
  download "$tarball" "$work/archive"
  actual="sha512-$(openssl dgst -sha512 -binary "$work/archive" | base64 -w0)"
  [ "$actual" = "$integrity" ] || die "$1@$2: integrity $actual, the registry says $integrity"
  mkdir -p "$3"
  tar -xzf "$work/archive" -C "$3" --strip-components=1 --no-same-owner
}

fetch_pypi() { # project version folder
  local meta url sha256
  # the index's JSON form (PEP 691), as pip reads it: the sdist of that version and its sha256
  meta=$(curl --fail --silent --show-error --retry 3 \
    --header 'Accept: application/vnd.pypi.simple.v1+json' "$PYPI/$1/")
  read -r url sha256 < <(VERSION=$2 json \
    '" ".join(next((f["url"], f["hashes"]["sha256"]) for f in d["files"] if f["filename"].endswith("-" + __import__("os").environ["VERSION"] + ".tar.gz")))' \
    <<<"$meta")
  download "$url" "$work/archive"
  echo "$sha256  $work/archive" | sha256sum --check --quiet - ||
    die "$1==$2: the sdist's sha256 is not the index's $sha256"
  mkdir -p "$3"
  tar -xzf "$work/archive" -C "$3" --strip-components=1 --no-same-owner
}

fetch_go() { # module version folder
  local go dir
  go=$(go_toolchain)
  # go mod download checks the zip against go.sum's source, the checksum database
  dir=$(cd "$work" && module_dir "$go" "$1@$2")
  cp -R "$dir" "$3"
  chmod -R u+w "$3"
}

# name ecosystem package version, one project a line
projects=$("$PYTHON" -c '
import sys, yaml
for name, p in yaml.safe_load(open(sys.argv[1]))["projects"].items():
    print(name, p["ecosystem"], p["package"], p["version"])
' "${KEELSON_ADOPT_CORPUS:-tests/adopt/corpus.yml}")

fetched=0
work=
trap 'rm -rf "$work"' EXIT
while read -r name ecosystem package version; do
  target=$CACHE_ROOT/$name-$version
  [ -d "$target" ] && continue
  work=$(mktemp -d "$CACHE_ROOT/.fetch.XXXXXX")
  log "fetching $package $version ($ecosystem)"
  "fetch_$ecosystem" "$package" "$version" "$work/project"
  mv "$work/project" "$target"
  rm -rf "$work"
  fetched=$((fetched + 1))
done <<<"$projects"
log "ready: $(wc -l <<<"$projects") projects ($fetched fetched now) in $CACHE_ROOT"
echo "$CACHE_ROOT"
