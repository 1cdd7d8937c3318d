"""How close to the physical limit a published runtime base lets an image get.

Usage: .venv/bin/python benchmarks/base_floor.py

An image built on a base carries every file of the base. The files of the base
that the service's runtime does not need (the limit of benchmarks/compare_images.py:
interpreter, the libraries it and its extension modules link, the standard
library) are a floor on how far above the limit any image on that base stays,
whatever the Dockerfile does. For Python and Node it measures that overhead for
the distroless bases (the local stand-ins, built the way the published images
are): the language's own image and `cc-debian13`, the smallest published image
with the C and C++ runtime libraries, on which the interpreter could be copied
from a build stage. It prints one table; figures are printed, never asserted.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.compare_images import (  # noqa: E402
    PACKS,
    Tree,
    _beyond_limit,
    runtime_parts,
)
from generator.images import dockerfile_bases, ensure_images  # noqa: E402
from generator.verify import docker  # noqa: E402
from tests.matrix import render  # noqa: E402

CC = "gcr.io/distroless/cc-debian13:nonroot"


def runtimes(folder: Path) -> dict[str, str]:
    """Each interpreted language's runtime base: the last stage of a default service's Dockerfile.

    A language whose service is one static binary (its pack's `runtime_kind`) has no
    runtime to measure.
    """
    found = {}
    for language, pack in PACKS.items():
        if pack.runtime_kind != "static":
            project = render(folder / f"svc-{language}", language=language, database="none")
            found[language] = dockerfile_bases((project / "Dockerfile").read_text())[-1]
    return found


def export(image: str, folder: Path) -> tuple[Tree, dict[str, str]]:
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image))
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    container = docker("create", image, "/none").strip()
    archive = folder / (image.replace("/", "_").replace(":", "_") + ".tar")
    try:
        docker("export", "--output", str(archive), container, timeout=600)
    finally:
        docker("rm", "--force", container, check=False)
    return Tree(archive), env


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="keelson-floor-") as tmp:
        bases = runtimes(Path(tmp))
    ensure_images([CC, *bases.values()], log=lambda m: print(m, file=sys.stderr))
    rows = [
        "| language | base | base MB | needed by the runtime MB | beyond it MB"
        " | largest parts beyond |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="keelson-floor-") as tmp:
        folder = Path(tmp)
        (folder / "requirements.txt").write_text("")
        cc, _ = export(CC, folder)
        for language, image in bases.items():
            tree, env = export(image, folder)
            parts = runtime_parts(
                PACKS[language], tree, env, entrypoint=[], workdir="/app", project=folder
            )
            needed = set().union(*parts.values())
            for name, base in ((image, tree), (CC, cc)):
                files = {n: m.size for n, m in base.members.items() if m.isfile()}
                total = sum(files.values())
                used = sum(size for n, size in files.items() if n in needed)
                extra = _beyond_limit(base, needed)
                top = sorted(extra.items(), key=lambda item: -item[1])[:4]
                largest = ", ".join(f"{k} {v / 1e6:.1f}" for k, v in top)
                rows.append(
                    f"| {language} | {name} | {total / 1e6:.1f} | {used / 1e6:.1f} | "
                    f"{(total - used) / 1e6:.1f} | {largest} |"
                )
            runtime = sum(tree.size(n) for n in needed)
            service = PACKS[language].service_mb
            limit = runtime / 1e6 + service
            rows.append(
                f"| {language} | limit: runtime {runtime / 1e6:.1f} + service {service:.1f} "
                f"= {limit:.1f} MB; 5 % of it: {limit * 0.05:.1f} MB | | | | |"
            )
            tree.close()
        cc.close()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
