"""How long a post is for a platform, counted the way that platform's server counts it, and
why a post that does not fit is too long (characters or, on Bluesky, UTF-8 bytes)."""

from __future__ import annotations

import functools

from bot.post import PlatformLimits
from bot.rendering import mastodon_text
from bot.rendering import text as rt
from bot.rendering.graphemes import graphemes


@functools.lru_cache(maxsize=256)
def measure(limits: PlatformLimits, text: str) -> int:
    """The post's length as the platform counts it (Mastodon: its URLs as ``url_length``).
    Remembered: a shortened post is measured when tried and again when chosen."""
    if limits.url_length is not None:
        return mastodon_text.length(text, limits.url_length)
    return graphemes(text)


def fits(limits: PlatformLimits, text: str) -> bool:
    return excess(limits, text) is None


def excess(limits: PlatformLimits, text: str, length: int | None = None) -> str | None:
    """Why ``text`` does not fit (``None`` if it does): its length in characters, or its size
    in UTF-8 bytes, against the platform's limit."""
    length = measure(limits, text) if length is None else length
    if length > limits.max_graphemes:
        return f"{length:,} characters; the limit is {limits.max_graphemes:,}"
    if limits.max_bytes is not None:
        size_ = rt.utf8_len(text)
        if size_ > limits.max_bytes:
            return f"{size_:,} UTF-8 bytes; the limit is {limits.max_bytes:,} bytes"
    return None


def size(limits: PlatformLimits, segments: list[rt.Segment]) -> tuple[int, bool]:
    """(length, fits) of a post given as segments."""
    text = rt.join(segments)
    length = measure(limits, text)
    return length, excess(limits, text, length) is None
