"""Rich text: links and hashtags in a post, and how each platform counts its length.

Bluesky makes links and hashtags clickable only through *facets* with UTF-8 byte offsets; Mastodon
counts every http(s) URL as a fixed number of characters. Both count grapheme clusters, not code
points, so ``len()`` is never used for a length here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import regex

from bot.post import Facet

GRAPHEME = regex.compile(r"\X")
# An http(s) URL up to whitespace; trailing punctuation is not part of it (see _trim_url).
URL = regex.compile(r"https?://[^\s<>\"]+", regex.IGNORECASE)
# Bluesky's hashtag rule (app.bsky.richtext detection): after start or whitespace, '#' or '＃',
# not only digits, no trailing punctuation, at most 64 graphemes. It is a JavaScript regex, so
# "whitespace" is JavaScript's \s (U+FEFF but not U+0085) and "digits" are ASCII only
# ("#१२३" is a tag).
_JS_SPACE = "\t\n\x0b\x0c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_IN_TAG = f"[^{_JS_SPACE}{_INVISIBLE}]"
TAG = regex.compile(
    rf"(?:^|(?<=[{_JS_SPACE}]))[#＃]"
    rf"((?!\ufe0f){_IN_TAG}*[^0-9{_JS_SPACE}\p{{P}}{_INVISIBLE}]+{_IN_TAG}*)"
)
TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
MENTION = regex.compile(r"(?<![\w@])(@[\w.-]+)@[\w.-]+\.[a-z]{2,}", regex.IGNORECASE)


#: Characters that never join a neighbour into one grapheme cluster (Grapheme_Cluster_Break
#: "Other" or LF: no combining marks, ZWJ, variation selectors, regional indicators, Hangul
#: jamo or CR; a test checks this against the Unicode data). Text made only of them has one
#: cluster per code point, so the \X scan, the costliest step of rendering, can be skipped.
_SIMPLE = re.compile(
    "[\t\n\x20-\x7e\u00a0-\u02ff\u0370-\u0377\u037a-\u03ff\u0400-\u0482\u048a-\u04ff"
    "\u1e00-\u1fff\u2010-\u2027\u202f-\u205f\u20a0-\u20c0\u2100-\u214f\u2190-\u21ff]*"
)


def graphemes(text: str) -> int:
    """Number of extended grapheme clusters (what users see as characters)."""
    if _SIMPLE.fullmatch(text):
        return len(text)
    return len(GRAPHEME.findall(text))


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class Segment:
    """A run of post text: plain text, a link (shown as ``text``, to ``target``) or a tag."""

    kind: Literal["text", "link", "tag"]
    text: str
    target: str = ""


#: Characters a URL never ends with (twitter-text's rule, which Mastodon counts by): sentence
#: punctuation, closing brackets and quotes, typographic ones too (“https://a.example/x”).
_URL_TRAILERS = ".,;:!?'\"»«)]}…“”‘’‚„‹›"


def _trim_url(url: str) -> str:
    # Closing brackets belong to the URL only when it opened them (Wikipedia-style links).
    while url and url[-1] in _URL_TRAILERS:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def segment(text: str) -> list[Segment]:
    """Split text into plain runs, http(s) links and hashtags, in order."""
    has_url = "://" in text
    if not has_url and "#" not in text and "＃" not in text:
        return [Segment("text", text)] if text else []  # most runs: nothing to find
    spans: list[tuple[int, int, Segment]] = []
    for match in URL.finditer(text) if has_url else ():
        url = _trim_url(match.group())
        if urlsplit(url).hostname:
            spans.append((match.start(), match.start() + len(url), Segment("link", url, url)))
    for match in TAG.finditer(text):
        tag = TRAILING_PUNCTUATION.sub("", match.group(1))
        start = match.start()
        end = start + 1 + len(tag)
        if not tag or graphemes(tag) > 64 or any(s < end and start < e for s, e, _ in spans):
            continue
        spans.append((start, end, Segment("tag", text[start:end], tag)))
    spans.sort(key=lambda span: span[0])
    out: list[Segment] = []
    position = 0
    for start, end, seg in spans:
        if start > position:
            out.append(Segment("text", text[position:start]))
        out.append(seg)
        position = end
    if position < len(text):
        out.append(Segment("text", text[position:]))
    return out


def join(segments: Iterable[Segment]) -> str:
    return "".join(s.text for s in segments)


def facets(segments: Iterable[Segment]) -> list[Facet]:
    """Byte-offset facets for every link and hashtag segment."""
    out: list[Facet] = []
    offset = 0
    for seg in segments:
        size = utf8_len(seg.text)
        if seg.kind != "text":
            out.append(Facet(offset, offset + size, seg.kind, seg.target))
        offset += size
    return out


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


def shorten_links(segments: Iterable[Segment]) -> Iterator[Segment]:
    for seg in segments:
        yield Segment("link", short_url(seg.target), seg.target) if seg.kind == "link" else seg


def mastodon_length(text: str, url_length: int = 23) -> int:
    """Length as Mastodon counts it: graphemes, every http(s) URL as ``url_length``,
    ``@user@domain`` as ``@user``."""
    return mastodon_segments_length(segment(text), url_length)


def mastodon_segments_length(segments: Iterable[Segment], url_length: int = 23) -> int:
    """:func:`mastodon_length` of text already split into segments."""
    links = 0
    rest: list[str] = []
    for seg in segments:
        if seg.kind == "link" and seg.text.startswith(("http://", "https://")):
            links += 1
        else:  # text, tags, and links displayed without their scheme count as they read
            rest.append(seg.text)
    return links * url_length + graphemes(MENTION.sub(r"\1", "".join(rest)))
