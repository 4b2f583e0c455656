"""A post's types, shared by every stage of the pipeline. Imports nothing of ours.

dataset → selection → rendering makes a :class:`RenderedPost`; the poster records it and turns
it into an :class:`OutgoingPost`; a publisher sends that and answers with :class:`Published`.
Publishers see only these types (no Jinja2, no dataset, no renderer).

The part of a post that a retry must send identically besides its text (facets, link card,
counted length, picture) travels through the state database as JSON: :func:`encode_extras` and
:func:`decode_extras` are the only place that format is written and read.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Platform = Literal["mastodon", "bluesky"]
PLATFORMS: tuple[Platform, ...] = ("mastodon", "bluesky")
FacetKind = Literal["link", "tag"]


@dataclass(frozen=True)
class Facet:
    """A link or hashtag at UTF-8 byte offsets ``[start, end)`` of the post text."""

    start: int
    end: int
    kind: FacetKind
    value: str


@dataclass(frozen=True)
class LinkCard:
    """A link preview (Bluesky's ``app.bsky.embed.external``)."""

    uri: str
    title: str
    description: str
    #: picture file (relative to the data folder), used as the card's thumbnail if small enough
    thumb: str | None = None
    #: the picture's alt text in the post's language
    thumb_alt: str | None = None


@dataclass(frozen=True)
class Picture:
    """The picture shown with a post: Bluesky's link-card thumbnail, Mastodon's media."""

    #: the image file: absolute (a share card in the cache) or relative to the data folder
    file: str
    #: alt text in the post's language
    alt: str
    #: Mastodon's focal point, x and y in [-1, 1] (0, 0 is the centre, y points up)
    focus: tuple[float, float] = (0.0, 0.0)
    #: a share card's texts, to draw it again if the cached file is gone; empty for an
    #: item's own picture
    card: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PlatformLimits:
    """How long a post may be, as the platform's server counts it."""

    max_graphemes: int
    max_bytes: int | None = None
    #: Mastodon counts every http(s) URL as this many characters; ``None``: URLs count as shown.
    url_length: int | None = None


MASTODON_DEFAULT_LIMITS = PlatformLimits(max_graphemes=500, url_length=23)
BLUESKY_LIMITS = PlatformLimits(max_graphemes=300, max_bytes=3000)
DEFAULT_LIMITS: Mapping[str, PlatformLimits] = {
    "mastodon": MASTODON_DEFAULT_LIMITS,
    "bluesky": BLUESKY_LIMITS,
}


@dataclass(frozen=True)
class RenderedPost:
    """A post exactly as it will be sent: text, facets and length as the platform counts it."""

    item_id: str
    kind: str
    platform: Platform
    language: str
    text: str
    facets: tuple[Facet, ...]
    length: int
    limit: int
    truncated: bool
    card: LinkCard | None
    template: str
    picture: Picture | None = None

    def outgoing(self, account: str, slot_at: dt.datetime, key: str) -> OutgoingPost:
        """This post as sent for ``account`` in the slot at ``slot_at`` with ``key``."""
        return OutgoingPost(
            account=account,
            platform=self.platform,
            item_id=self.item_id,
            language=self.language,
            slot_at=slot_at,
            text=self.text,
            facets=self.facets,
            card=self.card,
            key=key,
            length=self.length,
            limit=self.limit,
            picture=self.picture,
        )


@dataclass(frozen=True)
class OutgoingPost:
    """A rendered post ready to send, with the key that makes sending it idempotent.

    ``key`` is the Mastodon ``Idempotency-Key`` or the Bluesky record key (a TID), chosen and
    recorded before the first attempt, so every retry sends the same one.
    """

    account: str
    platform: str
    item_id: str
    language: str
    slot_at: dt.datetime
    text: str
    facets: tuple[Facet, ...]
    card: LinkCard | None
    key: str
    #: the length as the platform counts it, and the limit it was rendered for
    length: int = 0
    limit: int = 0
    picture: Picture | None = None


@dataclass(frozen=True)
class Published:
    """Where a post ended up."""

    remote_id: str
    url: str | None


def encode_extras(post: RenderedPost) -> str:
    """What besides the text a retry must send identically, as JSON for the state database."""
    card = post.card
    return json.dumps(
        {
            "facets": [[f.start, f.end, f.kind, f.value] for f in post.facets],
            "card": None
            if card is None
            else {
                "uri": card.uri,
                "title": card.title,
                "description": card.description,
                "thumb": card.thumb,
                "thumb_alt": card.thumb_alt,
            },
            "length": post.length,
            "limit": post.limit,
            "picture": None
            if post.picture is None
            else {
                "file": post.picture.file,
                "alt": post.picture.alt,
                "focus": list(post.picture.focus),
                "card": [list(pair) for pair in post.picture.card],
            },
        },
        ensure_ascii=False,
    )


def decode_extras(payload: str) -> dict[str, Any]:
    """The facets, card, length and picture stored by :func:`encode_extras` (also its older
    format, where the card was a list ``[uri, title, description]``)."""
    data = json.loads(payload) if payload else {}
    card = data.get("card")
    if isinstance(card, list):
        card = dict(zip(("uri", "title", "description"), card, strict=False))
    return {
        "facets": tuple(Facet(s, e, k, v) for s, e, k, v in data.get("facets", [])),
        "card": LinkCard(**card) if card else None,
        "length": int(data.get("length", 0)),
        "limit": int(data.get("limit", 0)),
        "picture": _picture(data.get("picture")),
    }


def _picture(data: dict[str, Any] | None) -> Picture | None:
    if not data:
        return None
    x, y = data.get("focus") or (0.0, 0.0)
    return Picture(
        file=str(data["file"]),
        alt=str(data.get("alt", "")),
        focus=(float(x), float(y)),
        card=tuple((str(k), str(v)) for k, v in data.get("card") or ()),
    )
