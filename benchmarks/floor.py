"""/healthz of each language's service against the floor: a hello-world of the same
framework and server, built by the same Dockerfile on the same base.

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
the requests per second. Figures are printed, never asserted: one run on one
machine, compare them between runs of this script.
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
from generator import ensure_images, required_images  # noqa: E402
from generator.docker import docker  # noqa: E402
from generator.verify import Stack, free_port, request, wait_for  # noqa: E402
from tests.conftest import render  # noqa: E402

HEY = "github.com/rakyll/hey@v0.1.5"
# templates/common/k8s/base/deployment.yaml.jinja
MEMORY = {"go": "128m", "node": "256m", "python": "256m"}

# The floor's source, per language: what replaces the service's own code. It
# keeps the server settings the service uses, so the difference is keelson's code.
GO_FLOOR = """package main

import (
\t"net/http"
\t"os"
\t"time"
)

func main() {
\tif len(os.Args) > 1 {
\t\tos.Exit(0) // the image's HEALTHCHECK
\t}
\thttp.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
\t\tw.Header().Set("Content-Type", "application/json")
\t\t_, _ = w.Write([]byte("{\\"status\\":\\"ok\\"}\\n"))
\t})
\tsrv := &http.Server{
\t\tAddr: ":" + os.Getenv("PORT"), ReadHeaderTimeout: 10 * time.Second,
\t\tReadTimeout: 30 * time.Second, IdleTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10,
\t}
\t_ = srv.ListenAndServe()
}
"""
NODE_FLOOR = """'use strict';
const http = require('node:http');
const express = require('express');

const app = express();
app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
http
  .createServer({ maxHeaderSize: 16384, headersTimeout: 10000, requestTimeout: 30000 }, app)
  .listen(Number(process.env.PORT));
"""
PYTHON_FLOOR = """import os

from fastapi import FastAPI
from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    Granian("app.__main__:app", address="0.0.0.0", port=int(os.environ["PORT"]),
            interface=Interfaces.ASGI, http=HTTPModes.http1, websockets=False,
            log_level=LogLevels.warning,
            http1_settings=HTTP1Settings(header_read_timeout=10000, max_buffer_size=16384)).serve()
"""


def make_floor(project: Path, language: str) -> None:
    """Replace the service's own source in `project` by the hello-world floor."""
    if language == "go":
        for source in project.glob("*.go"):
            source.unlink()
        (project / "main.go").write_text(GO_FLOOR)
    elif language == "node":
        (project / "src" / "server.js").write_text(NODE_FLOOR)
    else:
        (project / "app" / "__main__.py").write_text(PYTHON_FLOOR)


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


def load(binary: str, port: int, container: str, seconds: int, connections: int) -> Round:
    """One round of hey on /healthz, with the container's peak memory meanwhile."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], memory(container))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = subprocess.run(
        [binary, "-z", f"{seconds}s", "-c", str(connections), f"http://127.0.0.1:{port}/healthz"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    done.set()
    sampler.join(timeout=30)
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    latency = dict(re.findall(r"\s(\d+)%+ in ([0-9.]+) secs", out))
    return Round(rate, float(latency["50"]) * 1000, float(latency["99"]) * 1000, peak[0] / 2**20)


def start(project: Path, language: str) -> tuple[str, int]:
    """Build the project's image and run it on a free loopback port."""
    stack = Stack(project)
    stack.build()
    port = free_port()
    container_port = str(yaml.safe_load((project / ".copier-answers.yml").read_text())["port"])
    container = docker(
        "run",
        "--detach",
        "--memory",
        MEMORY[language],
        "--env",
        f"PORT={container_port}",
        "--env",
        "LOG_LEVEL=warning",
        "--publish",
        f"127.0.0.1:{port}:{container_port}",
        stack.image(),
    ).strip()
    url = f"http://127.0.0.1:{port}"
    if wait_for(lambda: request(url, "GET", "/healthz").status == 200, 60) is None:
        docker("rm", "--force", container, check=False)
        raise SystemExit(f"{language}: {project.name} never answered /healthz")
    return container, port


def measure(language: str, args: argparse.Namespace, binary: str, tmp: Path) -> list[str]:
    service = render(tmp / f"{language}-keelson", language=language, database="none")
    ensure_images(required_images(service), policy="auto", log=lambda _m: None)
    floor = tmp / f"{language}-floor"
    shutil.copytree(service, floor)
    make_floor(floor, language)
    # the floor's image gets its own tag: the compose file names the image
    compose = floor / "compose.yaml"
    compose.write_text(compose.read_text().replace(":dev", ":floor"))
    containers: list[str] = []
    try:
        best: dict[str, Round] = {}
        runs = {}
        for name, project in (("keelson", service), ("floor", floor)):
            container, port = start(project, language)
            containers.append(container)
            runs[name] = (container, port)
            # warm up (JIT, connection pools of the runtime)
            load(binary, port, container, 2, args.connections)
        for _ in range(args.rounds):
            for name, (container, port) in runs.items():
                result = load(binary, port, container, args.seconds, args.connections)
                if name not in best or result.rate > best[name].rate:
                    best[name] = result
        k, f = best["keelson"], best["floor"]
        return [
            language,
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
        for container in containers:
            docker("rm", "--force", container, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", default="go,node,python")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    binary = hey()
    header = ["language", "req/s", "p50 ms", "p99 ms", "peak MiB"]
    header += ["floor req/s", "p50 ms", "p99 ms", "peak MiB", "keelson ÷ floor"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for language in args.languages.split(","):
            rows.append(measure(language, args, binary, Path(tmp)))
    print(f"GET /healthz, hey ({HEY}), {args.connections} connections, {args.seconds} s rounds")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
