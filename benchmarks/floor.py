"""/healthz and a database round trip of each language's service against the floor: a
hello-world of the same framework, server and database driver, built by the same
Dockerfile on the same base.

Usage: .venv/bin/python benchmarks/floor.py [--languages go,node,python] [--seconds 8]
                                            [--connections 16] [--rounds 2]

The load generator is hey (github.com/rakyll/hey), built once from the Go module
proxy into ~/.cache/keelson/bin (`go install github.com/rakyll/hey@v0.1.5`); a Python load
generator would be slower than the Go service it measures. For each language the
service without a database is rendered, and a copy of it whose source is replaced by
a hello-world answering /healthz alone (the floor: the same framework, server, server
settings, Dockerfile and base image); both images are built and run side by side,
each capped at the app's Kubernetes memory limit, published on 127.0.0.1. Rounds
alternate keelson and floor; the table prints each one's best round: requests per
second, p50 and p99 latency, peak memory during the load, and keelson ÷ floor for
the requests per second.

The database round trip is `GET /items/1` on the PostgreSQL variant, both stacks
booted by their compose file (the app capped as there, its own PostgreSQL beside it,
LOG_LEVEL=warning as in the /healthz run): keelson's item is created through its API
first; the floor's source creates the table and its one row at start and answers
`GET /items/{id}` with one pooled `SELECT` by the same driver. Figures are printed,
never asserted: one run on one machine, compare them between runs of this script.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load import memory  # noqa: E402
from generator import ensure_images, packs, required_images  # noqa: E402
from generator.docker import docker  # noqa: E402
from generator.verify import Stack, free_port, request, wait_for  # noqa: E402
from tests.matrix import render  # noqa: E402

HEY = "github.com/rakyll/hey@v0.1.5"
# The floors' sources: templates/<language>/bench/floor-<database>.<ext>. Each keeps the
# server settings the service uses, so the difference is keelson's code; the pack says
# which file a floor replaces and the memory limit (k8s/base/deployment.yaml's).
PACKS = packs.discover(ROOT)


def make_floor(project: Path, language: str, database: str) -> None:
    """Replace the service's own source in `project` by the hello-world floor."""
    pack = PACKS[language]
    source = next(pack.bench.glob(f"floor-{database}.*")).read_text()
    for pattern in pack.floor_clears:
        for old in project.glob(pattern):
            old.unlink()
    (project / pack.floor_file).write_text(source)


def hey() -> str:
    """The hey binary, built from the Go module proxy the first time."""
    tools = Path.home() / ".cache" / "keelson" / "bin"
    binary = tools / "hey"
    if not binary.exists():
        tools.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GOBIN": str(tools)}
        subprocess.run(["go", "install", HEY], check=True, env=env, timeout=600)
    return str(binary)


@dataclass
class Round:
    rate: float
    p50_ms: float
    p99_ms: float
    peak_mib: float


def load(binary: str, url: str, container: str, seconds: int, connections: int) -> Round:
    """One round of hey on `url`, with the container's peak memory meanwhile."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], memory(container))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = subprocess.run(
        [binary, "-z", f"{seconds}s", "-c", str(connections), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    done.set()
    sampler.join(timeout=30)
    codes = dict(re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    if set(codes) != {"200"}:
        raise SystemExit(f"{url}: answers other than 200: {codes}")
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    latency = dict(re.findall(r"\s(\d+)%+ in ([0-9.]+) secs", out))
    return Round(rate, float(latency["50"]) * 1000, float(latency["99"]) * 1000, peak[0] / 2**20)


class Running:
    """One service (keelson's or the floor) running on loopback, torn down by `stop`."""

    def __init__(self, project: Path, language: str, database: str) -> None:
        self.stack = Stack(project)
        self.stack.build()
        self.database = database
        if database == "none":
            # no compose stack needed: the app alone, capped at its Kubernetes limit
            self.port = free_port()
            port = str(yaml.safe_load((project / ".copier-answers.yml").read_text())["port"])
            self.container = docker(
                "run", "--detach", "--memory", f"{PACKS[language].memory_mib}m",
                "--env", f"PORT={port}",
                "--env", "LOG_LEVEL=warning", "--publish", f"127.0.0.1:{self.port}:{port}",
                self.stack.image(),
            ).strip()  # fmt: skip
        else:
            self.stack.up()
            self.port = self.stack.port
            self.container = self.stack.container("app")
        url = f"http://127.0.0.1:{self.port}"
        if wait_for(lambda: request(url, "GET", "/healthz").status == 200, 60) is None:
            self.stop()
            raise SystemExit(f"{language}: {project.name} never answered /healthz")

    def stop(self) -> None:
        if self.database == "none":
            docker("rm", "--force", self.container, check=False)
        else:
            self.stack.down()


def measure(
    language: str, database: str, args: argparse.Namespace, binary: str, tmp: Path
) -> list[str]:
    """keelson's service and its floor side by side; one table row."""
    service = render(tmp / f"{language}-{database}-keelson", language=language, database=database)
    ensure_images(required_images(service), policy="auto", log=lambda _m: None)
    floor = tmp / f"{language}-{database}-floor"
    shutil.copytree(service, floor)
    make_floor(floor, language, database)
    # the floor's image gets its own tag: the compose file names the image
    compose = floor / "compose.yaml"
    compose.write_text(compose.read_text().replace(":dev", ":floor"))
    path = "/healthz" if database == "none" else "/items/1"
    running: dict[str, Running] = {}
    try:
        for name, project in (("keelson", service), ("floor", floor)):
            running[name] = Running(project, language, database)
        if database != "none":
            made = request(
                f"http://127.0.0.1:{running['keelson'].port}", "POST", "/items", {"name": "bench"}
            )
            if made.status != 201:
                raise SystemExit(f"{language}: POST /items answered {made.status}")
        best: dict[str, Round] = {}
        for run in running.values():  # warm up (JIT, connection pools of the runtime)
            load(binary, f"http://127.0.0.1:{run.port}{path}", run.container, 2, args.connections)
        for _ in range(args.rounds):
            for name, run in running.items():
                url = f"http://127.0.0.1:{run.port}{path}"
                result = load(binary, url, run.container, args.seconds, args.connections)
                if name not in best or result.rate > best[name].rate:
                    best[name] = result
        k, f = best["keelson"], best["floor"]
        return [
            language,
            f"GET {path}",
            f"{k.rate:.0f}",
            f"{k.p50_ms:.2f}",
            f"{k.p99_ms:.2f}",
            f"{k.peak_mib:.0f}",
            f"{f.rate:.0f}",
            f"{f.p50_ms:.2f}",
            f"{f.p99_ms:.2f}",
            f"{f.peak_mib:.0f}",
            f"{k.rate / f.rate:.2f}",
        ]
    finally:
        for run in running.values():
            run.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", default=",".join(PACKS))
    parser.add_argument("--databases", default="none,postgresql")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    binary = hey()
    # no access log in either (the floors have none; compose reads LOG_LEVEL from here)
    os.environ["LOG_LEVEL"] = "warning"
    header = ["language", "request", "req/s", "p50 ms", "p99 ms", "peak MiB"]
    header += ["floor req/s", "p50 ms", "p99 ms", "peak MiB", "keelson ÷ floor"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for language in args.languages.split(","):
            for database in args.databases.split(","):
                rows.append(measure(language, database, args, binary, Path(tmp)))
    rounds = f"{args.seconds} s rounds, best of {args.rounds}"
    print(f"hey ({HEY}), {args.connections} connections, {rounds}")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
