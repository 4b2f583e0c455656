"""Mastodon's URL pattern (twitter-text 3.1.0's ``valid_url`` as Mastodon patches it; see
:mod:`bot.rendering.mastodon_text`), matched piece by piece so that its 1,574 TLDs are looked
up in a set instead of compiled into one regular expression (about 40 ms, paid at the first
Mastodon post of every process).

Each piece is the pattern's own regular expression (the same classes and flags), and each
step takes what the whole pattern takes first when it backtracks: the character before the
URL, then the text's start; the URL with its protocol, then without; the domain with the most
labels before the last one, then fewer (a label ends at the first dot, so each has one
length); the longest TLD followed by what may follow one, then ``xn--…``. What follows the
domain (port, path, query) can match nothing, so the first domain found is the match. Tests
compare this with the whole pattern on hostile text.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import NamedTuple

import regex

from bot.rendering.tlds import MASTODON as _TLDS

__all__ = ["LATIN_ACCENTS", "Url", "matches"]

_SPACES = r"\t-\r\x20\x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_DIRECTIONAL = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_INVALID = r"\ufffe\ufeff\uffff"
_PUNCTUATION = r"!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~"
LATIN_ACCENTS = (
    r"\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    r"\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_DOMAIN_CHAR = rf"[^{_DIRECTIONAL}{_PUNCTUATION}\x00-\x1f\x7f{_INVALID}{_SPACES}]"
# twitter-text's own path characters: Mastodon's new ending rule was built from its balanced
# parentheses before Mastodon replaced them (the initializer's order), so both are needed.
_OLD_PATH_CHAR = rf"[a-z\p{{Script=Cyrillic}}0-9!*';:=+,.$/%#\[\]\p{{Pd}}_~&|@{LATIN_ACCENTS}]"
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

_FLAGS = regex.IGNORECASE | regex.VERSION0
# The pattern, piece by piece (in its order):
_BEFORE = rf"[^a-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]"  # or the text's start
_PROTOCOL = r"(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://"
_LABEL = rf"(?:{_DOMAIN_CHAR}(?:[_-]|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\."  # any but the last
_LAST_LABEL = rf"(?:{_DOMAIN_CHAR}(?:-|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\."
_AFTER_TLD = r"(?=[^0-9a-z@+-]|$)"
_PUNYCODE = r"xn--[0-9a-z]+"  # the other TLD
_REST = rf"(?::[0-9]+)?(?:/{_PATH}*)?(?:{_QUERY})?"
_TLD_CHARS = frozenset("".join(_TLDS))
_LONGEST_TLD = max(map(len, _TLDS))


class Url(NamedTuple):
    """A match of the pattern: the URL is ``[start, end)``, its domain ``[domain, tld_end)``."""

    start: int
    end: int
    protocol: bool
    domain: int
    tld_end: int


class _Pieces(NamedTuple):
    before: regex.Pattern[str]
    protocol: regex.Pattern[str]
    label: regex.Pattern[str]
    last_label: regex.Pattern[str]
    after_tld: regex.Pattern[str]
    punycode: regex.Pattern[str]
    rest: regex.Pattern[str]
    tld_char: regex.Pattern[str]


@functools.cache
def _pieces() -> _Pieces:
    """The pieces, compiled on first use (a few milliseconds)."""

    def piece(pattern: str) -> regex.Pattern[str]:
        return regex.compile(pattern, _FLAGS)

    return _Pieces(
        before=piece(_BEFORE),
        protocol=piece(_PROTOCOL),
        label=piece(_LABEL),
        last_label=piece(_LAST_LABEL),
        after_tld=piece(_AFTER_TLD),
        punycode=piece(_PUNYCODE),
        rest=piece(_REST),
        tld_char=piece(f"[{regex.escape(''.join(sorted(_TLD_CHARS)))}]"),
    )


def matches(text: str) -> Iterator[Url]:
    """What the whole pattern's ``finditer(text)`` finds."""
    position = 0
    while position < len(text):
        found = _match(text, position)
        if found is None:
            position += 1
        else:
            yield found
            position = found.end


def _match(text: str, position: int) -> Url | None:
    """The pattern's match at ``position`` (it never matches an empty string)."""
    pieces = _pieces()
    starts = [position + 1] if pieces.before.match(text, position) else []
    if position == 0:
        starts.append(0)
    for start in starts:
        protocol = pieces.protocol.match(text, start)
        for domain in (protocol.end(), start) if protocol else (start,):
            tld_end = _domain_end(text, domain)
            if tld_end is not None:
                rest = pieces.rest.match(text, tld_end)  # it matches, if only nothing
                end = rest.end() if rest else tld_end
                return Url(start, end, domain != start, domain, tld_end)
    return None


def _domain_end(text: str, start: int) -> int | None:
    """Where the domain starting at ``start`` ends (after its TLD), if it is one."""
    pieces = _pieces()
    label_ends = [start]
    while label := pieces.label.match(text, label_ends[-1]):
        label_ends.append(label.end())
    for at in reversed(label_ends):  # the most labels before the last one first
        last = pieces.last_label.match(text, at)
        if last:
            tld_end = _tld_end(text, last.end())
            if tld_end is not None:
                return tld_end
    return None


def _tld_end(text: str, start: int) -> int | None:
    """Where the TLD starting at ``start`` ends: the longest known TLD (ignoring case, as the
    pattern does) followed by what may follow one, else ``xn--`` and letters or digits."""
    pieces = _pieces()
    known = []
    for char in text[start : start + _LONGEST_TLD]:
        tld_char = _tld_char(char)
        if tld_char is None:
            break
        known.append(tld_char)
    for size in range(len(known), 0, -1):
        if "".join(known[:size]) in _TLDS and pieces.after_tld.match(text, start + size):
            return start + size
    punycode = pieces.punycode.match(text, start)
    return punycode.end() if punycode else None


@functools.lru_cache(maxsize=4096)
def _tld_char(char: str) -> str | None:
    """The character of the TLDs that ``char`` matches ignoring case as the pattern does (no
    two of them match the same character; a test checks it), or ``None``."""
    if not _pieces().tld_char.match(char):
        return None
    for candidate in (char.lower(), char.casefold()[:1], char, *sorted(_TLD_CHARS)):
        if candidate in _TLD_CHARS and regex.fullmatch(regex.escape(candidate), char, _FLAGS):
            return candidate
    return None  # not reached: the class above holds exactly the characters of the TLDs
