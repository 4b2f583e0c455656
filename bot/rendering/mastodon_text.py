"""A post as Mastodon's server sees it: the URLs, mentions and hashtags it finds, and its length.

Mastodon's ``StatusLengthValidator`` strips the text (Ruby's ``String#strip``), finds URLs with
twitter-text 3.1.0's extractor (``extract_url_without_protocol: false``) as Mastodon patches it
in ``config/initializers/twitter_regex.rb`` (a path may hold any character but white space,
``< > ( ) ?``; it may not end in punctuation such as ``* ~ $ & @ | % [``), and counts grapheme
clusters of the text with every such URL as ``characters_reserved_per_url`` and every
``@user@domain`` as ``@user``. A URL counts as 23 only when its TLD is in twitter-text's list
(:data:`bot.rendering.tlds.MASTODON`): ``https://petition.example/…`` counts as written. This is
a port of those rules (the URL pattern in :mod:`bot.rendering.mastodon_url`); tests check it
against the Mastodon test server and Mastodon.py's regex.
"""

from __future__ import annotations

import functools
import re
import stringprep
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import regex

from bot.rendering.graphemes import graphemes
from bot.rendering.mastodon_url import LATIN_ACCENTS, matches

__all__ = ["Entity", "entities", "hashtags", "length", "mentions", "urls"]

_TCO = regex.compile(r"^https?://t\.co/([a-z0-9]+)", regex.IGNORECASE)
_MAX_URL_LENGTH = 4096
# Account::MENTION_RE and twitter-text's end_mention_match.
_MENTION = regex.compile(
    r"(?<![=/\w])@(?P<name>(?P<user>(?i:[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*))"
    r"(?:@\w+(?:[.-]+\w+)*)?)"
)
_MENTION_END = regex.compile(rf"[@＠{LATIN_ACCENTS}]|://")
# Tag::HASHTAG_RE.
_SEP = "_\u00b7\u30fb\u200c"
_HASHTAG = regex.compile(
    r"(?<![=/)\p{Alnum}])#(?P<name>"
    rf"\w[\w{_SEP}]*[\p{{Alphabetic}}{_SEP}][\w{_SEP}]*\w|\w*\p{{Alphabetic}}\w*)",
    regex.IGNORECASE,
)
_SCHEME_GLUED = regex.compile(r"(.+)(https?)\Z")
#: Ruby's String#strip: ASCII white space and NUL.
RUBY_STRIP = " \t\n\v\f\r\0"


@dataclass(frozen=True)
class Entity:
    """A URL, mention or hashtag Mastodon finds, at code point offsets ``[start, end)``."""

    start: int
    end: int
    kind: Literal["url", "mention", "tag"]
    value: str


@functools.lru_cache(maxsize=1024)
def _idna_length(domain: str) -> int | None:
    """The length of ``domain`` in ASCII if twitter-text's ``IDN::Idna.toASCII`` (IDNA 2003, no
    unassigned code points) succeeds, else ``None``."""
    try:
        encoded = domain.encode("idna")
    except UnicodeError:
        return None
    return None if any(stringprep.in_table_a1(c) for c in domain) else len(encoded)


def urls(text: str) -> list[Entity]:
    """The URLs with a protocol that Mastodon's extractor finds, in order."""
    return list(_urls(text))


#: No part of the URL pattern matches ASCII white space but the character before a URL (a test
#: checks each), so no match spans it.
_ASCII_SPACE = " \t\n\x0b\x0c\r"
_SPACE = re.compile(f"[{_ASCII_SPACE}]")


@functools.lru_cache(maxsize=256)
def _urls(text: str) -> tuple[Entity, ...]:
    # Counting and linking look at the same texts (a post's length, then its facets).
    found: list[Entity] = []
    at = text.find("://")  # a URL with a protocol holds one
    while at != -1:
        start = max(0, *(text.rfind(space, 0, at) for space in _ASCII_SPACE))
        after = _SPACE.search(text, at)
        end = after.start() if after else len(text)
        for url in _run_urls(text[start : end + 1]):
            found.append(Entity(start + url.start, start + url.end, "url", url.value))
        at = text.find("://", end)
    return tuple(found)


@functools.lru_cache(maxsize=1024)
def _run_urls(run: str) -> tuple[Entity, ...]:
    """The URLs of a run of text without ASCII white space, given with the white space (if
    any) before and after it. In such a run the pattern finds over the whole text what it
    finds in the run alone: no match spans white space, the pattern looks around only at the
    character after a TLD (here as in the text), and ``^`` cannot begin a URL at white space.
    Runs recur: the links of a post in each attempt at shortening it."""
    found: list[Entity] = []
    for match in matches(run):
        if not match.protocol:
            continue  # found and skipped, as twitter-text does: its text is consumed
        url, start = run[match.start : match.end], match.start
        tco = _TCO.match(url)
        if tco:
            if len(tco.group(1)) > 40:
                continue
            url = tco.group()
        domain = run[match.domain : match.tld_end]
        encoded = _idna_length(domain)
        if encoded is None:
            continue
        if len(url) + max(0, encoded - len(domain)) > _MAX_URL_LENGTH:
            continue
        found.append(Entity(start, start + len(url), "url", url))
    return tuple(found)


def _mentions(text: str) -> list[Entity]:
    return [Entity(m.start(), m.end(), "mention", m.group("user")) for m in _mention_matches(text)]


def mentions(text: str) -> list[str]:
    """The accounts Mastodon would mention (and notify): ``@user`` or ``@user@domain``."""
    return [f"@{m.group('name')}" for m in _mention_matches(text)]


def _mention_matches(text: str) -> list[regex.Match[str]]:
    if "@" not in text and "＠" not in text:
        return []
    return [m for m in _MENTION.finditer(text) if not _MENTION_END.match(text, m.end())]


def _hashtag_matches(text: str) -> Iterator[regex.Match[str]]:
    """What ``_HASHTAG.finditer(text)`` yields: _HASHTAG tried only at each "#" (where its
    matches start), from the end of the last match on."""
    position = 0
    start = text.find("#")
    while start != -1:
        match = _HASHTAG.match(text, start)
        if match:
            yield match
            position = match.end()
        start = text.find("#", max(start + 1, position))


def hashtags(text: str) -> list[Entity]:
    """The hashtags Mastodon links, without ``#``."""
    if "#" not in text:
        return []
    found = []
    for match in _hashtag_matches(text):
        name, end = match.group("name"), match.end()
        scheme = _SCHEME_GLUED.match(name) if text.startswith("://", end) else None
        if scheme:  # "#taghttps://…": the tag ends before the URL's scheme
            name, end = scheme.group(1), end - len(scheme.group(2))
        found.append(Entity(match.start(), end, "tag", name))
    return found


def _without_overlaps(found: list[Entity]) -> list[Entity]:
    kept: list[Entity] = []
    for entity in sorted(found, key=lambda e: e.start):
        if not kept or entity.start >= kept[-1].end:
            kept.append(entity)
    return kept


def entities(text: str) -> list[Entity]:
    """URLs and hashtags as Mastodon links them (mentions are left out: they need an account)."""
    return _without_overlaps(urls(text) + hashtags(text))


def length(text: str, url_length: int = 23) -> int:
    """The length Mastodon checks against ``max_characters``."""
    text = text.strip(RUBY_STRIP)
    found = urls(text) + _mentions(text)
    if not found:
        return graphemes(text)
    parts: list[str] = []
    position = 0
    for entity in _without_overlaps(found):
        parts.append(text[position : entity.start])
        parts.append("x" * url_length if entity.kind == "url" else "@" + entity.value)
        position = entity.end
    parts.append(text[position:])
    return graphemes("".join(parts))
