"""Release build figures per language: both platforms against amd64 alone, arm64 size against amd64.

Usage: .venv/bin/python benchmarks/release.py [--languages go,node,python]

For each language with database none it renders the service and runs the service's own
`ci/release.sh build` on the release tier's two-platform builder (buildkitd as a host
process, bases from a 127.0.0.1 mirror: tests/release/builder.py), once with
PLATFORMS=linux/amd64 and once with linux/amd64,linux/arm64, each from a cold build
cache (`docker buildx prune --all` first; the bases are in the local mirror either way).
One run each. Sizes are each platform's image in the pushed index, compressed (config
plus layers), as a registry stores and a node pulls them. Needs `scripts/release-tools.sh
build` and QEMU emulation (scripts/setup.sh). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.images import required_images  # noqa: E402
from tests.matrix import MATRIX, render  # noqa: E402
from tests.release.builder import Builder, start_builder  # noqa: E402
from tests.release.conftest import TOOLS_SCRIPT, run, serve_registry  # noqa: E402

LANGUAGES = sorted({c["language"] for c in MATRIX if c["database"] == "none"})
BOTH = "linux/amd64,linux/arm64"
HEADER = "| language | amd64 alone (s) | amd64 + arm64 (s) | ratio | amd64 MB | arm64 MB | ratio |"


def bin_dir() -> Path:
    """The release tools' folder, or exit with the command that builds them."""
    done = subprocess.run([TOOLS_SCRIPT, "path"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"release tools not built: run {TOOLS_SCRIPT} build")
    return Path(done.stdout.strip())


def timed_build(builder: Builder, project: Path, platforms: str, out: Path) -> float:
    """Seconds of `ci/release.sh build` for platforms, from an empty build cache."""
    run("docker", "buildx", "prune", "--all", "--force", env=builder.env)
    env = {
        **builder.env,
        "IMAGE": f"{builder.registry}/bench/{project.name}",
        "TAG": "v1.0.0",
        "PLATFORMS": platforms,
        "OUT": str(out),
    }
    started = time.monotonic()
    run(project / "ci" / "release.sh", "build", env=env)
    return time.monotonic() - started


def sizes(builder: Builder, project: Path, digest: str) -> dict[str, int]:
    """Compressed size of each platform's image in the index: config and layers."""
    repo = f"{builder.registry}/bench/{project.name}"
    index = json.loads(run(builder.crane, "manifest", f"{repo}@{digest}"))
    out = {}
    for entry in index["manifests"]:
        arch = entry["platform"]["architecture"]
        if arch == "unknown":  # BuildKit's provenance attestation
            continue
        manifest = json.loads(run(builder.crane, "manifest", f"{repo}@{entry['digest']}"))
        out[arch] = manifest["config"]["size"] + sum(x["size"] for x in manifest["layers"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="keelson-release-bench-") as tmp:
        work = Path(tmp)
        (work / "registry").mkdir()
        with (
            serve_registry(work / "registry") as registry,
            start_builder(bin_dir(), registry, work / "builder") as builder,
        ):
            for language in args.languages.split(","):
                name = f"bench-{language}"
                project = render(work / name, project_name=name, language=language, database="none")
                builder.publish(*required_images(project))
                alone = timed_build(builder, project, "linux/amd64", work / f"{name}-amd64")
                both = timed_build(builder, project, BOTH, work / f"{name}-both")
                digest = (work / f"{name}-both" / "digest").read_text().strip()
                size = sizes(builder, project, digest)
                rows.append((language, alone, both, size["amd64"], size["arm64"]))
                print(f"{language}: {alone:.0f} s, {both:.0f} s", file=sys.stderr)
    print(
        "| language | amd64 alone (s) | amd64 + arm64 (s) | ratio | amd64 MB | arm64 MB | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for language, alone, both, amd64, arm64 in rows:
        print(
            f"| {language} | {alone:.1f} | {both:.1f} | {both / alone:.2f} | "
            f"{amd64 / 1e6:.2f} | {arm64 / 1e6:.2f} | {arm64 / amd64:.2f} |"
        )


if __name__ == "__main__":
    main()
