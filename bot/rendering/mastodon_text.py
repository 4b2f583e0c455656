"""A post as Mastodon's server sees it: the URLs, mentions and hashtags it finds, and its length.

Mastodon's ``StatusLengthValidator`` strips the text (Ruby's ``String#strip``), finds URLs with
twitter-text 3.1.0's extractor (``extract_url_without_protocol: false``) as Mastodon patches it
in ``config/initializers/twitter_regex.rb`` (a path may hold any character but white space,
``< > ( ) ?``; it may not end in punctuation such as ``* ~ $ & @ | % [``), and counts grapheme
clusters of the text with every such URL as ``characters_reserved_per_url`` and every
``@user@domain`` as ``@user``. A URL counts as 23 only when its TLD is in twitter-text's list
(:data:`bot.rendering.tlds.MASTODON`): ``https://petition.example/…`` counts as written. This is
a port of those rules; tests check it against the Mastodon test server and Mastodon.py's regex.
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
from bot.rendering.tlds import MASTODON as _TLDS

__all__ = ["Entity", "entities", "hashtags", "length", "urls"]

_SPACES = r"\t-\r\x20\x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_DIRECTIONAL = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_INVALID = r"\ufffe\ufeff\uffff"
_PUNCTUATION = r"!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~"
_LATIN_ACCENTS = (
    r"\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    r"\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_DOMAIN_CHAR = rf"[^{_DIRECTIONAL}{_PUNCTUATION}\x00-\x1f\x7f{_INVALID}{_SPACES}]"


def _tld_alternation(tlds: list[str]) -> str:
    """``tlds`` as one alternation grouped by first character (``c(?:om|o)|d(?:e)``), each
    group in the list's order. Where a TLD may start, at most one group can match (no two
    first characters are equal ignoring case; a test checks it), and in it the TLDs are tried
    in the order of the flat ``com|co|de``, so every match is the same; the regex only stops
    trying 1,574 branches one by one (about 14 µs at every dot followed by a letter)."""
    groups: dict[str, list[str]] = {}
    for tld in tlds:
        groups.setdefault(tld[0], []).append(regex.escape(tld[1:]))
    return "|".join(f"{regex.escape(first)}(?:{'|'.join(rest)})" for first, rest in groups.items())


_TLD = _tld_alternation(sorted(_TLDS, key=lambda t: (-len(t), t)))  # longest first
_DOMAIN = (
    rf"(?:(?:{_DOMAIN_CHAR}(?:[_-]|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\.)*"
    rf"(?:(?:{_DOMAIN_CHAR}(?:-|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\.)"
    rf"(?:(?:{_TLD})(?=[^0-9a-z@+-]|$)|xn--[0-9a-z]+)"
)
# twitter-text's own path characters: Mastodon's new ending rule was built from its balanced
# parentheses before Mastodon replaced them (the initializer's order), so both are needed.
_OLD_PATH_CHAR = rf"[a-z\p{{Script=Cyrillic}}0-9!*';:=+,.$/%#\[\]\p{{Pd}}_~&|@{_LATIN_ACCENTS}]"
_OLD_PARENS = (
    rf"\((?:{_OLD_PATH_CHAR}+|(?:{_OLD_PATH_CHAR}*\({_OLD_PATH_CHAR}+\){_OLD_PATH_CHAR}*))\)"
)
_PATH_CHAR = r"[^\p{White_Space}<>()?]"
_PARENS = rf"\((?:{_PATH_CHAR}+|(?:{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*))\)"
_PATH_END_CHAR = r"[^\p{White_Space}()?!*\"'「」<>;:=,.$%\[\]~&|@]"
_PATH_END = rf"(?:{_PATH_END_CHAR}|{_OLD_PARENS})"
_PATH = rf"(?:(?:{_PATH_CHAR}*(?:{_PARENS}{_PATH_CHAR}*)*{_PATH_END})|(?:{_PATH_CHAR}+/))"
_UCHARS = (
    r"\xa0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef\U00010000-\U0001fffd\U00020000-\U0002fffd"
    r"\U00030000-\U0003fffd\U00040000-\U0004fffd\U00050000-\U0005fffd\U00060000-\U0006fffd"
    r"\U00070000-\U0007fffd\U00080000-\U0008fffd\U00090000-\U0009fffd\U000a0000-\U000afffd"
    r"\U000b0000-\U000bfffd\U000c0000-\U000cfffd\U000d0000-\U000dfffd\U000e1000-\U000efffd"
    r"\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
)
_QUERY_CHAR = rf"[a-z0-9!?*'();:&=+$/%#\[\]\-_.,~|@^{_UCHARS}]"
_QUERY_END = rf"[a-z0-9_&=#/\-{_UCHARS}]"
_QUERY = rf"\?{_QUERY_CHAR}*{_QUERY_END}"


@functools.cache
def _url_pattern() -> regex.Pattern[str]:
    """twitter-text's valid_url as Mastodon patches it; compiled on first use (its 1,574 TLDs
    take about 70 ms), so commands that count no Mastodon post never pay for it."""
    return regex.compile(
        rf"(?:[^a-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)"
        r"(?P<url>(?P<protocol>(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://)?"
        rf"(?P<domain>{_DOMAIN})(?::[0-9]+)?(?:/{_PATH}*)?(?:{_QUERY})?)",
        regex.IGNORECASE | regex.VERSION0,
    )


_TCO = regex.compile(r"^https?://t\.co/([a-z0-9]+)", regex.IGNORECASE)
_MAX_URL_LENGTH = 4096
# Account::MENTION_RE and twitter-text's end_mention_match.
_MENTION = regex.compile(
    r"(?<![=/\w])@(?P<name>(?P<user>(?i:[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*))"
    r"(?:@\w+(?:[.-]+\w+)*)?)"
)
_MENTION_END = regex.compile(rf"[@＠{_LATIN_ACCENTS}]|://")
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
    any) before and after it. In such a run the pattern's finditer over the whole text finds
    what it finds in the run alone: no match spans white space, the pattern looks around only
    at the character after a TLD (here as in the text), and ``^`` cannot begin a URL at white
    space. Runs recur: the links of a post in each attempt at shortening it."""
    found: list[Entity] = []
    for match in _url_pattern().finditer(run):
        if match.group("protocol") is None:
            continue  # found and skipped, as twitter-text does: its text is consumed
        url, start = match.group("url"), match.start("url")
        tco = _TCO.match(url)
        if tco:
            if len(tco.group(1)) > 40:
                continue
            url = tco.group()
        domain = match.group("domain")
        encoded = _idna_length(domain)
        if encoded is None:
            continue
        if len(url) + max(0, encoded - len(domain)) > _MAX_URL_LENGTH:
            continue
        found.append(Entity(start, start + len(url), "url", url))
    return tuple(found)


def _mentions(text: str) -> list[Entity]:
    if "@" not in text and "＠" not in text:
        return []
    return [
        Entity(m.start(), m.end(), "mention", m.group("user"))
        for m in _MENTION.finditer(text)
        if not _MENTION_END.match(text, m.end())
    ]


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
    parts: list[str] = []
    position = 0
    for entity in _without_overlaps(urls(text) + _mentions(text)):
        parts.append(text[position : entity.start])
        parts.append("x" * url_length if entity.kind == "url" else "@" + entity.value)
        position = entity.end
    parts.append(text[position:])
    return graphemes("".join(parts))
