"""The Bluesky publisher (atproto SDK). atproto is imported here and in its session module only.

- **Clickable**: every link and hashtag is a facet at UTF-8 byte offsets (computed when the post
  was rendered); links are displayed shortened while the facet carries the full URL; ``langs``
  is the post's language; a link card (``app.bsky.embed.external``) is attached when it can be
  built, with a thumbnail only under 1,000,000 bytes.
- **Logins are rare**: see :mod:`bot.publishing.bluesky_session`.
- **Create once**: the record key (a TID) is chosen before the call and stored with the planned
  post. The record is written with ``putRecord`` and an explicit JSON ``"swapRecord": null``, which
  the server accepts only if the key is free, so a retry can never make a second post. With a
  REPLY_POLICY or QUOTE_POLICY, the post, its threadgate and its postgate are created at that
  key in one ``applyWrites`` commit (:mod:`bot.publishing.bluesky_records`); a repeat fails
  there too, and finding the post at its key means all three exist.
- **Bot mark**: :mod:`bot.publishing.bluesky_profile`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from bot.config import Account
from bot.errors import PermanentPublishError, TransientPublishError
from bot.logs import log_event
from bot.post import BLUESKY_LIMITS, LinkCard, OutgoingPost, PlatformLimits, Published
from bot.publishing.bluesky_profile import is_marked, mark_bot, read_profile
from bot.publishing.bluesky_records import (
    POST_COLLECTION,
    POSTGATE,
    THREADGATE,
    creates,
    gate_records,
    now_iso,
    post_record,
)
from bot.publishing.bluesky_session import REQUEST_TIMEOUT, BlueskySession, SessionVault

log = logging.getLogger("bot.publishing.bluesky")
MAX_THUMB_BYTES = 1_000_000

__all__ = ["BlueskyPublisher", "SessionVault"]


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
        self.web_url = web_url.rstrip("/")
        self.image_root = image_root
        self.session = BlueskySession(account, vault, request_timeout=request_timeout)

    @property
    def logins(self) -> int:
        """Password logins (createSession) made by this process."""
        return self.session.logins

    @property
    def session_key(self) -> str:
        return self.session.session_key

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, post: OutgoingPost) -> Published:
        embed = self._embed(post.card) if post.card is not None else None
        created_at = now_iso()
        record = post_record(post, embed, created_at)
        did = self.session.did
        uri = f"at://{did}/{POST_COLLECTION}/{post.key}"
        gates = gate_records(uri, self.account.reply_policy, self.account.quote_policy, created_at)
        try:
            if gates:
                self._write(
                    "applyWrites",
                    {"repo": did, "writes": creates(post.key, {POST_COLLECTION: record, **gates})},
                )
            else:
                self._write(
                    "putRecord",
                    {
                        "repo": did,
                        "collection": POST_COLLECTION,
                        "rkey": post.key,
                        "swapRecord": None,  # explicit null: create only if this key is free
                        "record": record,
                    },
                )
        except (PermanentPublishError, TransientPublishError):
            # A record at our key is our post from an earlier attempt whose answer was lost
            # (putRecord says InvalidSwap, applyWrites a 500): success, not a duplicate. We
            # chose the key, so it can only be ours; applyWrites wrote its gates with it.
            if not self._exists_quietly(post.key):
                raise
            log_event(log, "bluesky.already_created", account=self.account.name, rkey=post.key)
        return Published(remote_id=post.key, url=self.web_link(post.key))

    def _write(self, method: str, body: dict[str, Any]) -> None:
        self.session.call(
            method,
            lambda: self.session.client.invoke_procedure(
                f"com.atproto.repo.{method}",
                data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8"},
                output_encoding="application/json",
            ),
        )

    def _exists_quietly(self, rkey: str) -> bool:
        """Whether the post exists; ``False`` when that cannot be asked now."""
        try:
            return self.exists(rkey)
        except TransientPublishError:
            return False

    def web_link(self, rkey: str) -> str:
        return f"{self.web_url}/profile/{self.session.handle}/post/{rkey}"

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
            uploaded = self.session.call(
                "uploadBlob", lambda: self.session.client.upload_blob(data)
            )
        except (TransientPublishError, PermanentPublishError) as exc:
            if isinstance(exc, TransientPublishError) and exc.status != 429:
                raise  # the whole post is retried, picture included
            # refused, or rate limited: the post goes out on time, its card without picture
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
        did = self.session.did
        try:
            self.session.call(
                "getRecord",
                lambda: self.session.client.com.atproto.repo.get_record(
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
        did = self.session.did
        for collection in (POST_COLLECTION, THREADGATE, POSTGATE):  # deleting none is no error
            self._write("deleteRecord", {"repo": did, "collection": collection, "rkey": remote_id})
        return True

    def verify(self) -> dict[str, Any]:
        session = self.session.call(
            "getSession", self.session.client.com.atproto.server.get_session
        )
        return {
            "user": f"@{session.handle}",
            "did": session.did,
            "max_graphemes": self.limits.max_graphemes,
            "max_bytes": self.limits.max_bytes,
        }

    def bot_mark(self) -> tuple[str, bool]:
        """The account's handle and whether its profile has the ``bot`` self-label."""
        record, _ = read_profile(self.session)
        return f"@{self.session.handle}", is_marked(record)

    def mark_bot(self) -> bool:
        """Add the ``bot`` self-label to the profile; ``False`` if it was there already."""
        return mark_bot(self.session)

    def close(self) -> None:
        self.session.close()
