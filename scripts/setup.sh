#!/usr/bin/env bash
# Set up everything keelson's test suite needs, idempotently:
#   - a Docker engine (Debian docker.io, started in the background) unless one answers,
#   - debootstrap, for the local base-image stand-ins when no registry is reachable,
#   - .venv with keelson and its test tools, .tools/checkov (its pins clash with pytest's),
#   - actionlint and shellcheck for the generated pipelines (scripts/pipeline-tools.sh),
#   - Compose v2 as the `docker compose` plugin,
#   - QEMU user emulation for linux/arm64 (qemu-user-static and binfmt_misc; root only),
#   - the Kubernetes control plane and node of the `kubernetes` tiers, built from source once
#     per version and cached (scripts/kube-node.sh build; about 8 minutes cold), with the
#     node's Debian packages (containerd, runc, containernetworking-plugins, docker-registry,
#     ipset for kube-router's NetworkPolicy rules).
# Installing system packages needs root; without root, an engine must already answer.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
log() { printf 'setup: %s\n' "$*" >&2; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    log "need root to install: $*"; return 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq; APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- Docker engine ----------------------------------------------------------
if ! engine_answers; then
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing the Docker engine (docker.io)"
    apt_install docker.io
  fi
  if ! engine_answers; then
    log "starting dockerd"
    mkdir -p /var/log
    # a session of its own: Ctrl-C in this terminal, or the end of the job that ran this
    # script, must not take the engine down with it
    setsid nohup dockerd >/var/log/keelson-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
      engine_answers && break
      sleep 1
    done
  fi
  engine_answers || { log "dockerd did not answer; see /var/log/keelson-dockerd.log"; exit 1; }
fi
log "engine: $(docker info --format '{{.ServerVersion}}' 2>/dev/null)"

# stand-ins are built from Debian packages; skip when not root (engine elsewhere)
if ! command -v debootstrap >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  log "installing debootstrap"
  apt_install debootstrap
fi

# --- Python tools -----------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
mkdir -p .tools
# pip's build backend chatter goes to a log; it is shown when the install fails
if ! .venv/bin/python -m pip install -q -e ".[test]" >.tools/pip.log 2>&1; then
  cat .tools/pip.log >&2; exit 1
fi
if [ ! -x .tools/checkov/bin/checkov ]; then
  log "installing checkov into .tools/checkov"
  "$PYTHON" -m venv .tools/checkov
  .tools/checkov/bin/python -m pip install -q "checkov>=3.2,<4"
fi

# --- linters of the generated pipelines ---------------------------------------
# actionlint from the Go module proxy (cached by version; about a minute cold), shellcheck
# from Debian; zizmor and check-jsonschema came with the test extras above
log "pipeline linters: $(scripts/pipeline-tools.sh build)"

# --- Compose v2 as a docker CLI plugin --------------------------------------
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
if ! docker compose version >/dev/null 2>&1; then
  mkdir -p "$plugins"
  ln -sf "$ROOT/.venv/bin/docker-compose" "$plugins/docker-compose"
fi
log "compose: $(docker compose version --short 2>/dev/null || echo missing)"

# --- Foreign platforms (the `release` test tier) ----------------------------
# linux/arm64 images are built and run here under QEMU user emulation: Debian's static
# qemu, registered with the kernel's binfmt_misc. The F flag opens the interpreter once, at
# registration, so it also runs inside containers, whose filesystems do not have it.
if [ "$(id -u)" -eq 0 ]; then
  [ -x /usr/bin/qemu-aarch64-static ] || { log "installing qemu-user-static"; apt_install qemu-user-static; }
  binfmt=/proc/sys/fs/binfmt_misc
  [ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt" ||
    log "could not mount binfmt_misc: the release tier will skip arm64"
  if [ -e "$binfmt/register" ] && [ ! -e "$binfmt/qemu-aarch64" ]; then
    cat /usr/lib/binfmt.d/qemu-aarch64.conf >"$binfmt/register"
  fi
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && log "arm64: under QEMU emulation ($(grep ^flags /proc/sys/fs/binfmt_misc/qemu-aarch64))"

# --- Kubernetes control plane (the `kubernetes` test tier) --------------------
# cached under ~/.cache/keelson/kubernetes/<version>, so only a fresh machine pays the
# build; outside CI a machine that cannot build it skips that tier instead of failing
# the node of the pods tier: Debian's containerd, runc, CNI plugins and registry; gcc for pause.c
if [ "$(id -u)" -eq 0 ]; then
  for tool in containerd runc docker-registry gcc ipset; do
    command -v "$tool" >/dev/null 2>&1 || missing_node=1
  done
  [ -x /usr/lib/cni/bridge ] || missing_node=1
  if [ -n "${missing_node:-}" ]; then
    log "installing the node's packages (containerd, runc, CNI plugins, docker-registry, gcc, ipset)"
    apt_install containerd runc containernetworking-plugins docker-registry gcc libc6-dev \
      iproute2 iptables ipset
  fi
fi
# kube-node.sh build builds the control plane too (kube-control-plane.sh build), then CoreDNS,
# kube-router and pause; all cached by version. scripts/test.sh builds them itself, beside the other
# tiers (KEELSON_KUBE_BUILD=later).
if [ "${KEELSON_KUBE_BUILD:-now}" = "later" ]; then
  log "kubernetes: built later by the caller"
elif ! kube_bin=$(scripts/kube-node.sh build); then
  if [ "${CI:-}" = "true" ]; then
    log "could not build the Kubernetes control plane and node"; exit 1
  fi
  log "no Kubernetes cluster: the kubernetes test tiers will be skipped"
else
  log "kubernetes: $kube_bin"
fi
log "ready"
