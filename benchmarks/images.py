"""Image and boot figures per language x database combination, on the local engine.

Usage: .venv/bin/python benchmarks/images.py [--only node-none,go-redis]

For each combination it renders a fresh service and prints:
- final image size, the size of its runtime base image, and the overhead over
  base + installed production dependencies (Python venv, Node node_modules);
- cold build (every RUN step runs again; BuildKit's cache mounts for package
  downloads and the Go build cache stay warm, as on a developer's machine:
  benchmarks/cold.py, since `--no-cache` would empty them too) and
  warm rebuild after a one-line source change, and
  whether every dependency-install step of the warm rebuild was a cache hit;
- time from `compose up` to every service healthy, and from the database being
  healthy to the app answering /readyz with 200;
- idle memory of the app container (docker stats).
Targets: warm rebuild under 15% of cold with dependency steps cached; the Go image
under 20 MB; Python and Node images within 10% of base + dependencies; app ready
within 3 s of its database. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.cold import cold_args, cold_dockerfile  # noqa: E402
from generator import ensure_images, packs, required_images  # noqa: E402
from generator.docker import build, docker  # noqa: E402
from generator.images import dockerfile_bases  # noqa: E402
from generator.verify import Stack, image_size, request, wait_for  # noqa: E402
from tests.matrix import MATRIX, combo_id, render  # noqa: E402

DEPENDENCY_STEPS = re.compile(r"npm ci|pip install|go mod download")
# each language's facts (source file to edit, dependency folder) come from its pack
PACKS = packs.discover(ROOT)


def dependency_steps_cached(log: str) -> bool:
    """True when every dependency-install step of a BuildKit plain log was CACHED."""
    steps = {m[1]: m[2] for m in re.finditer(r"^#(\d+) \[[^\]]+\] (RUN .*)$", log, re.M)}
    wanted = [n for n, text in steps.items() if DEPENDENCY_STEPS.search(text)]
    cached = set(re.findall(r"^#(\d+) CACHED$", log, re.M))
    return bool(wanted) and all(n in cached for n in wanted)


def dependencies_bytes(image: str, language: str) -> int:
    path = PACKS[language].dependency_dir
    if not path:
        return 0
    out = docker("run", "--rm", "--entrypoint", "du", image, "-sb", path)
    return int(out.split()[0])


def idle_memory(container: str) -> str:
    time.sleep(2)
    return docker("stats", "--no-stream", "--format", "{{.MemUsage}}", container).split("/")[0]


def ready_after_database(stack: Stack) -> float | None:
    stack.compose("up", "--detach", "--wait", "--no-build", "db")
    start = time.monotonic()
    stack.compose("up", "--detach", "--no-build", "app")
    took = wait_for(lambda: request(stack.base_url, "GET", "/readyz", 1).status == 200, 30, 0.05)
    return None if took is None else time.monotonic() - start


def measure(combo: dict[str, str], workdir: Path) -> dict[str, str]:
    name = combo_id(combo)
    project = render(workdir / name, **combo)
    ensure_images(required_images(project), log=lambda _m: None)
    tag = f"keelson-bench/{name}:latest"
    build(project, tag=tag, timeout=None)  # the cache mounts, as on a developer's machine
    cold, _ = build(
        project,
        tag=tag,
        dockerfile=cold_dockerfile(project / "Dockerfile", workdir / "cold"),
        build_args=cold_args(),
        options=["--progress", "plain"],
        timeout=None,
    )
    pack = PACKS[combo["language"]]
    with (project / pack.edit_file).open("a") as source:
        source.write(f"{pack.line_comment} benchmark edit\n")
    warm, log = build(project, tag=tag, options=["--progress", "plain"], timeout=None)
    size = image_size(tag)
    base = dockerfile_bases((project / "Dockerfile").read_text())[-1]
    base_size = image_size(base)
    deps = dependencies_bytes(tag, combo["language"])
    stack = Stack(project)
    try:
        docker("tag", tag, stack.image())
        start = time.monotonic()
        stack.up()
        boot = time.monotonic() - start
        memory = idle_memory(stack.container("app"))
        ready = None
        if combo["database"] != "none":
            stack.compose("rm", "--stop", "--force", "app")
            ready = ready_after_database(stack)
    finally:
        stack.down()
        docker("rmi", "--force", tag, check=False)
    # a service without a dependency folder (one binary) has no runtime to weigh it against
    binary = not pack.dependency_dir
    overhead = 0 if binary else (size - base_size - deps) / (base_size + deps)
    return {
        "combination": name,
        "image MB": f"{size / 1e6:.1f}",
        "base MB": f"{base_size / 1e6:.1f}",
        "deps MB": f"{deps / 1e6:.1f}",
        "overhead": "-" if binary else f"{overhead:+.1%}",
        "cold s": f"{cold:.1f}",
        "warm s": f"{warm:.1f}",
        "warm/cold": f"{warm / cold:.0%}",
        "deps cached": "yes" if dependency_steps_cached(log) else "NO",
        "up->healthy s": f"{boot:.1f}",
        "db->ready s": "-" if ready is None else f"{ready:.2f}",
        "idle mem": memory.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated combinations")
    args = parser.parse_args()
    wanted = {w for w in args.only.split(",") if w}
    matrix = [c for c in MATRIX if not wanted or combo_id(c) in wanted]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for combo in matrix:
            rows.append(measure(combo, Path(tmp)))
            print(f"measured {rows[-1]['combination']}", file=sys.stderr)
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.rjust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(row[c].rjust(widths[c]) for c in columns))


if __name__ == "__main__":
    main()
