"""Release build figures: both platforms against amd64 alone, and arm64 size against amd64.

Usage: .venv/bin/python benchmarks/release.py [--runs 3]

Skeleton of issue 21's release benchmark, on the release tier's probe image (a static Go
program on the distroless static stand-in): per run it builds and pushes amd64 alone,
then amd64 + arm64 + the OCI index, against a registry of its own, and prints the
median wall times and both images' sizes. Once the generated services carry their own
`ci/release.sh`, the same table is to be made per language from that script. Needs
`scripts/release-tools.sh build` and QEMU emulation (scripts/setup.sh). Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.release.conftest import TOOLS_SCRIPT, Tools, run, serve_registry  # noqa: E402
from tests.release.test_release_tier import (  # noqa: E402
    STATIC_BASE,
    arm64_base,
    build_and_push,
    probe_source,
)


def tools() -> Tools:
    """The release tools and Go, or exit with what is missing."""
    done = subprocess.run([TOOLS_SCRIPT, "path"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"release tools not built: run {TOOLS_SCRIPT} build")
    bin_dir = Path(done.stdout.strip())
    return Tools(bin_dir / "cosign", bin_dir / "syft", bin_dir / "crane", "go")


def size(tools: Tools, ref: str) -> int:
    """Compressed size of an image in the registry: its config and layers."""
    manifest = json.loads(run(tools.crane, "manifest", ref))
    return int(manifest["config"]["size"]) + sum(int(x["size"]) for x in manifest["layers"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    t = tools()
    amd64_alone: list[float] = []
    both: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, serve_registry(Path(tmp)) as registry:
        work = probe_source(Path(tmp))
        base = arm64_base(t, registry)
        repo = f"{registry}/bench/probe"
        local = [base]
        try:
            for n in range(args.runs):
                started = time.monotonic()
                local.append(f"{repo}:a{n}-amd64")
                build_and_push(t, work, local[-1], "amd64", STATIC_BASE)
                amd64_alone.append(time.monotonic() - started)
                started = time.monotonic()
                refs = []
                for arch, arch_base in (("amd64", STATIC_BASE), ("arm64", base)):
                    local.append(f"{repo}:b{n}-{arch}")
                    refs += ["-m", build_and_push(t, work, local[-1], arch, arch_base)]
                run(t.crane, "index", "append", *refs, "-t", f"{repo}:b{n}")
                both.append(time.monotonic() - started)
            sizes = {arch: size(t, f"{repo}:b0-{arch}") for arch in ("amd64", "arm64")}
        finally:
            for ref in local:
                subprocess.run(["docker", "rmi", ref], capture_output=True, check=False)
    print("| image | amd64 alone (s) | amd64 + arm64 + index (s) | amd64 size | arm64 size |")
    print("|---|---|---|---|---|")
    print(
        f"| probe (Go, static) | {statistics.median(amd64_alone):.2f} | "
        f"{statistics.median(both):.2f} | {sizes['amd64'] / 1e6:.2f} MB | "
        f"{sizes['arm64'] / 1e6:.2f} MB |"
    )


if __name__ == "__main__":
    main()
