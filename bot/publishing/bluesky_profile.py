"""A Bluesky account's bot mark: the self-label ``bot`` in its profile record.

The profile is ``app.bsky.actor.profile`` at record key ``self``; its ``labels`` field is a
``com.atproto.label.defs#selfLabels`` with ``values: [{"val": "bot"}]``. Marking rewrites the
record with ``putRecord`` and ``swapRecord`` = the CID just read, keeping every other field
(display name, description, avatar, other labels): if the profile changed in between, the
server refuses (InvalidSwap) and nothing is lost. An account without a profile record gets one
that holds only the label (``swapRecord: null``, create only).
"""

from __future__ import annotations

import json
from typing import Any

from bot.errors import PermanentPublishError
from bot.publishing.bluesky_session import BlueskySession

PROFILE = "app.bsky.actor.profile"
SELF_LABELS = "com.atproto.label.defs#selfLabels"
BOT = "bot"


def read_profile(session: BlueskySession) -> tuple[dict[str, Any] | None, str | None]:
    """The profile record and its CID; ``(None, None)`` when the account has none."""
    from atproto import models

    params = models.ComAtprotoRepoGetRecord.Params(
        repo=session.did, collection=PROFILE, rkey="self"
    )
    try:
        # The raw JSON, not the SDK's model: every field comes back exactly as stored.
        found = session.call(
            "getRecord profile",
            lambda: session.client.invoke_query(
                "com.atproto.repo.getRecord", params=params, output_encoding="application/json"
            ),
        )
    except PermanentPublishError as exc:
        if "RecordNotFound" in str(exc):
            return None, None
        raise
    content = found.content
    return dict(content["value"]), str(content["cid"])


def is_marked(record: dict[str, Any] | None) -> bool:
    labels = (record or {}).get("labels") or {}
    return any(v.get("val") == BOT for v in labels.get("values") or [])


def with_bot_label(record: dict[str, Any] | None) -> dict[str, Any]:
    """The profile with the ``bot`` self-label added, every other field kept."""
    updated = dict(record or {"$type": PROFILE})
    updated["$type"] = PROFILE
    labels = dict(updated.get("labels") or {"$type": SELF_LABELS})
    values = [v for v in labels.get("values") or [] if v.get("val") != BOT]
    labels["$type"] = SELF_LABELS
    labels["values"] = [*values, {"val": BOT}]
    updated["labels"] = labels
    return updated


def mark_bot(session: BlueskySession) -> bool:
    """Add the ``bot`` self-label; ``False`` if the profile had it already."""
    record, cid = read_profile(session)
    if is_marked(record):
        return False
    body = {
        "repo": session.did,
        "collection": PROFILE,
        "rkey": "self",
        "record": with_bot_label(record),
        "swapRecord": cid,  # None (JSON null) when there is no profile yet: create only
    }
    session.call(
        "putRecord profile",
        lambda: session.client.invoke_procedure(
            "com.atproto.repo.putRecord",
            data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
            output_encoding="application/json",
        ),
    )
    return True
