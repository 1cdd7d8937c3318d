#!/usr/bin/env bash
# A single-node Kubernetes cluster on this machine, built from source, where generated services
# really run as pods: the control plane of scripts/kube-control-plane.sh plus a node.
#
#   scripts/kube-node.sh build   build (or reuse) every binary and the pause image's program
#   scripts/kube-node.sh up      start the control plane and the node, print `export ...` lines
#   scripts/kube-node.sh env     print the `export ...` lines of a running cluster
#   scripts/kube-node.sh down    stop what `up` started (by PID), remove its bridge, iptables
#                                chains, mounts, cgroups and state; safe to run twice
#
# The node:
#   - kubelet and kube-proxy (iptables mode) of the control plane's version, same build and cache;
#   - its own containerd (Debian's, started with its own root, state, socket and runc root; never
#     the one dockerd uses), runc from Debian, CNI plugins from Debian
#     (containernetworking-plugins: bridge + host-local + portmap, loopback) on a bridge of its own;
#   - CoreDNS built from its Go module, run beside the kubelet on the bridge's address (the
#     apiserver listens on 127.0.0.1 only, which pods cannot reach, so DNS is not a pod here);
#   - kube-router built from its Go module, run as a NetworkPolicy controller only (firewall
#     on; BGP routing and its service proxy off: kube-proxy serves Services). It programs the
#     legacy iptables filter table (start_kube_router says why) and ipsets;
#   - a pause image built from the Kubernetes source's pause.c;
#   - a local registry (Debian's docker-registry) on 127.0.0.1: images reach the node the way a
#     team's do, pushed there and pulled by containerd;
#   - static local PersistentVolumes under the state folder and a default StorageClass.
# Pods live in network namespaces the CNI plugin makes on the node's bridge; the host reaches
# them only through 127.0.0.1 (NodePorts bound to loopback, or `kubectl port-forward`). Pods
# cannot leave the node: nothing masquerades their traffic and only bridge-to-bridge forwarding
# is accepted.
#
# Environment: that of kube-control-plane.sh (KEELSON_KUBE_VERSION, KEELSON_KUBE_CACHE,
# KEELSON_KUBE_STATE, KEELSON_KUBE_PORT), plus
#   KEELSON_COREDNS_VERSION   CoreDNS module version (default v1.15.0)
#   KEELSON_KUBE_ROUTER_VERSION kube-router module version (default v2.1.0)
#   KEELSON_KUBE_VOLUMES      how many local PersistentVolumes to offer (default 24)
#   KEELSON_KUBE_REGISTRY_DIR the registry's storage, kept between runs (default: in the cache)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PLANE=$HERE/kube-control-plane.sh
VERSION=${KEELSON_KUBE_VERSION:-v1.34.2}
CACHE_ROOT=${KEELSON_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keelson/kubernetes}
BIN=$CACHE_ROOT/$VERSION/bin
COREDNS_VERSION=${KEELSON_COREDNS_VERSION:-v1.15.0}
COREDNS=$CACHE_ROOT/coredns-$COREDNS_VERSION-node/coredns
# NetworkPolicy enforcement; v2.1.0 is the only version this machine's Go module proxy serves
KUBE_ROUTER_VERSION=${KEELSON_KUBE_ROUTER_VERSION:-v2.1.0}
KUBE_ROUTER=$CACHE_ROOT/kube-router-$KUBE_ROUTER_VERSION/kube-router
PAUSE=$CACHE_ROOT/$VERSION/pause/pause
STATE=${KEELSON_KUBE_STATE:-/tmp/keelson-kube-$(id -u)}
NODE=$STATE/node
VOLUMES=${KEELSON_KUBE_VOLUMES:-24}
# the registry's storage outlives the node: a second run pushes only the layers that changed
REGISTRY_DIR=${KEELSON_KUBE_REGISTRY_DIR:-$CACHE_ROOT/registry}

NODE_NAME=keelson-node
# one node per machine: the bridge, the pod network and the iptables chains are machine-wide
BRIDGE=keelson0
POD_CIDR=10.244.0.0/24
GATEWAY=10.244.0.1
CLUSTER_CIDR=10.244.0.0/16
FORWARD_CHAIN=KEELSON-FORWARD
OWNER=/run/keelson-kube-node.owner
PAUSE_TAG=3.10

log() { printf 'kube-node: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# start and wait_for keep their logs and PIDs under $NODE
RUN=$NODE
# shellcheck source=scripts/kube-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/kube-lib.sh"

# --- build --------------------------------------------------------------------------------

# module_copy GO MODULE@VERSION NAME: a writable copy of a module's source, from the
# Go module proxy, in a new temporary folder; prints the folder (the copy is NAME in it)
module_copy() {
  local go=$1 module=$2 name=$3 src work
  src=$(module_dir "$go" "$module")
  work=$(mktemp -d "${TMPDIR:-/tmp}/keelson-$name.XXXXXX")
  cp -r "$src" "$work/$name"
  chmod -R u+w "$work/$name"
  echo "$work"
}

build_coredns() {
  [ -x "$COREDNS" ] && return
  local go work started
  started=$(date +%s)
  go=$(go_toolchain)
  log "building CoreDNS $COREDNS_VERSION from its Go module"
  work=$(module_copy "$go" "github.com/coredns/coredns@$COREDNS_VERSION" coredns)
  # only the plugins the node's Corefile uses: the full set compiles every cloud SDK
  # (minutes on 2 cores); directives without a plugin stay unusable, nothing else changes
  cat >"$work/coredns/core/plugin/zplugin.go" <<'GO'
// the plugins of keelson's test node (scripts/kube-node.sh); CoreDNS's own list is longer

package plugin

import (
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
)
GO
  mkdir -p "$(dirname "$COREDNS")"
  if ! (cd "$work/coredns" && GOFLAGS=-mod=mod CGO_ENABLED=0 "$go" build -trimpath \
    -ldflags "-s -w" -o "$COREDNS.partial.$$" . >"$CACHE_ROOT/build-coredns.log" 2>&1); then
    tail -n 20 "$CACHE_ROOT/build-coredns.log" >&2
    rm -rf "$work"
    die "CoreDNS build failed; full log: $CACHE_ROOT/build-coredns.log"
  fi
  rm -rf "$work"
  mv "$COREDNS.partial.$$" "$COREDNS"
  log "built CoreDNS in $(($(date +%s) - started)) s"
}

build_kube_router() {
  [ -x "$KUBE_ROUTER" ] && return
  local go work started pkg=github.com/cloudnativelabs/kube-router/v2
  started=$(date +%s)
  go=$(go_toolchain)
  log "building kube-router $KUBE_ROUTER_VERSION from its Go module"
  work=$(module_copy "$go" "$pkg@$KUBE_ROUTER_VERSION" kube-router)
  mkdir -p "$(dirname "$KUBE_ROUTER")"
  if ! (cd "$work/kube-router" && GOFLAGS=-mod=mod CGO_ENABLED=0 "$go" build -trimpath \
    -ldflags "-s -w -X $pkg/pkg/version.Version=$KUBE_ROUTER_VERSION" \
    -o "$KUBE_ROUTER.partial.$$" ./cmd/kube-router >"$CACHE_ROOT/build-kube-router.log" 2>&1); then
    tail -n 20 "$CACHE_ROOT/build-kube-router.log" >&2
    rm -rf "$work"
    die "kube-router build failed; full log: $CACHE_ROOT/build-kube-router.log"
  fi
  rm -rf "$work"
  mv "$KUBE_ROUTER.partial.$$" "$KUBE_ROUTER"
  log "built kube-router in $(($(date +%s) - started)) s"
}

build_pause() {
  [ -x "$PAUSE" ] && return
  local go src
  go=$(go_toolchain)
  src=$(module_dir "$go" "k8s.io/kubernetes@$VERSION")/build/pause/linux/pause.c
  [ -f "$src" ] || die "no pause.c in k8s.io/kubernetes@$VERSION"
  mkdir -p "$(dirname "$PAUSE")"
  # as the Kubernetes build does: static, optimised, version baked in
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_TAG-keelson" -o "$PAUSE.partial" "$src" ||
    die "compiling pause.c failed (needs gcc and libc6-dev)"
  strip "$PAUSE.partial"
  mv "$PAUSE.partial" "$PAUSE"
}

build() {
  "$PLANE" build >/dev/null
  build_coredns
  build_kube_router
  build_pause
  local tool
  for tool in containerd runc docker-registry iptables iptables-legacy ipset ip ctr; do
    command -v "$tool" >/dev/null || die "missing $tool: apt-get install containerd runc docker-registry iptables ipset iproute2 containernetworking-plugins"
  done
  [ -x /usr/lib/cni/bridge ] || die "missing CNI plugins: apt-get install containernetworking-plugins"
  echo "$BIN"
}

# --- up --------------------------------------------------------------------------------------

kubectl() { "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" "$@"; }

sign_client() { # name subject: a client certificate and its kubeconfig under $NODE
  sign_cert "$1" "$2" "extendedKeyUsage=clientAuth"
  write_kubeconfig "$NODE/$1.kubeconfig" "$1" "$(cat "$STATE/port")"
}

node_running() {
  [ -f "$NODE/pids/kubelet" ] && ours "$(cat "$NODE/pids/kubelet")"
}

up() {
  local started
  started=$(date +%s.%N)
  build >/dev/null
  [ "$(id -u)" -eq 0 ] || die "the node needs root (bridge, iptables, mounts, cgroups)"
  if node_running; then
    log "already running (state $STATE)"
    env_cmd
    return
  fi
  if [ -f "$OWNER" ] && [ "$(cat "$OWNER")" != "$STATE" ] && [ -d "$(cat "$OWNER")/node" ]; then
    die "another keelson node runs from $(cat "$OWNER"); stop it with KEELSON_KUBE_STATE=$(cat "$OWNER") $0 down"
  fi
  down_quiet
  # a failed start leaves nothing behind
  # (bash runs an EXIT trap in command substitutions too: only this shell's exit counts)
  UP_SHELL=$BASHPID
  trap '[ "$BASHPID" = "$UP_SHELL" ] && { log "up failed: stopping what it started"; down_quiet; }' EXIT
  "$PLANE" up >/dev/null
  mkdir -p "$NODE"/{logs,pids,cni/net.d,cni/ipam,volumes,kubelet,containerd/root,containerd/state,runc} "$REGISTRY_DIR"
  echo "$STATE" >"$OWNER"
  sysctl -n net.ipv4.conf.all.route_localnet >"$NODE/route_localnet"
  # pods on the bridge talk to each other without routing: only with this on do their frames
  # cross iptables, where the NetworkPolicy rules are (down restores it)
  # (a kernel with br_netfilter as a module has the switch only once it is loaded)
  [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || modprobe br_netfilter 2>/dev/null ||
    die "no net.bridge.bridge-nf-call-iptables: this kernel lacks br_netfilter"
  sysctl -n net.bridge.bridge-nf-call-iptables >"$NODE/bridge-nf-call-iptables"
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
  local pki=$STATE/pki
  local registry_port kubelet_port proxy_health proxy_metrics
  registry_port=$(free_port)
  kubelet_port=$(free_port)
  proxy_health=$(free_port)
  proxy_metrics=$(free_port)
  local registry=127.0.0.1:$registry_port
  echo "$registry" >"$NODE/registry.address"

  # the node's own bridge, and forwarding between its pods only
  ip link add "$BRIDGE" type bridge
  ip addr add "$GATEWAY/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  iptables -w -N "$FORWARD_CHAIN"
  iptables -w -A "$FORWARD_CHAIN" -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  iptables -w -I FORWARD 1 -j "$FORWARD_CHAIN"

  # registry
  cat >"$NODE/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $REGISTRY_DIR}
  delete: {enabled: true}
http:
  addr: $registry
EOF
  start registry docker-registry serve "$NODE/registry.yml"
  wait_for registry 20 answers "http://$registry/v2/"

  # the pause image, pushed like any other
  local ctx
  ctx=$(mktemp -d)
  cp "$PAUSE" "$ctx/pause"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$ctx/Dockerfile"
  # the classic builder: enough for two lines, and it needs no buildx plugin
  DOCKER_BUILDKIT=0 docker build -q -t "$registry/keelson/pause:$PAUSE_TAG" "$ctx" >/dev/null 2>&1
  docker push -q "$registry/keelson/pause:$PAUSE_TAG" >/dev/null
  docker rmi "$registry/keelson/pause:$PAUSE_TAG" >/dev/null
  rm -rf "$ctx"

  # containerd: everything of its own
  cat >"$NODE/containerd.toml" <<EOF
version = 2
root = "$NODE/containerd/root"
state = "$NODE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$NODE/containerd.sock"
[ttrpc]
  address = "$NODE/containerd.sock.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$registry/keelson/pause:$PAUSE_TAG"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # this machine's root cannot lower oom_score_adj (no CAP_SYS_RESOURCE in its sandbox): runc
  # failed every sandbox with "failed to update /proc/self/oom_score_adj: Permission denied"
  restrict_oom_score_adj = true
  # the pods' network namespaces under the state folder, not /run/netns, where down finds them
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$NODE/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$registry"]
    endpoint = ["http://$registry"]
EOF
  cat >"$NODE/cni/net.d/10-keelson.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "keelson-pods",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$NODE/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  start containerd containerd --config "$NODE/containerd.toml"
  wait_for containerd 30 ctr --address "$NODE/containerd.sock" version

  # certificates for the node's components, signed by the control plane's CA
  sign_client kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  sign_client kube-proxy "/CN=system:kube-proxy"
  printf 'nameserver %s\nsearch cluster.local\noptions ndots:5\n' "$GATEWAY" >"$NODE/resolv.conf"
  cat >"$NODE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# the kubelet refuses a loopback node IP: it takes the bridge's address, where the apiserver
# (logs, exec, port-forward) reaches it without leaving the machine
address: $GATEWAY
port: $kubelet_port
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupRoot: /keelson-node
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$NODE/containerd.sock
clusterDomain: cluster.local
clusterDNS: [$GATEWAY]
resolvConf: $NODE/resolv.conf
podCIDR: $POD_CIDR
serializeImagePulls: false
volumePluginDir: $NODE/volume-plugins
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
  # the kubelet puts pods under its cgroup root and wants it there in every hierarchy
  local hierarchy
  for hierarchy in /sys/fs/cgroup/*/; do
    [ -d "$hierarchy" ] && [ ! -L "${hierarchy%/}" ] && mkdir -p "${hierarchy}keelson-node"
  done
  start kubelet "$BIN/kubelet" --config "$NODE/kubelet.yaml" \
    --kubeconfig "$NODE/kubelet.kubeconfig" --root-dir "$NODE/kubelet" \
    --cert-dir "$NODE/kubelet-pki" --hostname-override "$NODE_NAME" --node-ip "$GATEWAY" --v=1
  wait_for "the node" 90 sh -c "'$BIN/kubectl' --kubeconfig '$STATE/kubeconfig' get node $NODE_NAME -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
  # the TaintNodesByCondition admission plugin taints a new node not-ready; the node-lifecycle
  # controller, which would lift it, is off in this control plane
  kubectl taint node "$NODE_NAME" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true

  cat >"$NODE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $NODE/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$proxy_health
metricsBindAddress: 127.0.0.1:$proxy_metrics
nodePortAddresses: [127.0.0.1/32]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  start kube-proxy "$BIN/kube-proxy" --config "$NODE/kube-proxy.yaml"
  wait_for kube-proxy 30 answers "http://127.0.0.1:$proxy_health/healthz"

  start_kube_router

  cat >"$NODE/Corefile" <<EOF
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $GATEWAY
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $STATE/kubeconfig keelson
        pods insecure
    }
    cache 5
}
EOF
  start coredns "$COREDNS" -conf "$NODE/Corefile" -pidfile ""
  wait_for coredns 20 sh -c "grep -q '^CoreDNS-' '$NODE/logs/coredns.log'"

  storage
  trap - EXIT
  log "up in $(python3 -c "import time; print(f'{time.time() - $started:.1f}')") s: node $NODE_NAME, registry $registry (state $STATE)"
  env_cmd
}

start_kube_router() {
  # read-only access to what the policy controller watches, under a name of its own
  sign_client kube-router "/CN=keelson:kube-router"
  kubectl apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "keelson:kube-router"}
rules:
- apiGroups: [""]
  resources: [pods, namespaces, nodes, services, endpoints]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "keelson:kube-router"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "keelson:kube-router"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "keelson:kube-router"}
EOF
  # kube-router rewrites the whole filter table it works on (iptables-save, then
  # iptables-restore without --noflush) at every sync. In the nf_tables filter table, which
  # dockerd and kube-proxy edit too, a rule they add between its save and its restore would
  # be lost. The legacy filter table is kube-router's alone: the kernel runs both tables on
  # every packet, so its REJECTs hold while dockerd's and kube-proxy's rules stay untouched.
  local legacy=$NODE/kube-router-iptables name
  mkdir -p "$legacy"
  for name in iptables iptables-save iptables-restore; do
    ln -s "$(command -v "${name/iptables/iptables-legacy}")" "$legacy/$name"
  done
  # policy only: no BGP routing, no service proxy (kube-proxy), no CNI config of its own;
  # health and metrics servers off (they would listen on every address)
  PATH=$legacy:$PATH start kube-router "$KUBE_ROUTER" \
    --kubeconfig "$NODE/kube-router.kubeconfig" --hostname-override "$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --service-cluster-ip-range "$SERVICE_CIDR" --health-port 0 --metrics-port 0 --v=1
  # ready once its first full sync has written its chains
  wait_for kube-router 60 grep -q 'sync iptables took' "$NODE/logs/kube-router.log"
}

storage() {
  local i
  for ((i = 0; i < VOLUMES; i++)); do mkdir -p "$NODE/volumes/pv-$i"; done
  local_storage "$NODE_NAME" "$VOLUMES" "$NODE/volumes" | kubectl apply -f - >/dev/null
}

# --- down ------------------------------------------------------------------------------------

ours() {
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$STATE/"
}

stop_pids() { # pid...
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  local i p alive
  for ((i = 0; i < 100; i++)); do
    alive=()
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    [ ${#alive[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  kill -9 "${alive[@]}" 2>/dev/null || true
}

pid_of() { # name
  local pid
  [ -f "$NODE/pids/$1" ] || return 1
  pid=$(cat "$NODE/pids/$1")
  ours "$pid" && echo "$pid"
}

down_node() {
  [ -d "$NODE" ] || return 0
  local pid name
  # a throwaway node: no graceful pod shutdown. The kubelet and kube-proxy stop first (nothing
  # restarts a container after that), then every task is killed through this containerd.
  for name in kube-router kube-proxy coredns kubelet; do
    pid=$(pid_of "$name") && stop_pids "$pid"
  done
  if pid=$(pid_of containerd); then
    local task i ctr=(ctr --address "$NODE/containerd.sock" -n k8s.io)
    for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
      "${ctr[@]}" tasks kill -a -s KILL "$task" >/dev/null 2>&1 || true
    done
    for ((i = 0; i < 50; i++)); do
      [ -z "$("${ctr[@]}" tasks ls 2>/dev/null | awk 'NR > 1 && $3 != "STOPPED"')" ] && break
      sleep 0.2
    done
    for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
      "${ctr[@]}" tasks delete -f "$task" >/dev/null 2>&1 || true
    done
    stop_pids "$pid"
  fi
  # containerd's shims outlive it: only those serving this node's socket are ours
  local shims=()
  for pid in $(pgrep -f containerd-shim 2>/dev/null || true); do
    ours "$pid" && shims+=("$pid")
  done
  stop_pids "${shims[@]}"
  pid=$(pid_of registry) && stop_pids "$pid"
  # mounts under the state folder (rootfs, secrets, volumes, the pods' network namespaces,
  # which containerd keeps there), deepest first
  local mount
  for mount in $(awk -v s="$NODE/" 'index($2, s) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount -l "$mount" 2>/dev/null || true
  done
  # kube-proxy removes most of its chains itself; what it and the kubelet leave (canaries,
  # KUBE-FIREWALL), and the CNI plugins' chains, go by name: only this node makes them here
  [ -x "$BIN/kube-proxy" ] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  local table chain rule
  for table in filter nat mangle; do
    for chain in $(iptables -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" && ($2 ~ /^KUBE-/ || $2 ~ /^CNI-/) {print $2}'); do
      iptables -w -t "$table" -S 2>/dev/null | { grep -E -- "-j $chain( |\$)" || true; } |
        sed 's/^-A/-D/' | while read -r rule; do
          # shellcheck disable=SC2086 # a rule as iptables -S prints it
          iptables -w -t "$table" $rule 2>/dev/null || true
        done
    done
    for chain in $(iptables -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" && ($2 ~ /^KUBE-/ || $2 ~ /^CNI-/) {print $2}'); do
      iptables -w -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" && ($2 ~ /^KUBE-/ || $2 ~ /^CNI-/) {print $2}'); do
      iptables -w -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
  # kube-router's chains in the legacy filter table (read only if that table exists: listing
  # it would create it) and its ipsets, which only it makes here. Not `kube-router
  # --cleanup-config`: it also flushes every IPVS service on the machine, and in v2.1.0 its
  # policy part runs on an empty controller and removes nothing.
  if grep -qx filter /proc/net/ip_tables_names 2>/dev/null; then
    for chain in INPUT FORWARD OUTPUT; do
      iptables-legacy -w -S "$chain" 2>/dev/null | { grep -E -- '-j KUBE-[A-Z0-9-]+( |$)' || true; } |
        sed 's/^-A/-D/' | while read -r rule; do
          # the comments are quoted as iptables -S prints them
          eval "iptables-legacy -w $rule" 2>/dev/null || true
        done
    done
    for chain in $(iptables-legacy -w -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}'); do
      iptables-legacy -w -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables-legacy -w -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}'); do
      iptables-legacy -w -X "$chain" 2>/dev/null || true
    done
  fi
  if command -v ipset >/dev/null; then
    local set
    for set in $(ipset list -n 2>/dev/null | grep -E '^KUBE-(SRC|DST)-' || true); do
      ipset destroy "$set" 2>/dev/null || true
    done
  fi
  while iptables -w -D FORWARD -j "$FORWARD_CHAIN" 2>/dev/null; do :; done
  iptables -w -F "$FORWARD_CHAIN" 2>/dev/null && iptables -w -X "$FORWARD_CHAIN" 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
  # the kubelet's cgroups (pods, QoS classes), deepest first
  local dir
  for dir in /sys/fs/cgroup/*/keelson-node; do
    [ -d "$dir" ] || continue
    find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  if [ -f "$NODE/bridge-nf-call-iptables" ]; then
    sysctl -qw net.bridge.bridge-nf-call-iptables="$(cat "$NODE/bridge-nf-call-iptables")" || true
  fi
  if [ -f "$NODE/route_localnet" ]; then
    sysctl -qw net.ipv4.conf.all.route_localnet="$(cat "$NODE/route_localnet")" || true
  fi
  [ -f "$OWNER" ] && [ "$(cat "$OWNER")" = "$STATE" ] && rm -f "$OWNER"
  rm -rf "$NODE"
}

down_quiet() {
  down_node
  "$PLANE" down >/dev/null 2>&1 || true
}

down() {
  down_quiet
  log "down (state $STATE removed)"
}

env_cmd() {
  node_running || die "not running (state $STATE); run: $0 up"
  "$PLANE" env
  echo "export KEELSON_KUBE_REGISTRY=$(cat "$NODE/registry.address")"
}

case ${1:-} in
  build) build ;;
  up) up ;;
  down) down ;;
  down-node) down_node ;;
  env) env_cmd ;;
  *) echo "usage: $0 build|up|down|env" >&2; exit 2 ;;
esac
