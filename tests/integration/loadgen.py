"""A bounded loopback load generator: N requests, C threads, then it stops."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from generator.verify import Response, request


@dataclass
class LoadResult:
    requests: int = 0
    errors: list[str] = field(default_factory=list)


def run_load(
    base_url: str, total: int, concurrency: int, step: Callable[[str], list[Response]]
) -> LoadResult:
    """Run `step` (one or more requests) until `total` requests were sent."""
    result = LoadResult()
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if result.requests >= total:
                    return
            answers = step(base_url)
            with lock:
                result.requests += len(answers)
                result.errors += [
                    f"{a.status} {a.body}" for a in answers if a.status >= 400 or a.status == 0
                ]

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return result


def round_trip_step(base_url: str) -> list[Response]:
    created = request(base_url, "POST", "/items", {"name": "load"})
    if created.status != 201:
        return [created]
    return [created, request(base_url, "GET", f"/items/{created.body['id']}")]


def root_step(base_url: str) -> list[Response]:
    return [request(base_url, "GET", "/")]
