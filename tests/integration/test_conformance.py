"""Every combination answers hostile and careless HTTP alike (docs/app-contract.md).

Language-agnostic: requests go over raw sockets where a client library would
refuse to send them (bad framing, slow bytes, oversized heads), and every rule
expects the same answer from every language. The app runs with short timeouts
(HEADER_TIMEOUT, BODY_TIMEOUT, IDLE_TIMEOUT) so the suite stays fast; the
default header timeout is checked once per language on the image itself.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from generator.verify import Stack, docker, free_port, request, wait_for
from tests.matrix import MATRIX, combo_id

ALL = pytest.mark.parametrize("stack", MATRIX, ids=combo_id, indirect=True)
# item routes exist only with a database; some rules are measured on one kind of stack
WITH_DB = pytest.mark.parametrize(
    "stack", [c for c in MATRIX if c["database"] != "none"], ids=combo_id, indirect=True
)
ONE_PER_LANGUAGE = pytest.mark.parametrize(
    "stack", [c for c in MATRIX if c["database"] == "none"], ids=combo_id, indirect=True
)
REDIS = pytest.mark.parametrize(
    "stack", [c for c in MATRIX if c["database"] == "redis"], ids=combo_id, indirect=True
)

# the limits every language enforces by default (docs/app-contract.md)
MAX_BODY_BYTES = 1024 * 1024
MAX_NAME_LENGTH = 1000
MAX_DEPTH = 32
MAX_HEADER_BYTES = 16 * 1024
# short timeouts for the suite, set through the environment
HEADER_TIMEOUT = 2
BODY_TIMEOUT = 3
IDLE_TIMEOUT = 2
# the head of a JSON POST to the items endpoint, up to its framing fields
POST_ITEMS = b"POST /items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
# the memory limits of templates/common/k8s/base/deployment.yaml.jinja
APP_MEMORY = {"go": 128 * 2**20, "node": 256 * 2**20, "python": 256 * 2**20}
DB_MEMORY = 512 * 2**20

OVERRIDE = f"""\
services:
  app:
    environment:
      HEADER_TIMEOUT: "{HEADER_TIMEOUT}"
      BODY_TIMEOUT: "{BODY_TIMEOUT}"
      IDLE_TIMEOUT: "{IDLE_TIMEOUT}"
"""


@dataclass
class Answer:
    """One raw HTTP response; status 0 when none came."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    closed: bool = False
    seconds: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Service:
    stack: Stack
    language: str
    database: str

    @property
    def port(self) -> int:
        return self.stack.port

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def send(self, data: bytes, wait: float = 10) -> Answer:
        """Send `data` on a fresh connection and read one answer."""
        with self.connect() as sock:
            start = time.monotonic()
            # the server may answer and close before all of it is sent
            with contextlib.suppress(OSError):
                sock.sendall(data)
            return read_answer(sock, start, wait)

    def post(self, body: bytes, content_type: str | None = "application/json") -> Answer:
        head = f"POST /items HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n"
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n"
        return self.send(head.encode() + b"\r\n" + body)

    def get(self, path: str, method: str = "GET", extra: str = "") -> Answer:
        return self.send(f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())


def read_answer(sock: socket.socket, start: float, wait: float) -> Answer:
    """Read a response head and its Content-Length body, then see if the server closed."""
    answer = Answer()
    sock.settimeout(wait)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                answer.closed = True
                answer.seconds = time.monotonic() - start
                return answer
            data += chunk
    except (TimeoutError, ConnectionResetError):
        answer.closed = True
        answer.seconds = time.monotonic() - start
        return answer
    answer.seconds = time.monotonic() - start
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    answer.status = int(lines[0].split()[1])
    for line in lines[1:]:
        name, _, value = line.partition(":")
        answer.headers[name.strip().lower()] = value.strip()
    announced = answer.headers.get("connection", "").lower() == "close"
    if announced and "content-length" not in answer.headers:
        # a body delimited by the close (a server's own plain-text refusal)
        return read_to_close(sock, answer, rest)
    length = int(answer.headers.get("content-length", "0"))
    try:
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        answer.body = rest[:length]
        # an answer that announces the close gets time to deliver it; any other
        # is only checked for a close that already happened (keeps the suite fast)
        sock.settimeout(1.5 if announced else 0.1)
        answer.closed = sock.recv(1) == b""
    except TimeoutError:
        answer.closed = False
    except ConnectionResetError:
        answer.closed = True
    return answer


def read_to_close(sock: socket.socket, answer: Answer, body: bytes) -> Answer:
    """Read a close-delimited body; `closed` says whether the close came within 1.5 s."""
    sock.settimeout(1.5)
    try:
        while chunk := sock.recv(65536):
            body += chunk
        answer.closed = True
    except TimeoutError:
        answer.closed = False
    except ConnectionResetError:
        answer.closed = True
    answer.body = body
    return answer


def assert_error(answer: Answer, status: int, closed: bool | None = None) -> None:
    """The contract's error: the status, JSON `{"error": "<text>"}`, optionally a close."""
    assert answer.status == status, (answer.status, answer.body[:300])
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
    body = answer.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"], body
    if closed is not None:
        assert answer.closed is closed


@pytest.fixture(scope="module")
def service(stack: Stack) -> Iterator[Service]:
    """The booted stack, its app restarted once with the suite's short timeouts."""
    answers = yaml.safe_load((stack.project_dir / ".copier-answers.yml").read_text())
    override = stack.project_dir / "compose.conformance.yaml"
    override.write_text(OVERRIDE)
    stack.files.append(override.name)
    stack.up("app")
    yield Service(stack, answers["language"], answers["database"])


# --- body size -------------------------------------------------------------


@ALL
def test_body_over_the_limit_is_refused_from_content_length(service: Service) -> None:
    # 100 MB announced, nothing sent: the answer cannot wait for the body
    head = POST_ITEMS + b"Content-Length: %d\r\n\r\n" % (100 * 10**6)
    answer = service.send(head + b'{"name": "', wait=5)
    assert_error(answer, 413, closed=True)
    assert answer.seconds < 3


@WITH_DB
def test_streamed_body_over_the_limit_is_cut_at_the_limit(service: Service) -> None:
    with service.connect() as sock:
        start = time.monotonic()
        sock.sendall(POST_ITEMS + b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        try:
            for _ in range(100):  # up to 6.4 MiB, stopped by the server's answer
                sock.sendall(chunk)
        except OSError:
            pass
        answer = read_answer(sock, start, 10)
    assert_error(answer, 413, closed=True)
    assert request(f"http://127.0.0.1:{service.port}", "GET", "/healthz").status == 200


@WITH_DB
def test_body_at_the_limit_is_read(service: Service) -> None:
    body = b'{"name": "padded"}'
    body += b" " * (MAX_BODY_BYTES - len(body))
    answer = service.post(body)
    assert answer.status == 201, answer.body[:200]


# --- what a body may hold ----------------------------------------------------


@WITH_DB
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"name": "a\\u0000b"}', id="nul"),
        pytest.param(b'{"name": "a\x00b"}', id="raw-nul"),
        pytest.param(b'{"name": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b'{"name": "\xed\xa0\x80"}', id="utf8-encoded-surrogate"),
        pytest.param(b'{"name": "\\ud800"}', id="lone-high-surrogate"),
        pytest.param(b'{"name": "x\\udc00y"}', id="lone-low-surrogate"),
        pytest.param(b'{"name": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", id="10000-deep"),
        pytest.param(
            # the outer object is the first level
            b'{"name": "x", "extra": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}",
            id="past-depth-bound",
        ),
        pytest.param(b'{"name": "' + b"n" * (MAX_NAME_LENGTH + 1) + b'"}', id="name-too-long"),
        pytest.param(b'{"name": 7}', id="not-a-string"),
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"name": "a"} {"name": "b"}', id="two-documents"),
    ],
)
def test_bad_bodies_are_400(service: Service, body: bytes) -> None:
    assert_error(service.post(body), 400)


@WITH_DB
def test_good_bodies_round_trip_exactly(service: Service) -> None:
    names = [
        "n" * MAX_NAME_LENGTH,
        "😀 paired surrogates ✓",
        "'; DROP TABLE items; --",
        "\ufeffa leading byte order mark is part of the name",
    ]
    for name in names:
        created = service.post(json.dumps({"name": name}).encode())
        assert created.status == 201, created.body[:200]
        item = created.json()
        read = service.get(f"/items/{item['id']}")
        assert read.status == 200
        assert read.json() == {"id": item["id"], "name": name}
    nested = {"name": "x", "extra": json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))}
    assert service.post(json.dumps(nested).encode()).status == 201


@WITH_DB
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_only_json_is_accepted(service: Service, content_type: str | None) -> None:
    assert_error(service.post(b'{"name": "x"}', content_type), 415)


@WITH_DB
def test_json_with_charset_is_accepted(service: Service) -> None:
    assert service.post(b'{"name": "x"}', "application/json; charset=utf-8").status == 201


# --- ids ------------------------------------------------------------------------


@WITH_DB
@pytest.mark.parametrize(
    "item_id",
    [
        "0",
        "01",
        "+1",
        "-1",
        " 1",
        "1.0",
        "1e3",
        "0x1",
        "١",  # Arabic-Indic digit one
        "2147483648",
        "9223372036854775808",
        "99999999999999999999999",
        "abc",
    ],
)
def test_ids_that_cannot_name_an_item_are_404(service: Service, item_id: str) -> None:
    created = service.post(b'{"name": "one"}')
    assert created.status == 201
    path = "/items/" + item_id.replace(" ", "%20")
    target = path.encode("utf-8")
    answer = service.send(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    if item_id == "١":
        # a non-ASCII request target is a malformed request
        assert answer.status in (400, 404)
        return
    assert_error(answer, 404)


# --- methods and paths ------------------------------------------------------------


@ALL
def test_head_works_wherever_get_does(service: Service) -> None:
    paths = ["/", "/healthz", "/readyz"]
    if service.database != "none":
        created = service.post(b'{"name": "head"}')
        paths.append(f"/items/{created.json()['id']}")
    for path in paths:
        get = service.get(path)
        head = service.get(path, "HEAD")
        assert head.status == get.status == 200, path
        assert head.body == b""


@ALL
def test_wrong_method_on_a_known_path_is_405_with_allow(service: Service) -> None:
    cases = {"/": "GET, HEAD", "/healthz": "GET, HEAD", "/readyz": "GET, HEAD"}
    if service.database != "none":
        cases |= {"/items": "POST", "/items/1": "GET, HEAD"}
    for path, allow in cases.items():
        for method in ("DELETE", "PUT", "POST" if allow != "POST" else "GET"):
            answer = service.get(path, method, "Content-Length: 0\r\n")
            assert_error(answer, 405)
            allowed = {m.strip() for m in answer.headers.get("allow", "").split(",")}
            assert allowed == {m.strip() for m in allow.split(",")}, (path, answer.headers)


@ALL
def test_unknown_paths_are_404_json_and_never_redirect(service: Service) -> None:
    for path in ["/nope", "/items/1/", "/healthz/", "//healthz", "/" + "x" * 4000]:
        answer = service.get(path, extra="X-Forwarded-Host: evil.example\r\n")
        assert "location" not in answer.headers, (path, answer.headers)
        assert_error(answer, 404)
    evil = service.send(b"GET /items/1/ HTTP/1.1\r\nHost: evil.example\r\n\r\n")
    assert "location" not in evil.headers
    assert_error(evil, 404)


# --- heads and framing ------------------------------------------------------------


def assert_refused(answer: Answer) -> None:
    """The server's own refusal: a 4xx in its own shape, then a closed connection."""
    assert 400 <= answer.status < 500 or answer.status == 0, (answer.status, answer.body[:300])
    assert answer.closed


@ALL
def test_oversized_head_is_refused(service: Service) -> None:
    big = "X-Big: " + "b" * (64 * 1024) + "\r\n"
    assert_refused(service.get("/healthz", extra=big))


@ALL
def test_a_head_growing_past_the_limit_is_refused(service: Service) -> None:
    # 24 KiB of head, then more of it: past 16 KiB and every server's slack
    with service.connect() as sock:
        start = time.monotonic()
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * (24 * 1024))
            time.sleep(0.3)
            sock.sendall(b"b" * (16 * 1024) + b"\r\n\r\n")
        answer = read_answer(sock, start, 5)
    assert_refused(answer)


def fields(count: int) -> str:
    """`count` header fields in all, `Host` included, each a few bytes."""
    return "".join(f"X-H{i}: v\r\n" for i in range(count - 1))


@ALL
def test_a_head_of_100_small_fields_is_served(service: Service) -> None:
    assert service.get("/healthz", extra=fields(100)).status == 200


@ALL
@pytest.mark.parametrize("count", [101, 151])
def test_more_header_fields_are_served_or_refused_as_documented(
    service: Service, count: int
) -> None:
    # docs/app-contract.md: Go and Node bound a head by its bytes only; Python's
    # granian (on hyper) refuses more than 100 fields with a 431 and a close
    answer = service.get("/healthz", extra=fields(count))
    if service.language == "python":
        assert (answer.status, answer.closed) == (431, True), answer
    else:
        assert answer.status == 200, answer


@ALL
def test_a_12_kib_cookie_is_served(service: Service) -> None:
    cookie = "Cookie: session=" + "c" * (12 * 1024) + "\r\n"
    assert service.get("/healthz", extra=cookie).status == 200


def read_pipelined(sock: socket.socket, wait: float) -> list[Answer]:
    """Read until the server closes (or `wait` s pass), then split the answers in order.

    The last answer's `closed` says whether the server closed the connection.
    """
    sock.settimeout(wait)
    data = b""
    closed = False
    try:
        while chunk := sock.recv(65536):
            data += chunk
        closed = True
    except TimeoutError:
        pass
    except ConnectionResetError:
        closed = True
    answers = []
    while b"\r\n\r\n" in data:
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        answer = Answer(status=int(lines[0].split()[1]))
        for line in lines[1:]:
            name, _, value = line.partition(":")
            answer.headers[name.strip().lower()] = value.strip()
        # an answer without Content-Length (a server's own plain text) keeps
        # its text as the body: the JSON check then fails on it
        length = int(answer.headers.get("content-length", len(data)))
        answer.body, data = data[:length], data[length:]
        answers.append(answer)
    if answers:
        answers[-1].closed = closed
    return answers


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"


def big_head(size: int, eol: bytes = b"\r\n") -> bytes:
    """A GET /healthz whose one extra header holds `size` bytes; its lines end in `eol`."""
    head = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * size + b"\r\n\r\n"
    return head.replace(b"\r\n", eol)


# heads every server must refuse (the status is the server's choice of 4xx)
BAD_HEADS = [
    # past 16 KiB and every server's slack (net/http: 4 KiB and its read buffer)
    pytest.param(big_head(32 * 1024), 431, id="head-of-32k"),
    pytest.param(big_head(64 * 1024), 431, id="head-over-64k"),
    pytest.param(
        b"GET /healthz HTTP/1.1 x\r\nHost: t\r\n\r\n", 400, id="request-line-with-a-fourth-part"
    ),
    pytest.param(
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n", 400, id="header-without-colon"
    ),
    pytest.param(big_head(64 * 1024, eol=b"\n"), 431, id="head-over-64k-lf"),
    pytest.param(
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nBad Name: v\r\n\r\n", 400, id="space-in-header-name"
    ),
]


@ALL
@pytest.mark.parametrize(("head", "status"), BAD_HEADS)
def test_bad_heads_are_refused(service: Service, head: bytes, status: int) -> None:
    # the server's own refusal, in its own shape (a 400 for any head is allowed)
    answer = service.send(head)
    assert_refused(answer)
    assert answer.status in (0, 400, status), answer.status


@ALL
@pytest.mark.parametrize(("head", "status"), BAD_HEADS)
def test_pipelined_heads_meet_the_same_rules(service: Service, head: bytes, status: int) -> None:
    # sent behind a good request on one connection, before its answer: the
    # good one is answered first, then the bad one refused as if it came alone
    with service.connect() as sock:
        with contextlib.suppress(OSError):
            sock.sendall(HEALTHZ + head)
        answers = read_pipelined(sock, 10)
    statuses = [a.status for a in answers]
    assert statuses[:1] == [200], [(a.status, a.body[:100]) for a in answers]
    # refused with a 4xx, or closed without a second answer
    assert len(answers) <= 2 and all(400 <= s < 500 for s in statuses[1:]), statuses
    assert answers[-1].closed


@ALL
def test_pipelined_good_requests_are_all_answered_in_order(service: Service) -> None:
    with service.connect() as sock:
        sock.sendall(HEALTHZ + b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" + HEALTHZ)
        answers = read_pipelined(sock, IDLE_TIMEOUT + 3)
    assert [a.status for a in answers] == [200, 200, 200]
    assert [a.json() for a in answers][::2] == [{"status": "ok"}] * 2
    assert "version" in answers[1].json()


# --- timeouts ------------------------------------------------------------------


@ALL
def test_slow_headers_are_cut_at_the_header_timeout(service: Service) -> None:
    with service.connect() as sock:
        start = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        answer = Answer()
        for i in range(30):
            try:
                sock.sendall(f"X-Slow-{i}: 1\r\n".encode())
            except OSError:
                break
            time.sleep(0.5)
            sock.setblocking(False)
            try:
                peek = sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                peek = None
            except OSError:
                peek = b""
            sock.setblocking(True)
            if peek is not None:
                break
        answer = read_answer(sock, start, 5)
    # a 408 or a close without an answer, as the server does it
    assert answer.status in (0, 408) and answer.closed, answer
    assert HEADER_TIMEOUT - 0.5 < answer.seconds < HEADER_TIMEOUT + 2.5


@WITH_DB
def test_slow_body_gets_408_at_the_body_timeout(service: Service) -> None:
    with service.connect() as sock:
        start = time.monotonic()
        sock.sendall(POST_ITEMS + b"Content-Length: 100\r\n\r\n")
        for byte in b'{"name": "slow"':
            sock.setblocking(False)
            try:
                if sock.recv(1, socket.MSG_PEEK) is not None:
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            finally:
                sock.setblocking(True)
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.5)
        answer = read_answer(sock, start, 5)
    # the application's JSON 408 (Go, Python) or Node's own requestTimeout answer
    assert answer.status == 408 and answer.closed, answer
    assert BODY_TIMEOUT - 0.5 < answer.seconds < BODY_TIMEOUT + 2.5


@ALL
def test_idle_connections_are_closed_without_an_answer(service: Service) -> None:
    # after a response on a keep-alive connection
    with service.connect() as sock:
        start = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        first = read_answer(sock, start, 5)
        assert first.status == 200 and not first.closed
        start = time.monotonic()
        sock.settimeout(IDLE_TIMEOUT + HEADER_TIMEOUT + 3)
        assert sock.recv(1) == b""
        assert time.monotonic() - start < IDLE_TIMEOUT + 2.5


@ALL
def test_a_connection_that_never_sends_is_closed(service: Service) -> None:
    # without an answer, or with the server's 408 (Node)
    with service.connect() as sock:
        start = time.monotonic()
        answer = read_answer(sock, start, max(IDLE_TIMEOUT, HEADER_TIMEOUT) + 3)
    assert answer.status in (0, 408) and answer.closed, answer
    assert answer.seconds < max(IDLE_TIMEOUT, HEADER_TIMEOUT) + 2.5


@ONE_PER_LANGUAGE
def test_default_header_timeout_is_about_ten_seconds(service: Service) -> None:
    # once per language: the image itself, none of the suite's overrides
    port = free_port()
    container_port = str(
        yaml.safe_load((service.stack.project_dir / ".copier-answers.yml").read_text())["port"]
    )
    container = docker(
        "run",
        "--detach",
        "--publish",
        f"127.0.0.1:{port}:{container_port}",
        service.stack.image(),
    ).strip()
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: request(url, "GET", "/healthz").status == 200, 30) is not None
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            start = time.monotonic()
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: 1")
            answer = read_answer(sock, start, 20)
        assert answer.status in (0, 408) and answer.closed, answer
        assert 9 < answer.seconds < 13
    finally:
        docker("rm", "--force", container, check=False)


# --- faults, logs and limits --------------------------------------------------------


@ALL
def test_client_mistakes_stay_below_error_and_long_paths_are_cut(service: Service) -> None:
    start = time.time() - 1
    marker = "m" * 3000
    service.get("/" + marker)
    if service.database != "none":
        service.post(b'{"name": ' + b"[" * 10_000 + b"]" * 10_000 + b"}")
        service.post(b'{"name": "\\ud800"}')
        service.post(b"{not json")
    time.sleep(0.5)
    logs = docker(
        "logs", "--since", str(int(start)), service.stack.container("app"), check=False
    ).splitlines()
    lines = [json.loads(line) for line in logs if line.startswith("{")]
    assert lines, "no JSON log lines"
    levels = {str(line.get("level", "")).lower() for line in lines}
    assert not levels & {"error", "critical", "fatal"}, [
        line for line in lines if str(line.get("level")).lower() == "error"
    ]
    assert not any(marker in json.dumps(line) for line in lines)


@ALL
def test_compose_matches_the_kubernetes_limits_and_restarts(service: Service) -> None:
    app = service.stack.container("app")
    fmt = "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}"
    memory, policy = docker("inspect", "--format", fmt, app).split()
    assert int(memory) == APP_MEMORY[service.language]
    assert policy == "unless-stopped"
    if service.database != "none":
        memory, policy = docker("inspect", "--format", fmt, service.stack.container("db")).split()
        assert int(memory) == DB_MEMORY
        assert policy == "unless-stopped"


@REDIS
def test_full_redis_refuses_writes_with_507(service: Service) -> None:
    db = service.stack.container("db")

    def cli(*args: str) -> str:
        command = 'REDISCLI_AUTH="$(cat /run/secrets/db_password)" redis-cli "$@"'
        return docker("exec", db, "sh", "-c", command, "cli", *args).strip()

    configured = cli("config", "get", "maxmemory").splitlines()[-1]
    assert 0 < int(configured) < DB_MEMORY
    assert cli("config", "get", "maxmemory-policy").splitlines()[-1] == "noeviction"
    cli("config", "set", "maxmemory", "1")
    try:
        assert_error(service.post(b'{"name": "full"}'), 507)
        assert service.get("/healthz").status == 200
    finally:
        cli("config", "set", "maxmemory", configured)
    assert service.post(b'{"name": "room again"}').status == 201


@REDIS
def test_a_stored_item_the_service_cannot_serve_is_a_500(service: Service) -> None:
    # A real server fault through the real database, no test hook in the app:
    # another client (or corruption) leaves bytes that are not UTF-8 where the
    # service keeps an item's name. Serving it would need mended text; the
    # service answers 500 in the contract's shape, logs it at ERROR, and
    # leaks nothing of the cause.
    db = service.stack.container("db")
    created = service.post(b'{"name": "soon not text"}')
    assert created.status == 201
    item_id = created.json()["id"]
    command = 'REDISCLI_AUTH="$(cat /run/secrets/db_password)" redis-cli "$@"'
    script = "return redis.call('SET', KEYS[1], string.char(0xff, 0xfe, 0x80))"
    docker("exec", db, "sh", "-c", command, "cli", "eval", script, "1", f"items:{item_id}")
    start = time.time() - 1
    answer = service.get(f"/items/{item_id}")
    assert_error(answer, 500)
    assert answer.json() == {"error": "internal error"}
    hostname = docker("inspect", "--format", "{{.Config.Hostname}}", service.stack.container("app"))
    raw = answer.body.decode("utf-8", "replace").lower()
    for leak in (
        hostname.strip().lower(),
        "traceback",
        "items:",
        "redis",
        "utf",
        ".py",
        ".js",
        ".go",
    ):
        assert leak not in raw, leak
    time.sleep(0.5)
    logs = docker(
        "logs", "--since", str(int(start)), service.stack.container("app"), check=False
    ).splitlines()
    levels = [
        str(json.loads(line).get("level", "")).lower() for line in logs if line.startswith("{")
    ]
    assert "error" in levels, logs[-5:]
    # the fault stays with that item: the service and its connections carry on
    again = service.post(b'{"name": "still fine"}')
    assert again.status == 201
    assert service.get(f"/items/{again.json()['id']}").json()["name"] == "still fine"
    assert service.get("/readyz").status == 200


@ALL
def test_still_healthy_after_the_suite(service: Service) -> None:
    assert service.get("/healthz").status == 200
    assert service.get("/readyz").status == 200


# --- framing: what a strict RFC 9112 parser sees ------------------------------------

# Statuses with which a server may refuse a request it cannot frame; never 404 or
# 405, which the probes below keep for the requests a strict parser sees (405:
# POST /healthz, 200: GET /) and for a smuggled request (404: GET /smuggled).
REFUSALS = {400, 408, 411, 413, 431, 501}
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
FOLLOW = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
POST_HEALTHZ = b"POST /healthz HTTP/1.1\r\nHost: t\r\n"


def chunk(data: bytes, eol: bytes = b"\r\n", ext: bytes = b"") -> bytes:
    """`data` as one chunk, then the last chunk and an empty trailer section."""
    return b"%x%s%s%s%s0%s%s" % (len(data), ext, eol, data, eol, eol, eol)


ANSWERED = [[405, 200]]  # the POST refused, then FOLLOW answered: SMUGGLED stayed a body
CHUNKED = chunk(SMUGGLED)
SIZE = len(SMUGGLED)


def desync(name: str, fields: bytes, body: bytes, allowed: list[list[int]]) -> Any:
    """A case of DESYNC: POST /healthz with header `fields` and `body`, then FOLLOW.

    Its values: the bytes of that one connection, the status sequences a strict parser
    allows.
    """
    return pytest.param(POST_HEALTHZ + fields + b"\r\n" + body + FOLLOW, allowed, id=name)


DESYNC = [
    desync("body-holding-a-whole-request", b"Content-Length: %d\r\n" % SIZE, SMUGGLED, ANSWERED),
    desync(
        "two-different-content-lengths",
        b"Content-Length: 0\r\nContent-Length: %d\r\n" % SIZE,
        SMUGGLED,
        [],
    ),
    desync("signed-content-length", b"Content-Length: +%d\r\n" % SIZE, SMUGGLED, []),
    desync("obs-folded-content-length", b"Content-Length:\r\n %d\r\n" % SIZE, SMUGGLED, ANSWERED),
    desync(
        "content-length-and-chunked",
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        CHUNKED,
        ANSWERED,
    ),
    desync("chunked-in-capitals", b"Transfer-Encoding: Chunked\r\n", CHUNKED, ANSWERED),
    desync(
        "coding-list-ending-in-chunked", b"Transfer-Encoding: gzip, chunked\r\n", CHUNKED, ANSWERED
    ),
    desync("chunked-not-last", b"Transfer-Encoding: chunked, identity\r\n", CHUNKED, []),
    desync("xchunked", b"Content-Length: 4\r\nTransfer-Encoding: xchunked\r\n", CHUNKED, []),
    desync(
        "obs-folded-transfer-encoding", b"Transfer-Encoding:\r\n chunked\r\n", CHUNKED, ANSWERED
    ),
    desync(
        "chunk-extension",
        b"Transfer-Encoding: chunked\r\n",
        chunk(SMUGGLED, ext=b';name="v"'),
        ANSWERED,
    ),
    desync(
        "bare-lf-chunk-lines",
        b"Transfer-Encoding: chunked\r\n",
        chunk(SMUGGLED, eol=b"\n"),
        ANSWERED,
    ),
]


def read_all(sock: socket.socket, wait: float) -> tuple[list[int], bool]:
    """The statuses of the final answers that come within `wait` s; whether it closed."""
    answers = read_pipelined(sock, wait)
    closed = answers[-1].closed if answers else True
    if not answers:
        # read_pipelined saw no answer: tell a close from a silent open socket
        sock.settimeout(0.1)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        except OSError:
            closed = True
    return [a.status for a in answers if a.status >= 200], closed


@ALL
@pytest.mark.parametrize(("data", "allowed"), DESYNC)
def test_framing_is_what_a_strict_parser_sees(
    service: Service, data: bytes, allowed: list[list[int]]
) -> None:
    # Each answer is one a strict RFC 9112 parser expects, in order, and at
    # once (every byte was sent); the server may stop anywhere with a refusal
    # and a close, never answer the smuggled request, never wait for a timeout.
    with service.connect() as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        statuses, closed = read_all(sock, 1.5)
    assert 404 not in statuses, statuses
    head = statuses[:-1] if statuses and statuses[-1] in REFUSALS else statuses
    ok = any(
        statuses == expected or (closed and head == expected[: len(head)])
        for expected in allowed or [[]]
    )
    assert ok, (statuses, closed, allowed)


@ALL
def test_a_bare_lf_ending_the_trailers_never_smuggles_the_next_request(service: Service) -> None:
    # a chunked body whose trailer section ends with a bare LF, then a pipelined
    # GET (docs/app-contract.md): the POST is answered; the GET is answered as a
    # strict parser sees it (200) or the connection is refused and closed, at the
    # latest when HEADER_TIMEOUT passes (Go: 400 at once; Node: closed at once;
    # Python: hyper reads the GET as trailer lines, so closed at HEADER_TIMEOUT)
    data = POST_HEALTHZ + b"Transfer-Encoding: chunked\r\n\r\n" + chunk(SMUGGLED)[:-2] + b"\n"
    with service.connect() as sock:
        start = time.monotonic()
        with contextlib.suppress(OSError):
            sock.sendall(data + FOLLOW)
        statuses, closed = read_all(sock, HEADER_TIMEOUT + 3)
        seconds = time.monotonic() - start
    assert statuses[:1] == [405] and 404 not in statuses, statuses
    if statuses != [405, 200]:
        assert statuses[1:] in ([], [400]) and closed, (statuses, closed)
        assert seconds < HEADER_TIMEOUT + 1.5, seconds


@ALL
def test_a_body_that_never_comes_is_answered_within_the_timeouts(service: Service) -> None:
    # an obs-folded Content-Length with no body after it: POST /healthz needs
    # none; the server answers (or refuses) at once or at BODY_TIMEOUT
    head = POST_HEALTHZ + b"Content-Length:\r\n 5\r\n\r\n"
    answer = service.send(head, wait=BODY_TIMEOUT + 3)
    assert answer.status in REFUSALS | {405} or answer.closed, answer
    assert answer.seconds < BODY_TIMEOUT + 1.5, answer


@ALL
def test_hostile_framing_costs_no_cpu_once_the_client_is_gone(service: Service) -> None:
    # an obs-folded Content-Length then 64 KiB of anything, on three
    # connections closed at once: nothing of the service may keep running
    for _ in range(3):
        with service.connect() as sock, contextlib.suppress(OSError):
            sock.sendall(POST_HEALTHZ + b"Content-Length:\r\n 5\r\n\r\n" + b"x" * 65536)
            time.sleep(0.2)
    time.sleep(1)
    app = service.stack.container("app")
    usage = docker("stats", "--no-stream", "--format", "{{.CPUPerc}}", app).strip()
    assert float(usage.rstrip("%")) < 25, usage
    assert service.get("/healthz").status == 200


# --- legal clients the server must serve ------------------------------------------


@ALL
def test_http_1_0_without_keep_alive_is_answered_and_closed(service: Service) -> None:
    answer = service.send(b"GET /healthz HTTP/1.0\r\n\r\n", wait=5)
    assert answer.status == 200 and answer.json() == {"status": "ok"}
    assert answer.closed


@ALL
def test_http_1_0_with_keep_alive_is_answered(service: Service) -> None:
    # keep-alive is the server's choice in HTTP/1.0: either it keeps the
    # connection and answers the next request too, or it closes after the first
    request_ = b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    with service.connect() as sock:
        start = time.monotonic()
        sock.sendall(request_)
        first = read_answer(sock, start, 5)
        assert first.status == 200
        if not first.closed:
            sock.sendall(request_)
            assert read_answer(sock, time.monotonic(), 5).status == 200


@WITH_DB
def test_expect_100_continue_gets_its_interim_answer(service: Service) -> None:
    body = b'{"name": "expected"}'
    with service.connect() as sock:
        start = time.monotonic()
        sock.sendall(POST_ITEMS + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        sock.settimeout(5)
        interim = b""
        while b"\r\n\r\n" not in interim:
            interim += sock.recv(1)
        assert interim.startswith(b"HTTP/1.1 100 "), interim
        sock.sendall(body)
        answer = read_answer(sock, start, 5)
    assert answer.status == 201, answer.body[:200]


@ALL
def test_fifty_pipelined_requests_are_answered_in_order(service: Service) -> None:
    root = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
    with service.connect() as sock:
        sock.sendall((HEALTHZ + root) * 25)
        answers = read_pipelined(sock, IDLE_TIMEOUT + 3)
    assert [a.status for a in answers] == [200] * 50
    assert [a.json() for a in answers][::2] == [{"status": "ok"}] * 25
    assert all("version" in a.json() for a in answers[1::2])


@WITH_DB
def test_a_slow_client_within_the_timeouts_is_served(service: Service) -> None:
    # a head in pieces over about half of HEADER_TIMEOUT, then a body in
    # pieces over about half of BODY_TIMEOUT
    body = b'{"name": "slow but legal"}'
    head = POST_ITEMS + b"Content-Length: %d\r\n\r\n" % len(body)
    with service.connect() as sock:
        start = time.monotonic()
        for piece in (head[:10], head[10:30], head[30:]):
            sock.sendall(piece)
            time.sleep(HEADER_TIMEOUT / 6)
        for piece in (body[:5], body[5:15], body[15:]):
            sock.sendall(piece)
            time.sleep(BODY_TIMEOUT / 8)
        answer = read_answer(sock, start, 5)
    assert answer.status == 201, answer.body[:200]
    assert answer.json()["name"] == "slow but legal"
