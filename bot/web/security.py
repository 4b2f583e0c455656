"""The status page's guards, as ASGI middleware around every request:

- a login (HTTP Basic, ``WEB_USER`` and ``WEB_PASSWORD``), compared in constant time; without
  a password there is no login, and the server listens on 127.0.0.1 only (``command.py``),
  where only requests naming a loopback host are answered (no DNS rebinding);
- headers on every answer: a Content-Security-Policy that allows only the page's own styles
  and pictures (no script at all, nothing from another host), no framing, no sniffing, no
  referrer, and no caching of pages.

``/healthz`` needs no login (uptime monitors); it shows no post text and no secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
#: Paths answered without a login.
OPEN_PATHS = frozenset({"/healthz"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})


def credentials_match(header: bytes | None, user: str, password: str) -> bool:
    """Whether an ``Authorization: Basic …`` header carries ``user`` and ``password``. Both are
    compared in constant time, and both always, so the time says nothing about either."""
    if not header or header[:6].lower() != b"basic ":
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    given_user, _, given_password = decoded.partition(b":")
    user_ok = hmac.compare_digest(given_user, user.encode("utf-8"))
    password_ok = hmac.compare_digest(given_password, password.encode("utf-8"))
    return user_ok & password_ok


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = str(value.decode("latin-1")).lower()
            return host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return ""


class Guard:
    """Login (when a password is set), loopback-only hosts (when not), and security headers."""

    def __init__(self, app: ASGIApp, user: str, password: str | None) -> None:
        self.app = app
        self.user = user
        self.password = password

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        if self.password is None:
            if _host(scope) not in LOOPBACK_HOSTS:
                await _plain(with_headers, 403, "Forbidden: open this page as 127.0.0.1.\n")
                return
        elif scope["path"] not in OPEN_PATHS:
            header = dict(scope.get("headers", ())).get(b"authorization")
            if not credentials_match(header, self.user, self.password):
                await _plain(
                    with_headers,
                    401,
                    "Log in with WEB_USER and WEB_PASSWORD.\n",
                    [(b"www-authenticate", b'Basic realm="leavex-bot", charset="UTF-8"')],
                )
                return
        await self.app(scope, receive, with_headers)


async def _plain(
    send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
