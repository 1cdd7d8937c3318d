"""Build, boot and probe a generated service: `keelson verify` and the integration suite.

The same functions drive both, so what a user runs on their own (possibly edited)
service is exactly what keelson's CI proves for every combination it offers.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.answers import read_answers
from generator.docker import (
    build,
    compose,
    compose_command,
    docker,
    docker_command,
    engine_problem,
    tail,
)
from generator.errors import KeelsonError, UsageError, VerifyError
from generator.images import ensure_images, required_images
from generator.table import columns

__all__ = [
    "Check",
    "Report",
    "Response",
    "Stack",
    # the docker helpers live in generator.docker; these names stay for older callers
    "compose_command",
    "docker",
    "docker_command",
    "free_port",
    "graceful_stop",
    "health_status",
    "image_size",
    "process_uids",
    "request",
    "restart_count",
    "round_trip",
    "verify_service",
    "wait_for",
]

# --- tools ------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- HTTP probes ------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """An HTTP answer, with its JSON body when it has one."""

    status: int
    body: Any


def request(
    base_url: str, method: str, path: str, payload: Any = None, timeout: float = 5
) -> Response:
    """Send one HTTP request; connection errors come back as status 0."""
    host_port = base_url.removeprefix("http://").rstrip("/")
    host, _, port = host_port.partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)
    try:
        body = None if payload is None else json.dumps(payload)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        raw = conn.getresponse()
        data = raw.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode(errors="replace")
        return Response(raw.status, parsed)
    except (OSError, http.client.HTTPException) as error:
        return Response(0, str(error))
    finally:
        conn.close()


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.25) -> float | None:
    """Poll `predicate` until true; return the seconds it took, or None on timeout."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(interval)


def round_trip(base_url: str, name: str | None = None) -> tuple[bool, str]:
    """Write an item and read it back; return success and a short explanation."""
    name = name or f"keelson-{uuid.uuid4().hex[:12]}"
    created = request(base_url, "POST", "/items", {"name": name})
    if created.status != 201 or not isinstance(created.body, dict):
        return False, f"POST /items answered {created.status}: {created.body}"
    item_id = created.body.get("id")
    read = request(base_url, "GET", f"/items/{item_id}")
    if read.status != 200 or read.body != {"id": item_id, "name": name}:
        return False, f"GET /items/{item_id} answered {read.status}: {read.body}"
    return True, f"item {item_id} written and read back"


# --- the compose stack --------------------------------------------------------


@dataclass
class Stack:
    """A generated service's compose stack under a private project name and port."""

    project_dir: Path
    name: str = field(default_factory=lambda: f"keelson-{uuid.uuid4().hex[:10]}")
    port: int = field(default_factory=free_port)
    files: list[str] = field(default_factory=lambda: ["compose.yaml"])

    @property
    def base_url(self) -> str:
        """Where the app answers on loopback."""
        return f"http://127.0.0.1:{self.port}"

    def compose(
        self, *args: str, timeout: float = 900, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run `docker compose` for this stack.

        Raises:
            VerifyError: The command failed and `check` is set.

        """
        return compose(
            *args,
            project=self.name,
            files=self.files,
            cwd=self.project_dir,
            env={"APP_PORT": str(self.port)},
            timeout=timeout,
            check=check,
            error=VerifyError,
        )

    def build(self) -> float:
        """Build the app image with BuildKit; return the seconds it took.

        The docker CLI builds rather than `compose build`: Compose without the buildx
        plugin falls back to a builder that exits 0 even when a step fails.

        Raises:
            VerifyError: The build failed; the message ends with the failing step's output.

        """
        app = yaml.safe_load(self.compose("config").stdout)["services"]["app"]
        spec = app["build"]
        context = Path(spec.get("context", self.project_dir))
        dockerfile = spec.get("dockerfile")
        seconds, _log = build(
            context,
            tag=str(app["image"]),
            dockerfile=context / dockerfile if dockerfile else None,
            what="image build",
            error=VerifyError,
            timeout=1800,
        )
        return seconds

    def up(self, *services: str) -> float:
        """Start the stack and wait until every service is healthy."""
        start = time.monotonic()
        self.compose("up", "--detach", "--wait", "--no-build", *services)
        return time.monotonic() - start

    def down(self) -> None:
        """Remove containers, networks and volumes; never raises."""
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)

    def container(self, service: str) -> str:
        """Return the container id of a service.

        Raises:
            VerifyError: The service has no container.

        """
        ids = self.compose("ps", "--all", "--quiet", service).stdout.split()
        if not ids:
            raise VerifyError(f"service {service} has no container")
        return ids[0]

    def image(self) -> str:
        """Return the app image's reference."""
        config = yaml.safe_load(self.compose("config").stdout)
        return str(config["services"]["app"]["image"])


# --- checks on containers and images ----------------------------------------


def process_uids(container: str) -> list[int]:
    """Return the user ids of every process in a container (seen by the engine)."""
    # the engine needs the pid column to map processes to the container
    out = docker("top", container, "-eo", "pid,uid")
    rows = [line.split() for line in out.splitlines()[1:]]
    return [int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()]


def graceful_stop(container: str, grace: int = 10) -> tuple[float, int]:
    """Stop a container; return the seconds it took and its exit code."""
    start = time.monotonic()
    docker("stop", "--time", str(grace), container, timeout=grace + 30)
    seconds = time.monotonic() - start
    code = int(docker("inspect", "--format", "{{.State.ExitCode}}", container).strip())
    return seconds, code


def image_size(image: str) -> int:
    """Return an image's size in bytes."""
    return int(docker("image", "inspect", "--format", "{{.Size}}", image).strip())


def restart_count(container: str) -> tuple[int, str]:
    """Return a container's restart count and start time (a restart changes both)."""
    out = docker("inspect", "--format", "{{.RestartCount}} {{.State.StartedAt}}", container)
    count, started = out.split()
    return int(count), started


def health_status(container: str) -> str:
    """Return the HEALTHCHECK status of a container ('' when it has none)."""
    fmt = "{{if .State.Health}}{{.State.Health.Status}}{{end}}"
    return docker("inspect", "--format", fmt, container).strip()


# --- keelson verify ----------------------------------------------------------


@dataclass
class Check:
    """One line of the verify report."""

    name: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class Report:
    """What `keelson verify` found."""

    checks: list[Check] = field(default_factory=list)
    image: str = ""
    image_bytes: int = 0

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return bool(self.checks) and all(check.ok for check in self.checks)

    def table(self) -> str:
        """Format the report as a plain-text table."""
        rows = [("check", "result", "time", "detail")]
        rows += [
            (c.name, "pass" if c.ok else "FAIL", f"{c.seconds:.1f}s", c.detail) for c in self.checks
        ]
        lines = columns(rows, right={2})
        if self.image:
            lines.append(f"image {self.image}: {self.image_bytes / 1e6:.1f} MB")
        lines.append("verify: " + ("passed" if self.ok else "FAILED"))
        return "\n".join(lines)


def _timed(report: Report, name: str, action: Callable[[], tuple[bool, str]]) -> bool:
    start = time.monotonic()
    try:
        ok, detail = action()
    except KeelsonError as error:
        ok, detail = False, str(error)
    report.checks.append(Check(name, ok, time.monotonic() - start, detail))
    return ok


def probe_endpoints(
    report: Report, url: str, paths: list[str], *, has_db: bool, where: str = ""
) -> None:
    """Check that each path answers 200, then the database round trip when there is one.

    Args:
        report: The report the checks are added to.
        url: The service's base URL.
        paths: The paths to GET, in order.
        has_db: Whether the service has a database to write to and read back.
        where: How the requests reach the service, added to the first check's name.

    """
    for n, path in enumerate(paths):

        def run(path: str = path) -> tuple[bool, str]:
            answer = request(url, "GET", path)
            return answer.status == 200, f"{answer.status} {answer.body}"

        _timed(report, f"GET {path}{where if n == 0 else ''}", run)
    if has_db:
        _timed(report, "database round trip", lambda: round_trip(url))


def verify_service(
    project_dir: str | Path,
    *,
    standins: str = "auto",
    log: Callable[[str], None] = lambda _msg: None,
) -> Report:
    """Build, boot and probe a generated service, then tear it all down.

    Args:
        project_dir: The service's folder (with its `.copier-answers.yml`).
        standins: Base-image policy: "auto" builds local stand-ins only for images
            that are neither present nor pullable, "build" always rebuilds them,
            "never" forbids them.
        log: Receives progress lines.

    Returns:
        The report; `report.ok` tells whether every check passed.

    Raises:
        UsageError: The folder is not a generated service or no engine answers.

    """
    root = Path(project_dir).resolve()
    answers = read_answers(root)
    if not (root / "compose.yaml").is_file():
        raise UsageError(
            f"cannot verify {project_dir}: it has no compose.yaml, the stack verify builds "
            "and boots; restore it (e.g. `git checkout -- compose.yaml`)"
        )
    if reason := engine_problem():
        raise UsageError(f"cannot verify: no Docker engine answers: {reason}")
    report = Report()
    stack = Stack(root)
    has_db = answers.get("database", "none") != "none"

    def images() -> tuple[bool, str]:
        needed = required_images(root)
        ensure_images(needed, policy=standins, log=log)
        return True, ", ".join(needed)

    if not _timed(report, "base images", images):
        return report

    def build() -> tuple[bool, str]:
        log("building the image")
        stack.build()
        report.image = stack.image()
        report.image_bytes = image_size(report.image)
        return True, report.image

    if not _timed(report, "build", build):
        return report
    try:

        def boot() -> tuple[bool, str]:
            log("starting the stack")
            stack.up()
            return True, "every service healthy"

        if not _timed(report, "compose up --wait", boot):
            logs = stack.compose("logs", "--no-color", "--tail", "30", check=False).stdout
            report.checks[-1].detail += "\n" + tail(logs, 30)
            return report
        probe_endpoints(report, stack.base_url, ["/healthz", "/readyz"], has_db=has_db)
        app = stack.container("app")

        def non_root() -> tuple[bool, str]:
            uids = process_uids(app)
            return bool(uids) and all(uid != 0 for uid in uids), f"uids {uids}"

        _timed(report, "runs as non-root", non_root)

        def stop() -> tuple[bool, str]:
            seconds, code = graceful_stop(app)
            return seconds < 5 and code == 0, f"{seconds:.1f}s, exit code {code}"

        _timed(report, "graceful stop (SIGTERM)", stop)
    finally:
        log("tearing down")
        stack.down()
    return report
