"""An upcoming post as followers will see it: the data ``preview --json`` prints, with its text
cut into plain pieces and links at the facets' UTF-8 byte offsets, and its picture.

The pieces are plain strings; the page's template escapes every one of them. A link is kept
only when it is an http(s) URL, so a post can never carry a ``javascript:`` link onto the page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from bot.config import Account
from bot.post import Picture, RenderedPost
from bot.preview_json import line


@dataclass(frozen=True)
class Piece:
    """A run of the post's text, and where it links to (``None``: plain text)."""

    text: str
    href: str | None = None


@dataclass
class ShownPost:
    """One slot of the upcoming page: the post (or the note why the slot has none)."""

    account: str
    platform: str
    slot: dt.datetime
    data: dict[str, Any]
    pieces: list[Piece] = field(default_factory=list)
    #: the picture's name for the page's picture route (``/picture/NAME``)
    picture: str | None = None
    card_host: str = ""

    @property
    def note(self) -> str | None:
        return self.data["note"]  # type: ignore[no-any-return]


def safe_href(url: str) -> str | None:
    """``url`` if it is an http(s) link with a host, else ``None``."""
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def tag_href(account: Account, tag: str) -> str | None:
    """Where a hashtag leads on the account's platform."""
    tag = tag.lstrip("#")
    if account.platform == "bluesky":
        return f"https://bsky.app/hashtag/{quote(tag)}"
    base = safe_href(account.api_base_url or "")
    return f"{base.rstrip('/')}/tags/{quote(tag)}" if base else None


def pieces(text: str, facets: list[dict[str, Any]], account: Account) -> list[Piece]:
    """The text cut at its facets (UTF-8 byte offsets, as Bluesky counts them)."""
    data = text.encode("utf-8")
    result: list[Piece] = []
    at = 0
    for facet in sorted(facets, key=lambda f: int(f["start"])):
        start, end = int(facet["start"]), int(facet["end"])
        if start < at or end > len(data) or start >= end:
            continue  # overlapping or out of range: shown as text
        if start > at:
            result.append(Piece(data[at:start].decode("utf-8", "replace")))
        value = str(facet["value"])
        href = safe_href(value) if facet["kind"] == "link" else tag_href(account, value)
        result.append(Piece(data[start:end].decode("utf-8", "replace"), href))
        at = end
    if at < len(data):
        result.append(Piece(data[at:].decode("utf-8", "replace")))
    return result


class Pictures:
    """The pictures the upcoming page has shown, by an opaque name: the picture route serves
    only these, never a path taken from a request."""

    def __init__(self, limit: int = 2048) -> None:
        self._known: dict[str, Picture] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def name(self, picture: Picture) -> str:
        key = hashlib.sha256(repr(picture).encode("utf-8")).hexdigest()[:24]
        with self._lock:
            if len(self._known) >= self._limit:
                self._known.clear()
            self._known[key] = picture
        return key

    def get(self, key: str) -> Picture | None:
        with self._lock:
            return self._known.get(key)


def shown(
    account: Account,
    slot_at: dt.datetime,
    post: RenderedPost | None,
    note: str,
    pictures: Pictures,
) -> ShownPost:
    """A slot of the upcoming page, from exactly what ``preview --json`` prints."""
    data = json.loads(line(account.name, account.platform, slot_at, post, note))
    result = ShownPost(account.name, account.platform, slot_at, data)
    if post is None:
        return result
    result.pieces = pieces(data["text"], data["facets"], account)
    if post.picture is not None and (account.platform == "bluesky" or account.media):
        result.picture = pictures.name(post.picture)
    if data["card"]:
        result.card_host = urlsplit(data["card"]["uri"]).netloc
        data["card"]["href"] = safe_href(data["card"]["uri"])
    return result
