"""HTTP plumbing of the Mastodon test server: a threading HTTP/1.1 server and its handler.

The handler parses requests (query, form or JSON body), logs them, applies injected faults and
the global delay, and sends what the application (:class:`MastodonTestServer`) answers.
"""

from __future__ import annotations

import contextlib
import json
import socket
import traceback
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

from tests.support.faults import NO_ANSWER, REACHES_SERVER
from tests.support.mastodon.model import (
    RecordedRequest,
    Request,
    Response,
    as_int,
    normalize_path,
)

if TYPE_CHECKING:
    from tests.support.mastodon.app import MastodonTestServer

__all__ = ["HTTPServer", "Handler"]


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: MastodonTestServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Mastodon"
    sys_version = ""
    timeout = 30  # idle keep-alive connections are closed after this many seconds

    @property
    def app(self) -> MastodonTestServer:
        return cast(HTTPServer, self.server).app

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        app = self.app
        with app._idle:
            app._connections.add(self.connection)
            app._connections_opened += 1

    def finish(self) -> None:
        app = self.app
        with app._idle:
            app._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        # A client vanishing between requests is normal here (drops, kills, stop()).
        with contextlib.suppress(OSError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        moment = self.app.now().timestamp() if timestamp is None else timestamp
        return formatdate(moment, usegmt=True)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        length = as_int(self.headers.get("Content-Length", "0") or "0") or 0
        return self.rfile.read(length) if length > 0 else b""

    def _parse_body(self, body: bytes) -> dict[str, Any]:
        """Form-encoded or JSON body parameters (Rails keeps the last of repeated keys)."""
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not body:
            return {}
        if content_type == "application/json":
            decoded = json.loads(body.decode("utf-8"))
            if not isinstance(decoded, dict):
                raise ValueError("JSON body must be an object")
            return decoded
        if content_type == "multipart/form-data":
            return _multipart(self.headers.get("Content-Type", ""), body)
        if content_type in ("", "application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
            return {k: v if k.endswith("[]") else v[-1] for k, v in form.items()}
        return {}

    def _handle(self) -> None:
        app = self.app
        with app._idle:
            app._in_flight += 1
        try:
            self._handle_inner(app)
        except OSError:
            self.close_connection = True
        except Exception:  # a bug in the test server: answer 500 and keep the traceback
            app.internal_errors.append(traceback.format_exc())
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(app._json(500, {"error": "test server bug (see internal_errors)"}))
        finally:
            with app._idle:
                app._in_flight -= 1
                app._idle.notify_all()

    def _handle_inner(self, app: MastodonTestServer) -> None:
        record, request = self._parse_request(app)
        response = self._respond(app, request, record) if isinstance(request, Request) else request
        if response is None:
            self._drop()
            return
        record.status = response.status
        self._send(response)

    def _parse_request(self, app: MastodonTestServer) -> tuple[RecordedRequest, Request | Response]:
        """Read and log the request; return it, or the error response for a malformed one."""
        split = urlsplit(self.path)
        path = normalize_path(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        redacted = {
            name: ("Bearer [redacted]" if name.lower() == "authorization" else value)
            for name, value in self.headers.items()
        }
        record = RecordedRequest(self.command, path, query, redacted, {}, app.now())
        app._record(record)
        body = self._read_body()
        if body is None:
            self.close_connection = True
            return record, app._json(411, {"error": "Length Required"})
        try:
            form = self._parse_body(body)
        except (ValueError, UnicodeDecodeError):
            error = {"error": "Error occurred while parsing request parameters"}
            return record, app._json(400, error)
        record.form = form
        params: dict[str, Any] = {k: v if k.endswith("[]") else v[-1] for k, v in query.items()}
        params.update(form)
        request = Request(
            method=self.command,
            path=path,
            query=query,
            params=params,
            headers={name.lower(): value for name, value in self.headers.items()},
            client_ip=self.client_address[0],
        )
        with app._lock:
            account = app._account_for(request)
            record.username = account.username if account else None
        return record, request

    @staticmethod
    def _respond(
        app: MastodonTestServer, request: Request, record: RecordedRequest
    ) -> Response | None:
        """The response to send, or None to drop the connection without one."""
        if app.delay > 0 and app._stopping.wait(app.delay):
            return None
        fault = app._take_fault(request.method, request.path)
        if fault is None:
            return app._dispatch(request)
        record.fault = fault.kind
        if fault.kind in REACHES_SERVER and fault.kind != "delay":
            app._dispatch(request)  # processed for real; only the answer gets lost
        if fault.delay > 0 and app._stopping.wait(fault.delay):
            return None
        if fault.kind in NO_ANSWER:
            return None
        if fault.kind == "delay":
            return app._dispatch(request)
        return app._fault_response(fault, request)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """A multipart/form-data body: fields as strings, files as ``{"filename", "content_type",
    "data"}`` (Rails' UploadedFile, roughly)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
    )
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True) or b""
        assert isinstance(data, bytes)
        filename = part.get_filename()
        if filename is not None:
            params[name] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "data": data,
            }
        elif name.endswith("[]"):
            params.setdefault(name, []).append(data.decode("utf-8"))
        else:
            params[name] = data.decode("utf-8")
    return params
