"""Three-way merges of single files, for `keelson adopt --force`.

The base is what keelson generated before (the project's recorded answers rendered
at its recorded template version); ours is the project's file as it is; theirs is
what keelson generates now. A file nobody changed takes the new version, a file
only the team changed stays as it is, and where both changed the same lines the
file keeps both between conflict markers, exactly as `keelson update` leaves them.
Without a base (container files keelson never generated) a file that differs is a
conflict as a whole: nothing the team wrote is dropped.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

LABELS = ("before updating", "last update", "after updating")
"""The conflict labels copier's updates write, so that both read the same."""


def merge_file(ours: Path, base: Path | None, theirs: Path) -> tuple[bytes, bool]:
    """Merge three versions of one file.

    Args:
        ours: The project's file.
        base: The version keelson generated before, or None when there is none.
        theirs: The version keelson generates now.

    Returns:
        The merged bytes, and whether they hold conflict markers.

    """
    mine, new = ours.read_bytes(), theirs.read_bytes()
    old = base.read_bytes() if base is not None and base.is_file() else None
    if new in {mine, old}:
        return mine, False
    if old == mine:
        return new, False
    with tempfile.NamedTemporaryFile(prefix="keelson-base-") as empty:
        if old is None:
            empty.write(b"")
            empty.flush()
        merged = subprocess.run(
            [
                "git", "merge-file", "--stdout",
                "-L", LABELS[0], "-L", LABELS[1], "-L", LABELS[2],
                str(ours), empty.name if old is None else str(base), str(theirs),
            ],
            capture_output=True,
            check=False,
        )  # fmt: skip
    if merged.returncode < 0 or merged.returncode > 127:
        raise OSError(f"git merge-file failed: {merged.stderr.decode(errors='replace')}")
    return merged.stdout, merged.returncode > 0
