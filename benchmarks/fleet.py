"""`keelson fleet status` over 50 local services, against 50 sequential `keelson check` runs.

Usage: .venv/bin/python benchmarks/fleet.py [--services 50] [--jobs 4]

A tiny copier template with three releases; one service rendered at the first and
committed, then cloned into N repositories of their own (every one behind by two
releases), listed in a catalogue. It times one `keelson fleet status` process (which
clones every service shallowly, JOBS at a time) and N `keelson check DIR` processes
one after the other (each on a checkout already on disk, so without the clone), and
reports wall time and the peak resident memory of the largest process of each. It
prints one table; figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEELSON = [sys.executable, "-m", "generator"]
COPIER_YML = "_answers_file: .copier-answers.yml\ngreeting: {type: str, default: hello}\n"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
        cwd=cwd, check=True, capture_output=True,
    )  # fmt: skip


def build(root: Path, count: int) -> Path:
    """Make the template, N services and the catalogue; return the catalogue."""
    template = root / "template"
    template.mkdir()
    _git(template, "init", "-q", "-b", "main")
    (template / "copier.yml").write_text(COPIER_YML)
    (template / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers | to_nice_yaml -}}\n"
    )
    for version in ("v1.0.0", "v1.1.0", "v1.2.0"):
        (template / "README.md.jinja").write_text(f"{{{{ greeting }}}} {version}\n")
        _git(template, "add", "-A")
        _git(template, "commit", "-q", "-m", version)
        _git(template, "tag", version)
    first = root / "first"
    subprocess.run(
        [*KEELSON, "new", "-q", "--defaults", "--template", str(template), "--vcs-ref",
         "v1.0.0", str(first)],
        cwd=ROOT, check=True,
    )  # fmt: skip
    services = root / "services"
    services.mkdir()
    lines = [
        "version: 1",
        "templates:",
        f"  t: {{url: {template}, ref: v1.2.0}}",
        "presets: []",
        "services:",
    ]
    for index in range(count):
        dest = services / f"svc-{index:02d}"
        _git(root, "clone", "-q", str(first), str(dest))
        lines.append(f"  - url: {dest}")
    catalogue = root / "catalogue.yml"
    catalogue.write_text("\n".join(lines) + "\n")
    return catalogue


_MEASURE = """
import json, resource, subprocess, sys, time
commands = json.loads(sys.argv[1])
start = time.perf_counter()
for command in commands:
    subprocess.run(command, cwd=sys.argv[2], capture_output=True, check=False)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps([time.perf_counter() - start, peak]))
"""


def measure(commands: list[list[str]]) -> tuple[float, float]:
    """Run the commands one after the other in a fresh process of their own.

    Returns:
        Wall seconds, and the peak resident memory (MB) of the largest of them: the
        `ru_maxrss` of a process's children, so each measurement gets its own parent.

    """
    ran = subprocess.run(
        [sys.executable, "-c", _MEASURE, json.dumps(commands), str(ROOT)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    elapsed, peak = json.loads(ran.stdout)
    return float(elapsed), float(peak)


def main() -> None:
    """Build the fleet, time both ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keelson-bench-fleet-") as tmp:
        catalogue = build(Path(tmp), args.services)
        checks = [
            [*KEELSON, "check", str(path)] for path in sorted((Path(tmp) / "services").iterdir())
        ]
        check_time, check_peak = measure(checks)
        fleet = [[*KEELSON, "fleet", "status", "--catalogue", str(catalogue),
                  "--jobs", str(args.jobs)]]  # fmt: skip
        fleet_time, fleet_peak = measure(fleet)
    print(f"{'run':<44} {'wall s':>8} {'peak MB':>8}")
    print(f"{f'{args.services} x keelson check (sequential)':<44} {check_time:>8.1f} "
          f"{check_peak:>8.0f}")  # fmt: skip
    label = f"keelson fleet status ({args.services}, --jobs {args.jobs})"
    print(f"{label:<44} {fleet_time:>8.1f} {fleet_peak:>8.0f}")


if __name__ == "__main__":
    main()
