"""The dry-run publisher: prints each post as it would be published."""

from __future__ import annotations

import datetime as dt
import sys
from typing import TextIO

from bot.post import DEFAULT_LIMITS, OutgoingPost, PlatformLimits, Published


class ConsolePublisher:
    """Writes posts to a stream instead of a platform; never fails."""

    def __init__(
        self,
        platform: str,
        limits: PlatformLimits | None = None,
        stream: TextIO | None = None,
        tz: dt.tzinfo | None = None,
    ) -> None:
        self.limits = limits or DEFAULT_LIMITS[platform]
        self.stream = stream or sys.stdout
        self.tz = tz

    def publish(self, post: OutgoingPost) -> Published:
        self.stream.write(format_post(post, self.tz, dry_run=True) + "\n")
        self.stream.flush()
        return Published(remote_id=f"dry-run:{post.key}", url=None)

    def close(self) -> None:
        return None


def format_post(post: OutgoingPost, tz: dt.tzinfo | None = None, *, dry_run: bool = False) -> str:
    """The post as a framed block, with its length as the platform counts it (counted when it
    was rendered), and its picture's alt text."""
    slot = post.slot_at.astimezone(tz) if tz else post.slot_at
    mode = ", dry run" if dry_run else ""
    head = (
        f"── {post.account} [{post.platform}{mode}] · {post.language} · {post.item_id}"
        f" · slot {slot:%Y-%m-%d %H:%M %Z} · {post.length}/{post.limit} characters"
    )
    body = "\n".join(f"│ {line}" if line else "│" for line in post.text.splitlines())
    if post.picture is not None:
        body += f"\n│ [picture, alt text: {post.picture.alt or '(none)'}]"
    return f"{head}\n{body}"
