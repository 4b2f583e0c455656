"""Whether a link of the dataset becomes one whole link in a post on both platforms.

Mastodon finds links in the text itself (twitter-text's pattern, :mod:`bot.rendering.
mastodon_url`); on Bluesky the link is the facet the renderer writes (:func:`bot.rendering.text.
segment`). Both end a link before characters such as ``<``, ``>`` or ``"`` and drop trailing
punctuation, so ``https://example.org/page.`` would send readers to ``https://example.org/page``
and ``https://example.org/<b>`` to ``https://example.org/``. Such a link is refused with what
each platform would link instead, rather than posted broken.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.rendering import mastodon_url, tlds
from bot.rendering import text as rt

#: A link both platforms take whole without asking their rules: ASCII host labels, a TLD
#: twitter-text knows, and a path of characters both allow that ends in a letter, a digit or
#: "/" (tests/test_platform_text.py checks this shortcut against the full rules).
_PLAIN = re.compile(
    r"https?://(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?P<tld>[a-z]{2,63})"
    r"(?:/(?:[A-Za-z0-9._~/?#&=%+-]*[A-Za-z0-9/])?)?"
)


@lru_cache(maxsize=1024)
def link_problem(url: str) -> str | None:
    """Why ``url``, alone on a line of a post, would not be one whole link on Mastodon and on
    Bluesky; ``None`` if it would be."""
    plain = _PLAIN.fullmatch(url)
    if plain and plain.group("tld") in tlds.MASTODON:
        return None
    return full_check(url)


def full_check(url: str) -> str | None:
    """:func:`link_problem` by the platforms' rules alone, without the shortcut."""
    line = f"→ {url}\n"
    found = {
        "Mastodon": [line[m.start : m.end] for m in mastodon_url.matches(line)],
        "Bluesky": [s.target for s in rt.segment(line) if s.kind == "link"],
    }
    wrong = {platform: links for platform, links in found.items() if links != [url]}
    if not wrong:
        return None
    said = "; ".join(
        f"{platform} would link {links[0]!r}" if links else f"{platform} would not link it"
        for platform, links in wrong.items()
    )
    return (
        f"{said}. Percent-encode the characters the link ends at (e.g. < as %3C, > as %3E,"
        ' " as %22, a final . as %2E) or leave them out'
    )
