"""Cold builds that keep BuildKit's cache mounts, for the image benchmarks.

`docker build --no-cache` also starts every `RUN --mount=type=cache` empty:
BuildKit does that on purpose, so a `--no-cache` build is the first build on a
new machine, downloads and compiler caches included. The cold build a developer
waits for (a new base image, a pruned layer cache) still finds pip's, npm's and
Go's caches on the machine. To measure that one, the build runs from a copy of
the Dockerfile that declares one build argument at the top of every stage: a new
value changes the cache key of every RUN step after it, so each one runs again,
while the cache mounts stay as they are. COPY steps of unchanged files remain
cache hits; they cost milliseconds either way.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

NONCE_ARG = "KEELSON_BENCH_NONCE"
_FROM = re.compile(r"\s*FROM\s", re.IGNORECASE)


def cold_dockerfile(dockerfile: Path, folder: Path) -> Path:
    """Write `dockerfile` with the nonce argument declared in every stage into `folder`.

    The copy lies outside the build context, so the context and its
    `.dockerignore` stay what the original build sees.
    """
    lines: list[str] = []
    for line in dockerfile.read_text().splitlines():
        lines.append(line)
        if _FROM.match(line):
            lines.append(f"ARG {NONCE_ARG}")
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"{dockerfile.parent.name}-{dockerfile.name}.cold"
    copy.write_text("\n".join(lines) + "\n")
    return copy


def cold_args() -> dict[str, str]:
    """Build arguments that make the next build of a cold Dockerfile run every RUN step."""
    return {NONCE_ARG: uuid.uuid4().hex}
