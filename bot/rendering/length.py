"""How long a post is for a platform, counted the way that platform's server counts it."""

from __future__ import annotations

from bot.post import PlatformLimits
from bot.rendering import text as rt


def measure(limits: PlatformLimits, text: str) -> int:
    """The post's length as the platform counts it (Mastodon: every URL as ``url_length``)."""
    if limits.url_length is not None:
        return rt.mastodon_length(text, limits.url_length)
    return rt.graphemes(text)


def fits(limits: PlatformLimits, text: str) -> bool:
    if limits.max_bytes is not None and rt.utf8_len(text) > limits.max_bytes:
        return False
    return measure(limits, text) <= limits.max_graphemes


def size(limits: PlatformLimits, segments: list[rt.Segment]) -> tuple[int, bool]:
    """(length, fits) of a post given as segments (the post was split once already)."""
    if limits.url_length is not None:
        length = rt.mastodon_segments_length(segments, limits.url_length)
    else:
        length = rt.graphemes(rt.join(segments))
    fits = length <= limits.max_graphemes
    if fits and limits.max_bytes is not None:
        fits = rt.utf8_len(rt.join(segments)) <= limits.max_bytes
    return length, fits
