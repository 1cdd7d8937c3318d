"""Control-plane and `kubernetes` tier timings, printed as a table.

Usage: .venv/bin/python benchmarks/kubernetes.py [--cold] [--no-tier] [--node]

- build: `scripts/kube-control-plane.sh build`; warm (binaries cached) unless `--cold`,
  which builds into a fresh cache folder (the Go build cache stays as it is, so a truly
  cold figure needs an empty GOCACHE too: `GOCACHE=$(mktemp -d)`);
- up (cold state) and up again while running, then down;
- the whole tier: `pytest -m kubernetes` wall time (control plane up and down included);
- `--node`: the same for `scripts/kube-node.sh` (control plane plus a node where pods run:
  kubelet, kube-proxy, containerd, CoreDNS, registry), and `down` once more with nothing
  running (it must be safe to repeat).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "kube-control-plane.sh"
NODE_SCRIPT = ROOT / "scripts" / "kube-node.sh"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    start = time.monotonic()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
    return time.monotonic() - start, result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="build into a fresh cache")
    parser.add_argument("--no-tier", action="store_true", help="skip the pytest tier")
    parser.add_argument("--node", action="store_true", help="time kube-node.sh instead")
    args = parser.parse_args()
    script = NODE_SCRIPT if args.node else SCRIPT
    rows: list[tuple[str, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="keelson-kube-bench-") as scratch:
        env = {**os.environ, "KEELSON_KUBE_STATE": f"{scratch}/state"}
        if args.cold:
            env["KEELSON_KUBE_CACHE"] = f"{scratch}/cache"
        rows.append(("build" + (" (cold)" if args.cold else " (cached)"), *timed(
            [str(script), "build"], env
        )))  # fmt: skip
        rows.append(("up", *timed([str(script), "up"], env)))
        rows.append(("up again (running)", *timed([str(script), "up"], env)))
        rows.append(("down", *timed([str(script), "down"], env)))
        if args.node:
            rows.append(("down again (stopped)", *timed([str(script), "down"], env)))
        if not args.no_tier:
            pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
            rows.append(("pytest -m kubernetes", *timed([*pytest, "-m", "kubernetes"], env)))
    print(f"{'step':<24} {'seconds':>8}  exit")
    for name, seconds, code in rows:
        print(f"{name:<24} {seconds:>8.1f}  {code}")
    return max(code for _, _, code in rows)


if __name__ == "__main__":
    raise SystemExit(main())
