"""What an update did: the record `keelson update` reports and its conflict error carries.

It lives apart from `generator.update` so that `generator.errors` can name it
without importing the update machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class UpdateResult:
    """What an update changed (or, with `pretend`, would change).

    Attributes:
        path: The service's folder.
        old_version: The template version the service was on (`_commit`).
        new_version: The template version it is on now (or would be).
        pretend: Whether this was a dry run.
        changed: `M compose.yaml`-style lines (A added, M modified, D deleted,
            U unmerged), paths relative to the service.
        conflicts: Files holding conflict markers, relative to the service.
        diff: The unified diff of the update (dry runs only).
        dropped: Files the template no longer generates that the team changed:
            kept, and among the conflicts (git shows them as deleted by them).

    """

    path: Path
    old_version: str | None
    new_version: str | None
    pretend: bool
    changed: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    diff: str = ""
    dropped: tuple[str, ...] = ()
