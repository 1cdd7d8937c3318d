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
    Tree,
    _beyond_limit,
    _node_limit,
    _python_limit,
)
from generator.images import ensure_images  # noqa: E402
from generator.verify import docker  # noqa: E402

CC = "gcr.io/distroless/cc-debian13:nonroot"
RUNTIMES = {
    "python": "gcr.io/distroless/python3-debian13:nonroot",
    "node": "gcr.io/distroless/nodejs24-debian13:nonroot",
}
# the service's own share of the limit, measured by compare_images.py (MB): the
# dependencies and code of a database-none service
SERVICE_MB = {"python": 10.8, "node": 2.3}


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
    ensure_images([CC, *RUNTIMES.values()], log=lambda m: print(m, file=sys.stderr))
    rows = [
        "| language | base | base MB | needed by the runtime MB | beyond it MB"
        " | largest parts beyond |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="keelson-floor-") as tmp:
        folder = Path(tmp)
        (folder / "requirements.txt").write_text("")
        cc, _ = export(CC, folder)
        for language, image in RUNTIMES.items():
            tree, env = export(image, folder)
            if language == "python":
                parts = _python_limit(tree, env, folder)
            else:
                parts = _node_limit(tree, env, ["/nodejs/bin/node"], "/app")
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
            service = SERVICE_MB[language]
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
