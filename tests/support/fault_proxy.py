"""A reverse proxy on 127.0.0.1 that slows down or breaks the traffic to a real server.

It sits between the bot and the real Bluesky PDS, so tests can make calls slow (for kills that
land mid-call) and inject the failures a network produces, while the server behind it stays
real. Faults are consumed in order, for requests whose path matches a glob. The kinds are the
Mastodon test server's (one list: :mod:`tests.support.faults`):

* ``rate_limit``: 429 with ``ratelimit-*`` headers (reset a few seconds ahead); not forwarded;
* ``error_500`` / ``error_502`` / ``error_503``: that status; not forwarded;
* ``drop``: the connection is closed without an answer; not forwarded;
* ``lost_response``: forwarded (the server acts on it), then the connection is closed without
  passing the answer on;
* ``lost_response_502``: forwarded, then answered with 502;
* ``delay``: forwarded and answered normally, ``delay`` seconds late.

``inject(..., delay=s)`` makes the other kinds wait too before they act (for
``lost_response*``: after forwarding). Waits end early on stop().

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
from typing import cast
from urllib.parse import urlsplit

from tests.support.faults import (
    ANSWER_STATUS,
    FAULT_KINDS,
    NO_ANSWER,
    REACHES_SERVER,
    FaultKind,
    fault_kind,
)
from tests.support.server import LoopbackServer

__all__ = ["FAULTS", "Fault", "FaultProxy"]

FAULTS = FAULT_KINDS
"""The fault kinds the proxy injects (the same as the Mastodon test server's)."""

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
    kind: FaultKind
    path: str
    times: int
    delay: float = 0.0


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
        self._stopping = threading.Event()
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    def inject(self, kind: str, *, path: str = "*", times: int = 1, delay: float = 0.0) -> None:
        """Queue fault ``kind`` for the next ``times`` requests whose path matches ``path``."""
        fault = Fault(fault_kind(kind), path, times, delay)
        with self._lock:
            self.faults.append(fault)

    def _take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fnmatch.fnmatch(path.split("?", maxsplit=1)[0], fault.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _wait(self, seconds: float) -> bool:
        """Wait ``seconds``; True if the proxy was stopped meanwhile."""
        return seconds > 0 and self._stopping.wait(seconds)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}"

    # -- lifecycle (start(), stop() and the context manager come from LoopbackServer) -----

    @property
    def running(self) -> bool:
        return self._server is not None

    def _launch(self) -> None:
        self._stopping.clear()
        self._server = _ProxyServer((self.host, 0), _ProxyHandler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _ready(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _teardown(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def _close(self) -> None:
        self.close_connection = True
        self.connection.close()

    def _handle(self) -> None:
        proxy = cast(_ProxyServer, self.server).proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if proxy._wait(proxy.delay):
            self._close()
            return
        fault = proxy._take(self.path)
        proxy.log.append((self.command, self.path, fault.kind if fault else "forwarded"))
        if fault is not None and fault.kind not in REACHES_SERVER:
            if proxy._wait(fault.delay) or fault.kind in NO_ANSWER:
                self._close()
                return
            self._send_error(ANSWER_STATUS[fault.kind], fault.kind)
            return
        response_status, out_headers, data = self._forward(proxy, body)
        if fault is not None:
            if proxy._wait(fault.delay) or fault.kind in NO_ANSWER:
                self._close()
                return
            if fault.kind in ANSWER_STATUS:  # lost_response_502
                response_status, data = ANSWER_STATUS[fault.kind], b"<html>502</html>"
                out_headers = [("Content-Type", "text/html")]
        self.send_response(response_status)
        for key, value in out_headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _forward(self, proxy: FaultProxy, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send the request to the real server; its status, end-to-end headers and body."""
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
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        return response.status, kept, data

    def _send_error(self, status: int, kind: str) -> None:
        name = "RateLimitExceeded" if status == 429 else "InternalServerError"
        payload = json.dumps({"error": name, "message": kind}).encode()
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

    def _safe(self) -> None:
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the client went away (or was killed)

    do_GET = do_POST = do_PUT = do_DELETE = _safe
