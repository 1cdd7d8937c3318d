# Shared by scripts/kube-control-plane.sh and scripts/kube-node.sh (sourced, not run).
# The caller defines log() and RUN, the folder whose logs/ and pids/ its processes use.

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
