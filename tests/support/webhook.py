"""A JSON webhook receiver on 127.0.0.1: what Apprise's ``json://`` URL posts to, kept in a list.

with WebhookReceiver() as hook:
    send(hook.apprise_url, "title", "body")
    hook.wait_for(1)
    assert hook.payloads[0]["title"] == "title"
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, 1_000_000))
        with self.server.lock:
            self.server.requests.append((self.path, dict(self.headers), raw))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    lock: threading.Lock
    requests: list[tuple[str, dict[str, str], bytes]]


class WebhookReceiver:
    """Collects the JSON bodies posted to it, on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.lock = threading.Lock()
        self._server.requests = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def apprise_url(self, path: str = "hook", userinfo: str = "") -> str:
        """Apprise's URL for this receiver (``json://``: a POST of a JSON object)."""
        auth = f"{userinfo}@" if userinfo else ""
        return f"json://{auth}127.0.0.1:{self.port}/{path}"

    @property
    def raw(self) -> list[tuple[str, dict[str, str], bytes]]:
        with self._server.lock:
            return list(self._server.requests)

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.raw]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The payloads once at least ``count`` arrived (bounded wait)."""
        deadline = time.monotonic() + timeout
        while len(self.raw) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.payloads

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
