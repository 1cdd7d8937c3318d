"""The plain-text tables keelson prints (catalogue list, verify reports)."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def columns(rows: Sequence[Sequence[str]], *, right: Collection[int] = ()) -> list[str]:
    """Lay rows out as aligned columns two spaces apart, one line per row.

    Every column but the last is padded to its widest cell; the last one (free
    text such as a description or a detail) is not.

    Args:
        rows: The rows, header first; all of the same length.
        right: Indexes of the columns aligned to the right (figures).

    Returns:
        The lines, without line ends.

    """
    if not rows:
        return []
    last = len(rows[0]) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(last)]
    return [
        "  ".join(
            [
                *(
                    cell.rjust(width) if i in right else cell.ljust(width)
                    for i, (cell, width) in enumerate(zip(row[:last], widths, strict=True))
                ),
                row[last],
            ]
        )
        for row in rows
    ]
