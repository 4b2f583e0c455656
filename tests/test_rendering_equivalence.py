"""Rendering made fast again counts, links and shortens exactly as before: the bot's text rules
against the verbatim copies of the previous ones (tests/support/reference), on hostile text of
the fuzz strategies, on URL-dense text, on the bundled dataset and on whole renders; and the
classes of Mastodon's URL prefilter against the pattern's own classes on every code point."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
import regex
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.errors import RenderError
from bot.post import DEFAULT_LIMITS, PLATFORMS, PlatformLimits
from bot.rendering import (
    bluesky_text,
    graphemes,
    mastodon_text,
    mastodon_url,
    render,
    tlds,
    typography,
)
from bot.rendering import length as length_module
from bot.rendering import text as rt
from bot.rendering.render import Renderer, TemplateSet
from tests.helpers import SITE, TEMPLATES, bundled_dataset
from tests.support.reference import bluesky_text as ref_bluesky
from tests.support.reference import graphemes as ref_graphemes
from tests.support.reference import mastodon_text as ref_mastodon
from tests.support.reference import shorten as ref_shorten
from tests.support.reference import text as ref_text
from tests.support.reference import typography as ref_typography
from tests.test_fuzz import DESCRIPTIONS, LIMITS, items
from tests.test_platform_text import PIECES, TEXTS

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
CASE = regex.IGNORECASE | regex.VERSION0
LANGUAGES = ("de", "en", "fr")

# --- what the prefilters rely on -------------------------------------------------------------

EVERY_CHARACTER = "".join(map(chr, range(0x110000)))
ASCII_SPACE = " \t\n\x0b\x0c\r"


def _characters(pattern: str, flags: int = 0) -> set[str]:
    """Every character ``pattern`` (one character long) matches, with the regex module."""
    return set(regex.findall(pattern, EVERY_CHARACTER, flags=flags))


def test_no_part_of_the_url_pattern_matches_ascii_white_space() -> None:
    """Mastodon's URL pattern (the reference's, whose pieces mastodon_url uses) is built only
    from these character classes, the TLDs and literal ASCII letters and punctuation; none
    matches ASCII white space (ignoring case, as the pattern does) but the class of the
    character before a URL. So no URL spans white space, and mastodon_text looks for URLs
    in the runs between white space that hold "://"."""
    url = mastodon_url
    pattern = ref_mastodon._url_pattern().pattern
    assert (url._DOMAIN_CHAR, url._PATH, url._QUERY) == (
        ref_mastodon._DOMAIN_CHAR,
        ref_mastodon._PATH,
        ref_mastodon._QUERY,
    )
    assert (
        f"(?:{url._LABEL})*(?:{url._LAST_LABEL})(?:(?:{ref_mastodon._TLD}){url._AFTER_TLD}"
        f"|{url._PUNYCODE})"
    ) == ref_mastodon._DOMAIN
    assert pattern == (
        f"(?:{url._BEFORE}|^)(?P<url>(?P<protocol>{url._PROTOCOL})?"
        f"(?P<domain>{ref_mastodon._DOMAIN}){url._REST})"
    )
    consumed = [
        url._DOMAIN_CHAR,
        url._OLD_PATH_CHAR,
        url._PATH_CHAR,
        url._PATH_END_CHAR,
        url._QUERY_CHAR,
        url._QUERY_END,
        "[_-]",
        "[0-9]",
        "[0-9a-z]",
    ]
    for part in consumed:
        assert not any(regex.fullmatch(part, space, flags=CASE) for space in ASCII_SPACE), part
    before = [f"[^a-z0-9@＠$#＃{url._INVALID}]", f"[{url._DIRECTIONAL}]"]
    assert "|".join(before) == url._BEFORE
    after_tld = "[^0-9a-z@+-]"  # looked at, not matched
    assert not any(space in tld for tld in tlds.MASTODON for space in ASCII_SPACE)
    rest = pattern
    for part in sorted([*consumed, *before, after_tld, ref_mastodon._TLD], key=len, reverse=True):
        rest = rest.replace(part, "§")
    literal = regex.sub(r"\(\?P<\w+>|\(\?[:=]|\\[.()?]|[()|*+?^$§]", "", rest)
    assert set(literal) <= set("abcdefghijklmnopqrstuvwxyz:/-"), literal
    assert pattern.count(after_tld) == 1
    assert "(?=§|$)" in rest


def test_no_character_matches_two_tld_characters() -> None:
    """No character matches two characters of the TLDs ignoring case (so mastodon_url looks up
    one spelling of each TLD), and mastodon_url finds for each character the one it matches."""
    chars = sorted(set("".join(tlds.MASTODON)))
    for char in _characters(f"[{regex.escape(''.join(chars))}]", CASE):
        same = [c for c in chars if regex.fullmatch(regex.escape(c), char, flags=CASE)]
        assert len(same) == 1, (char, same)
        assert mastodon_url._tld_char(char) == same[0]
    assert mastodon_url._tld_char("/") is None


def test_the_bluesky_prefilters_hold_what_the_apps_patterns_match() -> None:
    """bluesky_text's prefilter for atproto's link pattern (Python's re) holds every character
    that the pattern's ``[a-z]`` and ``[a-z0-9]`` match ignoring case; the tag prefilter's
    white space is the tag pattern's."""
    import re

    letter = set(re.findall(f"[{bluesky_text._LETTER}]", EVERY_CHARACTER))
    assert _characters("[a-z]", CASE) <= letter
    assert _characters("[a-z0-9]", CASE) <= letter | set("0123456789")
    assert _characters("#", CASE) == {"#"}  # Mastodon's hashtags start at a "#"
    space = f"[{bluesky_text.JS_SPACE}]"  # as the tag prefilter tests it, and as _TAG does
    assert set(re.findall(space, EVERY_CHARACTER)) == _characters(space)


# --- text rules against the reference ---------------------------------------------------------


def _same_text_rules(text: str) -> None:
    """Every text rule gives the reference's answer on ``text``."""
    pattern = ref_mastodon._url_pattern()
    assert [tuple(url) for url in mastodon_url.matches(text)] == [
        (m.start("url"), m.end(), m.group("protocol") is not None, *m.span("domain"))
        for m in pattern.finditer(text)
    ]
    assert mastodon_text.urls(text) == _entities(ref_mastodon.urls(text)), text
    assert mastodon_text.entities(text) == _entities(ref_mastodon.entities(text))
    assert mastodon_text.hashtags(text) == _entities(ref_mastodon.hashtags(text))
    for url_length in (23, 0, 40):
        assert mastodon_text.length(text, url_length) == ref_mastodon.length(text, url_length)
    assert bluesky_text.detect(text) == _found(ref_bluesky.detect(text))
    assert bluesky_text.tags(text) == _found(ref_bluesky.tags(text))
    assert graphemes.graphemes(text) == ref_graphemes.graphemes(text)
    segments = rt.segment(text)
    assert segments == [rt.Segment(s.kind, s.text, s.target) for s in ref_text.segment(text)]
    shown = list(rt.shorten_links(segments))
    assert shown == [rt.Segment(s.kind, s.text, s.target) for s in ref_text.shorten_links(segments)]
    assert rt.facets(segments, "mastodon") == ref_text.facets(segments, "mastodon")
    assert rt.facets(shown, "bluesky") == ref_text.facets(shown, "bluesky")
    assert rt.facets(segments, "bluesky") == ref_text.facets(segments, "bluesky")


def _entities(found: list[Any]) -> list[mastodon_text.Entity]:
    return [mastodon_text.Entity(e.start, e.end, e.kind, e.value) for e in found]


def _found(found: list[Any]) -> list[bluesky_text.Found]:
    return [bluesky_text.Found(f.start, f.end, f.kind, f.value) for f in found]


#: Pieces of URLs, domains and their boundaries: schemes in any case (ſ is an s ignoring case),
#: TLDs known and unknown, IDN TLDs in both cases, ports, queries, parentheses, t.co links.
URL_PIECES = [
    *("https://", "http://", "HTTPS://", "httpſ://", "gopher://", "ssb://", "ftp://", "://"),
    *(".com", ".co", ".comx", ".COM", ".de", ".eu", ".example", ".рф", ".РФ", ".中国", ".xn--p1ai"),
    *(".嘉里", ".嘉里大酒店", ".भारत", ".भारतम्", "大"),
    *(".xn--", ".co.uk", ".K", ".ſ", "www", "a", "é", "_", "-", "--", ".", "..", "/", "//", "?"),
    *("?q=1&r=2", "#f", ":8080", ":", "(", ")", "(x)", "[", "]", "@", "＠", "$", "#", "＃", "~"),
    *(" ", "\n", "\u00a0", "\u202f", "\u200e", "\u202e", "\ufeff", "\ufffe", "\x00", "\x85"),
    *("a.com/", "example.org/x", "www.a.de?q=", "a.co.uk/(b)", "leavex.eu/", "x.org/p?u="),
    *("t.co/", "t.co/abc", "日本語", "مرحبا", "josé", "x" * 41, "1.2", "11.11.11", "z. B."),
    *("„", "“", "»", "!", "*", ",", "'", "…", "\u0301", "👩‍👩‍👧‍👦", "🇪🇺"),
]
#: URL-like words: a scheme or none, labels, a TLD or none, a port, a path and a query.
URL_WORDS = st.tuples(
    st.sampled_from(["", "https://", "http://", "HTTPS://", "httpſ://", "gopher://", "ftp://"]),
    st.lists(
        st.sampled_from(["a", "www", "example", "é", "x_y", "a-b", "xn--p1ai", "t", "11", "K"]),
        min_size=1,
        max_size=3,
    ).map(".".join),
    st.sampled_from([".com", ".co", ".de", ".org", ".example", ".рф", ".РФ", ".comx", ".COM", ""]),
    st.sampled_from(["", ":8080", ":"]),
    st.sampled_from(["", "/", "/a/b", "/(x)", "/x.", "/ü", "/日本", "/a)", "/a(b(c)d)", "/?"]),
    st.sampled_from(["", "?q=1", "?", "?a=b&c=d#f", "#f", "?u="]),
).map("".join)
URL_TEXTS = st.lists(
    URL_WORDS
    | URL_WORDS
    | st.sampled_from(URL_PIECES)
    | st.sampled_from(sorted(tlds.MASTODON)).map(lambda t: "." + t)
    | st.sampled_from(sorted(tlds.MASTODON)).map(lambda t: "." + t.upper())
    | st.sampled_from(PIECES)
    | st.text(max_size=3),
    max_size=20,
).map("".join)


@SETTINGS
@example(text="https://www.example.org/foo_(bar)?q=1 and example.com/x")
@example(text="éexample.com foo_bar.com https://t.co/" + "x" * 41 + " httpſ://a.de")
@example(text="https://a.comx.org https://b.рф/путь http://xn--p1ai.xn--p1ai/ a.co.uk")
@example(text="see example.com/https://a.org/x and x.de/?u=https://b.org, gemini://c.org")
@example(text="https://a.嘉里大酒店/x https://b.भारतम्/y https://c.嘉里大/z d.भारत")  # TLDs in TLDs
@given(text=URL_TEXTS)
def test_url_dense_text_is_counted_and_linked_as_before(text: str) -> None:
    _same_text_rules(text)


@SETTINGS
@given(text=TEXTS)
def test_platform_text_pieces_are_counted_and_linked_as_before(text: str) -> None:
    _same_text_rules(text)


#: The previous rules are several times slower than the new ones: these two properties take
#: about 25 s of CPU between them, so they run with the slow tests (no server, just slow).
_HEAVY = pytest.mark.slow


@_HEAVY
@SETTINGS
@given(text=DESCRIPTIONS)
def test_fuzzed_descriptions_are_counted_and_linked_as_before(text: str) -> None:
    _same_text_rules(text)


def _old_tidy(raw: str) -> str:
    """The template output's tidying before (both rules run on every text)."""
    return render._BLANK_LINES.sub("\n\n", render._TRAILING_SPACE.sub("", raw)).strip()


SPACING = st.lists(
    st.sampled_from([" ", "\t", "\n", "\n\n\n", " \n", "\t\n", "\r\n", "\u00a0", "\u202f", "x"])
    | st.sampled_from([":", ";", "!", "?", "«", "»", "(", "[", '"', "”", "»", "a"])
    | st.sampled_from(PIECES),
    max_size=25,
).map("".join)


@SETTINGS
@given(text=SPACING | DESCRIPTIONS)
def test_tidying_and_typography_are_as_before(text: str) -> None:
    """A template's output tidied (trailing spaces, blank lines) and French spacing: the same
    text as the previous rules (run unconditionally) give."""
    assert render.tidy(text) == _old_tidy(text)
    for language in LANGUAGES:
        assert typography.apply(language, text) == ref_typography.apply(language, text)


def test_text_rules_refuse_a_lone_surrogate_as_before() -> None:
    """Byte offsets of text holding a lone surrogate fail with the same error as before."""
    segments = [rt.Segment("text", "a\u00e9\ud800b")]
    with pytest.raises(UnicodeEncodeError) as ours:
        rt.facets(segments, "mastodon")
    with pytest.raises(UnicodeEncodeError) as theirs:
        ref_text.facets(segments, "mastodon")
    assert str(ours.value) == str(theirs.value)


# --- whole renders against the reference -----------------------------------------------------


@contextlib.contextmanager
def _reference_rules() -> Iterator[None]:
    """The renderer running on the reference's text rules (everything it calls of them)."""
    patches = [
        (mastodon_text, "length", ref_mastodon.length),
        (length_module, "graphemes", ref_graphemes.graphemes),
        (rt, "facets", ref_text.facets),
        (rt, "segment", ref_text.segment),
        (bluesky_text, "tags", ref_bluesky.tags),
        (render, "typography", ref_typography.apply),
        (render, "tidy", _old_tidy),
        (render, "shorten", ref_shorten.shorten),
        (rt, "shorten_links", ref_text.shorten_links),
        (length_module, "measure", length_module.measure.__wrapped__),  # not remembered
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    try:
        for module, name, value in patches:
            setattr(module, name, value)
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def _render(item: Any, language: str, platform: Any, limits: PlatformLimits | None) -> Any:
    """The post (every field: text, length, facets, shortened or not), or the refusal."""
    renderer = Renderer(TemplateSet(TEMPLATES), site_base_url=SITE, today=dt.date(2026, 3, 1))
    try:
        return renderer.render(item, language, platform, limits)
    except RenderError as exc:
        return f"refused: {exc}"


def _both(item: Any, language: str, platform: Any, limits: PlatformLimits | None) -> None:
    ours = _render(item, language, platform, limits)
    with _reference_rules():
        theirs = _render(item, language, platform, limits)
    assert ours == theirs


@_HEAVY
@SETTINGS
@given(
    data=st.data(),
    language=st.sampled_from(LANGUAGES),
    platform=st.sampled_from(PLATFORMS),
    limits=st.none() | LIMITS,
)
def test_fuzzed_items_render_as_before(
    data: st.DataObject, language: str, platform: Any, limits: PlatformLimits | None
) -> None:
    """Random items (test_fuzz's strategy) under random limits: the same post (text, length,
    facets, shortening) or the same refusal as with the reference's rules."""
    _both(data.draw(items(language), label="item"), language, platform, limits)


BUNDLED_LIMITS: list[dict[str, PlatformLimits] | None] = [
    None,
    {p: dataclasses.replace(limits, max_graphemes=120) for p, limits in DEFAULT_LIMITS.items()},
    {p: dataclasses.replace(limits, max_graphemes=200) for p, limits in DEFAULT_LIMITS.items()},
    {"mastodon": PlatformLimits(300, url_length=40), "bluesky": PlatformLimits(250, 600)},
]


@pytest.mark.parametrize("limits", BUNDLED_LIMITS)
def test_bundled_dataset_renders_as_before(limits: dict[str, PlatformLimits] | None) -> None:
    """Every bundled item in every language for both platforms, at the default limits and at
    tighter ones (most descriptions shortened): the same posts or refusals as before."""
    for item in bundled_dataset():
        for language in LANGUAGES:
            for platform in PLATFORMS:
                _both(item, language, platform, limits[platform] if limits else None)


@pytest.mark.parametrize(
    "description",
    [
        "— « ! " + "word " * 120,  # cuts of punctuation alone are empty
        "- -- ... " + "Wort, " * 100 + "https://a.example/x " + "more " * 50,
        "First sentence. " + "x" * 700,
        "z. B. Vereine, u. a. Gewerkschaften. " * 30,
        "#LeaveX " * 80 + "leavex.eu " * 30,
        "¿Qué? " * 100,
    ],
)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_shortening_edge_cases_are_as_before(description: str, platform: Any) -> None:
    """Descriptions cut at a word after leading punctuation, around links, tags and domains,
    or not at all: the same posts as before at several limits."""
    from bot.dataset import Item

    item = Item.model_validate(
        {
            "id": "edge",
            "kind": "initiative",
            "name": "Edge",
            "urls": ["https://x.example.org"],
            "hashtags": ["LeaveX"],
            "description": {"en": description},
        }
    )
    for max_graphemes in (40, 60, 90, 150, 300):
        limits = PlatformLimits(max_graphemes, url_length=23 if platform == "mastodon" else None)
        _both(item, "en", platform, limits)
