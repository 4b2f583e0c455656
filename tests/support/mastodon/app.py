"""The Mastodon test server: the application on a threaded HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import threading
from datetime import timedelta
from typing import Any

from tests.support.faults import ANSWER_STATUS, FaultKind, fault_kind
from tests.support.mastodon.api import ApiRoutes
from tests.support.mastodon.httpd import Handler, HTTPServer
from tests.support.mastodon.model import (
    BAD_GATEWAY_HTML,
    UNAVAILABLE_HTML,
    Account,
    InjectedFault,
    RateFamily,
    RateLimit,
    RecordedRequest,
    Request,
    Response,
    iso_us,
)
from tests.support.server import LoopbackServer

__all__ = ["MastodonTestServer"]


class MastodonTestServer(ApiRoutes, LoopbackServer):
    """A threaded Mastodon API server on 127.0.0.1 (ephemeral port) for tests.

    Configuration attributes (change them at any time):

    * ``max_characters`` (500), ``characters_reserved_per_url`` (23), ``version`` ("4.6.4");
    * ``instance_v2_enabled`` (True): False makes ``/api/v2/instance`` answer 404, like a
      Mastodon older than 4.0 (set ``version`` to e.g. "3.5.5" as well);
    * ``instance_error`` (None): an HTTP status (e.g. 503) that both instance endpoints answer;
    * ``delay`` (0.0): seconds every request waits before it is handled;
    * ``clock``: ``() -> datetime`` (aware UTC); :meth:`advance` adds an offset on top of it;
    * ``rate_limits``: a :class:`RateLimit` per family ("general" 300/5 min per token,
      "statuses" 300/3 h per account, "deletes" and "media" (uploads) 30/30 min per account,
      "unauthenticated"
      300/5 min per IP); see :meth:`set_rate_limit`;
    * ``idempotency_ttl`` (3600 s).

    Seeding and inspection: :meth:`add_account`, :meth:`create_status`, :meth:`statuses`,
    :meth:`account`, :attr:`requests` (a :class:`RecordedRequest` per request, Authorization
    redacted), :attr:`connections_opened`, :meth:`wait_idle`, ``internal_errors`` (tracebacks
    of bugs in this server; answered as 500).  Faults: :meth:`inject`, :attr:`pending_faults`,
    :meth:`clear_faults`.
    """

    def __init__(
        self,
        *,
        max_characters: int = 500,
        characters_reserved_per_url: int = 23,
        version: str = "4.6.4",
        port: int = 0,
    ) -> None:
        super().__init__(
            max_characters=max_characters,
            characters_reserved_per_url=characters_reserved_per_url,
            version=version,
        )
        self._port = port
        self._faults: list[InjectedFault] = []
        self._requests: list[RecordedRequest] = []
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._connections: set[socket.socket] = set()
        self._connections_opened = 0
        self.internal_errors: list[str] = []  # tracebacks of bugs in this server, if any

    # -- lifecycle (start(), stop() and the context manager come from LoopbackServer) -----

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _bind(self) -> HTTPServer:
        """Bind the listening socket (done by start(), or earlier when base_url is needed)."""
        if self._httpd is None:
            httpd = HTTPServer((self.host, self._port), Handler)
            httpd.app = self
            self._port = httpd.server_address[1]
            self._httpd = httpd
        return self._httpd

    def _launch(self) -> None:
        """Serve (a restarted server keeps its state and, if possible, its port)."""
        httpd = self._bind()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"mastodon-test-server:{self._port}",
            daemon=True,
        )
        self._thread.start()

    def _ready(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _teardown(self) -> None:
        """Stop serving, interrupt delayed requests and close kept-alive connections."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        if thread is not None:
            httpd.shutdown()
        httpd.server_close()
        with self._idle:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    @property
    def port(self) -> int:
        """The TCP port (the socket is bound on first use, so it is known before start())."""
        if self._port == 0:
            self._bind()
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def domain(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connections_opened(self) -> int:
        """How many TCP connections clients have opened (keep-alive reuses them)."""
        with self._idle:
            return self._connections_opened

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait (at most ``timeout`` s) until no request is being handled; True if idle."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    # -- configuration and seeding ---------------------------------------------------------

    def add_account(
        self,
        token: str,
        username: str = "bot",
        *,
        locale: str = "en",
        display_name: str = "",
        bot: bool = False,
        default_language: str | None = None,
        default_visibility: str = "public",
        default_sensitive: bool = False,
        app_name: str = "Test app",
    ) -> dict[str, Any]:
        """Register ``token`` for ``username`` (created if new); return its CredentialAccount.

        ``locale`` is the account's UI language: error messages (en/de/ja) and the default
        posting language come from it, as in Mastodon.
        """
        with self._lock:
            account = self._find_account(username)
            if account is None:
                now = self.now()
                account = Account(
                    id=self._next_id(now),
                    username=username,
                    locale=locale,
                    display_name=display_name,
                    bot=bot,
                    default_language=default_language,
                    default_visibility=default_visibility,
                    default_sensitive=default_sensitive,
                    app_name=app_name,
                    created_at=now.replace(hour=0, minute=0, second=0, microsecond=0),
                )
                self._accounts[account.id] = account
            account.tokens.add(token)
            self._tokens[token] = account
            return self._credential_account(account)

    def set_rate_limit(self, family: RateFamily, limit: int, period: int | None = None) -> None:
        """Change a rate-limit family's ``limit`` (and optionally ``period`` in seconds)."""
        with self._lock:
            current = self.rate_limits[family]
            self.rate_limits[family] = RateLimit(limit, period or current.period)

    def reset_rate_limits(self) -> None:
        with self._lock:
            self._counters.clear()

    def create_status(self, username: str, text: str, **params: Any) -> dict[str, Any]:
        """Create a status directly (no HTTP, no limits); ``params`` as in the API."""
        with self._lock:
            account = self._find_account(username)
            if account is None:
                raise KeyError(username)
            status = self._build_status(account, {"status": text, **params}, "en")
            return self._status_entity(status, account)

    # -- fault injection -------------------------------------------------------------------

    def inject(
        self,
        fault: FaultKind,
        *,
        method: str | None = "POST",
        path: str = "/api/v1/statuses",
        times: int = 1,
        delay: float = 0.0,
        reset_in: float = 60.0,
    ) -> InjectedFault:
        """Queue a fault for the next ``times`` requests matching ``method`` and ``path``.

        ``path`` may be a glob (``/api/v1/statuses/*``); ``method=None`` matches any method.
        Faults are consumed in the order they were injected.  Kinds (the list is shared with
        the proxy, see :mod:`tests.support.faults`):

        * ``rate_limit``: 429 ``{"error":"Too many requests"}`` with X-RateLimit-* headers
          (remaining 0, reset ``reset_in`` seconds ahead), no Retry-After; nothing happens;
        * ``error_500`` (JSON body), ``error_502``/``error_503`` (nginx HTML): nothing happens;
        * ``drop``: the connection is closed without a response; nothing happens;
        * ``lost_response``: the request IS processed (a status is created and its
          idempotency key stored), then the connection is closed without a response;
        * ``lost_response_502``: processed, then answered with an nginx 502;
        * ``delay``: processed normally after ``delay`` seconds.

        ``delay`` also applies to the other kinds: they wait that long before acting (for
        ``lost_response*``: after processing, before dropping).  Waits end early on stop().
        """
        fault = fault_kind(fault)
        if times < 1:
            raise ValueError("times must be at least 1")
        injected = InjectedFault(fault, method, path, times, delay, reset_in)
        with self._lock:
            self._faults.append(injected)
        return injected

    @property
    def pending_faults(self) -> list[InjectedFault]:
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- inspection ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def statuses(
        self, username: str | None = None, *, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Statuses (oldest first) as their author sees them; all accounts if no username."""
        with self._lock:
            result = []
            for status in sorted(self._statuses.values(), key=lambda s: s.id):
                if username is not None and status.account.username != username:
                    continue
                if status.deleted and not include_deleted:
                    continue
                result.append(self._status_entity(status, status.account))
            return result

    def account(self, username: str) -> dict[str, Any]:
        """The CredentialAccount entity of ``username``."""
        with self._lock:
            account = self._find_account(username)
            if account is None:
                raise KeyError(username)
            return self._credential_account(account)

    # -- internals: faults and the request log -------------------------------------------

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(record)

    def _take_fault(self, method: str, path: str) -> InjectedFault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _fault_response(self, fault: InjectedFault, request: Request) -> Response:
        """The answer of a fault that has one (see ANSWER_STATUS), as Mastodon's nginx gives it."""
        status = ANSWER_STATUS[fault.kind]
        if status == 429:
            with self._lock:
                now = self.now()
                account = self._account_for(request)
                family = self._header_family(request, account)
                headers = self._rate_headers(family, 0, now, exhausted=True)
                reset = now + timedelta(seconds=fault.reset_in)
                headers[-1] = ("X-RateLimit-Reset", iso_us(reset))
            return self._json(429, {"error": "Too many requests"}, headers)
        if status == 500:
            return self._json(500, {"error": "Internal Server Error"})
        if status == 503:
            return Response(503, UNAVAILABLE_HTML, [("Content-Type", "text/html")])
        return Response(502, BAD_GATEWAY_HTML, [("Content-Type", "text/html")])
