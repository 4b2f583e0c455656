"""Status text as Mastodon sees it: length counting, entity extraction and HTML rendering.

Mastodon's ``StatusLengthValidator`` and ``TextFormatter``, with twitter-text's URL extraction
(Mastodon's ``Extractor``): :func:`count_status_length` counts a status the way the server
checks it against ``max_characters``; :func:`render_status_content` renders it to the HTML
``content`` of a Status entity, with its mentions and tags.
"""

from __future__ import annotations

import stringprep
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import regex
import unicode_segmentation_rs

from tests.support.mastodon.tlds import TLDS

__all__ = [
    "RUBY_STRIP",
    "count_status_length",
    "extract_urls",
    "normalize_tag",
    "render_status_content",
]

_LATIN_ACCENTS = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259"
    "\u025b\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
# A domain character is anything but ASCII punctuation, whitespace and invalid/bidi controls.
_DOMAIN_CHAR = (
    r"[^\s\p{Z}!-/:-@\[-`{-~\uFFFE\uFEFF\uFFFF\u202A-\u202E\u061C\u200E\u200F\u2066-\u2069]"
)
# The real server's path rules: Mastodon replaces twitter-text's in
# config/initializers/twitter_regex.rb. A path character is anything but white space and
# < > ( ) ? (so CJK and Arabic paths are whole URLs); parentheses only balanced, so
# "https://a.com/(x" ends at "https://a.com/".
_PATH_CHAR = r"[^\p{White_Space}<>()?]"
_BALANCED_PARENS = rf"\((?:{_PATH_CHAR}+|{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*)\)"
# Mastodon's valid_url_path_ending_chars: not white space or ( ) ? ! * " ' 「 」 < > ; : = , . $ %
# [ ] ~ & | @. Its alternative of balanced parentheses was interpolated before the initializer
# replaced them, so it is twitter-text's own (with twitter-text's narrow path characters).
_TT_PATH_CHAR = rf"[a-z\u0400-\u04ff0-9!*';:=+,.$/%#\[\]\p{{Pd}}_~@|&{_LATIN_ACCENTS}]"
_TT_PARENS = rf"\((?:{_TT_PATH_CHAR}+|{_TT_PATH_CHAR}*\({_TT_PATH_CHAR}+\){_TT_PATH_CHAR}*)\)"
_PATH_END = rf"(?:[^\p{{White_Space}}()?!*\"'「」<>;:=,.$%\[\]~&|@]|{_TT_PARENS})"
# valid_url_path: pieces that each end in an ending character, or path characters and "/".
_PATH_PIECE = rf"(?:{_PATH_CHAR}*(?:{_BALANCED_PARENS}{_PATH_CHAR}*)*{_PATH_END}|{_PATH_CHAR}+/)"
# Mastodon's valid_url_query_chars and _ending_chars also take the non-ASCII UCHARS of RFC 3987.
_UCHARS = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef\U00010000-\U0001fffd\U00020000-\U0002fffd"
    "\U00030000-\U0003fffd\U00040000-\U0004fffd\U00050000-\U0005fffd\U00060000-\U0006fffd"
    "\U00070000-\U0007fffd\U00080000-\U0008fffd\U00090000-\U0009fffd\U000a0000-\U000afffd"
    "\U000b0000-\U000bfffd\U000c0000-\U000cfffd\U000d0000-\U000dfffd\U000e1000-\U000efffd"
    "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
)
_QUERY = rf"\?[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|^{_UCHARS}]*[a-z0-9\-_&=#/{_UCHARS}]"

_DOMAIN_LABEL = rf"{_DOMAIN_CHAR}(?:[_\-]*+{_DOMAIN_CHAR})*+"
# Longest TLDs first; the TLD is part of the pattern so that "example.co.ukx" backtracks to
# "example.co" exactly like twitter-text does.
_TLD_PATTERN = "|".join(regex.escape(tld) for tld in sorted(TLDS, key=lambda t: (-len(t), t)))
_URL_RE = regex.compile(
    r"(?<![A-Za-z0-9@\uFF20$#\uFF03\uFFFE\uFEFF\uFFFF])"
    r"(?P<scheme>https?://)"
    rf"(?P<labels>(?:{_DOMAIN_LABEL}\.)+)"
    rf"(?P<tld>(?:{_TLD_PATTERN})(?![0-9a-z@+\-])|xn--[0-9a-z\-]+)"
    r"(?::(?P<port>[0-9]++))?"
    rf"(?P<path>/{_PATH_PIECE}*)?"
    rf"(?P<query>{_QUERY})?",
    regex.IGNORECASE,
)
# Account::MENTION_RE: ``@user`` or ``@user@domain``.
_MENTION_RE = regex.compile(
    r"(?<![=/\w])@(?P<acct>(?P<username>[a-z0-9_]+(?:[.\-]+[a-z0-9_]+)*)"
    r"(?:@(?P<domain>\w+(?:[.\-]+\w+)*))?)",
    regex.IGNORECASE,
)
# Tag::HASHTAG_RE.
_HASHTAG_SEPARATORS = "_\u00b7\u30fb\u200c"
_HASHTAG_RE = regex.compile(
    r"(?<![=/)\p{Alnum}])#(?P<name>"
    rf"\w[\w{_HASHTAG_SEPARATORS}]*[\p{{Alpha}}{_HASHTAG_SEPARATORS}][\w{_HASHTAG_SEPARATORS}]*\w"
    r"|\w*\p{Alpha}\w*)",
    regex.IGNORECASE,
)
_LATIN_ACCENT_RE = regex.compile(rf"[{_LATIN_ACCENTS}]")
_URL_PREFIX_RE = regex.compile(r"\A(?:https?://(?:www\.)?)", regex.IGNORECASE)
_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})
# Ruby's String#strip removes ASCII whitespace and NUL.
RUBY_STRIP = " \t\n\v\f\r\0"


@dataclass(frozen=True)
class _Entity:
    start: int
    end: int
    kind: Literal["url", "mention", "hashtag"]
    value: str
    username: str = ""
    domain: str | None = None


def _html_escape(text: str) -> str:
    return text.translate(_HTML_ESCAPES)


def extract_urls(text: str) -> list[_Entity]:
    """The http(s) URLs twitter-text finds in ``text`` (real TLDs only), in order."""
    return [
        _Entity(m.start(), m.end(), "url", m.group())
        for m in _URL_RE.finditer(text)
        if _idna_ok(m.group("labels") + m.group("tld"))
    ]


def _extract_mentions(text: str) -> list[_Entity]:
    entities: list[_Entity] = []
    for match in _MENTION_RE.finditer(text):
        after = text[match.end() :]
        # twitter-text's end_mention_match: "@josé@mastodon.social" is no mention of "@jos".
        if after.startswith(("@", "\uff20", "://")) or _LATIN_ACCENT_RE.match(after):
            continue
        entities.append(
            _Entity(
                match.start(),
                match.end(),
                "mention",
                match.group("acct"),
                username=match.group("username"),
                domain=match.group("domain"),
            )
        )
    return entities


def _extract_hashtags(text: str) -> list[_Entity]:
    return [
        _Entity(m.start(), m.end(), "hashtag", m.group("name")) for m in _HASHTAG_RE.finditer(text)
    ]


def _remove_overlapping(entities: list[_Entity]) -> list[_Entity]:
    kept: list[_Entity] = []
    for entity in sorted(entities, key=lambda e: e.start):
        if kept and entity.start < kept[-1].end:
            continue
        kept.append(entity)
    return kept


def _graphemes(text: str) -> int:
    # Grapheme clusters as ICU counts them (Ruby's each_grapheme_cluster agrees where the
    # regex module's \X does not, e.g. 2 clusters in "कि्या"); tests/test_mastodon_server.py
    # checks this count against Node's Intl.Segmenter.
    return len(unicode_segmentation_rs.graphemes(text, True))


def _idna_ok(domain: str) -> bool:
    """twitter-text's is_valid_domain: ``IDN::Idna.toASCII`` (libidn, IDNA 2003, unassigned
    code points refused) must succeed."""
    try:
        domain.encode("idna")
    except UnicodeError:
        return False
    return not any(stringprep.in_table_a1(char) for char in domain)


def count_status_length(text: str, spoiler_text: str = "", *, url_length: int = 23) -> int:
    """Count ``text`` + ``spoiler_text`` the way Mastodon's StatusLengthValidator does.

    Grapheme clusters; every http(s) URL with a real TLD counts as ``url_length``;
    ``@user@domain`` counts as ``@user``.  Text and spoiler are stripped first, like Mastodon.
    """
    text = text.strip(RUBY_STRIP)
    spoiler_text = spoiler_text.strip(RUBY_STRIP)
    entities = _remove_overlapping(extract_urls(text) + _extract_mentions(text))
    parts: list[str] = []
    position = 0
    for entity in entities:
        parts.append(text[position : entity.start])
        if entity.kind == "url":
            parts.append("x" * url_length)
        else:
            parts.append("@" + entity.username)
        position = entity.end
    parts.append(text[position:])
    return _graphemes(spoiler_text + "".join(parts))


def _simple_format(html: str) -> str:
    """Rails' ``simple_format`` as Mastodon uses it (then newlines are deleted)."""
    html = html.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = regex.split(r"\n\n+", html)
    while paragraphs and paragraphs[-1] == "":
        paragraphs.pop()
    rendered = [
        "<p>" + regex.sub(r"([^\n]\n)(?=[^\n])", r"\1<br />", paragraph) + "</p>"
        for paragraph in paragraphs
    ]
    return "".join(rendered).replace("\n", "")


def _link_to_url(url: str) -> str:
    prefix_match = _URL_PREFIX_RE.match(url)
    prefix = prefix_match.group(0) if prefix_match else ""
    rest = url[len(prefix) :]
    display, suffix = rest[:30], rest[30:]
    css = "ellipsis" if len(rest) > 30 else ""
    return (
        f'<a href="{_html_escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{_html_escape(prefix)}</span>'
        f'<span class="{css}">{_html_escape(display)}</span>'
        f'<span class="invisible">{_html_escape(suffix)}</span></a>'
    )


def normalize_tag(name: str) -> str:
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name).lower())
    return "".join(c for c in folded if not unicodedata.combining(c))


def render_status_content(
    text: str,
    *,
    base_url: str,
    resolve_mention: Callable[[str, str | None], dict[str, Any] | None] | None = None,
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """Render status text to Mastodon's HTML; return ``(content, mentions, tags)``.

    ``resolve_mention(username, domain)`` returns a Mention entity for a known account.
    """
    entities = _remove_overlapping(
        extract_urls(text) + _extract_hashtags(text) + _extract_mentions(text)
    )
    parts: list[str] = []
    mentions: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    position = 0
    for entity in entities:
        parts.append(_html_escape(text[position : entity.start]))
        position = entity.end
        if entity.kind == "url":
            parts.append(_link_to_url(entity.value))
        elif entity.kind == "hashtag":
            name = normalize_tag(entity.value)
            url = f"{base_url}/tags/{name}"
            parts.append(
                f'<a href="{_html_escape(f"{base_url}/tags/{entity.value}")}" '
                f'class="mention hashtag" rel="tag">#<span>{_html_escape(entity.value)}</span></a>'
            )
            if all(tag["name"] != name for tag in tags):
                tags.append({"name": name, "url": url})
        else:
            mention = resolve_mention(entity.username, entity.domain) if resolve_mention else None
            if mention is None:
                parts.append(_html_escape(text[entity.start : entity.end]))
                continue
            href, username = _html_escape(mention["url"]), _html_escape(mention["username"])
            parts.append(
                f'<span class="h-card" translate="no"><a href="{href}" class="u-url mention">'
                f"@<span>{username}</span></a></span>"
            )
            if all(m["id"] != mention["id"] for m in mentions):
                mentions.append(mention)
    parts.append(_html_escape(text[position:]))
    return _simple_format("".join(parts)), mentions, tags
