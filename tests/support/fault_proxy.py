"""A reverse proxy on 127.0.0.1 that slows down or breaks the traffic to a real server.

It sits between the bot and the real Bluesky PDS, so tests can make calls slow (for kills that
land mid-call) and inject the failures a network produces, while the server behind it stays
real. Faults are consumed in order, for requests whose path matches a glob:

* ``rate_limit``: 429 with ``ratelimit-*`` headers (reset a few seconds ahead); not forwarded;
* ``error_500`` / ``error_502`` / ``error_503``: that status; not forwarded;
* ``drop``: the connection is closed without an answer; not forwarded;
* ``lost_response``: forwarded (the server acts on it), then the connection is closed without
  passing the answer on;
* ``lost_response_502``: forwarded, then answered with 502.

Usage::

    with FaultProxy(pds.url) as proxy:
        proxy.inject("lost_response", path="/xrpc/com.atproto.repo.putRecord")
        client = Client(base_url=proxy.url)
"""

from __future__ import annotations

import fnmatch
import http.client
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.server import LoopbackServer

FAULTS = (
    "rate_limit",
    "error_500",
    "error_502",
    "error_503",
    "drop",
    "lost_response",
    "lost_response_502",
)
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "content-length",
    "host",
}


@dataclass
class Fault:
    kind: str
    path: str
    times: int


class FaultProxy(LoopbackServer):
    """Forwards every request to ``target`` (an http://127.0.0.1:PORT URL)."""

    def __init__(self, target: str, *, delay: float = 0.0, timeout: float = 30.0) -> None:
        parts = urlsplit(target)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("the proxy only forwards to loopback")
        self.target_host = parts.hostname or "127.0.0.1"
        self.target_port = parts.port or 80
        self.delay = delay
        self.timeout = timeout
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, str]] = []  # (method, path, outcome)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def inject(self, kind: str, *, path: str = "*", times: int = 1) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self.faults.append(Fault(kind, path, times))

    def _take(self, path: str) -> str | None:
        with self._lock:
            for fault in self.faults:
                if fnmatch.fnmatch(path.split("?", maxsplit=1)[0], fault.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault.kind
        return None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}"

    # -- lifecycle (start(), stop() and the context manager come from LoopbackServer) -----

    @property
    def running(self) -> bool:
        return self._server is not None

    def _ready(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _launch(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.delay:
                    time.sleep(proxy.delay)
                fault = proxy._take(self.path)
                proxy.log.append((self.command, self.path, fault or "forwarded"))
                if fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is not None and not fault.startswith("lost_response"):
                    status = 429 if fault == "rate_limit" else int(fault.split("_")[1])
                    name = "RateLimitExceeded" if status == 429 else "InternalServerError"
                    payload = json.dumps({"error": name, "message": fault}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    if status == 429:
                        self.send_header("ratelimit-limit", "30")
                        self.send_header("ratelimit-remaining", "0")
                        self.send_header("ratelimit-reset", str(int(time.time()) + 2))
                        self.send_header("ratelimit-policy", "30;w=300")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(
                    proxy.target_host, proxy.target_port, timeout=proxy.timeout
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                finally:
                    upstream.close()
                if fault == "lost_response":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault == "lost_response_502":
                    response_status, data, out_headers = (
                        502,
                        b"<html>502</html>",
                        [("Content-Type", "text/html")],
                    )
                else:
                    response_status = response.status
                    out_headers = [
                        (k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP
                    ]
                self.send_response(response_status)
                for key, value in out_headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _safe(self) -> None:
                try:
                    self._handle()
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    self.close_connection = True  # the client went away (or was killed)

            do_GET = do_POST = do_PUT = do_DELETE = _safe

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _teardown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
