"""Rich text: the links in a post's text, how Bluesky shows them, and facets.

The bot finds the http(s) links of its text itself (:func:`segment`), so that shortening never
cuts one and Bluesky can show each shortened while its facet carries the whole URL. What each
platform makes of the finished text is decided by that platform's own rules:
:mod:`bot.rendering.mastodon_text` (Mastodon's count and links) and
:mod:`bot.rendering.bluesky_text` (the links and tags Bluesky apps detect). Lengths count
grapheme clusters (:mod:`bot.rendering.graphemes`), never ``len()``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import regex

from bot.post import Facet, FacetKind
from bot.rendering import bluesky_text, mastodon_text
from bot.rendering.graphemes import graphemes

__all__ = [
    "URL",
    "Segment",
    "facets",
    "graphemes",
    "join",
    "mastodon_length",
    "segment",
    "short_url",
    "shorten_links",
    "utf8_len",
]

# An http(s) URL, not glued to a word before it, up to white space (Python's or JavaScript's:
# a URI cannot hold either), a control character or < > ". What it may not end with is
# trimmed (see _trim_url).
URL = regex.compile(
    rf"(?<![\p{{L}}\p{{N}}])https?://[^\s{bluesky_text.JS_SPACE}\x00-\x1f\x7f<>\"]+",
    regex.IGNORECASE,
)
#: Characters a URL never ends with: sentence punctuation, closing quotes and brackets
#: (typographic ones too: „https://a.example/x“), emphasis (**https://a.example/x**) and an
#: ellipsis. Mastodon's extractor ends a URL before them too.
_URL_TRAILERS = ".,;:!?'\"»«)]}…“”‘’‚„‹›*~「」"
_OPENERS = {")": "(", "]": "[", "}": "{"}


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class Segment:
    """A run of post text: plain text, or a link (shown as ``text``, to ``target``)."""

    kind: Literal["text", "link"]
    text: str
    target: str = ""


def _trim_url(url: str) -> str:
    # Closing brackets belong to the URL only when it opened them (Wikipedia-style links).
    while url and url[-1] in _URL_TRAILERS:
        opener = _OPENERS.get(url[-1])
        if opener and url.count(opener) >= url.count(url[-1]):
            break
        url = url[:-1]
    return url


@functools.lru_cache(maxsize=1024)
def _is_link(url: str) -> bool:
    """Whether ``url`` has a host and the PDS takes it as a link (a post's links recur in
    each attempt at shortening it)."""
    try:
        if not urlsplit(url).hostname:
            return False
    except ValueError:  # "http://[eure-instanz]/about": not a link, plain text
        return False
    return bluesky_text.is_uri(url)


def _url_matches(text: str) -> Iterator[regex.Match[str]]:
    """What ``URL.finditer(text)`` yields: URL tried only where "http://" or "https://" can
    start (4 or 5 characters before a "://"), from the end of the last match on."""
    resume = 0
    at = text.find("://")
    while at != -1:
        for start in (at - 5, at - 4):
            match = URL.match(text, start) if start >= resume else None
            if match:
                yield match
                resume = match.end()
        at = text.find("://", at + 1)


def segment(text: str) -> list[Segment]:
    """Split text into plain runs and http(s) links, in order."""
    if "://" not in text:
        return [Segment("text", text)] if text else []
    out: list[Segment] = []
    position = 0
    for match in _url_matches(text):
        url = _trim_url(match.group())
        if not _is_link(url):
            continue
        if match.start() > position:
            out.append(Segment("text", text[position : match.start()]))
        out.append(Segment("link", url, url))
        position = match.start() + len(url)
    if position < len(text):
        out.append(Segment("text", text[position:]))
    return out


def join(segments: Iterable[Segment]) -> str:
    return "".join(s.text for s in segments)


def _byte_offsets(text: str) -> Callable[[int], int]:
    """The UTF-8 byte offset of each code point offset of ``text``."""
    if text.isascii():
        return _same
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the error encoding it alone raises
        for char in text:
            char.encode("utf-8")
    return lambda index: utf8_len(text[:index])


def _same(index: int) -> int:
    return index


def facets(segments: list[Segment], platform: str) -> list[Facet]:
    """The post's facets at UTF-8 byte offsets: on Bluesky the bot's links (each to its whole
    URL) and every other link and tag the apps detect; on Mastodon the URLs and hashtags the
    server links."""
    text = join(segments)
    at = _byte_offsets(text)
    out: list[Facet] = []
    if platform == "mastodon":
        for entity in mastodon_text.entities(text):
            kind: FacetKind = "link" if entity.kind == "url" else "tag"
            out.append(Facet(at(entity.start), at(entity.end), kind, entity.value))
        return out
    ours: list[tuple[int, int]] = []
    position = 0
    for seg in segments:
        if seg.kind == "link":
            ours.append((position, position + len(seg.text)))
            out.append(Facet(at(position), at(position + len(seg.text)), "link", seg.target))
        position += len(seg.text)
    for found in bluesky_text.detect(text):
        if not any(s < found.end and found.start < e for s, e in ours):
            out.append(Facet(at(found.start), at(found.end), found.kind, found.value))
    return sorted(out, key=lambda f: f.start)


def short_url(url: str, max_path: int = 15) -> str:
    """How Bluesky clients display a link: host and path without scheme, long paths cut."""
    parts = urlsplit(url)
    host = parts.netloc.removeprefix("www.")
    path = "" if parts.path in ("", "/") else parts.path
    path += f"?{parts.query}" if parts.query else ""
    path += f"#{parts.fragment}" if parts.fragment else ""
    if len(path) > max_path:
        path = path[: max_path - 2] + "…"
    return host + path


#: short_url of the links of the posts being made (each shown in every attempt at shortening).
_shown = functools.lru_cache(maxsize=1024)(short_url)


def shorten_links(segments: Iterable[Segment]) -> Iterator[Segment]:
    for seg in segments:
        yield Segment("link", _shown(seg.target), seg.target) if seg.kind == "link" else seg


def mastodon_length(text: str, url_length: int = 23) -> int:
    """Length as Mastodon counts it (:func:`bot.rendering.mastodon_text.length`)."""
    return mastodon_text.length(text, url_length)
