"""``leavex-bot preview --json``: the upcoming posts as JSON Lines, one object per post, for
operators' scripts and tests.

Every line has the same keys: ``account``, ``platform``, ``item``, ``language``, ``slot``
(ISO 8601), ``text``, ``length`` and ``limit`` (as the platform counts), ``shortened``,
``facets`` (``start``/``end`` as UTF-8 byte offsets, ``kind`` "link" or "tag", ``value``),
``card`` (Bluesky's link card or ``null``), ``image`` (the picture sent with the post, its file
and alt text, or ``null``) and ``note`` (why a slot has no post; then ``item`` and ``text`` are
``null``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from bot.post import RenderedPost

__all__ = ["line"]


def line(
    account: str, platform: str, slot_at: dt.datetime, post: RenderedPost | None, note: str = ""
) -> str:
    """One post (or a slot without one, with ``note``) as a line of JSON."""
    record: dict[str, Any] = {
        "account": account,
        "platform": platform,
        "item": None,
        "language": None,
        "slot": slot_at.isoformat(),
        "text": None,
        "length": None,
        "limit": None,
        "shortened": None,
        "facets": [],
        "card": None,
        "image": None,
        "note": note or None,
    }
    if post is not None:
        picture = getattr(post, "picture", None)
        record.update(
            item=post.item_id,
            language=post.language,
            text=post.text,
            length=post.length,
            limit=post.limit,
            shortened=post.truncated,
            facets=[dataclasses.asdict(facet) for facet in post.facets],
            card=dataclasses.asdict(post.card) if post.card else None,
            image={"file": picture.file, "alt": picture.alt} if picture else None,
            note=None,
        )
    return json.dumps(record, ensure_ascii=False)
