"""Render time per language x database combination and for the whole matrix.

Usage: .venv/bin/python benchmarks/render.py [--repeat N]

Each combination is rendered through keelson's public API (copier underneath) into
a fresh folder; the table shows the median of N runs. Targets on the 2-core CI
machine: one project under 1 s, all 12 under 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.matrix import MATRIX, combo_id, render  # noqa: E402


def render_once(dest: Path, combo: dict[str, str]) -> float:
    start = time.perf_counter()
    render(dest, **combo)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    timings: dict[str, list[float]] = {}
    totals: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):
            start = time.perf_counter()
            for combo in MATRIX:
                name = combo_id(combo)
                dest = Path(tmp) / f"{name}-{run}"
                timings.setdefault(name, []).append(render_once(dest, combo))
            totals.append(time.perf_counter() - start)
    print(f"{'combination':<20} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, values in timings.items():
        print(
            f"{name:<20} {statistics.median(values):>9.3f} {min(values):>7.3f} {max(values):>7.3f}"
        )
    print(
        f"{'all ' + str(len(MATRIX)):<20} {statistics.median(totals):>9.3f} "
        f"{min(totals):>7.3f} {max(totals):>7.3f}"
    )
    slowest = max(statistics.median(v) for v in timings.values())
    print(
        f"\nslowest single project / 1 s target: {slowest:.2f}; "
        f"whole matrix / 10 s target: {statistics.median(totals) / 10:.2f}"
    )


if __name__ == "__main__":
    main()
