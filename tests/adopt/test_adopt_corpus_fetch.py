"""scripts/adopt-corpus.sh against a registry of our own on 127.0.0.1: integrity is checked."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import os
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.matrix import ROOT


def _tarball() -> bytes:
    """An npm tarball: package/package.json."""
    data = json.dumps({"name": "tiny", "version": "1.0.0"}).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("package/package.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def registry() -> Iterator[dict[str, bytes]]:
    """An npm registry on 127.0.0.1 serving whatever the test puts in the mapping."""
    routes: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    routes["url"] = f"http://127.0.0.1:{server.server_address[1]}".encode()
    yield routes
    server.shutdown()


@pytest.mark.parametrize("tampered", [False, True], ids=["intact", "tampered"])
def test_the_fetch_checks_npm_integrity(
    registry: dict[str, bytes], tampered: bool, tmp_path: Path
) -> None:
    url = registry["url"].decode()
    tarball = _tarball()
    digest = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    registry["/tiny/1.0.0"] = json.dumps(
        {"dist": {"tarball": f"{url}/tiny/-/tiny-1.0.0.tgz", "integrity": f"sha512-{digest}"}}
    ).encode()
    registry["/tiny/-/tiny-1.0.0.tgz"] = tarball + (b"\0" if tampered else b"")
    corpus = tmp_path / "corpus.yml"
    corpus.write_text(
        "projects:\n  tiny:\n    ecosystem: npm\n    package: tiny\n    version: 1.0.0\n"
    )
    cache = tmp_path / "cache"
    done = subprocess.run(
        [ROOT / "scripts/adopt-corpus.sh"],
        env={**os.environ, "KEELSON_ADOPT_CORPUS_CACHE": str(cache),
             "KEELSON_ADOPT_CORPUS": str(corpus), "NPM_REGISTRY": url},
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    if tampered:
        assert done.returncode != 0
        assert "tiny@1.0.0: integrity sha512-" in done.stderr
        assert not (cache / "tiny-1.0.0").exists()
    else:
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(cache)
        assert json.loads((cache / "tiny-1.0.0/package.json").read_text())["name"] == "tiny"
