#!/usr/bin/env bash
# A throwaway Kubernetes control plane on 127.0.0.1, built from source, for keelson's
# `kubernetes` test tier and for trying `keelson verify --kubernetes` without a cluster.
#
#   scripts/kube-control-plane.sh build   build (or reuse) the pinned binaries, print their folder
#   scripts/kube-control-plane.sh up      build if needed, then start etcd, kube-apiserver,
#                                         kube-controller-manager and kube-scheduler
#   scripts/kube-control-plane.sh env     print `export KUBECONFIG=...` for a running plane
#   scripts/kube-control-plane.sh storage NODE COUNT
#                                         a default StorageClass and COUNT local volumes on NODE
#   scripts/kube-control-plane.sh down    stop exactly the processes `up` started, remove state
#
# No registry ships kube-apiserver here, but the Go module proxy serves k8s.io/kubernetes and its
# staging modules, so the binaries are built from the module (about 8 minutes cold on 2 cores) and
# cached under a folder keyed by version; a warm `up` starts in seconds. etcd is Debian's
# etcd-server, unpacked with `apt-get download` + `dpkg -x` so no system service is installed.
# There is no kubelet here: pods are created by the controllers but never run; scripts/kube-node.sh
# adds a node (kubelet, kube-proxy, containerd, CNI, CoreDNS, registry) where they do.
#
# Environment:
#   KEELSON_KUBE_VERSION   Kubernetes version (default v1.34.2; 1.34 still runs a kubelet on cgroup v1)
#   KEELSON_KUBE_CACHE     binary cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/keelson/kubernetes)
#   KEELSON_KUBE_STATE     state folder: certs, data, logs, pids, kubeconfig (default /tmp/keelson-kube-$UID)
#   KEELSON_KUBE_PORT      apiserver port on 127.0.0.1 (default: a free port chosen at `up`)
set -euo pipefail

VERSION=${KEELSON_KUBE_VERSION:-v1.34.2}
CACHE_ROOT=${KEELSON_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keelson/kubernetes}
BIN=$CACHE_ROOT/$VERSION/bin
ETCD_DIR=$CACHE_ROOT/etcd
STATE=${KEELSON_KUBE_STATE:-/tmp/keelson-kube-$(id -u)}
FIRST_SERVICE_IP=10.96.0.1
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)

log() { printf 'kube-control-plane: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# start and wait_for keep their logs and PIDs under $STATE
RUN=$STATE
# shellcheck source=scripts/kube-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/kube-lib.sh"

# --- build --------------------------------------------------------------------

have_binaries() {
  local c
  for c in "${COMPONENTS[@]}"; do [ -x "$BIN/$c" ] || return 1; done
  [ -x "$ETCD_DIR/usr/bin/etcd" ]
}

fetch_etcd() {
  [ -x "$ETCD_DIR/usr/bin/etcd" ] && return
  log "fetching etcd from Debian (etcd-server)"
  local tmp
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download etcd-server >/dev/null 2>&1); then
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -qq && (cd "$tmp" && apt-get download etcd-server >/dev/null)
    else
      rm -rf "$tmp"; die "apt-get download etcd-server failed"
    fi
  fi
  mkdir -p "$ETCD_DIR"
  dpkg -x "$tmp"/etcd-server_*.deb "$ETCD_DIR"
  rm -rf "$tmp"
  [ -x "$ETCD_DIR/usr/bin/etcd" ] || die "etcd-server package has no usr/bin/etcd"
}

build() {
  fetch_etcd
  if have_binaries; then
    echo "$BIN"; return
  fi
  local go src work minor ldflags started
  started=$(date +%s)
  go=$(go_toolchain)
  log "building Kubernetes $VERSION with $("$go" env GOVERSION) (cold: about 8 minutes on 2 cores)"
  work=$(mktemp -d "${TMPDIR:-/tmp}/keelson-kube-build.XXXXXX")
  # shellcheck disable=SC2064
  trap "chmod -R u+w '$work' 2>/dev/null; rm -rf '$work'" EXIT
  src=$(module_dir "$go" "k8s.io/kubernetes@$VERSION")
  cp -r "$src" "$work/kubernetes"
  chmod -R u+w "$work/kubernetes"
  cd "$work/kubernetes"
  rm -f go.work go.work.sum
  # the module's go.mod points the staging modules at ./staging; use the published ones instead
  minor=${VERSION#v1.}
  sed -i -E "s#^(\s*k8s\.io/[A-Za-z0-9._/-]+) => \./staging/src/k8s\.io/[A-Za-z0-9._/-]+#\1 => \1 v0.${minor}#" go.mod
  ldflags="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*}"
    ldflags+=" -X $pkg.gitTreeState=clean"
  done
  # only the components the cache lacks (a cache from before the node was added keeps its
  # control-plane binaries)
  local c pkgs=()
  for c in "${COMPONENTS[@]}"; do [ -x "$BIN/$c" ] || pkgs+=("./cmd/$c"); done
  mkdir -p "$BIN.partial"
  # the module downloads and compiler chatter go to a log, shown when the build fails
  local build_log=$CACHE_ROOT/build-$VERSION.log
  if ! GOFLAGS=-mod=mod CGO_ENABLED=0 "$go" build -trimpath -ldflags "$ldflags" \
    -o "$BIN.partial/" "${pkgs[@]}" >"$build_log" 2>&1; then
    tail -n 30 "$build_log" >&2
    die "go build failed; full log: $build_log"
  fi
  mkdir -p "$BIN"
  mv "$BIN.partial"/* "$BIN/"
  rmdir "$BIN.partial"
  cd /
  log "built $VERSION in $(($(date +%s) - started)) s into $BIN"
  echo "$BIN"
}

# --- up / down -----------------------------------------------------------------

make_certs() {
  local pki=$STATE/pki
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=keelson-test-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null
    sign_cert apiserver "/CN=kube-apiserver" \
      "subjectAltName=IP:127.0.0.1,IP:$FIRST_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth"
    sign_cert admin "/O=system:masters/CN=keelson-admin" "extendedKeyUsage=clientAuth"
    sign_cert controller-manager "/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth"
    sign_cert scheduler "/CN=system:kube-scheduler" "extendedKeyUsage=clientAuth"
    # what the apiserver shows a kubelet (logs, exec, port-forward) when scripts/kube-node.sh runs one
    sign_cert kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 ./*.key
  )
}

running() {
  [ -f "$STATE/pids/kube-apiserver" ] && ours "$(cat "$STATE/pids/kube-apiserver")"
}

up() {
  local started
  started=$(date +%s.%N)
  build >/dev/null
  if running; then
    log "already running (state $STATE)"
    env_cmd
    return
  fi
  down_quiet
  mkdir -p "$STATE/logs" "$STATE/pids" "$STATE/etcd"
  chmod 700 "$STATE" "$STATE/etcd"
  PORT=${KEELSON_KUBE_PORT:-$(free_port)}
  local etcd_client etcd_peer
  etcd_client=$(free_port)
  etcd_peer=$(free_port)
  echo "$PORT" >"$STATE/port"
  make_certs
  write_kubeconfig "$STATE/kubeconfig" admin "$PORT"
  write_kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager "$PORT"
  write_kubeconfig "$STATE/scheduler.kubeconfig" scheduler "$PORT"
  local pki=$STATE/pki

  start etcd "$ETCD_DIR/usr/bin/etcd" --name keelson --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_client" \
    --advertise-client-urls "http://127.0.0.1:$etcd_client" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "keelson=http://127.0.0.1:$etcd_peer" \
    --quota-backend-bytes 1073741824 --snapshot-count 5000
  wait_for etcd 30 answers "http://127.0.0.1:$etcd_client/health"

  # default admission plugins (PodSecurity, ServiceAccount, LimitRanger, ...) stay on
  start kube-apiserver "$BIN/kube-apiserver" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$PORT" \
    --etcd-servers "http://127.0.0.1:$etcd_client" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC \
    --client-ca-file "$pki/ca.crt" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc \
    --kubelet-client-certificate "$pki/kubelet-client.crt" \
    --kubelet-client-key "$pki/kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --allow-privileged=false \
    --profiling=false --endpoint-reconciler-type none
  wait_for kube-apiserver 60 "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" get --raw /readyz

  # no kubelet: the node-lifecycle controller would taint the fake node and evict pods
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --bind-address 127.0.0.1 --secure-port 0 \
    --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --use-service-account-credentials \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --controllers '*,-nodelifecycle,-nodeipam,-cloud-node-lifecycle' \
    --leader-elect=false --profiling=false \
    --horizontal-pod-autoscaler-sync-period 2s
  start kube-scheduler "$BIN/kube-scheduler" \
    --bind-address 127.0.0.1 --secure-port 0 \
    --kubeconfig "$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
    --leader-elect=false --profiling=false

  # the default ServiceAccount appears once the controller-manager runs
  wait_for "the default service account" 60 \
    "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" get serviceaccount default -n default
  log "up in $(python3 -c "import time; print(f'{time.time() - $started:.1f}')") s: https://127.0.0.1:$PORT (state $STATE)"
  env_cmd
}

ours() {
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$STATE/"
}

alive() { # which of ${pids[@]} still run, in $ALIVE
  ALIVE=
  local p
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then ALIVE+="$p "; fi
  done
}

down_quiet() {
  # a node started on this plane by scripts/kube-node.sh goes first (its pods, bridge, chains)
  if [ -d "$STATE/node" ]; then
    "$(dirname "${BASH_SOURCE[0]}")/kube-node.sh" down-node || true
  fi
  [ -d "$STATE/pids" ] || { rm -rf "$STATE"; return 0; }
  local name pid i pids=()
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [ -f "$STATE/pids/$name" ] || continue
    pid=$(cat "$STATE/pids/$name")
    # a stale pid file may name a reused PID: only a process whose arguments name this
    # state folder is ours
    ours "$pid" && pids+=("$pid")
  done
  if [ ${#pids[@]} -gt 0 ]; then
    # all at once: each shuts down gracefully in 1-3 s, and none needs the others for it
    kill "${pids[@]}" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      alive
      [ -n "$ALIVE" ] || break
      sleep 0.1
    done
    alive
    # shellcheck disable=SC2086 # a list of PIDs
    [ -z "$ALIVE" ] || kill -9 $ALIVE 2>/dev/null || true
  fi
  rm -rf "$STATE"
}

down() {
  down_quiet
  log "down (state $STATE removed)"
}

storage() { # node count: a default StorageClass and local volumes for a node of that name
  running || die "not running (state $STATE); run: $0 up"
  [[ ${2:-} =~ ^[0-9]+$ ]] || die "usage: $0 storage NODE COUNT"
  local_storage "$1" "$2" "$STATE/volumes" |
    "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" apply -f - >/dev/null
}

env_cmd() {
  running || die "not running (state $STATE); run: $0 up"
  echo "export KUBECONFIG=$STATE/kubeconfig"
  echo "export PATH=$BIN:\$PATH"
}

case ${1:-} in
  build) build ;;
  up) up ;;
  down) down ;;
  env) env_cmd ;;
  storage) shift; storage "$@" ;;
  *) echo "usage: $0 build|up|down|env|storage NODE COUNT" >&2; exit 2 ;;
esac
