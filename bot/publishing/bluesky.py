"""The Bluesky publisher (atproto SDK). atproto is imported here and in its session module only.

- **Clickable**: every link and hashtag is a facet at UTF-8 byte offsets (computed when the post
  was rendered); links are displayed shortened while the facet carries the full URL; ``langs``
  is the post's language; a link card (``app.bsky.embed.external``) is attached when it can be
  built, with a thumbnail only under 1,000,000 bytes.
- **Logins are rare**: see :mod:`bot.publishing.bluesky_session`.
- **Create once**: the record key (a TID) is chosen before the call and stored with the planned
  post. The record is written with ``putRecord`` and an explicit JSON ``"swapRecord": null``, which
  the server accepts only if the key is free, so a retry can never make a second post.
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
from bot.publishing.bluesky_session import REQUEST_TIMEOUT, BlueskySession, SessionVault

log = logging.getLogger("bot.publishing.bluesky")
POST_COLLECTION = "app.bsky.feed.post"
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
        did = self.session.did
        body = {
            "repo": did,
            "collection": POST_COLLECTION,
            "rkey": post.key,
            "swapRecord": None,  # explicit null: create only if this record key is free
            "record": record,
        }
        try:
            self.session.call(
                "putRecord",
                lambda: self.session.client.invoke_procedure(
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
        self.session.call(
            "deleteRecord",
            lambda: self.session.client.com.atproto.repo.delete_record(
                {"repo": did, "collection": POST_COLLECTION, "rkey": remote_id}
            ),
        )
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

    def close(self) -> None:
        self.session.close()


def _facet(start: int, end: int, kind: str, value: str) -> dict[str, Any]:
    feature = (
        {"$type": "app.bsky.richtext.facet#link", "uri": value}
        if kind == "link"
        else {"$type": "app.bsky.richtext.facet#tag", "tag": value}
    )
    return {"index": {"byteStart": start, "byteEnd": end}, "features": [feature]}
