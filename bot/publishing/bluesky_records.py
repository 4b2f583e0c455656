"""The records of a Bluesky post: the post itself, and its threadgate and postgate.

- **Post** (``app.bsky.feed.post``): text, ``langs``, facets at UTF-8 byte offsets, and the link
  card (``app.bsky.embed.external``) whose thumbnail is the post's picture.
- **Threadgate** (``app.bsky.feed.threadgate``, REPLY_POLICY): at the post's own record key;
  ``allow`` lists who may reply (``[]``: nobody); ``everyone`` writes no threadgate.
- **Postgate** (``app.bsky.feed.postgate``, QUOTE_POLICY): at the post's own record key; the
  ``disableRule`` forbids quotes. Bluesky cannot allow quotes to followers only, so
  ``followers`` takes the nearest stricter rule, nobody (``check`` says so).

All three are written in one ``com.atproto.repo.applyWrites`` commit, so they exist together or
not at all: finding the post at its key finds its gates too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.post import OutgoingPost

POST_COLLECTION = "app.bsky.feed.post"
THREADGATE = "app.bsky.feed.threadgate"
POSTGATE = "app.bsky.feed.postgate"
_RULES = {
    "followers": "app.bsky.feed.threadgate#followerRule",
    "following": "app.bsky.feed.threadgate#followingRule",
    "mentioned": "app.bsky.feed.threadgate#mentionRule",
}
#: QUOTE_POLICY values Bluesky cannot express, and the rule that applies instead.
QUOTE_FALLBACK = {"followers": "nobody"}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def facet(start: int, end: int, kind: str, value: str) -> dict[str, Any]:
    feature = (
        {"$type": "app.bsky.richtext.facet#link", "uri": value}
        if kind == "link"
        else {"$type": "app.bsky.richtext.facet#tag", "tag": value}
    )
    return {"index": {"byteStart": start, "byteEnd": end}, "features": [feature]}


def post_record(
    post: OutgoingPost, embed: dict[str, Any] | None, created_at: str
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "$type": POST_COLLECTION,
        "text": post.text,
        "createdAt": created_at,
        "langs": [post.language],
    }
    facets = [facet(f.start, f.end, f.kind, f.value) for f in post.facets]
    if facets:
        record["facets"] = facets
    if embed is not None:
        record["embed"] = embed
    return record


def gate_records(
    post_uri: str, reply_policy: str, quote_policy: str, created_at: str
) -> dict[str, dict[str, Any]]:
    """The threadgate and postgate a post needs (by collection); none for ``everyone``."""
    gates: dict[str, dict[str, Any]] = {}
    if reply_policy != "everyone":
        allow = [{"$type": _RULES[reply_policy]}] if reply_policy in _RULES else []
        gates[THREADGATE] = {
            "$type": THREADGATE,
            "post": post_uri,
            "allow": allow,
            "createdAt": created_at,
        }
    if QUOTE_FALLBACK.get(quote_policy, quote_policy) == "nobody":
        gates[POSTGATE] = {
            "$type": POSTGATE,
            "post": post_uri,
            "embeddingRules": [{"$type": "app.bsky.feed.postgate#disableRule"}],
            "createdAt": created_at,
        }
    return gates


def creates(rkey: str, records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``applyWrites`` create operations, every record at ``rkey``."""
    return [
        {
            "$type": "com.atproto.repo.applyWrites#create",
            "collection": collection,
            "rkey": rkey,
            "value": value,
        }
        for collection, value in records.items()
    ]
