"""Throughput, latency and memory of each language's service under a bounded loopback load.

Usage: .venv/bin/python benchmarks/load.py [--database postgresql] [--requests 3000]
                                           [--concurrency 8] [--languages go,node,python]

For each language the service is rendered with the given database, built and booted
with its compose file (the app capped at its Kubernetes memory limit), warmed up, then
loaded from this process over 127.0.0.1: `--requests` GET /healthz, then `--requests`
database round trips (POST /items and GET /items/<id>, two requests each), each by
`--concurrency` threads on keep-alive connections. Memory is the app container's usage
sampled from `docker stats` during the load (peak). One run, same machine: compare
figures between runs of this script, not with other machines.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import ensure_images, required_images  # noqa: E402
from generator.docker import docker  # noqa: E402
from generator.verify import Stack, request, wait_for  # noqa: E402
from tests.matrix import combo_id, render  # noqa: E402

Step = Callable[[http.client.HTTPConnection], int]


@dataclass
class Result:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0


def healthz(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    response.read()
    return 1 if response.status == 200 else 0


def round_trip(conn: http.client.HTTPConnection) -> int:
    body = json.dumps({"name": "load"})
    conn.request("POST", "/items", body=body, headers={"Content-Type": "application/json"})
    created = conn.getresponse()
    data = created.read()
    if created.status != 201:
        return 0
    conn.request("GET", f"/items/{json.loads(data)['id']}")
    read = conn.getresponse()
    read.read()
    return 2 if read.status == 200 else 0


def load(port: int, step: Step, total: int, concurrency: int, per_step: int) -> Result:
    """Run `step` until `total` requests were sent; one latency per request."""
    result = Result()
    lock = threading.Lock()
    sent = [0]

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            while True:
                with lock:
                    if sent[0] >= total:
                        return
                    sent[0] += per_step
                start = time.perf_counter()
                try:
                    ok = step(conn)
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    ok = 0
                took = (time.perf_counter() - start) / per_step
                with lock:
                    if ok:
                        result.latencies += [took] * ok
                    else:
                        result.errors += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    result.seconds = time.perf_counter() - start
    return result


class MemorySampler(threading.Thread):
    """Peak memory of a container, from `docker stats`, while the load runs."""

    def __init__(self, container: str) -> None:
        super().__init__(daemon=True)
        self.container = container
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, memory(self.container))


def memory(container: str) -> int:
    """A container's memory usage now, in bytes."""
    out = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", container, check=False)
    return _bytes(out.split("/")[0].strip()) if out.strip() else 0


def _bytes(text: str) -> int:
    units = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "kB": 10**3, "MB": 10**6, "GB": 10**9}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text.removesuffix(unit)) * factor)
    return int(float(text.removesuffix("B") or 0))


def measure(language: str, database: str, total: int, concurrency: int, tmp: Path) -> list[str]:
    combo = {"language": language, "database": database}
    project = render(tmp / combo_id(combo), **combo)
    ensure_images(required_images(project), policy="auto", log=lambda _m: None)
    stack = Stack(project)
    stack.build()
    try:
        stack.up()
        base = stack.base_url
        assert wait_for(lambda: request(base, "GET", "/readyz").status == 200, 60) is not None
        idle = memory(stack.container("app"))
        warm = load(stack.port, round_trip, 200, concurrency, 2)
        assert warm.errors == 0, f"{language}: {warm.errors} errors while warming up"
        sampler = MemorySampler(stack.container("app"))
        sampler.start()
        health = load(stack.port, healthz, total, concurrency, 1)
        trips = load(stack.port, round_trip, total, concurrency, 2)
        sampler.stop.set()
        sampler.join(timeout=30)
        return [
            language,
            f"{health.rate:.0f}",
            f"{health.percentile(0.5):.1f}",
            f"{health.percentile(0.99):.1f}",
            f"{trips.rate:.0f}",
            f"{trips.percentile(0.5):.1f}",
            f"{trips.percentile(0.99):.1f}",
            str(health.errors + trips.errors),
            f"{idle / 2**20:.0f}",
            f"{sampler.peak / 2**20:.0f}",
        ]
    finally:
        stack.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--languages", default="go,node,python")
    args = parser.parse_args()
    header = [
        "language",
        "healthz req/s",
        "p50 ms",
        "p99 ms",
        "db req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "idle MiB",
        "peak MiB",
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for language in args.languages.split(","):
            rows.append(
                measure(language, args.database, args.requests, args.concurrency, Path(tmp))
            )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(
        f"database {args.database}; {args.requests} requests per endpoint, "
        f"{args.concurrency} keep-alive connections, loopback; db = POST + GET per round trip"
    )
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
