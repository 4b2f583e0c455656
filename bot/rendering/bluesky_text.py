"""A post as Bluesky apps see it: the links and hashtags ``@atproto/api``'s ``detectFacets``
finds, ported from its JavaScript (``rich-text/detection.js`` and ``util.js``).

The apps link ``https://…`` and domains written without a scheme (``leavex.eu``,
``www.helloquitx.com/fr/appel``) when they follow the start, white space or ``(``; a bare
domain only when its TLD is in :data:`bot.rendering.tlds.BLUESKY`. A link loses one final
``. , ; : ! ?`` and a ``)`` it did not open. Hashtags follow white space (JavaScript's ``\\s``,
so also after the narrow no-break space of French spacing), may not be only ASCII digits and
drop trailing punctuation; cashtags (``$TSLA``) are tags too. The regular expressions are
JavaScript's, so "white space" is JavaScript's ``\\s`` (U+FEFF but not U+0085). Tests compare
this port with RichText itself, run in Node.

:func:`detect` also applies the lexicon's limits, which the apps' detection does not: a tag of
more than 640 UTF-8 bytes and a link URI that is not a ``uri`` for the PDS are left out (a post
with them is refused).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import regex

from bot.rendering.graphemes import graphemes
from bot.rendering.tlds import BLUESKY as _TLDS

__all__ = ["JS_SPACE", "Found", "detect", "is_uri", "tags"]

#: JavaScript's \s.
JS_SPACE = "\t\n\x0b\x0c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_LINE_START = r"(?:^|(?<=[\n\r\u2028\u2029]))"  # ^ with the m flag
_URL = regex.compile(
    rf"(?:{_LINE_START}|(?<=[{JS_SPACE}(]))"
    rf"(?P<link>(?P<scheme>https?://[^{JS_SPACE}]+)"
    rf"|(?P<domain>[a-z][a-z0-9]*(?:\.[a-z0-9]+)+)[^{JS_SPACE}]*)",
    regex.IGNORECASE | regex.VERSION0,
)
# Every character that [a-z] matches ignoring case (a test checks it on every code point).
_LETTER = "a-zA-Z\u0130\u017f\u212a"
# Every _URL match has, right after its first letters and digits, "://" or a dot and a letter
# or digit (a mark). _URL is tried only where those letters and digits begin (found by reading
# the text backwards from each mark), and at each exactly as finditer tries it.
_MARK = re.compile(rf"\.[0-9{_LETTER}]|://")
_NOT_LETTER = re.compile(rf"[^0-9{_LETTER}]")
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_IN_TAG = f"[^{JS_SPACE}{_INVISIBLE}]"
_TAG = regex.compile(
    rf"(?:^|(?<=[{JS_SPACE}]))[#＃]"
    rf"(?P<tag>(?!\ufe0f){_IN_TAG}*[^0-9{JS_SPACE}\p{{P}}{_INVISIBLE}]+{_IN_TAG}*)?",
    regex.VERSION0,
)
_CASHTAG = regex.compile(
    rf"(?:^|(?<=[{JS_SPACE}(]))\$(?P<ticker>[A-Za-z][A-Za-z0-9]{{0,4}})"
    rf"(?=[{JS_SPACE}]|$|[.,;:!?)\"'\u2019])",
    regex.VERSION0,
)
_HASH = re.compile("[#＃]")
_JS_SPACE_CHAR = re.compile(f"[{JS_SPACE}]")
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
_URI = regex.compile(rf"\w+:(?://)?[^{JS_SPACE}/][^{JS_SPACE}]*", regex.ASCII)
#: app.bsky.richtext.facet#tag: maxLength 640 (UTF-8 bytes), maxGraphemes 64.
MAX_TAG_BYTES = 640
MAX_TAG_GRAPHEMES = 64


@dataclass(frozen=True)
class Found:
    """A link or tag the apps detect, at code point offsets ``[start, end)``."""

    start: int
    end: int
    kind: Literal["link", "tag"]
    value: str


def _valid_domain(domain: str) -> bool:
    # detection.js's isValidDomain: the text after the last '.' is a known TLD (case-sensitive).
    return domain.rpartition(".")[2] in _TLDS


def is_uri(uri: str) -> bool:
    """Whether the PDS takes ``uri`` as a link facet's ``uri`` (@atproto/syntax isValidUri)."""
    return _URI.fullmatch(uri) is not None


def _url_matches(text: str) -> Iterator[regex.Match[str]]:
    """What ``_URL.finditer(text)`` yields: _URL tried where it can match, from the end of the
    last match on."""
    backwards, size = text[::-1], len(text)
    position = 0
    for mark in _MARK.finditer(text):
        before = _NOT_LETTER.search(backwards, size - mark.start())  # backwards from the mark
        start = size - before.start() if before else 0
        if position <= start < mark.start():
            match = _URL.match(text, start)
            if match:
                yield match
                position = match.end()


def _links(text: str) -> list[Found]:
    found = []
    for match in _url_matches(text):
        uri = match.group("link")
        if match.group("scheme") is None or not uri.startswith("http"):
            domain = match.group("domain")
            if domain is None or not _valid_domain(domain):
                continue
            uri = f"https://{uri}"
        start, end = match.start("link"), match.end("link")
        if uri[-1] in ".,;:!?":
            uri, end = uri[:-1], end - 1
        if uri.endswith(")") and "(" not in uri:
            uri, end = uri[:-1], end - 1
        found.append(Found(start, end, "link", uri))
    return found


def _tag_words(text: str) -> Iterator[tuple[int, str]]:
    """Where ``_TAG.finditer(text)`` matches and the tag it keeps there ("" for none): _TAG
    tried at each # or ＃ that starts the text or follows white space (where alone it can
    match), from the end of the last match on. A match ends within its word (a tag holds no
    white space) and depends on nothing else, so each word is looked at once."""
    position = 0
    for sign in _HASH.finditer(text):
        start = sign.start()
        if start >= position and (start == 0 or _JS_SPACE_CHAR.match(text, start - 1)):
            space = _JS_SPACE_CHAR.search(text, start)
            length, tag = _word_tag(text[start : space.start() if space else len(text)])
            yield start, tag
            position = start + length


@functools.lru_cache(maxsize=1024)
def _word_tag(word: str) -> tuple[int, str]:
    """_TAG's match at the start of ``word`` (a # or ＃ and what follows it up to white space):
    its length and the tag kept, without trailing punctuation ("" if none is kept)."""
    match = _TAG.match(word)
    if match is None:  # not reached: a # or ＃ alone matches
        return 1, ""
    tag = _TRAILING_PUNCTUATION.sub("", match.group("tag") or "")
    if not tag or (len(tag.encode("utf-16-le")) > 128 and graphemes(tag) > 64):
        return match.end(), ""
    return match.end(), tag


def tags(text: str) -> list[Found]:
    """Hashtags and cashtags as the apps detect them (value without '#', cashtags with '$')."""
    found = []
    if "#" in text or "＃" in text:
        for start, tag in _tag_words(text):
            if tag:
                found.append(Found(start, start + 1 + len(tag), "tag", tag))
    if "$" in text:
        for match in _CASHTAG.finditer(text):
            ticker = match.group("ticker")
            found.append(Found(match.start(), match.end(), "tag", "$" + ticker.upper()))
    return found


@functools.lru_cache(maxsize=1024)
def _allowed_tag(tag: str) -> bool:
    """Whether the lexicon takes ``tag`` (app.bsky.richtext.facet#tag)."""
    return len(tag.encode("utf-8")) <= MAX_TAG_BYTES and graphemes(tag) <= MAX_TAG_GRAPHEMES


def detect(text: str) -> list[Found]:
    """Links and tags as the apps detect them, in order, without what the lexicon refuses."""
    found = (
        [link for link in _links(text) if is_uri(link.value)]
        if "." in text or "://" in text
        else []
    )
    found.extend(tag for tag in tags(text) if _allowed_tag(tag.value))
    return sorted(found, key=lambda f: f.start)
