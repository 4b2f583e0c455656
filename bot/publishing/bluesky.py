"""The Bluesky publisher (atproto SDK). atproto is imported here and nowhere else.

- **Clickable**: every link and hashtag is a facet at UTF-8 byte offsets (computed when the post
  was rendered); links are displayed shortened while the facet carries the full URL; ``langs``
  is the post's language; a link card (``app.bsky.embed.external``) is attached when it can be
  built, with a thumbnail only under 1,000,000 bytes.
- **Logins are rare**: ``createSession`` is limited to 30 per 5 minutes and 300 a day. The
  session string is kept in the state store, reused on restart, refreshed tokens are saved
  (``on_session_change``), and the password is used only when there is no session or the
  server rejects it: at most one login per process.
- **Create once**: the record key (a TID) is chosen before the call and stored with the planned
  post. The record is written with ``putRecord`` and an explicit JSON ``"swapRecord": null``, which
  the server accepts only if the key is free, so a retry can never make a second post.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
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
from bot.post import BLUESKY_LIMITS, LinkCard, OutgoingPost, PlatformLimits, Published

log = logging.getLogger("bot.publishing.bluesky")
POST_COLLECTION = "app.bsky.feed.post"
MAX_THUMB_BYTES = 1_000_000
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


class BlueskyPublisher:
    """Publishes to one Bluesky account on any PDS (``BLUESKY_SERVICE_URL``)."""

    limits: PlatformLimits = BLUESKY_LIMITS

    def __init__(
        self,
        account: Account,
        vault: SessionVault,
        *,
        request_timeout: float = REQUEST_TIMEOUT,
        web_url: str = "https://bsky.app",
        image_root: Path | None = None,
    ) -> None:
        if not account.handle or account.app_password is None:
            raise PermanentPublishError(
                f"account {account.name}: no Bluesky handle or app password"
            )
        self.account = account
        self.vault = vault
        self.web_url = web_url.rstrip("/")
        self.image_root = image_root
        self.session_key = f"bluesky.session:{account.name}:{account.handle}"
        self.client = Client(base_url=account.service_url, request=Request(timeout=request_timeout))
        self.client.on_session_change(self._save_session)
        self.logins = 0  # password logins (createSession) made by this process
        self._did: str | None = None
        self._handle: str | None = None
        self._lock = threading.RLock()  # _call may nest (did inside a call)

    # -- session ------------------------------------------------------------------------------

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

    def _call(self, action: str, func: Callable[[], Any]) -> Any:
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
                f"{where}: network error: {mask(str(exc))}", status=_status(exc)
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
        self._call("describe session", lambda: None)
        assert self._did is not None
        return self._did

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, post: OutgoingPost) -> Published:
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": post.text,
            "createdAt": dt.datetime.now(dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "langs": [post.language],
        }
        facets = [_facet(f.start, f.end, f.kind, f.value) for f in post.facets]
        if facets:
            record["facets"] = facets
        if post.card is not None:
            embed = self._embed(post.card)
            if embed is not None:
                record["embed"] = embed
        did = self.did
        body = {
            "repo": did,
            "collection": POST_COLLECTION,
            "rkey": post.key,
            "swapRecord": None,  # explicit null: create only if this record key is free
            "record": record,
        }
        try:
            self._call(
                "putRecord",
                lambda: self.client.invoke_procedure(
                    "com.atproto.repo.putRecord",
                    data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                    headers={"Content-Type": "application/json; charset=utf-8"},
                    output_encoding="application/json",
                ),
            )
        except PermanentPublishError as exc:
            # InvalidSwap: a record already sits at our key. We chose the key, so it is our post
            # from an earlier attempt whose response was lost: that is success, not a duplicate.
            if "InvalidSwap" not in str(exc) or not self.exists(post.key):
                raise
            log_event(log, "bluesky.already_created", account=self.account.name, rkey=post.key)
        return Published(remote_id=post.key, url=self.web_link(post.key))

    def web_link(self, rkey: str) -> str:
        return f"{self.web_url}/profile/{self._handle or self.did}/post/{rkey}"

    def _embed(self, card: LinkCard) -> dict[str, Any] | None:
        external: dict[str, Any] = {
            "uri": card.uri,
            "title": card.title,
            "description": card.description,
        }
        if card.thumb:
            blob = self._thumbnail(card.thumb)
            if blob is not None:
                external["thumb"] = blob
        return {"$type": "app.bsky.embed.external", "external": external}

    def _thumbnail(self, file: str) -> dict[str, Any] | None:
        """Upload the card's picture; ``None`` (card without picture) if it cannot be used."""
        path = Path(file) if self.image_root is None else self.image_root / file
        try:
            data = path.read_bytes()
        except OSError as exc:
            log_event(
                log, "bluesky.thumb_unreadable", logging.WARNING, file=str(path), error=str(exc)
            )
            return None
        if len(data) >= MAX_THUMB_BYTES:
            log_event(
                log,
                "bluesky.thumb_too_large",
                logging.WARNING,
                file=str(path),
                size=len(data),
                limit=MAX_THUMB_BYTES,
            )
            return None
        try:
            uploaded = self._call("uploadBlob", lambda: self.client.upload_blob(data))
        except (TransientPublishError, PermanentPublishError) as exc:
            log_event(log, "bluesky.thumb_upload_failed", logging.WARNING, error=str(exc))
            return None
        blob = uploaded.blob
        return {
            "$type": "blob",
            "ref": {"$link": str(blob.ref.link if hasattr(blob.ref, "link") else blob.ref)},
            "mimeType": blob.mime_type,
            "size": blob.size,
        }

    def exists(self, rkey: str) -> bool:
        """Whether a post record exists at ``rkey`` (``getRecord``)."""
        did = self.did
        try:
            self._call(
                "getRecord",
                lambda: self.client.com.atproto.repo.get_record(
                    {"repo": did, "collection": POST_COLLECTION, "rkey": rkey}
                ),
            )
        except PermanentPublishError as exc:
            if "RecordNotFound" in str(exc) or exc.status in (400, 404):
                return False
            raise
        return True

    def find(self, post: OutgoingPost, since: dt.datetime) -> Published | None:
        """The record at the post's own key: we chose the key, so it can only be ours."""
        if self.exists(post.key):
            return Published(remote_id=post.key, url=self.web_link(post.key))
        return None

    def delete(self, remote_id: str) -> bool:
        if not self.exists(remote_id):
            return False
        did = self.did
        self._call(
            "deleteRecord",
            lambda: self.client.com.atproto.repo.delete_record(
                {"repo": did, "collection": POST_COLLECTION, "rkey": remote_id}
            ),
        )
        return True

    def verify(self) -> dict[str, Any]:
        session = self._call("getSession", self.client.com.atproto.server.get_session)
        return {
            "user": f"@{session.handle}",
            "did": session.did,
            "max_graphemes": self.limits.max_graphemes,
            "max_bytes": self.limits.max_bytes,
        }

    def close(self) -> None:
        self.client.request.close()


class _SessionRejected(Exception):
    """The server no longer accepts our session: log in again (once)."""


def _facet(start: int, end: int, kind: str, value: str) -> dict[str, Any]:
    feature = (
        {"$type": "app.bsky.richtext.facet#link", "uri": value}
        if kind == "link"
        else {"$type": "app.bsky.richtext.facet#tag", "tag": value}
    )
    return {"index": {"byteStart": start, "byteEnd": end}, "features": [feature]}
