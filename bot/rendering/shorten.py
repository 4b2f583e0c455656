"""Shortening a post that is too long: its description cut at a word, with an ellipsis."""

from __future__ import annotations

from collections.abc import Callable

from bot.post import PlatformLimits
from bot.rendering import text as rt
from bot.rendering.length import size

ELLIPSIS = "…"
_CUT_PUNCTUATION = ",;:—–-(«\"'“„ "


def shorten(
    attempt: Callable[[str | None], list[rt.Segment]],
    description: str,
    limits: PlatformLimits,
    full_length: int,
) -> list[rt.Segment]:
    """The post with the most words of ``description`` (cut at a word, with an ellipsis) that
    still fits. The cut is first estimated from how far the full post is over the limit and
    checked with one render each side; a binary search handles what the estimate misses."""
    words = description.split(" ")

    def cut(count: int) -> list[rt.Segment]:
        kept = " ".join(words[:count]).rstrip(_CUT_PUNCTUATION)
        # After a link the ellipsis gets a space of its own, or it would extend the URL.
        gap = " " if rt.URL.search(kept.rsplit(" ", 1)[-1]) else ""
        return attempt(kept + gap + ELLIPSIS)

    def search(low: int, high: int, best: list[rt.Segment]) -> list[rt.Segment]:
        while low <= high:
            middle = (low + high) // 2
            segments = cut(middle)
            if size(limits, segments)[1]:
                best, low = segments, middle + 1
            else:
                high = middle - 1
        return best

    over = full_length - limits.max_graphemes + 1  # +1 for the ellipsis
    count, removed = len(words), 0
    while count > 1 and removed < over:
        count -= 1
        removed += rt.graphemes(words[count]) + 1
    guess = cut(count)
    if not size(limits, guess)[1]:
        return search(1, count - 1, attempt(None))
    if count + 1 >= len(words):
        return guess
    longer = cut(count + 1)
    if not size(limits, longer)[1]:
        return guess
    return search(count + 2, len(words) - 1, longer)
