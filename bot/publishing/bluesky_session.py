"""A Bluesky account's session: login with the app password only when needed, the session
string kept in the state store and reused, and the SDK's errors translated into the bot's.

``createSession`` is limited to 30 per 5 minutes and 300 a day. The session string is kept in
the state store, reused on restart, refreshed tokens are saved (``on_session_change``), and the
password is used only when there is no session or the server rejects it: at most one login per
process.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import httpx
from atproto import Client, Session, SessionEvent
from atproto_client.exceptions import (
    AtProtocolError,
    BadRequestError,
    InvokeTimeoutError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import Request

from bot.config import Account
from bot.errors import PermanentPublishError, TransientPublishError
from bot.logs import log_event, mask, register_secret

log = logging.getLogger("bot.publishing.bluesky")
REQUEST_TIMEOUT = 30.0
_REJECTED_SESSION = {"ExpiredToken", "InvalidToken", "AuthenticationRequired"}


class SessionVault(Protocol):
    """Where the session string is kept between processes (the state store's kv table)."""

    def get_value(self, key: str) -> str | None: ...
    def set_value(self, key: str, value: str) -> None: ...
    def delete_value(self, key: str) -> None: ...


def _error_code(exc: RequestErrorBase) -> str | None:
    content = exc.response.content if exc.response is not None else None
    return getattr(content, "error", None)


def _status(exc: RequestErrorBase) -> int | None:
    return exc.response.status_code if exc.response is not None else None


def _seconds_until(reset_at: dt.datetime | None) -> float | None:
    if reset_at is None:
        return None
    return max(0.0, (reset_at - dt.datetime.now(dt.UTC)).total_seconds())


class BlueskySession:
    """An authenticated atproto client for one account; :meth:`call` runs a request."""

    def __init__(
        self, account: Account, vault: SessionVault, *, request_timeout: float = REQUEST_TIMEOUT
    ) -> None:
        self.account = account
        self.vault = vault
        self.session_key = f"bluesky.session:{account.name}:{account.handle}"
        self.client = Client(base_url=account.service_url, request=Request(timeout=request_timeout))
        self.client.on_session_change(self._save_session)
        self.logins = 0  # password logins (createSession) made by this process
        self._did: str | None = None
        self._handle: str | None = None
        self._lock = threading.RLock()  # call may nest (did inside a call)

    @property
    def handle(self) -> str:
        return self._handle or self.did

    # -- login and session reuse ------------------------------------------------------------

    def _save_session(self, event: SessionEvent, session: Session) -> None:
        self._did, self._handle = session.did, session.handle
        exported = session.export()
        register_secret(exported)
        register_secret(session.access_jwt)
        register_secret(session.refresh_jwt)
        if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            self.vault.set_value(self.session_key, exported)
            log_event(log, "bluesky.session_saved", account=self.account.name, change=event.value)

    def _ensure_session(self) -> None:
        if self._did is not None:
            return
        stored = self.vault.get_value(self.session_key)
        if stored:
            register_secret(stored)
            try:
                session = Session.decode(stored)
                # Both tokens must be readable JWTs, or the first call fails obscurely.
                _ = session.access_jwt_payload, session.refresh_jwt_payload
                self.client.login(session_string=stored, fetch_bsky_profile=False)
                log_event(log, "bluesky.session_reused", account=self.account.name)
                return
            except Exception:  # any unreadable session is replaced by one login
                log_event(
                    log, "bluesky.session_unusable", logging.WARNING, account=self.account.name
                )
                self.vault.delete_value(self.session_key)
        self._login()

    def _login(self) -> None:
        assert self.account.app_password is not None
        password = self.account.app_password.get_secret_value()
        register_secret(password)
        with self._translate("login (createSession)", relogin=False):
            self.logins += 1
            log_event(log, "bluesky.login", account=self.account.name, handle=self.account.handle)
            self.client.login(self.account.handle, password, fetch_bsky_profile=False)

    def call(self, action: str, func: Callable[[], Any]) -> Any:
        """Run an authenticated call; if the server rejects the session, log in once and retry."""
        with self._lock:
            self._ensure_session()
            try:
                with self._translate(action, relogin=True):
                    return func()
            except _SessionRejected:
                log_event(
                    log, "bluesky.session_rejected", logging.WARNING, account=self.account.name
                )
                self.vault.delete_value(self.session_key)
                self._did = None
                self._login()
                with self._translate(action, relogin=False):
                    return func()

    @contextmanager
    def _translate(self, action: str, *, relogin: bool) -> Iterator[None]:
        where = f"Bluesky ({self.account.name}) {action}"
        try:
            yield
        except RateLimitExceededError as exc:
            wait = exc.retry_after if exc.retry_after is not None else _seconds_until(exc.reset_at)
            raise TransientPublishError(
                f"{where}: rate limited", status=429, retry_after=wait
            ) from None
        except (NetworkError, InvokeTimeoutError) as exc:
            raise TransientPublishError(
                f"{where}: network error: {mask(_why(exc))}", status=_status(exc)
            ) from None
        except httpx.TransportError as exc:
            # The SDK passes some transport failures through untranslated (e.g. a server that
            # closed the connection without an answer: httpx.RemoteProtocolError).
            raise TransientPublishError(
                f"{where}: connection failed: {type(exc).__name__}"
            ) from None
        except UnauthorizedError as exc:
            if relogin:
                raise _SessionRejected from None
            raise PermanentPublishError(self._auth_message(where, exc), status=401) from None
        except BadRequestError as exc:
            code = _error_code(exc)
            if relogin and code in _REJECTED_SESSION:
                raise _SessionRejected from None
            if code == "AuthFactorTokenRequired":
                raise PermanentPublishError(self._auth_message(where, exc), status=401) from None
            raise PermanentPublishError(f"{where}: {mask(str(exc))}", status=400) from None
        except RequestErrorBase as exc:
            status = _status(exc)
            message = f"{where}: {mask(str(exc))}"
            if status is None or status >= 500 or status in (408, 425):
                raise TransientPublishError(message, status=status) from None
            raise PermanentPublishError(message, status=status) from None
        except AtProtocolError as exc:
            raise PermanentPublishError(f"{where}: {mask(str(exc))}") from None

    def _auth_message(self, where: str, exc: RequestErrorBase) -> str:
        return (
            f"{where}: the server rejected handle {self.account.handle!r} and its password"
            f" ({mask(str(exc))}); use an app password (Settings → Privacy and security →"
            " App passwords), not the account's main password"
        )

    @property
    def did(self) -> str:
        self.call("describe session", lambda: None)
        assert self._did is not None
        return self._did

    def close(self) -> None:
        self.client.request.close()


class _SessionRejected(Exception):
    """The server no longer accepts our session: log in again (once)."""


def _why(exc: BaseException) -> str:
    """The exception's message, or its cause's (the SDK's NetworkError wraps httpx's error
    without a message of its own: "[Errno -2] Name or service not known")."""
    seen: BaseException | None = exc
    while seen is not None:
        if str(seen):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__
